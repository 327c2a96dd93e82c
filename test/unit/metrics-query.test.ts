/**
 * The PromQL-compatible subset: every function, aggregation and operator checked against an
 * independent, straightforward recomputation on seeded random data at several times; range
 * queries against instant queries; exact parse errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import { createQueryEngine } from '../../src/metrics/query/engine.js';
import { parseQuery } from '../../src/metrics/query/parser.js';
import type { InstantSample, Labels, Sample } from '../../src/metrics/types.js';

const T0 = Date.UTC(2030, 0, 1);
const MIN = 60_000;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RefSeries {
  labels: Labels;
  pts: { t: number; v: number }[];
}

/** Random data: gauges `load` and `mem` (same label sets), counter `req`, two Graphite series. */
function makeData(seed: number): RefSeries[] {
  const rnd = prng(seed);
  const out: RefSeries[] = [];
  const add = (labels: Labels, gen: (prev: number | undefined) => number, gapMs = 15_000): void => {
    const pts: { t: number; v: number }[] = [];
    let t = T0 + Math.floor(rnd() * 10_000);
    let prev: number | undefined;
    while (t < T0 + 60 * MIN) {
      // occasional gaps longer than the 5-minute lookback
      if (rnd() < 0.01) t += 7 * MIN;
      prev = gen(prev);
      pts.push({ t, v: prev });
      t += Math.floor(gapMs * (0.5 + rnd()));
    }
    out.push({ labels, pts });
  };
  for (const job of ['api', 'web']) {
    for (const inst of ['i1', 'i2', 'i3']) {
      add({ __name__: 'load', job, instance: inst }, () => Math.round(rnd() * 1000) / 10);
      add({ __name__: 'mem', job, instance: inst }, () => rnd() * 50);
      add({ __name__: 'req', job, instance: inst }, (p) => (p === undefined || rnd() < 0.02 ? Math.floor(rnd() * 10) : p + Math.floor(rnd() * 20)));
    }
  }
  add({ __name__: 'servers.a.cpu' }, () => rnd() * 100, 10_000);
  add({ __name__: 'servers.b.cpu' }, () => rnd() * 100, 10_000);
  return out;
}

// ---- the reference: written plainly, from the Prometheus documentation ----

const withoutName = (l: Labels): Labels => Object.fromEntries(Object.entries(l).filter(([k]) => k !== '__name__'));
const window = (s: RefSeries, t: number, rangeMs: number): { t: number; v: number }[] => s.pts.filter((p) => p.t > t - rangeMs && p.t <= t);
const instantAt = (s: RefSeries, t: number): number | undefined => {
  let v: number | undefined;
  for (const p of s.pts) if (p.t <= t && p.t > t - 5 * MIN) v = p.v;
  return v;
};
const sumOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const meanOf = (xs: number[]): number => sumOf(xs) / xs.length;
const varOf = (xs: number[]): number => meanOf(xs.map((x) => (x - meanOf(xs)) ** 2));
function refQuantile(q: number, xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const below = Math.floor(pos);
  const above = Math.ceil(pos);
  return s[below]! + (s[above]! - s[below]!) * (pos - below);
}
function refExtrapolated(w: { t: number; v: number }[], t: number, rangeMs: number, counter: boolean, perSecond: boolean): number | undefined {
  if (w.length < 2) return undefined;
  let corrected = w.map((p) => p.v);
  if (counter) {
    let offset = 0;
    corrected = w.map((p, i) => {
      if (i > 0 && p.v < w[i - 1]!.v) offset += w[i - 1]!.v;
      return p.v + offset;
    });
  }
  const increase = corrected[corrected.length - 1]! - corrected[0]!;
  const first = w[0]!;
  const last = w[w.length - 1]!;
  const span = (last.t - first.t) / 1000;
  const avgGap = span / (w.length - 1);
  let toStart = (first.t - (t - rangeMs)) / 1000;
  const toEnd = (t - last.t) / 1000;
  if (counter && increase > 0 && first.v >= 0) toStart = Math.min(toStart, span * (first.v / increase));
  const extStart = toStart < avgGap * 1.1 ? toStart : avgGap / 2;
  const extEnd = toEnd < avgGap * 1.1 ? toEnd : avgGap / 2;
  const total = (increase * (span + extStart + extEnd)) / span;
  return perSecond ? total / (rangeMs / 1000) : total;
}
function refSlope(w: { t: number; v: number }[]): number | undefined {
  if (w.length < 2) return undefined;
  const xs = w.map((p) => (p.t - w[0]!.t) / 1000);
  const ys = w.map((p) => p.v);
  const mx = meanOf(xs);
  const my = meanOf(ys);
  const num = sumOf(xs.map((x, i) => (x - mx) * (ys[i]! - my)));
  const den = sumOf(xs.map((x) => (x - mx) ** 2));
  return den === 0 ? 0 : num / den;
}

type Row = { labels: Labels; v: number };
const key = (l: Labels): string => JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1)));

function assertSameRows(actual: InstantSample[], expected: Row[], what: string): void {
  const a = new Map(actual.map((r) => [key(r.labels), r.v]));
  const e = new Map(expected.map((r) => [key(r.labels), r.v]));
  assert.deepEqual([...a.keys()].sort(), [...e.keys()].sort(), `${what}: label sets`);
  for (const [k, ev] of e) {
    const av = a.get(k)!;
    if (Number.isNaN(ev)) assert.ok(Number.isNaN(av), `${what} ${k}: expected NaN, got ${av}`);
    else assert.ok(Math.abs(av - ev) <= 1e-9 * Math.max(1, Math.abs(ev)), `${what} ${k}: expected ${ev}, got ${av}`);
  }
}

const DATA = makeData(42);
const byName = (n: string): RefSeries[] => DATA.filter((s) => s.labels.__name__ === n);
const TIMES = [T0 + 3 * MIN, T0 + 17 * MIN + 123, T0 + 31 * MIN, T0 + 44 * MIN + 9_999, T0 + 59 * MIN];

async function engine(): Promise<ReturnType<typeof createQueryEngine>> {
  const store = await createEmbeddedMetricStore({ dir: null, now: () => T0 });
  const samples: Sample[] = [];
  for (const s of DATA) {
    const { __name__: name = '', ...labels } = s.labels;
    for (const p of s.pts) samples.push({ name, labels, t: p.t, v: p.v });
  }
  store.append(samples);
  await store.flush();
  return createQueryEngine(store);
}

function rangeRef(name: string, t: number, rangeMs: number, f: (w: { t: number; v: number }[]) => number | undefined, keepName: boolean): Row[] {
  const rows: Row[] = [];
  for (const s of byName(name)) {
    const w = window(s, t, rangeMs);
    if (w.length === 0) continue;
    const v = f(w);
    if (v !== undefined) rows.push({ labels: keepName ? s.labels : withoutName(s.labels), v });
  }
  return rows;
}

test('every *_over_time function, rate, irate, increase, delta, deriv match the reference at several times', async () => {
  const q = await engine();
  const vals = (w: { v: number }[]): number[] => w.map((p) => p.v);
  const cases: [string, string, number, (w: { t: number; v: number }[], t: number) => number | undefined, boolean][] = [
    ['avg_over_time', 'load', 5 * MIN, (w) => meanOf(vals(w)), true],
    ['min_over_time', 'load', 5 * MIN, (w) => Math.min(...vals(w)), true],
    ['max_over_time', 'load', 2 * MIN, (w) => Math.max(...vals(w)), true],
    ['sum_over_time', 'mem', 10 * MIN, (w) => sumOf(vals(w)), false],
    ['count_over_time', 'mem', 3 * MIN, (w) => w.length, false],
    ['stddev_over_time', 'load', 5 * MIN, (w) => Math.sqrt(varOf(vals(w))), false],
    ['stdvar_over_time', 'load', 5 * MIN, (w) => varOf(vals(w)), false],
    ['last_over_time', 'mem', 1 * MIN, (w) => w[w.length - 1]!.v, true],
    ['first_over_time', 'mem', 4 * MIN, (w) => w[0]!.v, true],
    ['median_over_time', 'load', 5 * MIN, (w) => refQuantile(0.5, vals(w)), true],
    ['rate', 'req', 5 * MIN, (w, t) => refExtrapolated(w, t, 5 * MIN, true, true), false],
    ['increase', 'req', 10 * MIN, (w, t) => refExtrapolated(w, t, 10 * MIN, true, false), false],
    ['delta', 'load', 5 * MIN, (w, t) => refExtrapolated(w, t, 5 * MIN, false, false), false],
    ['deriv', 'mem', 5 * MIN, (w) => refSlope(w), false],
    [
      'irate',
      'req',
      5 * MIN,
      (w) => {
        if (w.length < 2) return undefined;
        const [a, b] = w.slice(-2) as [{ t: number; v: number }, { t: number; v: number }];
        return (b.v >= a.v ? b.v - a.v : b.v) / ((b.t - a.t) / 1000);
      },
      false,
    ],
  ];
  let checked = 0;
  for (const [fn, name, rangeMs, f, keep] of cases) {
    for (const t of TIMES) {
      const text = `${fn}(${name}[${rangeMs / 1000}s])`;
      const r = await q.instant(text, t);
      assert.equal(r.resultType, 'vector');
      assertSameRows(r.result as InstantSample[], rangeRef(name, t, rangeMs, (w) => f(w, t), keep), `${text} @${t - T0}`);
      checked++;
    }
  }
  for (const phi of [0, 0.25, 0.95, 1]) {
    for (const t of TIMES) {
      const r = await q.instant(`quantile_over_time(${phi}, load[5m])`, t);
      assertSameRows(r.result as InstantSample[], rangeRef('load', t, 5 * MIN, (w) => refQuantile(phi, vals(w)), true), `quantile_over_time(${phi}) @${t - T0}`);
    }
  }
  // Graphite names: keep-name functions give one result per series.
  const g = await q.instant('avg_over_time({__name__=~"servers\\\\..*\\\\.cpu"}[5m])', TIMES[2]!);
  assertSameRows(g.result as InstantSample[], [...rangeRef('servers.a.cpu', TIMES[2]!, 5 * MIN, (w) => meanOf(vals(w)), true), ...rangeRef('servers.b.cpu', TIMES[2]!, 5 * MIN, (w) => meanOf(vals(w)), true)], 'graphite avg_over_time');
  assert.ok(checked >= 75);
});

test('instant selectors look back 5 minutes; offset shifts the evaluation time', async () => {
  const q = await engine();
  for (const t of TIMES) {
    const expected: Row[] = [];
    for (const s of byName('load')) {
      const v = instantAt(s, t);
      if (v !== undefined) expected.push({ labels: s.labels, v });
    }
    assertSameRows((await q.instant('load', t)).result as InstantSample[], expected, `load @${t - T0}`);
    const shifted: Row[] = [];
    for (const s of byName('load')) {
      const v = instantAt(s, t - 7 * MIN);
      if (v !== undefined) shifted.push({ labels: s.labels, v });
    }
    assertSameRows((await q.instant('load offset 7m', t)).result as InstantSample[], shifted, `load offset 7m @${t - T0}`);
  }
  // Nothing after the last point + lookback.
  assert.deepEqual((await q.instant('load', T0 + 80 * MIN)).result, []);
});

test('aggregation operators with by and without match the reference', async () => {
  const q = await engine();
  const aggs: Record<string, (xs: number[], p: number) => number> = {
    sum: (xs) => sumOf(xs),
    avg: (xs) => meanOf(xs),
    min: (xs) => Math.min(...xs),
    max: (xs) => Math.max(...xs),
    count: (xs) => xs.length,
    stddev: (xs) => Math.sqrt(varOf(xs)),
    stdvar: (xs) => varOf(xs),
    quantile: (xs, p) => refQuantile(p, xs),
  };
  const groupings: [string, (l: Labels) => Labels][] = [
    ['', () => ({})],
    [' by (job)', (l) => ({ job: l.job! })],
    [' without (instance)', (l) => ({ job: l.job! })],
    [' by (job, instance)', (l) => ({ job: l.job!, instance: l.instance! })],
    [' without (job)', (l) => ({ instance: l.instance! })],
  ];
  for (const t of TIMES) {
    const inputs: { labels: Labels; v: number }[] = [];
    for (const s of byName('load')) {
      const v = instantAt(s, t);
      if (v !== undefined) inputs.push({ labels: s.labels, v });
    }
    for (const [op, f] of Object.entries(aggs)) {
      for (const [g, group] of groupings) {
        const param = op === 'quantile' ? 0.9 : 0;
        const text = op === 'quantile' ? `quantile${g} (0.9, load)` : `${op}${g} (load)`;
        const groups = new Map<string, { labels: Labels; xs: number[] }>();
        for (const x of inputs) {
          const gl = group(x.labels);
          const e = groups.get(key(gl)) ?? { labels: gl, xs: [] };
          e.xs.push(x.v);
          groups.set(key(gl), e);
        }
        const expected = [...groups.values()].map((e) => ({ labels: e.labels, v: f(e.xs, param) }));
        assertSameRows((await q.instant(text, t)).result as InstantSample[], expected, `${text} @${t - T0}`);
      }
    }
    // topk / bottomk keep the input's labels; ties do not occur in this data set.
    for (const [op, k] of [['topk', 2], ['bottomk', 1]] as const) {
      const text = `${op} by (job) (${k}, load)`;
      const expected: Row[] = [];
      for (const job of ['api', 'web']) {
        const mine = inputs.filter((x) => x.labels.job === job).sort((a, b) => (op === 'topk' ? b.v - a.v : a.v - b.v));
        expected.push(...mine.slice(0, k));
      }
      assertSameRows((await q.instant(text, t)).result as InstantSample[], expected, `${text} @${t - T0}`);
    }
    // aggregation over a range function (the rule's building block)
    const perInst = rangeRef('load', t, 5 * MIN, (w) => meanOf(w.map((p) => p.v)), true);
    const expectedMax = ['api', 'web']
      .map((job) => ({ labels: { job }, xs: perInst.filter((r) => r.labels.job === job).map((r) => r.v) }))
      .filter((g) => g.xs.length > 0)
      .map((g) => ({ labels: g.labels, v: Math.max(...g.xs) }));
    assertSameRows((await q.instant('max by (job) (avg_over_time(load[5m]))', t)).result as InstantSample[], expectedMax, `max of avg_over_time @${t - T0}`);
  }
});

test('arithmetic and comparisons between vectors and scalars match the reference', async () => {
  const q = await engine();
  for (const t of TIMES) {
    const load = new Map<string, { labels: Labels; v: number }>();
    const mem = new Map<string, { labels: Labels; v: number }>();
    for (const s of byName('load')) {
      const v = instantAt(s, t);
      if (v !== undefined) load.set(key(withoutName(s.labels)), { labels: s.labels, v });
    }
    for (const s of byName('mem')) {
      const v = instantAt(s, t);
      if (v !== undefined) mem.set(key(withoutName(s.labels)), { labels: s.labels, v });
    }
    const L = [...load.values()];
    const both = [...load.entries()].filter(([k]) => mem.has(k)).map(([k, l]) => ({ l, m: mem.get(k)! }));
    const cases: [string, Row[]][] = [
      ['load * 2 + 1', L.map((x) => ({ labels: withoutName(x.labels), v: x.v * 2 + 1 }))],
      ['-load', L.map((x) => ({ labels: withoutName(x.labels), v: -x.v }))],
      ['100 - load / 4', L.map((x) => ({ labels: withoutName(x.labels), v: 100 - x.v / 4 }))],
      ['(load + 1) * (2 - 3)', L.map((x) => ({ labels: withoutName(x.labels), v: (x.v + 1) * -1 }))],
      ['load > 50', L.filter((x) => x.v > 50)],
      ['50 < load', L.filter((x) => x.v > 50)],
      ['load > bool 50', L.map((x) => ({ labels: withoutName(x.labels), v: x.v > 50 ? 1 : 0 }))],
      ['load <= 30', L.filter((x) => x.v <= 30)],
      ['load + mem', both.map(({ l, m }) => ({ labels: withoutName(l.labels), v: l.v + m.v }))],
      ['load / mem', both.map(({ l, m }) => ({ labels: withoutName(l.labels), v: l.v / m.v }))],
      ['load - on (job, instance) mem', both.map(({ l, m }) => ({ labels: { job: l.labels.job!, instance: l.labels.instance! }, v: l.v - m.v }))],
      [
        'load{job="web"} * ignoring (job) mem{job="api"}',
        L.filter((l) => l.labels.job === 'web')
          .map((l) => ({ l, m: [...mem.values()].find((m) => m.labels.job === 'api' && m.labels.instance === l.labels.instance) }))
          .filter((p): p is { l: { labels: Labels; v: number }; m: { labels: Labels; v: number } } => p.m !== undefined)
          .map(({ l, m }) => ({ labels: { instance: l.labels.instance! }, v: l.v * m.v })),
      ],
      ['load > mem', both.filter(({ l, m }) => l.v > m.v).map(({ l }) => l)],
      ['load != bool mem', both.map(({ l, m }) => ({ labels: withoutName(l.labels), v: l.v !== m.v ? 1 : 0 }))],
      ['abs(mem - 25)', [...mem.values()].map((x) => ({ labels: withoutName(x.labels), v: Math.abs(x.v - 25) }))],
      ['clamp_min(load, 40)', L.map((x) => ({ labels: x.labels, v: Math.max(40, x.v) }))],
      ['clamp_max(load, 40)', L.map((x) => ({ labels: x.labels, v: Math.min(40, x.v) }))],
      ['vector(3) * 2', [{ labels: {}, v: 6 }]],
      ['sum(load) / count(load)', L.length ? [{ labels: {}, v: meanOf(L.map((x) => x.v)) }] : []],
      ['load / scalar(sum(load))', L.map((x) => ({ labels: withoutName(x.labels), v: x.v / sumOf(L.map((y) => y.v)) }))],
    ];
    for (const [text, expected] of cases) assertSameRows((await q.instant(text, t)).result as InstantSample[], expected, `${text} @${t - T0}`);
    const sc = await q.instant('2 ^ 3 - 1 > bool 6', t);
    assert.deepEqual(sc, { resultType: 'scalar', result: { t, v: 1 } });
    assert.deepEqual(await q.instant('time()', t), { resultType: 'scalar', result: { t, v: t / 1000 } });
    assert.deepEqual(await q.instant('-2 ^ 2', t), { resultType: 'scalar', result: { t, v: -4 } });
  }
});

test('the SRL rule reads as PromQL: all instances 5m avg > 60, one 1m avg > 85, fewer than 6', async () => {
  const store = await createEmbeddedMetricStore({ dir: null, now: () => T0 });
  const q = createQueryEngine(store);
  const put = (inst: string, v5: number, v1: number): void => {
    const s: Sample[] = [];
    for (let i = 0; i < 30; i++) s.push({ name: 'cpu', labels: { component: 'db', instance: inst }, t: T0 + i * 10_000, v: i >= 24 ? v1 : v5 });
    store.append(s);
  };
  put('a', 70, 70);
  put('b', 65, 95);
  const t = T0 + 29 * 10_000;
  const allAbove = await q.instant('min by (component) (avg_over_time(cpu[5m])) > 60', t);
  const oneAbove = await q.instant('max by (component) (avg_over_time(cpu[1m])) > 85', t);
  const fewer = await q.instant('count by (component) (cpu) < 6', t);
  assert.equal((allAbove.result as InstantSample[]).length, 1);
  assert.equal((oneAbove.result as InstantSample[]).length, 1);
  assert.deepEqual((fewer.result as InstantSample[]).map((r) => r.v), [2]);
});

test('last_n(N, sel[range]) restricts a window to its last N measurements', async () => {
  const q = await engine();
  for (const t of TIMES) {
    for (const n of [1, 3, 10]) {
      const expected = rangeRef('load', t, 30 * MIN, (w) => meanOf(w.slice(-n).map((p) => p.v)), true);
      assertSameRows((await q.instant(`avg_over_time(last_n(${n}, load[30m]))`, t)).result as InstantSample[], expected, `last_n ${n} @${t - T0}`);
    }
  }
});

test('a range query equals instant queries at each step', async () => {
  const q = await engine();
  for (const text of ['sum by (job) (rate(req[5m]))', 'avg_over_time(load[3m]) > 40', 'quantile(0.5, mem)', 'time() - 1']) {
    const start = T0 + 10 * MIN;
    const step = 37_000;
    const r = await q.range(text, start, T0 + 40 * MIN, step);
    assert.equal(r.resultType, 'matrix');
    const byKey = new Map((r.result as { labels: Labels; points: { t: number; v: number }[] }[]).map((s) => [key(s.labels), s.points]));
    for (let t = start; t <= T0 + 40 * MIN; t += step) {
      const inst = await q.instant(text, t);
      const rows: Row[] = inst.resultType === 'scalar' ? [{ labels: {}, v: inst.result.v }] : (inst.result as InstantSample[]);
      const fromRange: Row[] = [];
      for (const [k, pts] of byKey) {
        const p = pts.find((x) => x.t === t);
        if (p) fromRange.push({ labels: Object.fromEntries(JSON.parse(k) as [string, string][]), v: p.v });
      }
      assertSameRows(fromRange.map((x) => ({ ...x, t })), rows, `${text} step @${t - T0}`);
    }
  }
});

test('evaluation errors are REQUEST_INVALID with a reason', async () => {
  const q = await engine();
  await assert.rejects(q.instant('rate({__name__=~"servers.*"}[5m])', TIMES[2]!), /label set \{\} twice/);
  await assert.rejects(q.instant('load + on (job) mem', TIMES[2]!), /several series on the right side/);
  await assert.rejects(q.range('load', T0, T0 + 1e9, 1), /steps exceed the limit/);
  await assert.rejects(q.range('load[5m]', T0, T0 + MIN, 1000), /found a range vector/);
  assert.equal(((await q.instant('sum(rate({__name__=~"servers.*"}[5m]))', TIMES[2]!)).result as InstantSample[]).length, 1, 'duplicates inside an aggregation are fine');
});

test('parse errors name the column, what was expected and what was found', () => {
  const cases: [string, string][] = [
    ['rate(load)', 'query column 6: expected a range vector such as x[5m] as argument 1 of rate(), found an instant vector'],
    ['sum(load', 'query column 9: expected "," or ")" in sum(…), found end of input'],
    ['load[5x]', 'query column 6: expected a duration such as 5m, 30s or 1h30m, found "5"'],
    ['load{job=api}', 'query column 10: expected a quoted label value after job=, found "api"'],
    ['load{job~"x"}', 'query column 9: expected a label match operator (=, !=, =~, !~) after "job", found "~"'],
    ['1 > 2', 'query column 3: expected "bool" after ">" (comparisons between scalars must use bool), found ">" without bool'],
    ['frobnicate(load)', 'query column 1: expected a known function (see the query subset in the documentation), found unknown function "frobnicate"'],
    ['{}', 'query column 1: expected a selector with a metric name or at least one matcher that does not match the empty string, found "{}"'],
    ['load +', 'query column 7: expected an expression, found end of input'],
    ['load and mem', 'query column 6: expected an operator supported by Nubis (+ - * / % ^ == != > < >= <=), found "and" (not in the supported subset)'],
    ['load[5m:1m]', 'query column 8: expected "]" (subqueries are not supported), found ":"'],
    ['load offset', 'query column 12: expected a duration after offset, such as 5m, found end of input'],
    ['load 5m', 'query column 6: expected a number (durations belong in [] or after offset), found "5m"'],
    ['quantile_over_time(load[5m])', 'query column 1: expected 2 arguments to quantile_over_time(), found 1'],
    ['topk(load)', 'query column 1: expected 2 arguments to topk, found 1'],
    ['load{job=~"("}', 'query column 11: expected a valid regular expression, found "\\"(\\"" (Invalid regular expression: /^(?:()$/su: Unterminated group)'],
    ['avg_over_time(last_n(0, load[5m]))', 'query column 22: expected a whole number ≥ 1 as the count of last_n(N, selector[range]), found "0"'],
    ['load + load[5m]', 'query column 6: expected scalar or instant-vector operands of "+", found a range vector (apply a function such as rate() or avg_over_time() first)'],
    ['(load', 'query column 6: expected ")" to close the "(" at column 1, found end of input'],
    ['load )', 'query column 6: expected an operator or end of input, found ")"'],
    ['sum(load)\n  by job', 'query line 2, column 6: expected "(" after by, found "job"'],
    ['"x"', 'query column 1: expected an expression (string literals are not supported outside label matchers), found "\\"x\\""'],
    ['load{job="a}', 'query column 13: expected closing " of the string opened at column 10, found end of input'],
    ['load * on(job) group_left mem', 'query column 16: expected an expression (group_left/group_right are not in the supported subset), found "group_left"'],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseQuery(text),
      (e: unknown) => {
        const err = e as { code: string; message: string; details: { column: number } };
        assert.equal(err.code, 'REQUEST_INVALID', text);
        assert.equal(err.message, message, text);
        return true;
      },
    );
  }
});

test('Graphite names, offsets, nested calls and comments parse', () => {
  for (const text of [
    '{__name__="servers.web1.cpu.load"}',
    'avg_over_time({__name__=~"servers\\\\..*", job!="x"}[1h30m] offset -5m)',
    'sum without (instance) (rate(req{job="api"}[5m])) / on (job) sum by (job) (rate(req[5m]))',
    'quantile by (job) (0.95, max_over_time(load[10m])) # trailing comment',
    'clamp(load, 0, 100) >= bool 0.5e2',
    'round(load, 0.1) + Inf - NaN',
  ]) {
    parseQuery(text);
  }
});
