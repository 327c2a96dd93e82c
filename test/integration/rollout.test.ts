/**
 * The model stays true under a running deployment (issue 8, item 2), through the HTTP API on
 * the sim cloud: run-time counts survive a re-apply unless the spec's own count changed, and
 * `plan` says which count wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startApiControlPlane } from '../helpers/api-server.js';
import { waitFor } from '../helpers/control-plane.js';

function spec(simPath: string, o: { count?: number; env?: string } = {}): string {
  return [
    'name: roll',
    `clouds: { sim: { platform: sim, options: ${JSON.stringify({ path: simPath })} } }`,
    'nodeTemplates: { t: { cloud: sim } }',
    'components:',
    `  app: { nodeTemplate: t, instances: { count: ${o.count ?? 2}, min: 0, max: 20 }, provides: { http: {} }, env: { V: "${o.env ?? 'one'}" }, lifecycle: { start: run } }`,
    '',
  ].join('\n');
}

test('a run-time count survives re-applying the same file; a changed spec count wins; plan says which and why', async () => {
  const h = await startApiControlPlane({ engine: { pollIntervalMs: 5 } });
  try {
    const simPath = path.join(h.dir, 'sim.db');
    assert.equal((await h.call('POST', '/v1/deployments', { spec: spec(simPath) })).status, 201);
    await h.ready('roll', 2);
    assert.equal((await h.call('POST', '/v1/deployments/roll/scale', { component: 'app', count: 4 })).status, 200);
    await h.ready('roll', 4);

    // the same file again: plan keeps 4 (nothing to remove) and says the run-time count wins
    const plan = (await h.call<any>('POST', '/v1/plan', { spec: spec(simPath) })).body;
    assert.equal(plan.summary.remove, 0, JSON.stringify(plan));
    assert.deepEqual(plan.counts.map((c: any) => [c.component, c.count, c.wins]), [['app', 4, 'runtime']]);
    assert.match(plan.counts[0].reason, /unchanged/);
    const deletesBefore = (await h.cloudCalls('delete')).length;
    const applied = (await h.call<any>('POST', '/v1/deployments', { spec: spec(simPath) })).body;
    assert.equal(applied.components[0].desired, 4);
    await h.ready('roll', 4);
    assert.equal((await h.cloudCalls('delete')).length, deletesBefore, 'no node deleted by the re-apply');

    // the spec's own count changed: it wins, and plan says so
    const plan3 = (await h.call<any>('POST', '/v1/plan', { spec: spec(simPath, { count: 3 }) })).body;
    assert.deepEqual(plan3.counts.map((c: any) => [c.count, c.wins]), [[3, 'spec']]);
    assert.match(plan3.counts[0].reason, /changed from 2 to 3/);
    assert.equal(plan3.summary.remove, 1);
    await h.call('POST', '/v1/deployments', { spec: spec(simPath, { count: 3 }) });
    await h.ready('roll', 3);
    await waitFor('one delete sent to the sim cloud', async () => (await h.cloudCalls('delete')).length === deletesBefore + 1);
  } finally {
    await h.close();
  }
});

interface Ev { id: number; kind: string; target?: string; outcome?: string; data?: Record<string, unknown> }

function rollSpec(simPath: string, o: { count: number; env: string; maxUnavailable?: number; maxSurge?: number; cores?: number; gate?: string; latency?: number; failStart?: boolean }): string {
  const strategy = `{ maxUnavailable: ${o.maxUnavailable ?? 1}, maxSurge: ${o.maxSurge ?? 0}, healthGate: { timeout: ${o.gate ?? '10m'} } }`;
  const options = { path: simPath, ...(o.latency ? { stepLatencyMs: o.latency } : {}), ...(o.failStart ? { stepFailures: { start: 1 } } : {}) };
  return [
    'name: roll',
    `clouds: { sim: { platform: sim, options: ${JSON.stringify(options)} } }`,
    `nodeTemplates: { t: { cloud: sim, requirements: { cores: ${o.cores ?? 1} } } }`,
    'components:',
    `  app: { nodeTemplate: t, instances: { count: ${o.count}, min: 0, max: 20 }, provides: { http: {} }, env: { V: "${o.env}" }, lifecycle: { start: run }, updateStrategy: ${strategy} }`,
    '',
  ].join('\n');
}

/** The fewest instances running at once (from phase events) after `all` first ran together. */
function fewestRunning(evs: readonly Ev[], all: number): number {
  const running = new Set<string>();
  let fewest = Infinity;
  let full = false;
  for (const e of evs) {
    if (e.kind !== 'instance.phase' || !e.target) continue;
    if (e.outcome === 'running') running.add(e.target);
    else running.delete(e.target);
    if (running.size >= all) full = true;
    if (full) fewest = Math.min(fewest, running.size);
  }
  return fewest;
}

test('a re-apply with changed env restarts instances in place, in batches of maxUnavailable behind the health gate', async () => {
  const h = await startApiControlPlane({ engine: { pollIntervalMs: 5 } });
  try {
    const simPath = path.join(h.dir, 'sim.db');
    await h.call('POST', '/v1/deployments', { spec: rollSpec(simPath, { count: 4, env: 'one', maxUnavailable: 2 }) });
    await h.ready('roll', 4);
    const creates = (await h.cloudCalls('create')).length;

    const plan = (await h.call<any>('POST', '/v1/plan', { spec: rollSpec(simPath, { count: 4, env: 'two', maxUnavailable: 2 }) })).body;
    assert.deepEqual(plan.rollout.map((l: any) => [l.instance, l.action, l.batch]), [['app-1', 'restart', 1], ['app-2', 'restart', 1], ['app-3', 'restart', 2], ['app-4', 'restart', 2]]);
    assert.match(plan.rollout[0].reason, /env V/);
    assert.equal(plan.summary.change, 4);

    await h.call('POST', '/v1/deployments', { spec: rollSpec(simPath, { count: 4, env: 'two', maxUnavailable: 2 }) });
    await waitFor('rollout completed', async () => (await h.call<any>('GET', '/v1/deployments/roll/rollout')).body.status === 'completed');
    await h.ready('roll', 4);
    const evs = [...(await h.events('instance.updated')), ...(await h.events('instance.phase')), ...(await h.events('rollout.*'))].sort((a, b) => a.id - b.id) as Ev[];
    const updated = evs.filter((e) => e.kind === 'instance.updated');
    assert.deepEqual(updated.map((e) => [e.target, e.data?.['batch'], e.data?.['how']]), [['roll/app-1', 1, 'restart'], ['roll/app-2', 1, 'restart'], ['roll/app-3', 2, 'restart'], ['roll/app-4', 2, 'restart']]);
    // the gate: batch 2 starts only after both of batch 1 run again
    const batch2 = updated[2]!.id;
    for (const t of ['roll/app-1', 'roll/app-2']) {
      assert.ok(evs.some((e) => e.kind === 'instance.phase' && e.target === t && e.outcome === 'running' && e.id > updated[0]!.id && e.id < batch2), `${t} running before batch 2`);
    }
    // never more than maxUnavailable out of service once all four ran
    assert.equal(4 - fewestRunning(evs, 4), 2);
    assert.deepEqual(evs.filter((e) => e.kind.startsWith('rollout.')).map((e) => e.kind), ['rollout.started', 'rollout.completed']);
    assert.equal((await h.cloudCalls('create')).length, creates, 'restarts in place create no node');
    assert.equal((await h.cloudCalls('delete')).length, 0);
    const status = (await h.call<any>('GET', '/v1/deployments/roll/rollout')).body;
    assert.deepEqual([status.components[0].outdated, status.components[0].batch], [0, 2]);
  } finally {
    await h.close();
  }
});

test('a node template change replaces nodes: new ones first with maxSurge, old ones removed; creates and deletes counted at the sim cloud', async () => {
  const h = await startApiControlPlane({ engine: { pollIntervalMs: 5 } });
  try {
    const simPath = path.join(h.dir, 'sim.db');
    const v1 = rollSpec(simPath, { count: 3, env: 'one', maxUnavailable: 0, maxSurge: 1 });
    const v2 = rollSpec(simPath, { count: 3, env: 'one', maxUnavailable: 0, maxSurge: 1, cores: 2 });
    await h.call('POST', '/v1/deployments', { spec: v1 });
    await h.ready('roll', 3);
    const creates = (await h.cloudCalls('create')).length;
    const plan = (await h.call<any>('POST', '/v1/plan', { spec: v2 })).body;
    assert.deepEqual(plan.rollout.map((l: any) => [l.instance, l.action, l.batch]), [['app-1', 'replace', 1], ['app-2', 'replace', 2], ['app-3', 'replace', 3]]);
    assert.match(plan.rollout[0].reason, /node template t/);
    await h.call('POST', '/v1/deployments', { spec: v2 });
    await waitFor('rollout completed', async () => (await h.call<any>('GET', '/v1/deployments/roll/rollout')).body.status === 'completed');
    const v = await h.ready('roll', 3);
    assert.deepEqual(v.instances.map((i: any) => i.name), ['app-4', 'app-5', 'app-6']);
    assert.equal((await h.cloudCalls('create')).length - creates, 3, 'three new nodes');
    await waitFor('three deletes', async () => (await h.cloudCalls('delete')).length === 3);
    const evs = (await h.events('instance.phase')) as Ev[];
    assert.equal(fewestRunning(evs, 3), 3, 'maxUnavailable 0: never fewer than three running');
  } finally {
    await h.close();
  }
});

test('pause stops further batches; resume finishes; a batch that never gets healthy fails the rollout at its health gate', async () => {
  const h = await startApiControlPlane({ engine: { pollIntervalMs: 5 } });
  try {
    const simPath = path.join(h.dir, 'sim.db');
    await h.call('POST', '/v1/deployments', { spec: rollSpec(simPath, { count: 3, env: 'one', latency: 150 }) });
    await h.ready('roll', 3);
    await h.call('POST', '/v1/deployments', { spec: rollSpec(simPath, { count: 3, env: 'two', latency: 150 }) });
    await waitFor('batch 1 started', async () => (await h.events('instance.updated')).length >= 1);
    const paused = await h.call<any>('POST', '/v1/deployments/roll/rollout/pause', {});
    assert.equal(paused.body.status, 'paused');
    // the deployment's status says so in one line
    const st = (await h.call<any>('GET', '/v1/deployments/roll')).body.rollout;
    assert.deepEqual([st.status, st.batch, st.batches, st.instances], ['paused', 1, 3, 3]);
    assert.match(st.line, /^batch 1\/3, [01] of 3 updated, paused \(by \S+\)$/);
    // the running batch finishes, and no other starts
    await waitFor('batch 1 done', async () => {
      const s = (await h.call<any>('GET', '/v1/deployments/roll/rollout')).body;
      return !s.components[0].gating && (await h.call<any>('GET', '/v1/deployments/roll')).body.state === 'ready';
    });
    await h.sweeps(2);
    const updated = await h.events('instance.updated');
    assert.equal(updated.length, 1, 'no batch after the pause');
    assert.equal((await h.call<any>('GET', '/v1/deployments/roll/rollout')).body.components[0].outdated, 2);
    assert.equal((await h.call<any>('POST', '/v1/deployments/roll/rollout/resume', {})).body.status, 'running');
    await waitFor('rollout completed', async () => (await h.call<any>('GET', '/v1/deployments/roll/rollout')).body.status === 'completed');
    assert.equal((await h.events('instance.updated')).length, 3);
    assert.equal((await h.call<any>('GET', '/v1/deployments/roll')).body.rollout, undefined, 'no rollout line once completed');
    assert.deepEqual((await h.events('rollout.*')).map((e) => e.kind), ['rollout.started', 'rollout.paused', 'rollout.resumed', 'rollout.completed']);

    // a start that always fails: batch 1 never gets healthy, the gate times out, no batch 2
    await h.call('POST', '/v1/deployments', { spec: rollSpec(simPath, { count: 3, env: 'three', failStart: true, gate: '1s' }) });
    await waitFor('rollout failed', async () => (await h.call<any>('GET', '/v1/deployments/roll/rollout')).body.status === 'failed');
    const failed = (await h.events('rollout.failed'))[0]!;
    assert.match(String(failed.reason), /^health gate timed out on app-1 \(\w+\)[^:]*: batch 1 of app was not running and healthy within 1 s$/);
    const fst = (await h.call<any>('GET', '/v1/deployments/roll')).body.rollout;
    assert.equal(fst.status, 'failed');
    assert.match(fst.line, /^batch 1\/3, 1 of 3 updated, failed: health gate timed out on app-1 \(\w+\)/);
    assert.equal((await h.events('instance.updated')).length, 4, 'only batch 1 of the failed rollout');
  } finally {
    await h.close();
  }
});
