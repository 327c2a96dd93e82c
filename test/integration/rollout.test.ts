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
