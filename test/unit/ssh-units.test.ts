/** The ssh driver's units without a host: options, the pool inventory, the node view, adoption scans, host offers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NubisError } from '../../src/errors/index.js';
import type { CreateNodeRequest } from '../../src/drivers/driver.js';
import { readSshOptions, readPrivateKey, agentUrl } from '../../src/drivers/ssh/config.js';
import { openPoolInventory, type InventoryNode } from '../../src/drivers/ssh/pool-inventory.js';
import { toCloudNode } from '../../src/drivers/ssh/node-view.js';
import { createAdoptionScan } from '../../src/drivers/ssh/adoption.js';
import { hostOffer } from '../../src/drivers/ssh/discovery.js';
import { parseRecord } from '../../src/drivers/ssh/host-ops.js';
import type { SshHost } from '../../src/drivers/ssh/session.js';

const clock = { now: () => 1000, sleep: async () => undefined };
const ctx = (options: Record<string, unknown>, credentials?: Record<string, string>) => ({ cloud: 'pool', options, dataDir: '/data', clock, ...(credentials ? { credentials } : {}) });
const code = (c: string) => (e: unknown) => e instanceof NubisError && e.code === c;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-ssh-units-'));

test('config: defaults filled and frozen, names derived, bad values refused by name', () => {
  const o = readSshOptions(ctx({ hosts: [{ address: '10.0.0.1' }, { address: '10.0.0.2', port: 2222, user: 'nubis' }] }));
  assert.deepEqual(o.hosts.map((h) => h.name), ['10.0.0.1', '10.0.0.2:2222']);
  assert.equal(o.hosts[0]!.user, 'root');
  assert.equal(o.remoteRoot, '/opt/nubis');
  assert.equal(o.knownHostsPath, '/data/ssh/known_hosts');
  assert.deepEqual([o.agentPort, o.graphitePort, o.connectTimeoutMs, o.commandTimeoutMs, o.readyTimeoutMs, o.killGraceMs], [7430, 2003, 5000, 20_000, 20_000, 2000]);
  assert.ok(Object.isFrozen(o));
  assert.throws(() => readSshOptions(ctx({ hosts: [] })), /hosts must be a non-empty list/);
  assert.throws(() => readSshOptions(ctx({ hosts: [{ address: 'a' }, { address: 'a' }] })), /unique/);
  assert.throws(() => readSshOptions(ctx({ hosts: [{ address: 'a' }], remoteRoot: '/opt/../etc' })), /remoteRoot/);
  assert.throws(() => readSshOptions(ctx({ hosts: [{ address: 'a' }], agentPort: 0 })), /agentPort must be an integer from 1 to 65535/);
  assert.throws(() => readSshOptions(ctx({ hosts: [{ address: 'a' }], password: 'x' })), code('SPEC_INVALID'));
  assert.equal(readPrivateKey(ctx({}, { privateKey: 'KEY' })), 'KEY');
  assert.throws(() => readPrivateKey(ctx({})), /no private key/);
  assert.equal(agentUrl({ address: 'fe80::1', port: 22, user: 'root', name: 'v6' }, 7430), 'https://[fe80::1]:7430');
});

const hosts: SshHost[] = ['h1', 'h2', 'h3'].map((n, i) => ({ address: `10.0.0.${i + 1}`, port: 22, user: 'root', name: n }));
const req = (token: string, offer?: string): CreateNodeRequest => ({ key: `d/${token}`, tags: { k: token }, idempotencyToken: token, requirements: {}, ...(offer ? { placement: { offer } } : {}) });

test('pool inventory: claims are idempotent by token, prefer the offered host, skip, run out; shared per file', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'inventory.json');
    const inv = openPoolInventory(file);
    const a = await inv.claim(req('t1'), hosts, [], 'pool', 5);
    assert.equal(a.fresh, true);
    assert.equal(a.node.host.name, 'h1');
    assert.equal(a.node.status, 'provisioning');
    assert.equal(a.node.createdAt, 5);
    const again = await inv.claim(req('t1'), hosts, [], 'pool', 6);
    assert.deepEqual([again.fresh, again.node.id], [false, a.node.id]);
    const b = await inv.claim(req('t2', 'h3'), hosts, [], 'pool', 7);
    assert.equal(b.node.host.name, 'h3', 'the placement offer names the host');
    await assert.rejects(inv.claim(req('t3'), hosts, ['h2'], 'pool', 8), code('CLOUD_UNAVAILABLE'));
    const c = await inv.claim(req('t3'), hosts, [], 'pool', 8);
    await assert.rejects(inv.claim(req('t4'), hosts, [], 'pool', 9), (e: unknown) => code('CLOUD_QUOTA_EXCEEDED')(e) && /all 3 hosts of ssh pool pool are in use/.test((e as Error).message));
    const ran = await inv.markRunning(a.node.id, { pgid: 42, createdTop: '/opt/nubis', runtime: '/usr/bin/node' });
    assert.deepEqual([ran.status, ran.pgid], ['running', 42]);
    await inv.setPgid(a.node.id, 43);
    // a second handle over the same file (another cloud entry) sees the same claims
    const other = openPoolInventory(file);
    assert.equal((await other.find(a.node.id))?.pgid, 43);
    await other.release(c.node.id);
    assert.equal(await inv.find(c.node.id), undefined);
    await assert.rejects(inv.markRunning(c.node.id, {}), code('CLOUD_NOT_FOUND'));
    // adoption: a record found on a free host is added once; a claimed host refuses another id
    const record = { id: 'ssh-found', key: 'd/x', tags: { k: 'x' }, idempotencyToken: 'tx', agentToken: 'at', createdAt: 1 };
    const adopted = await inv.adopt(hosts[1]!, record, { pid: 99, node: 'ssh-found' });
    assert.deepEqual([adopted?.status, adopted?.pgid], ['running', 99]);
    assert.equal((await inv.adopt(hosts[1]!, record, {}))?.id, 'ssh-found', 'again: the same node');
    assert.equal(await inv.adopt(hosts[0]!, { ...record, id: 'ssh-other' }, {}), undefined, 'h1 is claimed by another node');
    const persisted = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: InventoryNode[] };
    assert.deepEqual(persisted.nodes.map((n) => n.host.name).sort(), ['h1', 'h2', 'h3']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('node view: a probe decides error, stopped or running; provisioning nodes are not judged', () => {
  const o = { agentPort: 7430, graphitePort: 2003, remoteRoot: '/opt/nubis' };
  const n: InventoryNode = { id: 'ssh-1', host: hosts[0]!, key: 'd/a', tags: { a: '1' }, idempotencyToken: 't', status: 'running', agentToken: 'tok', createdAt: 3 };
  const plain = toCloudNode(n, undefined, o);
  assert.deepEqual([plain.status, plain.address, plain.agent?.url, plain.graphite?.port, plain.host], ['running', '10.0.0.1', 'https://10.0.0.1:7430', 2003, 'h1']);
  assert.equal(toCloudNode(n, undefined, { ...o, graphitePort: 0 }).graphite, undefined);
  const down = toCloudNode(n, { error: new NubisError('CLOUD_UNAVAILABLE', 'h1 is unreachable') }, o);
  assert.deepEqual([down.status, down.error?.code], ['error', 'CLOUD_UNAVAILABLE']);
  const record = { id: 'ssh-1', key: 'd/a', tags: {}, idempotencyToken: 't', agentToken: 'tok', createdAt: 3 };
  assert.equal(toCloudNode(n, { record: { ...record, id: 'ssh-2' } }, o).error?.code, 'CLOUD_NOT_FOUND');
  assert.equal(toCloudNode(n, { record }, o).status, 'stopped', 'no agent of this node');
  assert.equal(toCloudNode(n, { record, agentNode: 'ssh-1', agentPid: 7 }, o).status, 'running');
  assert.equal(toCloudNode({ ...n, status: 'provisioning' }, { error: new NubisError('CLOUD_UNAVAILABLE', 'x') }, o).status, 'provisioning');
  assert.equal(parseRecord(JSON.stringify(record))?.id, 'ssh-1');
  assert.equal(parseRecord('{"id": 3}'), undefined);
  assert.equal(parseRecord('not json'), undefined);
});

test('adoption scan: unclaimed hosts are asked once; a silent one again after the rescan interval; cleared ones never', () => {
  const scan = createAdoptionScan(30_000);
  const t = 1_000_000; // wall-clock milliseconds, as the driver passes them
  const claimed = new Set(['10.0.0.1:22']);
  assert.deepEqual(scan.due(hosts, claimed, t).map((h) => h.name), ['h2', 'h3']);
  scan.asked('h2', true, t);
  scan.asked('h3', false, t + 1000);
  assert.deepEqual(scan.due(hosts, claimed, t + 2000).map((h) => h.name), []);
  assert.deepEqual(scan.due(hosts, claimed, t + 31_000).map((h) => h.name), ['h3']);
  scan.cleared('h1');
  assert.deepEqual(scan.due(hosts, new Set(), t + 31_000).map((h) => h.name), ['h3'], 'h1: its node was deleted here');
});

test('host offers: facts become an offer per host and an image per os-release', () => {
  const f = new Map([['cores', '4'], ['memKiB', '8388608'], ['diskKiB', '52428800'], ['os_ID', 'Debian'], ['os_VERSION_ID', '12'], ['os_PRETTY_NAME', 'Debian GNU/Linux 12']]);
  const { offer, image } = hostOffer(hosts[0]!, f);
  assert.deepEqual(offer, { id: 'h1', cores: 4, memoryMiB: 8192, diskGiB: 50, locations: ['ssh-pool'] });
  assert.deepEqual(image, { id: 'debian-12', name: 'Debian GNU/Linux 12', os: 'debian', osVersion: '12', locations: ['ssh-pool'] });
  const bare = hostOffer(hosts[1]!, new Map());
  assert.deepEqual([bare.offer.cores, bare.offer.memoryMiB, bare.offer.diskGiB, bare.image.id], [1, 0, undefined, 'linux']);
});
