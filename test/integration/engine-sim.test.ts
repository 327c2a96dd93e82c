import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { TAG_KEY } from '../../src/drivers/driver.js';
import { startControlPlane, tempDir, waitFor, simSpec } from '../helpers/control-plane.js';

const actor = { actor: 'user:test' };

test('apply, scale out and in, destroy on the sim cloud: the cloud\'s own inventory matches', async () => {
  const dir = tempDir();
  const simPath = path.join(dir, 'sim.db');
  const cp = await startControlPlane(dir, { engine: { pollIntervalMs: 5 } });
  try {
    const spec = simSpec('three', { db: 1, api: 3, web: 2 }, { simPath });
    const plan = await cp.plan({ spec });
    assert.equal(plan.summary.add, 6);
    assert.ok(plan.actions.some((a) => a.kind === 'configure' && a.target === 'three/api-1' && a.after.includes('start:three/db-1')));

    await cp.apply({ spec }, { actor: 'user:test', correlationId: 'corr-apply-1' });
    await waitFor('ready', async () => (await cp.getDeployment('three')).state === 'ready');
    const cloud = createSimCloud({ path: simPath });
    const live = () => cloud.inventory().filter((s) => s.status !== 'deleted');
    assert.equal(live().length, 6);
    assert.deepEqual(new Set(live().map((s) => s.tags[TAG_KEY])).size, 6);

    await cp.scale('three', 'api', 5, actor);
    await waitFor('5 api', async () => {
      const d = await cp.getDeployment('three');
      return d.state === 'ready' && d.components.find((c) => c.name === 'api')?.running === 5;
    });
    assert.equal(live().length, 8);

    await cp.scale('three', 'api', 2, actor);
    await waitFor('2 api', async () => (await cp.getDeployment('three')).state === 'ready' && live().length === 5);
    const apis = (await cp.getDeployment('three')).instances.filter((i) => i.component === 'api').map((i) => i.name);
    assert.deepEqual(apis, ['api-1', 'api-2'], 'scale-in removes the youngest first');

    await assert.rejects(cp.scale('three', 'api', 6000, actor), { code: 'SCALE_OUT_OF_BOUNDS' });

    await cp.destroy('three', actor);
    await waitFor('gone', async () => (await cp.listDeployments()).length === 0);
    assert.equal(live().length, 0);
    const kinds = new Set((await cp.events.list({ deployment: 'three', limit: 10000 })).map((e) => e.kind));
    for (const k of ['deployment.applied', 'node.state', 'instance.phase', 'instance.step', 'deployment.scaled', 'deployment.destroyed']) assert.ok(kinds.has(k), k);
    const calls = await cp.events.list({ kind: 'driver.call', limit: 10 });
    assert.ok(calls.length > 0 && typeof calls[0]!.data?.['latencyMs'] === 'number');
    // the request's correlation id follows every cloud call and state change it caused
    const caused = await cp.events.list({ correlationId: 'corr-apply-1', limit: 10000 });
    assert.ok(caused.some((e) => e.kind === 'driver.call' && e.data?.['op'] === 'create'));
    assert.ok(caused.some((e) => e.kind === 'node.state' && e.outcome === 'running'));
    cloud.close();
  } finally {
    await cp.close();
  }
});
