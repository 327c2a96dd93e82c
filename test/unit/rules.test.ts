/**
 * Scaling rules on a virtual clock: `for` boundaries, cooldown, scale-down stabilization,
 * bounds (a property test over random metric streams), missing data and readiness, and the
 * seed's rule as written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { parseSpec } from '../../src/model/parse.js';
import type { RuleSpec } from '../../src/model/types.js';
import { createRuleEvaluator, boundedTarget, capOf, evaluateCondition, type RuleReport } from '../../src/scaling/index.js';
import type { InstantSample, QueryResult } from '../../src/metrics/types.js';

const BASE = `name: d
clouds: { sim: { platform: sim } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 2, min: 1, max: 8 } }
`;

/** Rules as written in a spec's `rules:` section (YAML lines indented under it). */
function rulesFrom(yaml: string): Record<string, RuleSpec> {
  const spec = parseSpec(`${BASE}rules:\n${yaml}`, { file: 'rules.yaml' });
  return spec.rules!;
}

function vector(values: Record<string, number>): QueryResult {
  return { resultType: 'vector', result: Object.entries(values).map(([instance, v]): InstantSample => ({ labels: { instance, deployment: 'd' }, t: 0, v })) };
}

interface Harness {
  clock: ReturnType<typeof createVirtualClock>;
  calls: { t: number; count: number }[];
  reports: RuleReport[];
  state: { desired: number; ready: string[]; notReady: string[] };
  stop(): Promise<void>;
}

async function harness(rules: RuleSpec[], query: (expr: string, t: number) => QueryResult, init: { desired: number; ready?: string[]; notReady?: string[]; min?: number; max?: number }): Promise<Harness> {
  const clock = createVirtualClock(0);
  const state = { desired: init.desired, ready: init.ready ?? Array.from({ length: init.desired }, (_, i) => `app-${i + 1}`), notReady: init.notReady ?? [] };
  const calls: Harness['calls'] = [];
  const reports: RuleReport[] = [];
  const ev = createRuleEvaluator({
    clock,
    query: async (expr, t) => query(expr, t),
    rules: () => rules.map((rule) => ({ deployment: 'd', rule })),
    component: () => ({
      desired: state.desired, min: init.min ?? 1, max: init.max ?? 8,
      instances: [...state.ready.map((name) => ({ name, ready: true })), ...state.notReady.map((name) => ({ name, ready: false }))],
    }),
    scale: async (_d, _c, count) => {
      calls.push({ t: clock.now(), count });
      state.desired = count;
    },
    report: (r) => reports.push(r),
  });
  ev.start();
  await new Promise((r) => setImmediate(r)); // the first evaluation (at 0) runs and the loop sleeps
  return { clock, calls, reports, state, stop: () => ev.stop() };
}

test('fires exactly when the condition has held for `for`, not an interval later; a dip resets it', async () => {
  const { hot } = rulesFrom(`  hot:
    component: app
    when: { all: { expr: cpu, above: 60 } }
    for: 30s
    interval: 7s
    action: { scale: out, by: 1 }
    cooldown: 0s
`);
  let cpu = 90;
  const h = await harness([hot!], () => vector({ 'app-1': cpu, 'app-2': cpu }), { desired: 2 });
  await h.clock.advance(29_999);
  assert.equal(h.calls.length, 0, 'not before 30 s');
  await h.clock.advance(1);
  assert.deepEqual(h.calls, [{ t: 30_000, count: 3 }], 'at exactly 30 s (evaluations at 0, 7, …, 28 s; the for deadline wakes it)');
  // a dip below the threshold resets the `for`
  cpu = 10;
  await h.clock.advance(7_000); // evaluated at 37 s (the interval restarts at the 30 s evaluation): false
  cpu = 90;
  await h.clock.advance(7_000); // 44 s: true again, holding since 44 s
  await h.clock.advance(29_999);
  assert.equal(h.calls.length, 1);
  await h.clock.advance(1); // 74 s = 44 + 30
  assert.deepEqual(h.calls[1], { t: 74_000, count: 4 });
  await h.stop();
});

test('cooldown: after an action, rules of the component wait; each suppression reason is reported once and counted', async () => {
  const { out } = rulesFrom(`  out:
    component: app
    when: { any: { expr: cpu, above: 50 } }
    interval: 5s
    action: { scale: out, by: 1 }
    cooldown: 60s
`);
  const h = await harness([out!], () => vector({ 'app-1': 99 }), { desired: 1, ready: ['app-1'] });
  await h.clock.advance(59_999);
  assert.deepEqual(h.calls.map((c) => c.t), [0]);
  await h.clock.advance(1);
  assert.deepEqual(h.calls.map((c) => c.t), [0, 60_000]);
  await h.clock.advance(5_000);
  const suppressed = h.reports.filter((r) => r.kind === 'rule.suppressed');
  assert.ok(suppressed.length >= 1 && suppressed.every((r) => r.data['reason'] === 'cooldown'));
  assert.equal(suppressed.length, 2, 'one report per cooldown period, not per evaluation');
  await h.stop();
});

test('scale-down stabilization: scale in only to the highest recommendation over the window', async () => {
  const { idle } = rulesFrom(`  idle:
    component: app
    when: { all: { expr: cpu, below: 20 } }
    interval: 5s
    action: { scale: in, by: 1 }
    cooldown: 0s
    stabilization: 30s
`);
  let cpu = 5;
  const ready = ['app-1', 'app-2', 'app-3', 'app-4', 'app-5'];
  const h = await harness([idle!], () => vector(Object.fromEntries(ready.map((i) => [i, cpu]))), { desired: 5, ready });
  await h.clock.advance(29_999);
  assert.equal(h.calls.length, 0, 'nothing before the evaluator has watched a whole window');
  await h.clock.advance(1);
  assert.deepEqual(h.calls, [{ t: 30_000, count: 4 }]);
  ready.pop();
  // the window still holds recommendations of 4: no further scale-in until they age out
  await h.clock.advance(29_999);
  assert.equal(h.calls.length, 1);
  await h.clock.advance(1);
  assert.deepEqual(h.calls[1], { t: 60_000, count: 3 });
  ready.pop();
  // load returns for one evaluation: the window now holds a recommendation of 3 (hold)
  cpu = 50;
  await h.clock.advance(5_000);
  cpu = 5;
  await h.clock.advance(25_000); // 90 s: the hold at 65 s is still in the window (60, 90]
  assert.equal(h.calls.length, 2);
  await h.clock.advance(5_000); // 95 s: it has aged out
  assert.deepEqual(h.calls[2], { t: 95_000, count: 2 });
  assert.ok(h.reports.some((r) => r.kind === 'rule.suppressed' && r.data['reason'] === 'stabilization'));
  await h.stop();
});

test('missing data: no samples make the condition unknown — never fires, not even through `not` — and it is reported', async () => {
  const rules = rulesFrom(`  out:
    component: app
    when: { all: { expr: cpu, above: 60 } }
    action: { scale: out, by: 1 }
  neg:
    component: app
    when: { not: { any: { expr: cpu, above: 60 } } }
    action: { scale: in, by: 1 }
`);
  const h = await harness(Object.values(rules), () => vector({}), { desired: 2 });
  await h.clock.advance(60_000);
  assert.equal(h.calls.length, 0);
  const nodata = h.reports.filter((r) => r.kind === 'rule.nodata');
  assert.equal(nodata.length, 2, 'reported once per rule when it begins');
  assert.match(nodata[0]!.reason, /no samples for app-1, app-2/);
  await h.stop();
});

test('readiness: instances not yet running are excluded from quantifiers; a ready instance without samples makes `all` unknown', async () => {
  const ctx = (ready: string[]) => ({ deployment: 'd', ready, desired: 3, query: async () => vector({ 'app-1': 90, 'app-2': 95, 'app-3': 5 }) });
  const all = { kind: 'all' as const, cmp: { expr: 'cpu', above: 60 } };
  // app-3 is still starting (its cold-start CPU is ignored)
  assert.equal((await evaluateCondition(all, ctx(['app-1', 'app-2']))).truth, true);
  assert.equal((await evaluateCondition(all, ctx(['app-1', 'app-2', 'app-3']))).truth, false);
  const withGap = await evaluateCondition(all, ctx(['app-1', 'app-2', 'app-4']));
  assert.equal(withGap.truth, 'unknown');
  assert.deepEqual(withGap.missing, ['no samples for app-4 in "cpu"']);
  assert.equal((await evaluateCondition({ kind: 'any', cmp: { expr: 'cpu', above: 60 } }, ctx(['app-4', 'app-1']))).truth, true);
  assert.equal((await evaluateCondition({ kind: 'all', cmp: { expr: 'cpu', above: 60 } }, ctx([]))).truth, 'unknown', 'no ready instance: unknown');
  const atLeast = (k: number, ready: string[]) => evaluateCondition({ kind: 'atLeast', instances: k, cmp: { expr: 'cpu', above: 60 } }, ctx(ready));
  assert.equal((await atLeast(2, ['app-1', 'app-2', 'app-3'])).truth, true);
  assert.equal((await atLeast(3, ['app-1', 'app-2', 'app-3'])).truth, false);
  assert.equal((await atLeast(3, ['app-1', 'app-2', 'app-4'])).truth, 'unknown');
});

test('the seed rule as written: all 5-min CPU > 60, at least one 1-min > 85, fewer than 6 instances → add one', async () => {
  const rules = rulesFrom(`  app-out:
    component: app
    when:
      and:
        - all: { expr: 'avg_over_time({__name__="instance.cpu.percent", component="app"}[5m])', above: 60 }
        - any: { expr: 'avg_over_time({__name__="instance.cpu.percent", component="app"}[1m])', above: 85 }
        - count: { below: 6 }
    action: { scale: out, by: 1 }
    cooldown: 2m
`);
  const r = rules['app-out']!;
  assert.equal(r.cooldownMs, 120_000);
  let five: Record<string, number> = {};
  let one: Record<string, number> = {};
  const h = await harness([r], (expr) => vector(expr.includes('[5m]') ? five : one), { desired: 4, ready: ['app-1', 'app-2', 'app-3', 'app-4'] });
  const seed = (f: number[], o: number[]) => {
    five = Object.fromEntries(h.state.ready.map((i, k) => [i, f[k] ?? f[0]!]));
    one = Object.fromEntries(h.state.ready.map((i, k) => [i, o[k] ?? o[0]!]));
  };
  seed([70, 65, 61, 80], [70, 80, 84, 84]); // no instance above 85 in the last minute
  await h.clock.advance(10_000);
  assert.equal(h.calls.length, 0);
  seed([70, 65, 59, 80], [90, 80, 84, 84]); // one instance at or below 60 over 5 min
  await h.clock.advance(10_000);
  assert.equal(h.calls.length, 0);
  seed([70, 65, 61, 80], [90, 80, 84, 84]); // all three hold
  await h.clock.advance(5_000);
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0]!.count, 5);
  h.state.ready.push('app-5');
  seed([70, 65, 61, 80, 75], [90, 80, 84, 84, 70]);
  await h.clock.advance(120_000); // cooldown over: 5 < 6, add the sixth
  assert.deepEqual(h.calls.map((c) => c.count), [5, 6]);
  h.state.ready.push('app-6');
  seed([70, 65, 61, 80, 75, 99], [90, 80, 84, 84, 70, 99]);
  await h.clock.advance(600_000);
  assert.deepEqual(h.calls.map((c) => c.count), [5, 6], 'never a seventh: the count condition fails at 6');
  await h.stop();
});

test('bounds are never crossed: random metric streams against random rules (property)', async () => {
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 40; trial++) {
    const min = Math.floor(rnd() * 4);
    const max = min + 1 + Math.floor(rnd() * 8);
    const rmin = rnd() < 0.3 ? min + Math.floor(rnd() * 2) : undefined;
    const rmax = rnd() < 0.3 ? max - Math.floor(rnd() * 2) : undefined;
    const bounds = `${rmin !== undefined ? `, min: ${rmin}` : ''}${rmax !== undefined ? `, max: ${Math.max(rmax, rmin ?? 0)}` : ''}`;
    const actions = [`{ scale: out, by: ${1 + Math.floor(rnd() * 5)}${bounds} }`, `{ scale: in, by: ${1 + Math.floor(rnd() * 5)}${bounds} }`,
      `{ scale: out, percent: ${Math.ceil(rnd() * 200)}, minStep: 2${bounds} }`, `{ scale: in, percent: 50${bounds} }`, `{ scale: to, count: ${Math.floor(rnd() * 20)}${bounds} }`];
    const yaml = actions.map((a, i) => `  r${i}:\n    component: app\n    when: { any: { expr: m${i}, above: 50 } }\n    interval: ${1 + Math.floor(rnd() * 5)}s\n    action: ${a}\n    cooldown: ${Math.floor(rnd() * 3)}s\n    stabilization: ${Math.floor(rnd() * 4)}s\n`).join('');
    const spec = parseSpec(`${BASE.replace('min: 1, max: 8', `min: ${min}, max: ${max}`).replace('count: 2', `count: ${min}`)}rules:\n${yaml}`, { file: 'p.yaml' });
    const start = min + Math.floor(rnd() * (max - min + 1));
    const h = await harness(Object.values(spec.rules!), () => vector({ 'app-1': rnd() * 100 }), { desired: start, ready: ['app-1'], min, max });
    for (let step = 0; step < 60; step++) {
      await h.clock.advance(1_000);
      assert.ok(h.state.desired >= min && h.state.desired <= max, `trial ${trial}: ${h.state.desired} within [${min}, ${max}]`);
    }
    for (const c of h.calls) assert.ok(c.count >= min && c.count <= max);
    await h.stop();
  }
  // and directly: from outside the rule's own bounds an action never moves further away
  const out = { kind: 'out' as const, by: 3, minStep: 1, max: 5 };
  assert.equal(boundedTarget(out, 7, { min: 0, max: 10 }), 7, 'out never lowers');
  assert.equal(boundedTarget({ kind: 'in', by: 3, minStep: 1, min: 4 }, 2, { min: 0, max: 10 }), 2, 'in never raises');
  assert.equal(boundedTarget({ kind: 'out', percent: 10, minStep: 2 }, 4, { min: 0, max: 10 }), 6, 'percent with a minimum step');
  assert.equal(boundedTarget({ kind: 'out', percent: 50, minStep: 1 }, 9, { min: 0, max: 10 }), 10, 'clamped to max');
});

test('capOf: an ask beyond the range names the bound and where it comes from; one within it, none', () => {
  const comp = { min: 1, max: 3 };
  assert.deepEqual(capOf({ kind: 'out', by: 5, minStep: 1 }, 1, comp), { wanted: 6, bound: 'max', limit: 3, limitOf: 'instances.max' });
  assert.deepEqual(capOf({ kind: 'out', by: 5, minStep: 1, max: 2 }, 1, comp), { wanted: 6, bound: 'max', limit: 2, limitOf: 'rule max' });
  assert.deepEqual(capOf({ kind: 'in', by: 4, minStep: 1 }, 3, comp), { wanted: 0, bound: 'min', limit: 1, limitOf: 'instances.min' });
  assert.deepEqual(capOf({ kind: 'to', count: 9 }, 2, comp), { wanted: 9, bound: 'max', limit: 3, limitOf: 'instances.max' });
  assert.equal(capOf({ kind: 'out', by: 1, minStep: 1 }, 1, comp), undefined);
  assert.equal(capOf({ kind: 'in', by: 1, minStep: 1 }, 5, comp), undefined, 'an in from above the max is no cap');
});

test('at a bound the rule is suppressed by bounds (reported once, counted every time)', async () => {
  const { out } = rulesFrom(`  out:
    component: app
    when: { any: { expr: cpu, above: 50 } }
    interval: 1s
    action: { scale: out, by: 1 }
    cooldown: 0s
`);
  const h = await harness([out!], () => vector({ 'app-1': 99 }), { desired: 8, ready: ['app-1'], max: 8 });
  await h.clock.advance(10_000);
  assert.equal(h.calls.length, 0);
  const s = h.reports.filter((r) => r.kind === 'rule.suppressed');
  assert.equal(s.length, 1);
  assert.equal(s[0]!.data['reason'], 'bounds');
  await h.stop();
});

test('rule problems are reported with file:line:col and JSON path', () => {
  assert.throws(() => rulesFrom(`  bad:
    component: nope
    when: { all: { expr: cpu }, any: { expr: cpu, above: 1 } }
    action: { scale: out, by: 1, percent: 5 }
`), (e: Error & { details?: { problems: { message: string }[] } }) => {
    const msgs = e.details!.problems.map((p) => p.message);
    assert.ok(msgs.some((m) => m.includes('$.rules.bad.component: expected name of a component (app), found unknown component "nope"')), msgs.join('\n'));
    assert.ok(msgs.some((m) => m.includes('$.rules.bad.when: expected exactly one of all, any, atLeast, value, count, and, or, not, found all and any')), msgs.join('\n'));
    assert.ok(msgs.some((m) => m.includes('$.rules.bad.action: expected exactly one of by, percent with scale: out, found both')), msgs.join('\n'));
    return true;
  });
});
