/**
 * Issue 7, item 5: destroy always finishes. A cloud that refuses every delete non-retryably
 * (403 here, injected by the sim's error model) gets one delete per node, not a retry loop
 * for as long as the deployment exists; the destroy then stops with each node `failed` and a
 * reason on status that says what happened, so the operator can fix the cloud or forget it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';

const actor = { actor: 'user:test' };

const spec = [
  'name: stuck',
  'clouds:',
  '  sim:',
  '    platform: sim',
  '    options:',
  '      path: ":memory:"',
  '      seed: 3',
  '      errors: { delete: [{ rate: 1, status: 403 }] }',
  'nodeTemplates: { t: { cloud: sim } }',
  'components:',
  '  app: { nodeTemplate: t, instances: { count: 2 }, lifecycle: { start: run } }',
  '',
].join('\n');

test('a delete the cloud refuses non-retryably ends the destroy with the reason on status, after one delete per node', { timeout: 120_000 }, async () => {
  const cp = await startControlPlane(tempDir(), { engine: { backoffBaseMs: 20, backoffMaxMs: 100, sweepIntervalMs: 200 } });
  try {
    const calls = async (op: string): Promise<number> =>
      (await cp.events.list({ kind: 'driver.call', limit: 100_000 })).filter((e) => e.data?.['op'] === op).length;
    await cp.apply({ spec }, actor);
    await waitFor('ready', async () => (await cp.getDeployment('stuck')).state === 'ready', 30_000);
    await cp.destroy('stuck', actor);
    const v = await waitFor('every node failed with the reason', async () => {
      const d = await cp.getDeployment('stuck');
      return d.instances.length === 2 && d.instances.every((i) => i.node.state === 'failed') ? d : undefined;
    }, 30_000);
    // a 403 also stops the whole cloud (its health): status names the cloud's reason then
    for (const i of v.instances) assert.match(i.lastError ?? '', /delete failed: CLOUD_FORBIDDEN|cloud sim: forbidden \(403\)/, `${i.name} says why`);
    // several sweeps and passes later, still one delete per node: nothing loops
    // (the 403 stopped the cloud, so later sweeps are refused before they reach it: count those)
    const refused = async (): Promise<number> => (await cp.getDeployment('stuck')).clouds?.find((c) => c.cloud === 'sim')?.refused ?? 0;
    const before = await refused();
    await waitFor('more sweeps', async () => (await refused()) >= before + 5, 20_000);
    await cp.idle();
    assert.equal(await calls('delete'), 2, 'one delete sent per node');
    assert.equal((await cp.getDeployment('stuck')).state, 'destroying');
  } finally {
    await cp.close();
  }
});

test('a node that stays provisioning past its deadline is deleted and made again, and destroy ends its wait', { timeout: 120_000 }, async () => {
  // provisioning would take an hour: only the deadline (300 ms here) ends the wait
  const slow = spec.replace('stuck', 'slow').replace("errors: { delete: [{ rate: 1, status: 403 }] }", 'latencyMs: 3600000').replace('count: 2', 'count: 1');
  const cp = await startControlPlane(tempDir(), { engine: { backoffBaseMs: 20, backoffMaxMs: 100, provisionTimeoutMs: 300 } });
  try {
    const calls = async (op: string): Promise<number> =>
      (await cp.events.list({ kind: 'driver.call', limit: 100_000 })).filter((e) => e.data?.['op'] === op && e.outcome === 'ok').length;
    await cp.apply({ spec: slow }, actor);
    await waitFor('a second create after the first node was deleted', async () => (await calls('delete')) >= 1 && (await calls('create')) >= 2, 30_000);
    const timedOut = (await cp.events.list({ deployment: 'slow', kind: 'node.state' })).filter((e) => e.data?.['code'] === 'CLOUD_TIMEOUT');
    assert.ok(timedOut.length >= 1, 'the retry says the deadline passed');
    await cp.destroy('slow', actor);
    await waitFor('slow gone', async () => (await cp.listDeployments()).length === 0, 30_000);
    assert.equal(await calls('create') - (await calls('delete')), 0, 'every node made was deleted');
  } finally {
    await cp.close();
  }
});
