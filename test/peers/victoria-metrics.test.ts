/**
 * The VictoriaMetrics backend against a real `victoria-metrics` server (Debian package):
 * write, select, series, errors; and the same queries giving the same results on the
 * embedded engine and on VictoriaMetrics, within float tolerance.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import { createQueryEngine, labelsKey } from '../../src/metrics/query/engine.js';
import { createVictoriaMetricsQueryEngine, createVictoriaMetricsStore } from '../../src/metrics/vm/victoria-metrics.js';
import type { InstantSample, MetricStore, QueryResult, Sample, SeriesData } from '../../src/metrics/types.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../helpers/peers-vm.js';
import { waitFor } from '../helpers/control-plane.js';

const MIN = 60_000;
/** Two hours ago, on a whole minute: older than VictoriaMetrics's latency offset, well within retention. */
const T = Math.floor((Date.now() - 2 * 3600_000) / MIN) * MIN;
const EVAL = [T + 20 * MIN + 5000, T + 35 * MIN + 2500, T + 50 * MIN + 5000];

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

/** Gauges `load`, linear counters `req` (same labels), and two Graphite-named gauges; one point per 10 s for an hour. */
function data(): Sample[] {
  const rnd = prng(7);
  const out: Sample[] = [];
  let k = 0;
  for (const job of ['api', 'web']) {
    for (const instance of ['i1', 'i2', 'i3']) {
      k++;
      for (let i = 0; i < 360; i++) {
        const t = T + i * 10_000;
        out.push({ name: 'load', labels: { job, instance }, t, v: Math.round(rnd() * 1000) / 10 });
        out.push({ name: 'req', labels: { job, instance }, t, v: 10_000 + k * 5 * i });
      }
    }
  }
  for (const g of ['servers.a.cpu', 'servers.b.cpu']) for (let i = 0; i < 360; i++) out.push({ name: g, labels: {}, t: T + i * 10_000, v: Math.round(rnd() * 1000) / 10 });
  return out;
}

let vm: VictoriaMetricsServer;
let vmStore: MetricStore;
let embedded: MetricStore;

before(async () => {
  vm = await startVictoriaMetrics();
  vmStore = createVictoriaMetricsStore({ url: vm.url, batchSize: 1000 });
  embedded = await createEmbeddedMetricStore({ dir: null });
  const samples = data();
  vmStore.append(samples);
  embedded.append(samples);
  await vmStore.flush();
  await embedded.flush();
});

after(async () => {
  await vm?.stop();
});

const close = (a: number, b: number): boolean => (Number.isNaN(a) && Number.isNaN(b)) || a === b || Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

function diff(what: string, a: QueryResult, b: QueryResult): string[] {
  if (a.resultType !== b.resultType) return [`${what}: result type ${a.resultType} vs ${b.resultType}`];
  if (a.resultType === 'scalar' && b.resultType === 'scalar') return close(a.result.v, b.result.v) ? [] : [`${what}: ${a.result.v} vs ${b.result.v}`];
  const rows = (r: QueryResult): Map<string, { t: number; v: number }[]> => {
    const m = new Map<string, { t: number; v: number }[]>();
    if (r.resultType === 'vector') for (const x of r.result as InstantSample[]) m.set(labelsKey(x.labels), [{ t: x.t, v: x.v }]);
    if (r.resultType === 'matrix') for (const s of r.result as SeriesData[]) m.set(labelsKey(s.labels), s.points);
    return m;
  };
  const ra = rows(a);
  const rb = rows(b);
  const out: string[] = [];
  const show = (k: string): string => k.replace(/\u0000/g, '=').replace(/\u0001/g, ',');
  for (const k of new Set([...ra.keys(), ...rb.keys()])) {
    const pa = ra.get(k);
    const pb = rb.get(k);
    if (!pa || !pb) {
      out.push(`${what}: series {${show(k)}} only on ${pa ? 'embedded' : 'VictoriaMetrics'}`);
      continue;
    }
    if (pa.length !== pb.length) out.push(`${what} {${show(k)}}: ${pa.length} vs ${pb.length} points`);
    else pa.forEach((p, i) => {
      if (p.t !== pb[i]!.t || !close(p.v, pb[i]!.v)) out.push(`${what} {${show(k)}} @${p.t}: ${p.v} vs ${pb[i]!.t}:${pb[i]!.v}`);
    });
  }
  return out;
}

test('select and series read back what was written', async () => {
  const got = await vmStore.select([{ name: '__name__', op: '=', value: 'load' }, { name: 'job', op: '=', value: 'api' }], T, T + 10 * MIN);
  const want = await embedded.select([{ name: '__name__', op: '=', value: 'load' }, { name: 'job', op: '=', value: 'api' }], T, T + 10 * MIN);
  assert.equal(got.length, 3);
  assert.deepEqual(got, want);
  const g = await vmStore.select([{ name: '__name__', op: '=~', value: 'servers\\..*' }], T, T + 3600_000);
  assert.deepEqual(g.map((s) => s.labels.__name__), ['servers.a.cpu', 'servers.b.cpu']);
  assert.equal(g[0]!.points.length, 360);
  // VictoriaMetrics indexes new series asynchronously: its series API may lag the data a little
  const series = await waitFor('series indexed by VictoriaMetrics', async () => {
    const s = await vmStore.series([{ name: 'instance', op: '!=', value: 'i1' }, { name: '__name__', op: '=', value: 'req' }]);
    return s.length === 4 ? s : undefined;
  }, 30_000, 250);
  assert.deepEqual(series.map((l) => `${l.job}/${l.instance}`).sort(), ['api/i2', 'api/i3', 'web/i2', 'web/i3']);
  assert.equal((await vmStore.series([], 3)).length, 3);
});

test('the same queries give the same results on the embedded engine and on VictoriaMetrics', async () => {
  const local = createQueryEngine(embedded);
  const remote = createVictoriaMetricsQueryEngine({ url: vm.url });
  const exprs = [
    'load',
    'avg_over_time(load[5m])',
    'min_over_time(load[5m])',
    'max_over_time(load[2m])',
    'sum_over_time(load[5m])',
    'count_over_time(load[5m])',
    'quantile_over_time(0.9, load[5m])',
    'median_over_time(load[5m])',
    'stddev_over_time(load[5m])',
    'last_over_time(load[1m])',
    'first_over_time(load[5m])',
    'rate(req[5m])',
    'increase(req[5m])',
    'irate(req[5m])',
    'deriv(req[5m])',
    'sum by (job) (load)',
    'avg without (instance) (load)',
    'max by (job) (avg_over_time(load[5m]))',
    'count by (job) (load)',
    'quantile(0.5, load)',
    'stddev(load)',
    'topk(2, load)',
    'bottomk by (job) (1, load)',
    'load * 2 + 1',
    '100 - load',
    'load > 50',
    'load > bool 50',
    'load / on (job, instance) rate(req[5m])',
    'load{job="web"} - ignoring (job) load{job="api"}',
    'abs(load - 50)',
    'clamp_max(load, 50)',
    'avg_over_time({__name__=~"servers\\\\..*\\\\.cpu"}[5m])',
    '{__name__="servers.a.cpu"} offset 10m',
    'sum(rate(req[5m]))',
    'scalar(sum(load)) / 6',
    'time()',
    '(min by (job) (avg_over_time(load[5m])) > 40) * 0 + count by (job) (load)',
  ];
  const problems: string[] = [];
  const compare = async (what: string, a: () => Promise<QueryResult>, b: () => Promise<QueryResult>): Promise<void> => {
    try {
      problems.push(...diff(what, await a(), await b()));
    } catch (e) {
      problems.push(`${what}: ${(e as Error).message}`);
    }
  };
  for (const t of EVAL) {
    for (const e of exprs) await compare(`${e} @${t - T}`, () => local.instant(e, t), () => remote.instant(e, t));
  }
  for (const e of ['sum by (job) (avg_over_time(load[5m]))', 'rate(req[5m])', 'load > 60']) {
    const start = T + 10 * MIN;
    await compare(`range ${e}`, () => local.range(e, start, T + 40 * MIN, MIN), () => remote.range(e, start, T + 40 * MIN, MIN));
  }
  assert.deepEqual(problems, []);
});

test('errors: parse errors match the embedded engine, Nubis-only functions are refused, VM rejections and outages are classified', async () => {
  const remote = createVictoriaMetricsQueryEngine({ url: vm.url });
  const local = createQueryEngine(embedded);
  const messageOf = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'no error';
    } catch (e) {
      assert.equal((e as { code: string }).code, 'REQUEST_INVALID');
      return (e as Error).message;
    }
  };
  assert.equal(await messageOf(remote.instant('rate(load)', EVAL[0]!)), await messageOf(local.instant('rate(load)', EVAL[0]!)));
  assert.match(await messageOf(remote.instant('avg_over_time(last_n(3, load[5m]))', EVAL[0]!)), /last_n\(\) is a Nubis extension/);
  // Accepted locally, rejected by VictoriaMetrics (duplicate output series): REQUEST_INVALID with VM's words.
  assert.match(await messageOf(remote.instant('rate({__name__=~"servers.*"}[5m])', EVAL[0]!)), /duplicate output timeseries/);
  const down = createVictoriaMetricsStore({ url: 'http://127.0.0.1:9', timeoutMs: 2000 });
  down.append([{ name: 'x', labels: {}, t: T, v: 1 }]);
  await assert.rejects(down.flush(), (e: unknown) => (e as { code: string; retryable: boolean }).code === 'UNAVAILABLE' && (e as { retryable: boolean }).retryable);
});
