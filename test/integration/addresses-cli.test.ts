/**
 * Address pools through `nubis addresses` on a real `nubis serve`: the administrator makes a
 * pool; a deployment whose node template asks for an address from it gets one lease per node
 * (distinct addresses, shown by `addresses leases`); scaling in turns the removed node's lease
 * into a hold for the deployment (from the `instance.deleted` event), and scaling out again
 * gives the deployment's new node the held address before any free one; `hold` keeps a held
 * address longer and `release` frees it (both refuse an address leased to a running node); a pool too small for the nodes fails the node with
 * ADDRESS_POOL_EXHAUSTED (the cloud is not called for it). Hold expiry on the clock is tested on
 * a virtual clock in test/unit/address-pools.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { startCliSession, type CliSession } from '../helpers/cli-session.js';
import { stopProcess } from '../helpers/processes.js';

const spec = (count: number): string => `name: net
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim, address: { pool: front } } }
components:
  app: { nodeTemplate: t, instances: { count: ${count}, max: 10 }, lifecycle: { start: run } }
`;

test('nodes lease addresses from a pool; a removed node\'s address is held for its deployment; hold and release', { timeout: 240_000 }, async () => {
  const dir = tempDir('nubis-addr-');
  let s: CliSession | undefined;
  try {
    s = await startCliSession(path.join(dir, 'data'));
    const pool = await s.json('addresses', 'pool', 'set', 'front', '--ranges', '10.8.0.0/30,10.8.1.1-10.8.1.1', '--hold', '1h');
    assert.deepEqual([pool.size, pool.free], [3, 3]);
    const file = path.join(dir, 'net.yaml');
    fs.writeFileSync(file, spec(2));
    assert.equal((await s.cli('apply', '-f', file)).code, 0);
    const leasesOf = async (): Promise<{ address: string; node: string; state: string }[]> => (await s!.json('addresses', 'leases')).leases;
    const ready = (n: number) => waitFor(`net ready with ${n}`, async () => {
      const v = await s!.json('status', 'net');
      return v.state === 'ready' && v.components[0].running === n ? v : undefined;
    }, 120_000);
    await ready(2);
    let leases = await leasesOf();
    assert.deepEqual(leases.map((l) => `${l.node}=${l.address}:${l.state}`).sort(), ['net/app-1=10.8.0.1:leased', 'net/app-2=10.8.0.2:leased']);

    // scale in: app-2 goes, its address is held for the deployment
    assert.equal((await s.cli('scale', 'net', 'app', '1')).code, 0);
    const heldOf = (node: string) => waitFor(`${node} held`, async () => (await leasesOf()).find((l) => l.node === node && l.state === 'held'), 60_000);
    await heldOf('net/app-2');
    const pools = (await s.json('addresses', 'pools')).pools;
    assert.deepEqual([pools[0].leased, pools[0].held, pools[0].free], [1, 1, 1]);
    // a person holds it longer; a leased address is its node's (hold and release refused)
    const held = await s.json('addresses', 'hold', 'front', '10.8.0.2', '--hold', '2h');
    assert.equal(held.state, 'held');
    assert.ok(Date.parse(held.heldUntil) > Date.now() + 3_600_000, held.heldUntil);
    for (const verb of ['hold', 'release']) {
      const r = await s.cli('addresses', verb, 'front', '10.8.0.1');
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /CONFLICT.*leased to node net\/app-1/);
    }
    // scale out: the deployment's new node (app-3: ordinals are never reused) takes the held address before a free one
    assert.equal((await s.cli('scale', 'net', 'app', '2')).code, 0);
    await ready(2);
    leases = await leasesOf();
    assert.deepEqual(leases.map((l) => `${l.node}=${l.address}:${l.state}`).sort(), ['net/app-1=10.8.0.1:leased', 'net/app-3=10.8.0.2:leased']);
    // scale in again and release the held address: it is free at once
    assert.equal((await s.cli('scale', 'net', 'app', '1')).code, 0);
    await heldOf('net/app-3');
    assert.equal((await s.cli('addresses', 'release', 'front', '10.8.0.2')).code, 0);
    assert.deepEqual((await leasesOf()).map((l) => l.address), ['10.8.0.1']);
    const unknown = await s.cli('addresses', 'release', 'front', '10.8.0.2');
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /NOT_FOUND.*not leased or held/);
    const busy = await s.cli('addresses', 'pool', 'rm', 'front');
    assert.equal(busy.code, 2);
    assert.match(busy.stderr, /CONFLICT.*leased or held/);

    // more nodes than addresses (1 leased + 2 free for 3 new nodes): the last fails before any cloud call
    fs.writeFileSync(file, spec(4));
    assert.equal((await s.cli('apply', '-f', file)).code, 0);
    const failed = await waitFor('a node fails', async () => {
      const v = await s!.json('status', 'net');
      return v.instances.find((i: { lastError?: string }) => i.lastError?.includes('ADDRESS_POOL_EXHAUSTED'));
    }, 120_000);
    assert.match(failed.lastError, /address pool front has no free address/);
    assert.equal((await s.cli('destroy', 'net', '--wait')).code, 0);
  } finally {
    if (s) await stopProcess(s.serve);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
