/**
 * Issue 7, item 1 (ssh) and item 5: a user adds a host to an ssh pool, as the quota message
 * advises. The cloud entry's options change, so the control plane builds a second driver handle
 * for it; `plan` with the new pool, then `apply`, must keep every node (0 deletes sent to the
 * hosts) and use the new host for the new instance. The inventory belongs to the hosts, not to
 * an option set: the new handle lists the old nodes. Then `destroy` kills even a daemon that a
 * start handler detached with `setsid env -i` (the agent's cgroup v2 cage on the host).
 *
 * The "0 deletes" half also depends on the sweep judging ownership by tags (not by which
 * handle listed a node); see the report of helper `own`. Needs root (network namespaces).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { isAlive } from '../../src/agent/index.js';
import { createRealClock } from '../../src/clock/index.js';
import { createSshDriver } from '../../src/drivers/ssh/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { sshHostsUp, type SshHostsFixture } from '../helpers/ssh-hosts.js';

const actor = { actor: 'user:ssh-pool-growth-test' };

function spec(f: SshHostsFixture, hosts: number, count: number): string {
  const pool = f.hosts.slice(0, hosts).map((h) => ({ address: h.address, name: h.name }));
  return JSON.stringify({
    name: 'grow',
    clouds: { pool: { platform: 'ssh', options: { hosts: pool, privateKeyPath: f.privateKey, killGraceMs: 500 } } },
    nodeTemplates: { n: { cloud: 'pool' } },
    components: {
      app: {
        nodeTemplate: 'n',
        instances: { count, min: 0, max: 3 },
        lifecycle: { start: 'setsid env -i /bin/sh -c "exec sleep 1000" </dev/null >/dev/null 2>&1 & echo daemon=$!; exec sleep 600' },
      },
    },
  });
}

test('adding a host to an ssh pool keeps every node (plan and apply send 0 deletes) and uses the new host; destroy kills detached daemons', { timeout: 240_000 }, async () => {
  const f = await sshHostsUp(3);
  const data = tempDir('nubis-ssh-grow-');
  let cp: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  try {
    cp = await startControlPlane(data, { discoveryIntervalMs: 0, engine: { sweepIntervalMs: 500 } });
    const calls = async (op: string): Promise<number> =>
      (await cp!.events.list({ kind: 'driver.call', limit: 100_000 })).filter((e) => e.data?.['op'] === op).length;
    const running = async (n: number): Promise<boolean> => {
      const v = await cp!.getDeployment('grow');
      return v.state === 'ready' && v.instances.filter((i) => i.phase === 'running').length === n;
    };

    await cp.apply({ spec: spec(f, 2, 2), file: 'grow.json' }, actor);
    await waitFor('2 nodes on 2 hosts', () => running(2), 120_000, 250);
    const first = (await cp.getDeployment('grow')).instances.map((i) => i.node.id!).sort();

    // plan with the grown pool builds the new handle; let both handles sweep a few times
    const plan = await cp.plan({ spec: spec(f, 3, 3), file: 'grow.json' });
    assert.equal(plan.summary.remove, 0);
    const lists = await calls('list');
    await waitFor('sweeps after plan', async () => (await calls('list')) >= lists + 6, 30_000, 100);
    assert.equal(await calls('delete'), 0, 'plan sent no delete');
    assert.deepEqual((await cp.getDeployment('grow')).instances.map((i) => i.node.id!).sort(), first, 'plan changed nothing');

    await cp.apply({ spec: spec(f, 3, 3), file: 'grow.json' }, actor);
    await waitFor('3 nodes on 3 hosts', () => running(3), 120_000, 250);
    const lists2 = await calls('list');
    await waitFor('sweeps after apply', async () => (await calls('list')) >= lists2 + 6, 30_000, 100);
    const after = await cp.getDeployment('grow');
    assert.ok(after.instances.every((i) => i.phase === 'running'));
    const ids = after.instances.map((i) => i.node.id!);
    for (const id of first) assert.ok(ids.includes(id), `node ${id} was kept`);
    assert.equal(new Set(after.instances.map((i) => i.node.address)).size, 3, 'the new instance is on the new host');
    assert.equal(await calls('delete'), 0, 'no delete was sent');
    assert.equal(await calls('create'), 3, 'one create per instance');

    // any option set and cloud name over these hosts lists the same nodes: the inventory is the hosts'
    const other = createSshDriver({
      cloud: 'another-entry', dataDir: data, clock: createRealClock(),
      options: { hosts: [{ address: f.hosts[2]!.address }], privateKeyPath: f.privateKey, connectTimeoutMs: 3000 },
    });
    const seen = (await other.list({ 'nubis-deployment': 'grow' }, new AbortController().signal)).map((n) => n.id).sort();
    await other.close();
    assert.deepEqual(seen, [...ids].sort(), 'another entry with a one-host pool lists all three nodes');

    // detached daemons, recorded by the start handlers, die with their nodes
    const daemons: number[] = [];
    for (const i of after.instances) {
      const out = (await cp.logs('grow', i.name, 'start')).map((l) => l.output).join('');
      const m = /daemon=(\d+)/.exec(out);
      assert.ok(m, `${i.name} recorded its daemon`);
      daemons.push(Number(m[1]));
    }
    assert.ok(daemons.every(isAlive));
    await cp.destroy('grow', actor);
    await waitFor('grow gone', async () => (await cp!.listDeployments()).length === 0, 90_000, 250);
    for (const pid of daemons) assert.ok(!isAlive(pid), `daemon ${pid} survived destroy`);
  } finally {
    if (cp) {
      await cp.destroy('grow', actor).catch(() => {});
      await waitFor('grow gone', async () => (await cp!.listDeployments()).length === 0, 60_000, 250).catch(() => {});
      await cp.close();
    }
    await f.down();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
