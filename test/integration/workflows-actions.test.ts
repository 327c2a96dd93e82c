/**
 * Engine actions against a real control plane on the sim cloud: start the main node, clone a
 * pool of 4, destroy it and stop the main node, each finishing when the cloud's own inventory
 * agrees; the audit log names the workflow as the actor of every scale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import { createRealClock } from '../../src/clock/index.js';
import { controlPlanePorts, runAction } from '../../src/workflows/actions/index.js';
import { measuredProvisioning, readyByPlan } from '../../src/workflows/pools/index.js';
import { startControlPlane, tempDir } from '../helpers/control-plane.js';

test('start, scale 4, destroyPool, stop through the control plane; the sim inventory agrees at each step', { timeout: 120_000 }, async () => {
  const dir = tempDir('nubis-wf-actions-');
  const simPath = path.join(dir, 'sim.db');
  const cp = await startControlPlane(dir, { engine: { pollIntervalMs: 5 } });
  const cloud = createSimCloud({ path: simPath });
  const live = () => cloud.inventory().filter((s) => s.status !== 'deleted').length;
  try {
    const spec = [
      'name: postproc',
      'clouds:',
      `  sim: { platform: sim, options: { path: ${JSON.stringify(simPath)}, latency: { minMs: 100, maxMs: 300 } } }`,
      'nodeTemplates:',
      '  t: { cloud: sim }',
      'components:',
      '  main:',
      '    nodeTemplate: t',
      '    instances: { count: 0, min: 0, max: 1 }',
      '    lifecycle: { start: "run" }',
      '  compute:',
      '    nodeTemplate: t',
      '    instances: { count: 0, min: 0, max: 8 }',
      '    lifecycle: { start: "run" }',
      '',
    ].join('\n');
    await cp.apply({ spec }, { actor: 'user:test' });
    const ports = controlPlanePorts({
      controlPlane: cp, clock: createRealClock(), caller: { actor: 'workflow:postproc' }, engine: cp.engine,
      pools: [{ name: 'compute', deployment: 'postproc', component: 'compute', slots: 2 }],
    });
    const start = await runAction({ verb: 'start', deployment: 'postproc', component: 'main' }, ports);
    assert.match(start.detail, /^postproc\/main scaled 0 → 1 running/);
    assert.equal(live(), 1);
    const scaled = await runAction({ verb: 'scale', deployment: 'postproc', component: 'compute', count: 4 }, ports);
    assert.match(scaled.detail, /^postproc\/compute scaled 0 → 4 running/);
    assert.equal(live(), 5);
    const v = await cp.getDeployment('postproc');
    assert.equal(v.instances.filter((i) => i.component === 'compute' && i.phase === 'running').length, 4);
    // what the pool's cloud took, as the ready-by plan sees it
    const stats = await measuredProvisioning({ engine: cp.engine, events: cp.events, accounting: cp.registry.accounting }, { deployment: 'postproc', component: 'compute', now: Date.now() });
    assert.equal(stats.cloud, 'sim');
    assert.equal(stats.samples, 4);
    assert.ok(stats.p90Ms >= 100 && stats.p90Ms < 5_000, `p90 ${stats.p90Ms}`);
    assert.ok(stats.concurrency >= 1);
    const plan = readyByPlan({ readyBy: Date.now() + 3_600_000, count: 4, now: Date.now(), stats });
    assert.match(plan.reason, /^starts \d\d:\d\d:\d\d: 4 nodes take p90 [\d.]+s on cloud sim at concurrency \d( \((2 rounds of [\d.]+s)?(, )?(×[\d.]+ when overlapping)?\))? from 4 measured/);
    await runAction({ verb: 'destroyPool', pool: 'compute' }, ports);
    assert.equal(live(), 1, 'the pool is gone from the cloud');
    await runAction({ verb: 'stop', deployment: 'postproc', component: 'main' }, ports);
    assert.equal(live(), 0, 'nothing left that bills');
    await assert.rejects(runAction({ verb: 'scale', deployment: 'postproc', component: 'compute', count: 9 }, ports), { code: 'SCALE_OUT_OF_BOUNDS' });
    const scales = await cp.events.list({ deployment: 'postproc', kind: 'deployment.scaled', limit: 100 });
    assert.equal(scales.length, 4);
    assert.ok(scales.every((e) => e.actor === 'workflow:postproc'));
  } finally {
    cloud.close();
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
