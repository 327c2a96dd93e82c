/**
 * Custom operations on the sim cloud, on a virtual clock: runs take the simulated agents'
 * operation latency of clock time (so `parallel` shapes how long a run takes), injected
 * failures and timeouts are reported per instance, `runOperation` (what backups and restores
 * call) and the workflow action `operation D C OP k=v` go through the same path with their own
 * actor, and a run left unfinished by a stopped control plane is marked interrupted on start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createVirtualClock } from '../../src/clock/index.js';
import { runOperation } from '../../src/engine/index.js';
import { controlPlanePorts, parseActionText, runAction } from '../../src/workflows/actions/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { openTestStore } from '../helpers/postgres.js';

const spec = (simPath: string): string => `name: simops
clouds:
  sim: { platform: sim, options: { path: ${JSON.stringify(simPath)}, operationLatencyMs: 45000, operationFailures: { flaky: 1 } } }
nodeTemplates:
  t: { cloud: sim }
components:
  db:
    nodeTemplate: t
    instances: { count: 4 }
    lifecycle: { start: run }
    operations:
      dump:
        run: "pg_dump > $NUBIS_PARAM_TARGET/db.sql"
        timeout: 2m
        params:
          target: { type: string, required: true, pattern: "^/" }
      flaky: "exit 1"
      slow: { run: "sleep 60", timeout: 10s }
`;

test('sim: operations take their latency of virtual time per wave of `parallel`, report injected failures and timeouts, and serve runOperation and the workflow action', { timeout: 120_000 }, async () => {
  const dir = tempDir('nubis-ops-sim-');
  const clock = createVirtualClock(Date.UTC(2026, 0, 1));
  const stopAdvance = clock.autoAdvance();
  let cp = await startControlPlane(dir, { clock, engine: { pollIntervalMs: 5 } });
  try {
    await cp.apply({ spec: spec(path.join(dir, 'sim.db')) }, { actor: 'user:test' });
    const phases = async (): Promise<string> => JSON.stringify((await cp.getDeployment('simops')).instances.map((i) => [i.name, i.phase, i.node.state, i.lastError ?? null]));
    await waitFor('simops ready', async () => (await cp.getDeployment('simops')).state === 'ready', 60_000).catch(async (e: unknown) => assert.fail(`${String(e)}: ${await phases()}`));

    // 4 instances, 2 at a time: two waves of 45 s of clock time
    let t0 = clock.now();
    const two = await runOperation(cp.engine, { deployment: 'simops', component: 'db', operation: 'dump', params: { target: '/backup' }, parallel: 2, reason: 'nightly backup' }, { actor: 'backup:nightly' });
    const slowWaves = clock.now() - t0;
    assert.equal(two.state, 'succeeded');
    assert.deepEqual(two.instances.map((i) => [i.instance, i.state, i.output]), [1, 2, 3, 4].map((n) => [`db-${n}`, 'succeeded', 'sim: operation dump ok NUBIS_PARAM_TARGET=/backup\n']));
    assert.ok(slowWaves >= 90_000 && slowWaves < 135_000, `two waves took ${slowWaves} ms of clock time`);
    t0 = clock.now();
    const all = await runOperation(cp.engine, { deployment: 'simops', component: 'db', operation: 'dump', params: { target: '/b' } }, { actor: 'backup:nightly' });
    const oneWave = clock.now() - t0;
    assert.equal(all.state, 'succeeded');
    assert.ok(oneWave >= 45_000 && oneWave < 90_000, `one wave took ${oneWave} ms of clock time`);
    const evs = await cp.events.list({ deployment: 'simops', kind: 'operation.*', limit: 1000 });
    const ofTwo = evs.filter((e) => e.data?.['runId'] === two.id);
    assert.equal(ofTwo.length, 8);
    assert.ok(ofTwo.every((e) => e.actor === 'backup:nightly' && e.reason === 'nightly backup'));

    // injected failures and timeouts, per instance
    const flaky = await runOperation(cp.engine, { deployment: 'simops', component: 'db', operation: 'flaky', instances: ['db-2', 'db-3'] }, { actor: 'user:test' });
    assert.equal(flaky.state, 'failed');
    assert.deepEqual(flaky.instances.map((i) => [i.instance, i.state, i.exitCode]), [['db-2', 'failed', 1], ['db-3', 'failed', 1]]);
    const slow = await runOperation(cp.engine, { deployment: 'simops', component: 'db', operation: 'slow', instances: ['db-1'] }, { actor: 'user:test' });
    assert.deepEqual(slow.instances.map((i) => [i.state, i.detail]), [['timed-out', 'timed out after 10000 ms']]);
    await assert.rejects(runOperation(cp.engine, { deployment: 'simops', component: 'db', operation: 'dump', params: { target: 'relative' } }, { actor: 'user:test' }), (e: any) => e.code === 'REQUEST_INVALID' && e.details.problems[0].path === 'params.target');

    // the workflow action goes through the control plane with the workflow as its actor
    const ports = controlPlanePorts({ controlPlane: cp, clock, caller: { actor: 'workflow:nightly' } });
    const done = await runAction(parseActionText('operation simops db dump target=/wf'), ports);
    assert.match(done.detail, /^operation dump on simops\/db: 4 of 4 succeeded \(run op-[0-9a-f]{12}\)$/);
    const wfRun = (await cp.operationRuns('simops', 1))[0]!;
    assert.equal(wfRun.actor, 'workflow:nightly');
    assert.deepEqual(wfRun.params, { target: '/wf' });
    await assert.rejects(runAction(parseActionText('operation simops db flaky'), ports), (e: any) => e.code === 'HANDLER_FAILED' && /0 of 4 succeeded .*db-1 failed \(exit 1\)/.test(e.message));
    await assert.rejects(runAction(parseActionText('operation simops db dump'), ports), (e: any) => e.code === 'REQUEST_INVALID' && /params\.target/.test(e.message));

    // a run the control plane stopped during: interrupted after the restart, with an event
    const early = await cp.runOperation('simops', 'db', 'dump', { params: { target: '/x' }, wait: false }, { actor: 'user:test' });
    assert.equal(early.state, 'running');
    stopAdvance();
    await cp.close();
    // and one a SIGKILL left running: the store says running, nothing ended it
    const store = await openTestStore(path.join(dir, 'nubis.db'));
    await store.write(
      store.operations.putRun({ id: 'op-00000000dead', deployment: 'simops', component: 'db', operation: 'dump', params_json: '{"target":"/k"}', actor: 'user:test', reason: 'killed', state: 'running', created_at: clock.now(), ended_at: null }),
      store.operations.putInstance({ run_id: 'op-00000000dead', instance: 'db-1', state: 'running', exit_code: null, output: '', detail: null, started_at: clock.now(), ended_at: null }),
    );
    await store.close();
    const restartAdvance = clock.autoAdvance();
    cp = await startControlPlane(dir, { clock, engine: { pollIntervalMs: 5 } });
    const after = await cp.operationRun('simops', early.id);
    restartAdvance();
    assert.equal(after.state, 'interrupted');
    assert.ok(after.instances.every((i) => i.state === 'interrupted' || i.state === 'succeeded'), JSON.stringify(after.instances));
    const cut = (await cp.events.list({ deployment: 'simops', kind: 'operation.failed', limit: 1000 })).filter((e) => e.data?.['runId'] === early.id);
    assert.equal(cut.length, after.instances.filter((i) => i.state === 'interrupted').length);
    assert.ok(cut.every((e) => e.outcome === 'interrupted'));
    const killed = await cp.operationRun('simops', 'op-00000000dead');
    assert.equal(killed.state, 'interrupted');
    assert.deepEqual(killed.instances.map((i) => [i.instance, i.state]), [['db-1', 'interrupted']]);
    assert.match(killed.instances[0]!.detail!, /the control plane stopped while it ran/);
    const told = (await cp.events.list({ deployment: 'simops', kind: 'operation.failed', limit: 1000 })).filter((e) => e.data?.['runId'] === 'op-00000000dead');
    assert.deepEqual(told.map((e) => [e.target, e.outcome, e.reason]), [['simops/db-1', 'interrupted', 'killed']]);
  } finally {
    stopAdvance();
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
