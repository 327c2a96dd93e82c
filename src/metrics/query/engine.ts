/**
 * The embedded query engine: evaluates the PromQL-compatible subset over any MetricStore.
 *
 * Evaluation fetches each selector's data once for the whole query (range queries included),
 * then evaluates the expression at every step in memory. Semantics follow Prometheus:
 * instant selectors take the newest point in (t − lookback, t] (lookback 5 min by default);
 * range selectors take the points in (t − range, t]; `offset` shifts both; rate, increase and
 * delta extrapolate like Prometheus; functions and arithmetic drop `__name__` except where
 * VictoriaMetrics keeps it (avg/min/max/median/quantile/first/last_over_time, clamp*,
 * comparisons without `bool`); only the final result must not repeat a label set; vector-to-vector
 * operators match one-to-one on all labels but `__name__`, or on `on (…)` / all but
 * `ignoring (…)`. Results are sorted by their label sets. Timestamps are milliseconds.
 *
 * Failures: REQUEST_INVALID for a query that does not parse, has too many steps, or whose
 * evaluation is ambiguous (duplicate label sets, many-to-one matches), with the reason.
 */
import { NubisError } from '../../errors/index.js';
import type { InstantSample, Labels, LabelMatcher, MetricStore, QueryResult, SeriesData } from '../types.js';
import type { EmbeddedMetricStore, SeriesColumns } from '../store/embedded.js';
import { parseQuery, typeOf, type Aggregate, type Binary, type BinaryOp, type Call, type Expr, type MatrixSelector, type VectorSelector } from './parser.js';
import { KEEPS_NAME, MATH_FUNCTIONS, RANGE_FUNCTIONS, quantile } from './functions.js';

export interface QueryEngine {
  /** Evaluates at one instant (ms). Vector, scalar, or (for a bare range selector) matrix. */
  instant(expr: string, timeMs: number): Promise<QueryResult>;
  /** Evaluates at start, start + step, … ≤ end (ms); always a matrix. */
  range(expr: string, startMs: number, endMs: number, stepMs: number): Promise<QueryResult>;
}

export interface QueryEngineOptions {
  /** How far back an instant selector looks for the newest point. Default 300000 (5 min). */
  lookbackMs?: number;
  /** Most steps a range query may have. Default 11000 (as Prometheus). */
  maxSteps?: number;
}

interface Elem {
  labels: Labels;
  v: number;
}
interface Window {
  labels: Labels;
  ts: Float64Array;
  vs: Float64Array;
}
type Value = { kind: 'scalar'; v: number } | { kind: 'vector'; elems: Elem[] } | { kind: 'matrix'; windows: Window[]; end: number; rangeMs: number };

const keyCache = new WeakMap<Labels, string>();

/** A stable identity for a label set (cached per object: label objects are never mutated). */
export function labelsKey(labels: Labels): string {
  let s = keyCache.get(labels);
  if (s !== undefined) return s;
  const keys = Object.keys(labels).sort();
  s = '';
  for (const k of keys) s += k + '\u0000' + labels[k] + '\u0001';
  keyCache.set(labels, s);
  return s;
}

function dropName(labels: Labels): Labels {
  if (!('__name__' in labels)) return labels;
  const { __name__: _, ...rest } = labels;
  return rest;
}

function upperBound(ts: Float64Array, x: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function invalid(message: string): never {
  throw new NubisError('REQUEST_INVALID', message);
}

/** The final result may not hold one label set twice (VictoriaMetrics: "duplicate output timeseries"). */
function checkUnique(elems: Elem[]): Elem[] {
  const seen = new Set<string>();
  for (const e of elems) {
    const k = labelsKey(e.labels);
    if (seen.has(k)) invalid(`the result would contain the label set ${JSON.stringify(e.labels)} twice (several series differ only in __name__, which this function drops; aggregate them, e.g. sum by (__name__) or sum(...))`);
    seen.add(k);
  }
  return elems;
}

async function fetchColumns(store: MetricStore, matchers: readonly LabelMatcher[], start: number, end: number): Promise<SeriesColumns[]> {
  if (store.kind === 'embedded' && 'selectColumns' in store) return (store as EmbeddedMetricStore).selectColumns(matchers, start, end);
  const data = await store.select(matchers, start, end);
  return data.map((d) => ({ labels: d.labels, ts: Float64Array.from(d.points, (p) => p.t), vs: Float64Array.from(d.points, (p) => p.v) }));
}

/** Creates the embedded engine over a store. */
export function createQueryEngine(store: MetricStore, opts: QueryEngineOptions = {}): QueryEngine {
  const lookbackMs = opts.lookbackMs ?? 300_000;
  const maxSteps = opts.maxSteps ?? 11_000;

  async function prepare(expr: Expr, start: number, end: number): Promise<Map<VectorSelector, SeriesColumns[]>> {
    const data = new Map<VectorSelector, SeriesColumns[]>();
    const jobs: Promise<void>[] = [];
    const visit = (e: Expr): void => {
      switch (e.type) {
        case 'vector':
        case 'matrix': {
          const sel = e.type === 'vector' ? e : e.selector;
          const back = e.type === 'vector' ? lookbackMs : e.rangeMs;
          jobs.push(
            fetchColumns(store, sel.matchers, start - sel.offsetMs - back, end - sel.offsetMs).then((cols) => {
              data.set(sel, cols);
            }),
          );
          return;
        }
        case 'call':
          e.args.forEach(visit);
          return;
        case 'aggregate':
          if (e.param) visit(e.param);
          visit(e.expr);
          return;
        case 'binary':
          visit(e.lhs);
          visit(e.rhs);
          return;
        case 'unary':
        case 'paren':
          visit(e.expr);
          return;
        case 'number':
          return;
      }
    };
    visit(expr);
    await Promise.all(jobs);
    return data;
  }

  function evaluate(root: Expr, data: Map<VectorSelector, SeriesColumns[]>, T: number): Value {
    const scalarOf = (e: Expr): number => {
      const v = ev(e);
      return v.kind === 'scalar' ? v.v : NaN;
    };
    const vectorOf = (e: Expr): Elem[] => {
      const v = ev(e);
      return v.kind === 'vector' ? v.elems : [];
    };

    function selectVector(sel: VectorSelector): Elem[] {
      const t0 = T - sel.offsetMs;
      const out: Elem[] = [];
      for (const c of data.get(sel) ?? []) {
        const i = upperBound(c.ts, t0) - 1;
        if (i >= 0 && c.ts[i]! > t0 - lookbackMs) out.push({ labels: c.labels, v: c.vs[i]! });
      }
      return out;
    }

    function selectMatrix(m: MatrixSelector): Value {
      const t0 = T - m.selector.offsetMs;
      const windows: Window[] = [];
      for (const c of data.get(m.selector) ?? []) {
        const lo = upperBound(c.ts, t0 - m.rangeMs);
        const hi = upperBound(c.ts, t0);
        if (hi > lo) windows.push({ labels: c.labels, ts: c.ts.subarray(lo, hi), vs: c.vs.subarray(lo, hi) });
      }
      return { kind: 'matrix', windows, end: t0, rangeMs: m.rangeMs };
    }

    function call(e: Call): Value {
      const f = e.func;
      const rangeFn = RANGE_FUNCTIONS.get(f);
      if (rangeFn !== undefined) {
        const param = f === 'quantile_over_time' ? scalarOf(e.args[0]!) : 0;
        const m = ev(e.args[e.args.length - 1]!);
        if (m.kind !== 'matrix') return { kind: 'vector', elems: [] };
        const keep = KEEPS_NAME.has(f);
        const elems: Elem[] = [];
        for (const w of m.windows) {
          const v = rangeFn(w.ts, w.vs, m.end, m.rangeMs, param);
          if (v !== undefined) elems.push({ labels: keep ? w.labels : dropName(w.labels), v });
        }
        return { kind: 'vector', elems };
      }
      const math = MATH_FUNCTIONS.get(f);
      if (math !== undefined) return { kind: 'vector', elems: vectorOf(e.args[0]!).map((x) => ({ labels: dropName(x.labels), v: math(x.v) })) };
      switch (f) {
        case 'last_n': {
          const n = scalarOf(e.args[0]!);
          const m = ev(e.args[1]!);
          if (m.kind !== 'matrix') return m;
          return { ...m, windows: m.windows.map((w) => ({ labels: w.labels, ts: w.ts.subarray(Math.max(0, w.ts.length - n)), vs: w.vs.subarray(Math.max(0, w.vs.length - n)) })) };
        }
        case 'round': {
          const to = e.args.length > 1 ? scalarOf(e.args[1]!) : 1;
          return { kind: 'vector', elems: vectorOf(e.args[0]!).map((x) => ({ labels: dropName(x.labels), v: Math.floor(x.v / to + 0.5) * to })) };
        }
        case 'clamp_min':
        case 'clamp_max':
        case 'clamp': {
          const lo = f === 'clamp_max' ? -Infinity : scalarOf(e.args[1]!);
          const hi = f === 'clamp_min' ? Infinity : scalarOf(e.args[f === 'clamp' ? 2 : 1]!);
          if (lo > hi) return { kind: 'vector', elems: [] };
          // Keeps the metric name, as VictoriaMetrics does (Prometheus drops it).
          return { kind: 'vector', elems: vectorOf(e.args[0]!).map((x) => ({ labels: x.labels, v: Number.isNaN(x.v) ? NaN : Math.max(lo, Math.min(hi, x.v)) })) };
        }
        case 'scalar': {
          const v = vectorOf(e.args[0]!);
          return { kind: 'scalar', v: v.length === 1 ? v[0]!.v : NaN };
        }
        case 'vector':
          return { kind: 'vector', elems: [{ labels: {}, v: scalarOf(e.args[0]!) }] };
        case 'time':
          return { kind: 'scalar', v: T / 1000 };
        default:
          return invalid(`function ${f}() is not implemented by the embedded engine`);
      }
    }

    function aggregate(e: Aggregate): Value {
      const param = e.param ? scalarOf(e.param) : 0;
      const input = vectorOf(e.expr);
      const groups = new Map<string, { labels: Labels; elems: Elem[] }>();
      for (const x of input) {
        let g: Labels;
        if (e.without) {
          g = {};
          for (const [k, v] of Object.entries(x.labels)) if (k !== '__name__' && !e.grouping.includes(k)) g[k] = v;
        } else {
          g = {};
          for (const k of e.grouping) {
            const v = x.labels[k];
            if (v !== undefined && v !== '') g[k] = v;
          }
        }
        const key = labelsKey(g);
        let grp = groups.get(key);
        if (!grp) groups.set(key, (grp = { labels: g, elems: [] }));
        grp.elems.push(x);
      }
      const out: Elem[] = [];
      for (const { labels, elems } of groups.values()) {
        const vs = elems.map((x) => x.v);
        switch (e.op) {
          case 'sum':
            out.push({ labels, v: vs.reduce((a, b) => a + b, 0) });
            break;
          case 'avg':
            out.push({ labels, v: vs.reduce((a, b) => a + b, 0) / vs.length });
            break;
          case 'count':
            out.push({ labels, v: vs.length });
            break;
          case 'min':
          case 'max': {
            let m = vs[0]!;
            for (const v of vs) if (Number.isNaN(m) || (e.op === 'min' ? v < m : v > m)) m = v;
            out.push({ labels, v: m });
            break;
          }
          case 'stddev':
          case 'stdvar': {
            const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
            const variance = vs.reduce((a, v) => a + (v - mean) ** 2, 0) / vs.length;
            out.push({ labels, v: e.op === 'stddev' ? Math.sqrt(variance) : variance });
            break;
          }
          case 'quantile':
            out.push({ labels, v: quantile(param, vs) });
            break;
          case 'topk':
          case 'bottomk': {
            const k = Math.floor(param);
            if (!(k >= 1)) break;
            const sorted = elems.slice().sort((a, b) => {
              const d = e.op === 'topk' ? b.v - a.v : a.v - b.v;
              return Number.isNaN(d) ? (Number.isNaN(a.v) ? 1 : -1) : d;
            });
            out.push(...sorted.slice(0, k));
            break;
          }
        }
      }
      return { kind: 'vector', elems: out };
    }

    function binary(e: Binary): Value {
      const l = ev(e.lhs);
      const r = ev(e.rhs);
      const cmp = isComparison(e.op);
      if (l.kind === 'scalar' && r.kind === 'scalar') {
        const v = applyOp(e.op, l.v, r.v);
        return { kind: 'scalar', v: cmp ? (v ? 1 : 0) : v };
      }
      const dropsName = !cmp || e.bool;
      if (l.kind === 'scalar' || r.kind === 'scalar') {
        const vec = l.kind === 'vector' ? l.elems : r.kind === 'vector' ? r.elems : [];
        const s = l.kind === 'scalar' ? l.v : r.kind === 'scalar' ? r.v : NaN;
        const out: Elem[] = [];
        for (const x of vec) {
          const [a, b] = l.kind === 'scalar' ? [s, x.v] : [x.v, s];
          const res = applyOp(e.op, a, b);
          const labels = dropsName ? dropName(x.labels) : x.labels;
          if (!cmp) out.push({ labels, v: res });
          else if (e.bool) out.push({ labels, v: res ? 1 : 0 });
          else if (res) out.push({ labels, v: x.v });
        }
        return { kind: 'vector', elems: out };
      }
      if (l.kind !== 'vector' || r.kind !== 'vector') return { kind: 'vector', elems: [] };
      const sig = (labels: Labels): string => {
        if (e.matching?.on) {
          const g: Labels = {};
          for (const k of e.matching.labels) if (labels[k] !== undefined && labels[k] !== '') g[k] = labels[k]!;
          return labelsKey(g);
        }
        const ignore = e.matching?.labels ?? [];
        const g: Labels = {};
        for (const [k, v] of Object.entries(labels)) if (k !== '__name__' && !ignore.includes(k)) g[k] = v;
        return labelsKey(g);
      };
      const right = new Map<string, Elem>();
      for (const x of r.elems) {
        const k = sig(x.labels);
        if (right.has(k)) invalid(`operator ${e.op}: several series on the right side match the label set ${JSON.stringify(x.labels)}; one-to-one matching needs unique matches (use on/ignoring)`);
        right.set(k, x);
      }
      const used = new Set<string>();
      const out: Elem[] = [];
      for (const x of l.elems) {
        const k = sig(x.labels);
        const y = right.get(k);
        if (y === undefined) continue;
        if (used.has(k)) invalid(`operator ${e.op}: several series on the left side match the label set ${JSON.stringify(y.labels)}; one-to-one matching needs unique matches (use on/ignoring)`);
        used.add(k);
        const res = applyOp(e.op, x.v, y.v);
        let labels = dropsName ? dropName(x.labels) : x.labels;
        if (e.matching) {
          const g: Labels = {};
          for (const [lk, lv] of Object.entries(labels)) if (e.matching.labels.includes(lk) === e.matching.on) g[lk] = lv;
          labels = g;
        }
        if (!cmp) out.push({ labels, v: res });
        else if (e.bool) out.push({ labels, v: res ? 1 : 0 });
        else if (res) out.push({ labels, v: x.v });
      }
      return { kind: 'vector', elems: out };
    }

    function ev(e: Expr): Value {
      switch (e.type) {
        case 'number':
          return { kind: 'scalar', v: e.value };
        case 'vector':
          return { kind: 'vector', elems: selectVector(e) };
        case 'matrix':
          return selectMatrix(e);
        case 'paren':
          return ev(e.expr);
        case 'unary': {
          const v = ev(e.expr);
          if (e.op === '+') return v;
          if (v.kind === 'scalar') return { kind: 'scalar', v: -v.v };
          if (v.kind === 'vector') return { kind: 'vector', elems: v.elems.map((x) => ({ labels: dropName(x.labels), v: -x.v })) };
          return v;
        }
        case 'call':
          return call(e);
        case 'aggregate':
          return aggregate(e);
        case 'binary':
          return binary(e);
      }
    }
    return ev(root);
  }

  const copy = (l: Labels): Labels => ({ ...l });
  const byLabels = <T extends { labels: Labels }>(xs: T[]): T[] => xs.map((x) => [labelsKey(x.labels), x] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, x]) => x);

  return {
    async instant(text, timeMs) {
      const expr = parseQuery(text);
      const data = await prepare(expr, timeMs, timeMs);
      const v = evaluate(expr, data, timeMs);
      if (v.kind === 'scalar') return { resultType: 'scalar', result: { t: timeMs, v: v.v } };
      if (v.kind === 'matrix') {
        const result: SeriesData[] = v.windows.map((w) => ({ labels: copy(w.labels), points: Array.from(w.ts, (t, i) => ({ t, v: w.vs[i]! })) }));
        return { resultType: 'matrix', result: byLabels(result) };
      }
      const result: InstantSample[] = checkUnique(v.elems).map((x) => ({ labels: copy(x.labels), t: timeMs, v: x.v }));
      return { resultType: 'vector', result: byLabels(result) };
    },
    async range(text, startMs, endMs, stepMs) {
      const expr = parseQuery(text);
      if (!(stepMs > 0)) invalid(`range query: step must be positive, got ${stepMs}`);
      if (!(endMs >= startMs)) invalid(`range query: end (${endMs}) is before start (${startMs})`);
      const steps = Math.floor((endMs - startMs) / stepMs) + 1;
      if (steps > maxSteps) invalid(`range query: ${steps} steps exceed the limit of ${maxSteps}; use a larger step`);
      if (typeOf(expr) === 'matrix') invalid('range query: expected a scalar or instant-vector expression, found a range vector');
      const data = await prepare(expr, startMs, endMs);
      const series = new Map<string, SeriesData>();
      for (let T = startMs; T <= endMs; T += stepMs) {
        const v = evaluate(expr, data, T);
        const elems: Elem[] = v.kind === 'scalar' ? [{ labels: {}, v: v.v }] : v.kind === 'vector' ? checkUnique(v.elems) : [];
        for (const x of elems) {
          const k = labelsKey(x.labels);
          let s = series.get(k);
          if (!s) series.set(k, (s = { labels: copy(x.labels), points: [] }));
          s.points.push({ t: T, v: x.v });
        }
      }
      return { resultType: 'matrix', result: byLabels([...series.values()]) };
    },
  };
}

function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

function applyOp(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return a ** b;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
  }
}
