/**
 * Metrics: a graph of any query over a chosen time range (uPlot), and the scaling rules with
 * their state, the current value of each condition's query, and when each last fired.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import type { RuleList } from '../api-types';
import { Chart, type Series } from '../chart';
import { useRoute } from '../router';
import { Empty, Failure, FieldError, FormError, Pill, Time, useLoad } from '../ui';

const RANGES: [string, number][] = [['5m', 300], ['15m', 900], ['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800]];

type Range = { kind: 'last'; seconds: number } | { kind: 'between'; start: string; end: string };

/** The query window in Unix seconds, with a step giving about 240 points (at least 1 s). */
export function timeWindow(r: Range, now = Date.now() / 1000): { start: number; end: number; step: number } {
  const end = r.kind === 'last' ? now : new Date(r.end).getTime() / 1000;
  const start = r.kind === 'last' ? now - r.seconds : new Date(r.start).getTime() / 1000;
  return { start, end, step: Math.max(1, Math.round((end - start) / 240)) };
}

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

function seriesOf(result: unknown): Series[] {
  return ((result ?? []) as Matrix).map((s) => {
    const labels = Object.entries(s.metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}="${v}"`).join(', ');
    return {
      label: `${s.metric['__name__'] ?? ''}{${labels}}`,
      points: s.values.map(([t, v]) => [t, Number.isFinite(Number(v)) ? Number(v) : null] as [number, number | null]),
    };
  });
}

function QueryGraph() {
  const { query: q } = useRoute();
  const [text, setText] = useState(q.get('q') ?? '{__name__="instance.cpu.percent"}');
  const [range, setRange] = useState<Range>({ kind: 'last', seconds: 900 });
  const [ran, setRan] = useState<{ expr: string; start: number; end: number; step: number } | undefined>(undefined);
  const [series, setSeries] = useState<Series[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (e?: Event): Promise<void> => {
    e?.preventDefault();
    setRan({ expr: text, ...timeWindow(range) });
  };
  useEffect(() => {
    if (!ran) return;
    setError(undefined);
    call('queryMetrics', { query: { query: ran.expr, start: ran.start.toFixed(3), end: ran.end.toFixed(3), step: `${ran.step}s` } }).then(
      (r) => setSeries(r.data.resultType === 'matrix' ? seriesOf(r.data.result) : []),
      (err: unknown) => {
        // a refusal not about the range is about the query itself (a parse error names no parameter)
        const about = err instanceof ApiError ? err.field : undefined;
        setError(err instanceof ApiError && !['start', 'end', 'step'].includes(about ?? '') ? new ApiError(err.status, err.code, err.message, { parameter: 'query' }, err.retryable) : err);
        setSeries(undefined);
      },
    );
  }, [ran]);
  const local = (iso: number): string => new Date(iso - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  return (
    <section aria-label="graph">
      <form class="query" onSubmit={run} aria-label="query">
        <label class="grow">Query (PromQL subset)
          <input name="query" value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} aria-describedby="err-query" />
        </label>
        <FieldError error={error} field="query" id="err-query" />
        <fieldset class="range">
          <legend>Time range</legend>
          {RANGES.map(([label, s]) => (
            <button type="button" aria-pressed={range.kind === 'last' && range.seconds === s} onClick={() => setRange({ kind: 'last', seconds: s })}>{label}</button>
          ))}
          <label>from <input type="datetime-local" name="start" value={range.kind === 'between' ? range.start : local(Date.now() - 3600_000)}
            onChange={(e) => setRange({ kind: 'between', start: e.currentTarget.value, end: range.kind === 'between' ? range.end : local(Date.now()) })} aria-describedby="err-start" /></label>
          <FieldError error={error} field="start" id="err-start" />
          <label>to <input type="datetime-local" name="end" value={range.kind === 'between' ? range.end : local(Date.now())}
            onChange={(e) => setRange({ kind: 'between', start: range.kind === 'between' ? range.start : local(Date.now() - 3600_000), end: e.currentTarget.value })} aria-describedby="err-end" /></label>
          <FieldError error={error} field="end" id="err-end" />
        </fieldset>
        <button type="submit">Graph</button>
        <FormError error={error} fields={['query', 'start', 'end']} />
      </form>
      {series && series.length === 0 && <Empty>No series match in this range.</Empty>}
      {series && series.length > 0 && ran && <Chart series={series} title={ran.expr} range={[ran.start, ran.end]} />}
    </section>
  );
}

type Rule = RuleList['rules'][number];
type Leaf = { quantifier: string; expr?: string; op: string; threshold?: number };

const OPS: [string, string][] = [['above', '>'], ['below', '<'], ['atOrAbove', '≥'], ['atOrBelow', '≤']];

function comparison(quantifier: string, c: Record<string, unknown>): Leaf {
  const [key, op] = OPS.find(([k]) => typeof c[k] === 'number') ?? ['', '?'];
  return { quantifier, ...(typeof c['expr'] === 'string' ? { expr: c['expr'] } : {}), op, ...(key ? { threshold: c[key] as number } : {}) };
}

/**
 * The conditions of a rule's `when`, as the API shows it (normalised: `{ kind, cmp | bounds | of }`)
 * or as written in a spec (`{ all: { expr, above } }`, `{ and: [...] }`).
 */
export function leaves(when: unknown): Leaf[] {
  if (when === null || typeof when !== 'object') return [];
  const o = when as Record<string, unknown>;
  if (typeof o['kind'] === 'string') {
    const kind = o['kind'];
    if (kind === 'and' || kind === 'or') return (o['of'] as unknown[]).flatMap(leaves);
    if (kind === 'not') return leaves(o['of']);
    if (kind === 'count') return [comparison('count', (o['bounds'] ?? {}) as Record<string, unknown>)];
    const q = kind === 'atLeast' ? `at least ${String(o['instances'])}` : kind;
    return [comparison(q, (o['cmp'] ?? {}) as Record<string, unknown>)];
  }
  return Object.entries(o).flatMap(([k, v]): Leaf[] => {
    if (k === 'and' || k === 'or') return (Array.isArray(v) ? v : []).flatMap(leaves);
    if (k === 'not') return leaves(v);
    return v !== null && typeof v === 'object' ? [comparison(k, v as Record<string, unknown>)] : [];
  });
}

/** `scale out by 1`, `scale in by 50%`, `scale to 4`. */
function actionText(a: unknown): string {
  const o = (a ?? {}) as { kind?: string; by?: number; percent?: number; count?: number };
  if (o.kind === 'to') return `scale to ${o.count ?? '?'}`;
  return `scale ${o.kind ?? '?'} by ${o.percent !== undefined ? `${o.percent}%` : o.by ?? 1}`;
}

function CurrentValue({ expr }: { expr: string }) {
  const v = useLoad((signal) => call('queryMetrics', { query: { query: expr }, signal }), [expr]);
  if (v.error) return <span class="error">{(v.error as Error).message}</span>;
  if (!v.data) return <span class="muted">…</span>;
  const r = v.data.data;
  if (r.resultType === 'scalar') return <span class="mono">{(r.result as [number, string])[1]}</span>;
  const vec = (r.result ?? []) as { metric: Record<string, string>; value: [number, string] }[];
  if (vec.length === 0) return <span class="muted">no data</span>;
  return <span class="mono">{vec.slice(0, 8).map((e) => `${e.metric['instance'] ?? e.metric['component'] ?? ''}=${Number(e.value[1]).toFixed(2)}`).join(' ')}</span>;
}

function Rules() {
  const rules = useLoad((signal) => call('listRules', { signal }), []);
  const fired = useLoad((signal) => call('listEvents', { query: { kind: 'rule.fired', limit: 1000 }, signal }), []);
  const last = useMemo(() => {
    const m = new Map<string, string>();
    for (const e of fired.data?.events ?? []) {
      const rule = (e.data?.['rule'] as string | undefined) ?? e.actor.replace(/^rule:/, '');
      m.set(`${e.deployment ?? ''}/${rule}`, e.ts);
    }
    return m;
  }, [fired.data]);
  return (
    <section aria-label="rules">
      <h2>Scaling rules</h2>
      <Failure error={rules.error} />
      {rules.data && rules.data.rules.length === 0 && <Empty>No rules.</Empty>}
      {rules.data && rules.data.rules.length > 0 && (
        <div class="table-scroll">
          <table class="list" aria-label="rules">
            <thead><tr><th>Rule</th><th>Deployment</th><th>State</th><th>Conditions (now)</th><th>Last evaluated</th><th>Last fired</th></tr></thead>
            <tbody>{rules.data.rules.map((r: Rule) => {
              const spec = r.spec as { when?: unknown; component?: string; action?: unknown };
              return (
                <tr data-rule={r.name}>
                  <td>{r.name}<div class="muted">{spec.component ?? ''}: {actionText(spec.action)}</div></td>
                  <td>{r.deployment}</td>
                  <td><Pill value={r.state.truth} />{r.state.holdingSince ? <div class="muted">since <Time iso={r.state.holdingSince} /></div> : null}{r.state.missing.length > 0 && <div class="muted">missing: {r.state.missing.join(', ')}</div>}</td>
                  <td><ul class="conds">{leaves(spec.when).map((l) => (
                    <li><span class="mono">{l.quantifier} {l.expr ?? ''} {l.op} {l.threshold ?? ''}</span>{l.expr && <> → <CurrentValue expr={l.expr} /></>}</li>
                  ))}</ul></td>
                  <td><Time iso={r.state.lastEvaluation} /></td>
                  <td><Time iso={last.get(`${r.deployment}/${r.name}`)} /></td>
                </tr>
              );
            })}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function MetricsPage() {
  return (
    <section>
      <h1>Metrics</h1>
      <QueryGraph />
      <Rules />
    </section>
  );
}
