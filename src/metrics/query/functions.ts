/**
 * The numeric kernels of the query engine: range functions over one series' window
 * (timestamps in ms, sorted) and aggregation helpers. Each returns `undefined` when the
 * window holds too few points for a result (the series then yields no sample), following
 * Prometheus.
 */

export type RangeFn = (ts: Float64Array, vs: Float64Array, evalT: number, rangeMs: number, param: number) => number | undefined;

/**
 * Prometheus's extrapolated rate/increase/delta. The window is (evalT − range, evalT]; the
 * difference between the first and last point (with counter resets added back for counters)
 * is extrapolated to the window edges when the points stop short of them by less than 1.1 ×
 * the average spacing (else by half a spacing), never below zero for counters.
 */
function extrapolated(ts: Float64Array, vs: Float64Array, evalT: number, rangeMs: number, isCounter: boolean, isRate: boolean): number | undefined {
  const n = ts.length;
  if (n < 2) return undefined;
  const first = vs[0]!;
  const last = vs[n - 1]!;
  let result = last - first;
  if (isCounter) {
    for (let i = 1; i < n; i++) if (vs[i]! < vs[i - 1]!) result += vs[i - 1]!;
  }
  const rangeStart = evalT - rangeMs;
  let durToStart = (ts[0]! - rangeStart) / 1000;
  const durToEnd = (evalT - ts[n - 1]!) / 1000;
  const sampled = (ts[n - 1]! - ts[0]!) / 1000;
  if (sampled === 0) return undefined;
  const avgStep = sampled / (n - 1);
  if (isCounter && result > 0 && first >= 0) {
    const durToZero = sampled * (first / result);
    if (durToZero < durToStart) durToStart = durToZero;
  }
  const threshold = avgStep * 1.1;
  let interval = sampled;
  interval += durToStart < threshold ? durToStart : avgStep / 2;
  interval += durToEnd < threshold ? durToEnd : avgStep / 2;
  result *= interval / sampled;
  if (isRate) result /= rangeMs / 1000;
  return result;
}

/** Prometheus's quantile: linear interpolation between the closest ranks, φ outside [0,1] gives ∓Inf. */
export function quantile(phi: number, values: ArrayLike<number>): number {
  if (values.length === 0 || Number.isNaN(phi)) return NaN;
  if (phi < 0) return -Infinity;
  if (phi > 1) return Infinity;
  const s = Float64Array.from(values).sort(); // numeric order; NaN last
  const rank = phi * (s.length - 1);
  const lo = Math.max(0, Math.floor(rank));
  const hi = Math.min(s.length - 1, lo + 1);
  const w = rank - Math.floor(rank);
  return s[lo]! * (1 - w) + s[hi]! * w;
}

function mean(vs: Float64Array): number {
  let s = 0;
  for (let i = 0; i < vs.length; i++) s += vs[i]!;
  return s / vs.length;
}

function variance(vs: Float64Array): number {
  const m = mean(vs);
  let s = 0;
  for (let i = 0; i < vs.length; i++) s += (vs[i]! - m) ** 2;
  return s / vs.length;
}

const nonEmpty =
  (f: (ts: Float64Array, vs: Float64Array, param: number) => number): RangeFn =>
  (ts, vs, _t, _r, p) =>
    vs.length === 0 ? undefined : f(ts, vs, p);

export const RANGE_FUNCTIONS: ReadonlyMap<string, RangeFn> = new Map<string, RangeFn>([
  ['rate', (ts, vs, t, r) => extrapolated(ts, vs, t, r, true, true)],
  ['increase', (ts, vs, t, r) => extrapolated(ts, vs, t, r, true, false)],
  ['delta', (ts, vs, t, r) => extrapolated(ts, vs, t, r, false, false)],
  [
    'irate',
    (ts, vs) => {
      const n = ts.length;
      if (n < 2) return undefined;
      const dt = (ts[n - 1]! - ts[n - 2]!) / 1000;
      if (dt === 0) return undefined;
      const last = vs[n - 1]!;
      const prev = vs[n - 2]!;
      return (last < prev ? last : last - prev) / dt;
    },
  ],
  [
    'idelta',
    (_ts, vs) => {
      const n = vs.length;
      return n < 2 ? undefined : vs[n - 1]! - vs[n - 2]!;
    },
  ],
  [
    'deriv',
    (ts, vs) => {
      // Least-squares slope per second, two-pass (centred) for precision.
      const n = ts.length;
      if (n < 2) return undefined;
      const x0 = ts[0]!;
      let mx = 0;
      let my = 0;
      for (let i = 0; i < n; i++) {
        mx += (ts[i]! - x0) / 1000;
        my += vs[i]!;
      }
      mx /= n;
      my /= n;
      let sxy = 0;
      let sxx = 0;
      for (let i = 0; i < n; i++) {
        const dx = (ts[i]! - x0) / 1000 - mx;
        sxy += dx * (vs[i]! - my);
        sxx += dx * dx;
      }
      return sxx === 0 ? 0 : sxy / sxx;
    },
  ],
  [
    'changes',
    nonEmpty((_ts, vs) => {
      let c = 0;
      for (let i = 1; i < vs.length; i++) if (vs[i] !== vs[i - 1] && !(Number.isNaN(vs[i]!) && Number.isNaN(vs[i - 1]!))) c++;
      return c;
    }),
  ],
  [
    'resets',
    nonEmpty((_ts, vs) => {
      let c = 0;
      for (let i = 1; i < vs.length; i++) if (vs[i]! < vs[i - 1]!) c++;
      return c;
    }),
  ],
  ['avg_over_time', nonEmpty((_ts, vs) => mean(vs))],
  [
    'min_over_time',
    nonEmpty((_ts, vs) => {
      let m = NaN;
      for (const v of vs) if (!(v >= m) && !Number.isNaN(v)) m = v;
      return m;
    }),
  ],
  [
    'max_over_time',
    nonEmpty((_ts, vs) => {
      let m = NaN;
      for (const v of vs) if (!(v <= m) && !Number.isNaN(v)) m = v;
      return m;
    }),
  ],
  ['sum_over_time', nonEmpty((_ts, vs) => vs.reduce((a, b) => a + b, 0))],
  ['count_over_time', nonEmpty((_ts, vs) => vs.length)],
  ['stddev_over_time', nonEmpty((_ts, vs) => Math.sqrt(variance(vs)))],
  ['stdvar_over_time', nonEmpty((_ts, vs) => variance(vs))],
  ['last_over_time', nonEmpty((_ts, vs) => vs[vs.length - 1]!)],
  ['first_over_time', nonEmpty((_ts, vs) => vs[0]!)],
  ['median_over_time', nonEmpty((_ts, vs) => quantile(0.5, vs))],
  ['quantile_over_time', nonEmpty((_ts, vs, p) => quantile(p, vs))],
]);

/**
 * Range functions whose result keeps the metric name: those whose result is in the unit of
 * the samples. This follows VictoriaMetrics (Prometheus keeps it only for last_over_time), so
 * `avg_over_time({__name__=~"app.*"}[5m])` over Graphite series, which differ only in name,
 * gives one result per series on both backends.
 */
export const KEEPS_NAME: ReadonlySet<string> = new Set(['last_over_time', 'first_over_time', 'avg_over_time', 'min_over_time', 'max_over_time', 'median_over_time', 'quantile_over_time']);

export const MATH_FUNCTIONS: ReadonlyMap<string, (v: number) => number> = new Map([
  ['abs', Math.abs],
  ['ceil', Math.ceil],
  ['floor', Math.floor],
  ['exp', Math.exp],
  ['ln', Math.log],
  ['log2', Math.log2],
  ['log10', Math.log10],
  ['sqrt', Math.sqrt],
]);
