/**
 * The VictoriaMetrics backend: a MetricStore and a QueryEngine over a VictoriaMetrics
 * server's HTTP API, so choosing it over the embedded store is configuration, not code.
 *
 * Writes: `append` buffers; batches of `batchSize` samples go to `/api/v1/import` (JSON
 * lines, one line per series per batch, so Graphite names with dots pass unchanged) through
 * an `ImportQueue` (import-queue.ts): at most `maxInFlight` requests at once, a timeout sized
 * to the batch, retries with exponential backoff. `flush` sends the rest, waits until the
 * queue is idle, then calls `/internal/force_flush` so the data is searchable. A batch that
 * failed after its retries (or was dropped from a full queue) is reported by the next
 * `flush` (UNAVAILABLE, retryable).
 * Reads: `select` uses `/api/v1/export`, `series` uses `/api/v1/series`; queries pass the
 * PromQL text through to `/api/v1/query` and `/api/v1/query_range` after the local parser
 * accepted it (the same subset as the embedded engine; Nubis-only functions such as
 * `last_n` are refused with REQUEST_INVALID).
 * Errors: VictoriaMetrics's 4xx → REQUEST_INVALID with its message; 429, 5xx, timeouts and
 * network failures → UNAVAILABLE (retried: reads twice, imports per `retry`).
 * Server settings that matter: `-search.latencyOffset` (default 30s) hides the newest
 * points from queries; `-search.maxStalenessInterval` and VM's own rate() (no
 * extrapolation) differ from the embedded engine — see src/metrics/query/README.md.
 */
import { NubisError } from '../../errors/index.js';
import type { InstantSample, Labels, LabelMatcher, MetricStore, QueryResult, Sample, SeriesData } from '../types.js';
import { FUNCTIONS, functionsUsed, parseQuery, typeOf, type Expr } from '../query/parser.js';
import type { QueryEngine } from '../query/engine.js';
import { labelsKey } from '../query/engine.js';
import { vmClient, withRetry, DEFAULT_RETRY, type RetryPolicy } from './http-client.js';
import { ImportQueue, type ImportStats } from './import-queue.js';

export interface VictoriaMetricsOptions {
  /** Base URL, e.g. http://127.0.0.1:8428 */
  url: string;
  /** Samples per import request. Default 100000. */
  batchSize?: number;
  /** Timeout of a read or query request. Default 30000 ms. Imports: sized to the batch. */
  timeoutMs?: number;
  /** Import requests in flight at most. Default 4. */
  maxInFlight?: number;
  /** Import batches waiting at most (then the oldest is dropped and reported). Default 64. */
  maxQueued?: number;
  /** An import's timeout: this (ms) plus its bytes at `minBytesPerSec`. Default 10000. */
  importBaseTimeoutMs?: number;
  /** Default 1 MiB/s. */
  minBytesPerSec?: number;
  /** Retries of retryable import failures. Default 5 retries, 250 ms doubling to 10 s. */
  retry?: RetryPolicy;
  /** Ask VictoriaMetrics not to use its response cache (`nocache=1`). Default true. */
  noCache?: boolean;
}

/** How far back `series` looks (VictoriaMetrics searches its per-day index up to 40 days). */
const SERIES_WINDOW_S = 30 * 86400;

/** Renders matchers as a PromQL series selector; no matchers selects every series. */
export function selectorText(matchers: readonly LabelMatcher[]): string {
  if (matchers.length === 0) return '{__name__=~".+"}';
  return `{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}

const sec = (ms: number): string => (ms / 1000).toFixed(3);

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

function sortByLabels<T extends { labels: Labels }>(xs: T[]): T[] {
  return xs
    .map((x) => [labelsKey(x.labels), x] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, x]) => x);
}

/** Reads and queries: the configured timeout, two retries. */
function client(opts: VictoriaMetricsOptions): (path: string, init?: { method?: string; body?: string | URLSearchParams; query?: URLSearchParams }) => Promise<Response> {
  const call = vmClient(opts.url);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const policy: RetryPolicy = { ...DEFAULT_RETRY, retries: 2 };
  return (path, init = {}) => withRetry(policy, () => call(path, { ...init, timeoutMs }));
}

/** The VictoriaMetrics store, with its import counters. */
export interface VictoriaMetricsStore extends MetricStore {
  readonly kind: 'victoriametrics';
  importStats(): ImportStats;
}

/** A MetricStore over a VictoriaMetrics server. */
export function createVictoriaMetricsStore(opts: VictoriaMetricsOptions): VictoriaMetricsStore {
  const call = client(opts);
  const batchSize = opts.batchSize ?? 100_000;
  let buffer: Sample[] = [];
  const queue = new ImportQueue(vmClient(opts.url), {
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
    ...(opts.maxQueued !== undefined ? { maxQueued: opts.maxQueued } : {}),
    ...(opts.importBaseTimeoutMs !== undefined ? { baseTimeoutMs: opts.importBaseTimeoutMs } : {}),
    ...(opts.minBytesPerSec !== undefined ? { minBytesPerSec: opts.minBytesPerSec } : {}),
    ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
  });

  function encode(samples: readonly Sample[]): string {
    const groups = new Map<string, { metric: Labels; values: number[]; timestamps: number[] }>();
    for (const s of samples) {
      const metric: Labels = { ...s.labels, __name__: s.name };
      const k = labelsKey(metric);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { metric, values: [], timestamps: [] }));
      g.values.push(s.v);
      g.timestamps.push(Math.round(s.t));
    }
    let out = '';
    for (const g of groups.values()) out += JSON.stringify(g) + '\n';
    return out;
  }

  function send(samples: Sample[]): void {
    queue.push(encode(samples), samples.length);
  }

  return {
    kind: 'victoriametrics',
    importStats: () => queue.stats(),
    append(samples) {
      for (const s of samples) buffer.push(s);
      if (buffer.length >= batchSize) {
        const b = buffer;
        buffer = [];
        send(b);
      }
    },
    async flush() {
      if (buffer.length > 0) {
        const b = buffer;
        buffer = [];
        send(b);
      }
      await queue.idle();
      const failure = queue.takeFailure();
      if (failure !== undefined) throw failure;
      await (await call('/internal/force_flush')).arrayBuffer();
    },
    async select(matchers, start, end) {
      const query = new URLSearchParams({ 'match[]': selectorText(matchers), start: sec(start), end: sec(end) });
      const text = await (await call('/api/v1/export', { query })).text();
      const byKey = new Map<string, SeriesData>();
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const rec = JSON.parse(line) as { metric: Labels; values: (number | string)[]; timestamps: number[] };
        const k = labelsKey(rec.metric);
        let s = byKey.get(k);
        if (!s) byKey.set(k, (s = { labels: rec.metric, points: [] }));
        rec.timestamps.forEach((t, i) => {
          if (t >= start && t <= end) s.points.push({ t, v: typeof rec.values[i] === 'string' ? parseValue(rec.values[i] as string) : (rec.values[i] as number) });
        });
      }
      const out = [...byKey.values()].filter((s) => s.points.length > 0);
      for (const s of out) s.points.sort((a, b) => a.t - b.t);
      return sortByLabels(out);
    },
    async series(matchers, limit = Infinity) {
      // Series seen in the last 30 days. Not `start=0`: VictoriaMetrics 1.79 then searches its
      // global index, which misses series whose samples fall on an earlier day than today.
      const start = Math.floor(Date.now() / 1000) - SERIES_WINDOW_S;
      const query = new URLSearchParams({ 'match[]': selectorText(matchers), start: String(start) });
      const body = (await (await call('/api/v1/series', { query })).json()) as { data: Labels[] };
      return sortByLabels(body.data.map((labels) => ({ labels }))).map((x) => x.labels).slice(0, limit);
    },
    async close() {
      await this.flush();
    },
  };
}

/** The query engine over a VictoriaMetrics server: the same interface as the embedded engine. */
export function createVictoriaMetricsQueryEngine(opts: VictoriaMetricsOptions): QueryEngine {
  const call = client(opts);
  const noCache = opts.noCache ?? true;

  function check(text: string): Expr {
    const expr = parseQuery(text);
    for (const f of functionsUsed(expr)) {
      if (FUNCTIONS.get(f)?.nubisOnly) throw new NubisError('REQUEST_INVALID', `function ${f}() is a Nubis extension that the VictoriaMetrics backend cannot run; use the embedded store or rewrite the query`);
    }
    return expr;
  }

  type Raw =
    | { resultType: 'vector'; result: { metric: Labels; value: [number, string] }[] }
    | { resultType: 'matrix'; result: { metric: Labels; values: [number, string][] }[] }
    | { resultType: 'scalar'; result: [number, string] };

  function convert(data: Raw): QueryResult {
    switch (data.resultType) {
      case 'scalar':
        return { resultType: 'scalar', result: { t: Math.round(data.result[0] * 1000), v: parseValue(data.result[1]) } };
      case 'vector':
        return { resultType: 'vector', result: sortByLabels(data.result.map((r): InstantSample => ({ labels: r.metric, t: Math.round(r.value[0] * 1000), v: parseValue(r.value[1]) }))) };
      case 'matrix':
        return { resultType: 'matrix', result: sortByLabels(data.result.map((r): SeriesData => ({ labels: r.metric, points: r.values.map(([t, v]) => ({ t: Math.round(t * 1000), v: parseValue(v) })) }))) };
    }
  }

  async function run(path: string, params: Record<string, string>): Promise<QueryResult> {
    const body = new URLSearchParams(params);
    if (noCache) body.set('nocache', '1');
    const res = await call(path, { method: 'POST', body });
    const json = (await res.json()) as { status: string; data: Raw; error?: string };
    if (json.status !== 'success') throw new NubisError('REQUEST_INVALID', `VictoriaMetrics: ${json.error ?? 'query failed'}`);
    return convert(json.data);
  }

  return {
    async instant(text, timeMs) {
      const expr = check(text);
      const r = await run('/api/v1/query', { query: text, time: sec(timeMs) });
      // VictoriaMetrics answers scalar expressions with a one-element vector; give the Prometheus shape.
      if (typeOf(expr) === 'scalar' && r.resultType === 'vector') {
        const only = r.result[0];
        return { resultType: 'scalar', result: { t: only?.t ?? timeMs, v: only?.v ?? NaN } };
      }
      return r;
    },
    async range(text, startMs, endMs, stepMs) {
      check(text);
      if (!(stepMs > 0)) throw new NubisError('REQUEST_INVALID', `range query: step must be positive, got ${stepMs}`);
      return run('/api/v1/query_range', { query: text, start: sec(startMs), end: sec(endMs), step: `${stepMs}ms` });
    },
  };
}
