/**
 * Cost and budgets (issue 11 item 6) over a virtual-clock day on `sim`: a registered sim cloud
 * whose offers have known prices (0.25/h and 1.5/h), two small nodes for the whole day and one
 * big node for six hours. The report's total, per day and per deployment, is the exact sum in
 * micro-units of price × running time, the running time taken from the node.state events the
 * engine recorded. A budget warns at its threshold (an event) and its hard stop refuses a new
 * node at plan, apply and scale with BUDGET_EXCEEDED, while the running nodes keep running (no
 * delete is sent to the sim).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createVirtualClock } from '../../src/clock/index.js';
import { createSimCloud } from '../../src/drivers/sim/index.js';
import type { NubisError } from '../../src/errors/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';

const HOUR = 3_600_000;
const by = { actor: 'user:test' };

const spec = (web: number, batch: number): string => [
  'name: costly',
  'clouds: {}',
  'nodeTemplates:',
  '  small: { requirements: { cores: 1, memory: 512 } }',
  '  big: { requirements: { cores: 4, memory: 4096 } }',
  'components:',
  `  web: { nodeTemplate: small, instances: { count: ${web}, min: 0, max: 10 }, provides: { http: {} }, lifecycle: { start: run } }`,
  `  batch: { nodeTemplate: big, instances: { count: ${batch}, min: 0, max: 10 }, lifecycle: { start: run } }`,
  '',
].join('\n');

test('cost: a virtual day on sim with known prices gives the exact total; budgets warn and their hard stop refuses new nodes only', { timeout: 300_000 }, async () => {
  const dir = tempDir('nubis-cost-');
  const simPath = path.join(dir, 'sim-costs.db');
  const t0 = Date.UTC(2026, 2, 10, 12, 0, 0);
  const clock = createVirtualClock(t0);
  const stop = clock.autoAdvance();
  const cp = await startControlPlane(dir, { clock, engine: { pollIntervalMs: 5, observeIntervalMs: 60_000, sweepIntervalMs: 600_000, leaks: { intervalMs: 6 * HOUR } } });
  try {
    await cp.registry.putCloud('default', 'simc', { platform: 'sim', options: { path: simPath } }, by);
    await cp.registry.putEntry('default', 'simc', 'offer', 'small', { cores: 1, memoryMiB: 1024, pricePerHour: 0.25 }, by);
    await cp.registry.putEntry('default', 'simc', 'offer', 'big', { cores: 8, memoryMiB: 16384, pricePerHour: 1.5 }, by);
    await cp.apply({ spec: spec(2, 1), file: 'costly.yaml' }, by);
    await waitFor('3 nodes running', () => [...cp.engine.nodes.values()].filter((n) => n.status === 'running').length === 3, 60_000);
    // the day is counted from when all three run (how much clock time the start took is the engine's business)
    const day0 = clock.now();
    await clock.sleep(6 * HOUR - (clock.now() - day0));
    await cp.scale('costly', 'batch', 0, by);
    await waitFor('the big node deleted', () => [...cp.engine.nodes.values()].length === 2, 60_000);
    const end = day0 + 24 * HOUR;
    await clock.sleep(end - clock.now());
    await cp.cost.flush();

    // the expected total from the events: price × (deleted or day end − running), in micro-units
    const states = await cp.events.list({ kind: 'node.state', limit: 10_000 });
    const running = new Map<string, number>();
    const ended = new Map<string, number>();
    for (const e of states) {
      if (e.outcome === 'running' && !running.has(e.target!)) running.set(e.target!, Date.parse(e.ts));
      if (e.outcome === 'deleted') ended.set(e.target!, Date.parse(e.ts));
    }
    assert.equal(running.size, 3);
    const price = (key: string): bigint => (key.includes('batch') ? 1_500_000n : 250_000n);
    let sum = 0n;
    const dayOf = new Map<string, bigint>();
    for (const [key, from] of running) {
      const to = ended.get(key) ?? end;
      sum += price(key) * BigInt(to - from);
      const midnight = Date.UTC(2026, 2, 11);
      dayOf.set('2026-03-10', (dayOf.get('2026-03-10') ?? 0n) + price(key) * BigInt(Math.min(to, midnight) - from));
      if (to > midnight) dayOf.set('2026-03-11', (dayOf.get('2026-03-11') ?? 0n) + price(key) * BigInt(to - midnight));
    }
    const micros = (x: bigint): number => Number((x + 1_800_000n) / 3_600_000n);
    const expected = micros(sum);
    // about 2 × 0.25 × 24 + 1.5 × 6 = 21: the nodes ran (almost) the whole time; the big node's
    // scale-in (drain, stop, delete) runs on the virtual clock too, so it may bill up to an hour more
    assert.ok(expected > 20_900_000 && expected < 22_500_000, `expected ≈ 21, computed ${expected} (running from ${[...running.values()].map((t) => t - t0).join(', ')} ms)`);

    const daily = await cp.leaks.cost('default', t0 - HOUR, end, 'day');
    assert.equal(daily.totalMicros, expected);
    assert.equal(daily.unpricedMs, 0);
    assert.deepEqual(daily.rows.map((r) => [r.key, r.micros]), [['2026-03-10', micros(dayOf.get('2026-03-10')!)], ['2026-03-11', micros(dayOf.get('2026-03-11')!)]]);
    assert.equal(daily.rows[1]!.micros, micros(500_000n * BigInt(end - Date.UTC(2026, 2, 11))), 'the second day: two small nodes × 0.25 from midnight to the end, exactly');
    const perDep = await cp.leaks.cost('default', t0 - HOUR, end, 'deployment');
    assert.deepEqual(perDep.rows.map((r) => [r.key, r.micros]), [['costly', expected]]);
    assert.equal(perDep.total, `${Math.floor(expected / 1e6)}.${String(expected % 1e6).padStart(6, '0')}`);
    // a window inside the day: two small nodes for exactly 10 hours
    const window = await cp.leaks.cost('default', day0 + 8 * HOUR, day0 + 18 * HOUR, 'day');
    assert.equal(window.totalMicros, 5_000_000);
    assert.deepEqual(await cp.leaks.cost('acme', t0 - HOUR, end, 'day').then((r) => r.totalMicros), 0, 'another tenant pays nothing of it');

    // budgets: a warning at 80 %; then a hard stop refuses new nodes and stops none
    const warned = await cp.leaks.setBudget('default', undefined, { amount: 25, thresholds: [80, 100] }, 'user:test');
    assert.equal(warned.exceeded, false);
    assert.ok(warned.percent >= 80 && warned.percent < 100);
    const warnings = await cp.events.list({ kind: 'budget.*', limit: 100 });
    assert.deepEqual(warnings.filter((e) => e.kind !== 'budget.set').map((e) => [e.kind, e.data?.['threshold']]), [['budget.warning', 80]]);
    await cp.cost.check();
    assert.equal((await cp.events.list({ kind: 'budget.warning', limit: 100 })).length, 1, 'once per threshold and month');
    await assert.rejects(cp.leaks.setBudget('default', undefined, { amount: -3 }, 'user:test'), /\$\.amount: expected a number > 0/);

    const stopped = await cp.leaks.setBudget('default', undefined, { amount: 20, hardStop: true }, 'user:test');
    assert.equal(stopped.exceeded, true);
    assert.equal((await cp.events.list({ kind: 'budget.exceeded', limit: 100 })).length, 1);
    const refused = (e: unknown): boolean => (e as NubisError).code === 'BUDGET_EXCEEDED' && /running ones keep running/.test((e as Error).message);
    await assert.rejects(cp.scale('costly', 'web', 3, by), refused);
    await assert.rejects(cp.plan({ spec: spec(3, 0), file: 'costly.yaml' }, by), refused);
    await assert.rejects(cp.apply({ spec: spec(2, 2), file: 'costly.yaml' }, by), refused);
    // what removes or keeps nodes is not refused, and nothing running is touched
    await cp.apply({ spec: spec(2, 0), file: 'costly.yaml' }, by);
    await clock.sleep(2 * HOUR);
    assert.equal([...cp.engine.nodes.values()].filter((n) => n.status === 'running').length, 2);
    const sim = createSimCloud({ path: simPath });
    try {
      assert.equal(sim.totals().calls.delete, 1, 'only the big node, deleted by its scale-in, was deleted');
    } finally {
      sim.close();
    }
    // raised again: back within budget, new nodes allowed
    await cp.leaks.setBudget('default', undefined, { amount: 1000, hardStop: true }, 'user:test');
    assert.equal((await cp.events.list({ kind: 'budget.ok', limit: 100 })).length, 1);
    await cp.scale('costly', 'web', 3, by);
    await waitFor('3 web nodes running', () => [...cp.engine.nodes.values()].filter((n) => n.status === 'running').length === 3, 60_000);
  } finally {
    await cp.close();
    stop();
  }
});
