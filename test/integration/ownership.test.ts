/**
 * Ownership by tags, never by handle (issue 7, items 1 and 2), through the HTTP API of a real
 * control plane over in-process sim clouds that share one inventory file. What the cloud
 * received is counted by the sim itself (`totals()` over the file: every entry, every call),
 * and by the `driver.call` events the control plane records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../../src/drivers/driver.js';
import { simFileSpec, startApiControlPlane } from '../helpers/api-server.js';
import { waitFor } from '../helpers/control-plane.js';

const FAST = { engine: { pollIntervalMs: 10, sweepIntervalMs: 50, consistencyWindowMs: 300 } };

test('three deployments on one sim inventory whose cloud entries differ only in an option run side by side: 0 deletions', { timeout: 180_000 }, async () => {
  const h = await startApiControlPlane(FAST);
  const simPath = path.join(h.dir, 'shared-sim.db');
  try {
    for (const [name, latencyMs] of [['a', 10], ['b', 20], ['c', 30]] as const) {
      const r = await h.call('POST', '/v1/deployments', { spec: simFileSpec(name, 3, simPath, { latencyMs }), file: `${name}.yaml` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    for (const name of ['a', 'b', 'c']) await h.ready(name, 3);
    // three handles, each listing the whole inventory: 30 more sweeps in all
    await h.sweeps(30);
    for (const name of ['a', 'b', 'c']) await h.ready(name, 3);
    const sim = createSimCloud({ path: simPath });
    try {
      const t = sim.totals();
      assert.equal(t.calls.delete, 0, 'no delete was sent to the cloud');
      assert.equal(t.created, 9, 'one server per wanted node, none re-created');
      const live = sim.inventory().filter((s) => s.status !== 'deleted');
      assert.equal(live.length, 9);
      for (const s of live) {
        for (const tag of [TAG_OWNER, TAG_TENANT, TAG_DEPLOYMENT, TAG_KEY, TAG_ATTEMPT]) assert.ok(s.tags[tag], `${s.id} carries ${tag}`);
        assert.equal(s.tags[TAG_TENANT], 'default');
      }
    } finally {
      sim.close();
    }
    assert.equal((await h.events('node.orphan-deleted')).length, 0);
    assert.equal((await h.events('node.duplicate-deleted')).length, 0);
    assert.equal((await h.cloudCalls('delete')).length, 0);
  } finally {
    await h.close();
  }
});

test('`plan` with another option over the same inventory has no side effects: no create, no delete', { timeout: 120_000 }, async () => {
  const h = await startApiControlPlane(FAST);
  const simPath = path.join(h.dir, 'plan-sim.db');
  try {
    assert.equal((await h.call('POST', '/v1/deployments', { spec: simFileSpec('web', 4, simPath, { latencyMs: 10 }) })).status, 201);
    await h.ready('web', 4);
    const sim = createSimCloud({ path: simPath });
    try {
      const before = sim.totals();
      for (const latencyMs of [11, 12, 13]) {
        const p = await h.call<any>('POST', '/v1/plan', { spec: simFileSpec('web', 6, simPath, { latencyMs }) });
        assert.equal(p.status, 200, JSON.stringify(p.body));
        assert.equal(p.body.summary.add, 2);
      }
      await h.sweeps(20);
      const after = sim.totals();
      assert.equal(after.calls.create - before.calls.create, 0, 'plan created nothing');
      assert.equal(after.calls.delete - before.calls.delete, 0, 'plan deleted nothing');
      assert.equal(sim.inventory().filter((s) => s.status !== 'deleted').length, 4);
    } finally {
      sim.close();
    }
    await h.ready('web', 4);
  } finally {
    await h.close();
  }
});

for (const [what, faults] of [
  ['an 800 ms list', { listLatencyMs: 800 }],
  ['paginated lists, list lag and NotFound after create', { listLatencyMs: 100, listPageSize: 7, listLagMs: 600, notFoundAfterCreateMs: 250, staleReadMs: 100 }],
] as const) {
  test(`scale 2 → 40 under ${what}: exactly 38 creates sent, 0 wanted nodes deleted`, { timeout: 240_000 }, async () => {
    const h = await startApiControlPlane({ engine: { pollIntervalMs: 20, sweepIntervalMs: 50, consistencyWindowMs: 2000 } });
    const simPath = path.join(h.dir, 'slow-sim.db');
    try {
      const spec = simFileSpec('grow', 2, simPath, { latency: { minMs: 100, maxMs: 600 }, ...faults });
      assert.equal((await h.call('POST', '/v1/deployments', { spec })).status, 201);
      await h.ready('grow', 2);
      const createsBefore = (await h.cloudCalls('create')).length;
      assert.equal(createsBefore, 2);
      const r = await h.call('POST', '/v1/deployments/grow/scale', { component: 'app', count: 40 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await h.ready('grow', 40, 180_000);
      // sweeps that began while the last nodes were created have ended, and a few more ran
      await h.sweeps(4, 120_000);
      await h.ready('grow', 40);
      const sim = createSimCloud({ path: simPath });
      try {
        const t = sim.totals();
        assert.equal(t.created, 40, `servers made: ${t.created}`);
        assert.equal(t.calls.create, 40, `creates sent: ${t.calls.create} (replays ${t.replayed})`);
        assert.equal(t.calls.delete, 0, 'no delete sent');
        assert.equal(sim.inventory().filter((s) => s.status !== 'deleted').length, 40);
      } finally {
        sim.close();
      }
      assert.equal((await h.cloudCalls('create')).length - createsBefore, 38);
      assert.equal((await h.events('node.duplicate-deleted')).length, 0);
    } finally {
      await h.close();
    }
  });
}

test('a node deleted out of band is confirmed lost and re-created at once; its instance runs again', { timeout: 120_000 }, async () => {
  const h = await startApiControlPlane(FAST);
  const simPath = path.join(h.dir, 'oob-sim.db');
  try {
    assert.equal((await h.call('POST', '/v1/deployments', { spec: simFileSpec('keep', 2, simPath, { latencyMs: 20 }) })).status, 201);
    const v = await h.ready('keep', 2);
    const victim = v.instances.find((i: any) => i.name === 'app-1');
    const oldId: string = victim.node.id;
    // an operator deletes the server in the provider's console
    const sim = createSimCloud({ path: simPath });
    try {
      await sim.delete(oldId);
      const lost = await waitFor('the loss is recorded', async () =>
        (await h.events('node.state')).find((e) => e.target === 'keep/app-1' && e.outcome === 'pending' && e.data?.['id'] === oldId));
      assert.match(lost.reason ?? '', /no longer has this node/);
      const again = await waitFor('app-1 runs on a new node', async () => {
        const d = (await h.call<any>('GET', '/v1/deployments/keep')).body;
        const i = d.instances.find((x: any) => x.name === 'app-1');
        return d.state === 'ready' && i.phase === 'running' && i.node.id !== oldId ? i : undefined;
      });
      const phases = (await h.events('instance.phase')).filter((e) => e.target === 'keep/app-1' && e.id > lost.id).map((e) => e.outcome);
      assert.ok(phases.includes('pending') && phases.at(-1) === 'running', phases.join(' '));
      assert.equal(sim.totals().created, 3, 'exactly one server made for the lost one');
      assert.equal(sim.peek(again.node.id)?.status, 'running');
      assert.equal(sim.inventory().filter((s) => s.status !== 'deleted').length, 2);
    } finally {
      sim.close();
    }
  } finally {
    await h.close();
  }
});
