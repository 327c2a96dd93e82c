/**
 * A property of the engine with the sweep (issue 7, item 4): for random fault models of the sim
 * cloud (slow and paginated lists, list lag, stale reads, NotFound after create) and random
 * scale sequences through the HTTP API, what the cloud RECEIVED is exact — one create per
 * instance ever added, one delete per instance scaled in, no delete of a wanted node — and the
 * cloud ends with exactly the wanted servers. Seeds are fixed so a failure repeats; set
 * NUBIS_PROPERTY_SEEDS to try others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createPrng, createSimCloud } from '../../src/drivers/sim/index.js';
import { TAG_KEY } from '../../src/drivers/driver.js';
import { simFileSpec, startApiControlPlane } from '../helpers/api-server.js';

const SEEDS = (process.env['NUBIS_PROPERTY_SEEDS'] ?? '11,22,33').split(',').map(Number);

for (const seed of SEEDS) {
  test(`seed ${seed}: random faults and scale steps: creates and deletes sent are exact, no wanted node deleted`, { timeout: 240_000 }, async () => {
    const rnd = createPrng(seed);
    const int = (min: number, max: number): number => Math.floor(rnd.between(min, max + 1 - 1e-9));
    const faults: Record<string, number> = {
      listLatencyMs: int(0, 300), listLagMs: int(0, 800), notFoundAfterCreateMs: int(0, 400), staleReadMs: int(0, 300),
      ...(rnd.next() < 0.7 ? { listPageSize: int(1, 8) } : {}),
    };
    const steps = Array.from({ length: 4 }, () => int(0, 12));
    const h = await startApiControlPlane({ engine: { pollIntervalMs: 20, sweepIntervalMs: 50, consistencyWindowMs: 2000 } });
    const simPath = path.join(h.dir, 'prop-sim.db');
    const what = `faults ${JSON.stringify(faults)}, counts 3 → ${steps.join(' → ')}`;
    try {
      assert.equal((await h.call('POST', '/v1/deployments', { spec: simFileSpec('prop', 3, simPath, { latency: { minMs: 20, maxMs: 200 }, ...faults }) })).status, 201);
      await h.ready('prop', 3);
      let current = 3;
      let added = 3;
      let removed = 0;
      for (const count of steps) {
        const r = await h.call('POST', '/v1/deployments/prop/scale', { component: 'app', count });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        added += Math.max(0, count - current);
        removed += Math.max(0, current - count);
        current = count;
        await h.ready('prop', count, 120_000);
        await h.sweeps(3);
        await h.ready('prop', count);
      }
      const view = (await h.call<any>('GET', '/v1/deployments/prop')).body;
      const wanted = new Set<string>(view.instances.map((i: any) => i.node.key));
      const sim = createSimCloud({ path: simPath });
      try {
        const t = sim.totals();
        assert.equal(t.created, added, `${what}: servers made`);
        assert.equal(t.calls.delete, removed, `${what}: deletes sent`);
        const inv = sim.inventory();
        const wrongly = inv.filter((s) => s.status === 'deleted' && wanted.has(s.tags[TAG_KEY]!));
        assert.deepEqual(wrongly.map((s) => s.tags[TAG_KEY]), [], `${what}: wanted nodes deleted`);
        const live = inv.filter((s) => s.status !== 'deleted');
        assert.equal(live.length, current, `${what}: live servers`);
        assert.deepEqual(new Set(live.map((s) => s.tags[TAG_KEY])), wanted, `${what}: one server per wanted node`);
      } finally {
        sim.close();
      }
    } finally {
      await h.close();
    }
  });
}
