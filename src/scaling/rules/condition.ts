/**
 * Rule conditions evaluated with three-valued (Kleene) logic: `true`, `false`, or `unknown`
 * when the data needed to decide is missing. Only `true` ever lets a rule act, and `not` of
 * `unknown` is `unknown`, so missing data can never trigger scaling — not even by negation.
 *
 * Semantics, stated:
 * - Quantifiers (`all`, `any`, `atLeast`) range over the component's *ready* instances — those
 *   that are desired and in phase `running`. Instances still starting, stopping or failed are
 *   excluded; result elements are matched to instances by the `instance` label (and by the
 *   `deployment` label when the element has one). Elements of other instances are ignored.
 * - An instance satisfies a comparison when it has at least one element and all of its
 *   elements satisfy every given bound.
 * - `all`: false if some ready instance fails; else unknown if some ready instance has no
 *   sample (or none is ready); else true.
 * - `any`: true if some ready instance satisfies; else unknown if some has no sample (or none
 *   is ready); else false.
 * - `atLeast k`: true when ≥ k satisfy; false when even counting the ones without samples
 *   fewer than k could; else unknown.
 * - `value`: the query's result as a whole (an aggregate, or a scalar): unknown when empty,
 *   else true when every element satisfies.
 * - `count`: bounds on the component's *desired* count (what scaling has asked for, so a rule
 *   does not scale twice while new instances start).
 * - A failing query (bad expression, backend down) is unknown, and reported.
 */
import type { InstantSample, QueryResult } from '../../metrics/index.js';
import type { ComparisonSpec, ConditionSpec, CountBoundsSpec } from '../../model/index.js';

export type Truth = true | false | 'unknown';

export interface ConditionContext {
  deployment: string;
  /** Names of ready instances (desired, phase running) of the rule's component. */
  ready: readonly string[];
  /** The component's desired count. */
  desired: number;
  /** Runs an instant query (cached per evaluation). */
  query: (expr: string) => Promise<QueryResult>;
}

export interface ConditionOutcome {
  truth: Truth;
  /** Why it is unknown, such as `no samples for app-2 in "…"` or a query error. */
  missing: string[];
  /** The values the decision was made on (at most OBSERVED_MAX), with the bounds they were held to. */
  observed: Observation[];
}

/** One value a condition looked at: an instance's element (quantifiers) or the query's whole result (`value`, `count`). */
export interface Observation {
  expr: string;
  instance?: string;
  value: number;
  /** The bounds given (above, below, atOrAbove, atOrBelow). */
  bounds: Partial<Record<'above' | 'below' | 'atOrAbove' | 'atOrBelow', number>>;
  satisfied: boolean;
}

/** Most observations kept per evaluation (a rule over a large component names the first ones). */
export const OBSERVED_MAX = 50;

function boundsOf(b: CountBoundsSpec | ComparisonSpec): Observation['bounds'] {
  const out: Observation['bounds'] = {};
  for (const k of ['above', 'below', 'atOrAbove', 'atOrBelow'] as const) if (b[k] !== undefined) out[k] = b[k];
  return out;
}

function note(out: Observation[], o: Observation): void {
  if (out.length < OBSERVED_MAX) out.push(o);
}

/** Whether `v` satisfies every bound given. NaN never does. */
export function satisfies(v: number, b: CountBoundsSpec | ComparisonSpec): boolean {
  if (Number.isNaN(v)) return false;
  if (b.above !== undefined && !(v > b.above)) return false;
  if (b.below !== undefined && !(v < b.below)) return false;
  if (b.atOrAbove !== undefined && !(v >= b.atOrAbove)) return false;
  if (b.atOrBelow !== undefined && !(v <= b.atOrBelow)) return false;
  return true;
}

function elements(r: QueryResult): InstantSample[] {
  if (r.resultType === 'vector') return r.result;
  if (r.resultType === 'scalar') return [{ labels: {}, t: r.result.t, v: r.result.v }];
  // a range result: the last point of each series
  return r.result.flatMap((s) => {
    const last = s.points[s.points.length - 1];
    return last ? [{ labels: s.labels, t: last.t, v: last.v }] : [];
  });
}

async function run(ctx: ConditionContext, expr: string, missing: string[]): Promise<InstantSample[] | undefined> {
  try {
    return elements(await ctx.query(expr));
  } catch (e) {
    missing.push(`query failed: ${e instanceof Error ? e.message : String(e)} in ${JSON.stringify(expr)}`);
    return undefined;
  }
}

/** Per ready instance: satisfied, failed, or no samples. */
async function perInstance(ctx: ConditionContext, cmp: ComparisonSpec, missing: string[], observed: Observation[]): Promise<{ ok: number; fail: number; none: string[] } | undefined> {
  const els = await run(ctx, cmp.expr, missing);
  if (!els) return undefined;
  const ready = new Set(ctx.ready);
  const by = new Map<string, boolean>();
  for (const e of els) {
    const inst = e.labels['instance'];
    if (inst === undefined || !ready.has(inst)) continue;
    const dep = e.labels['deployment'];
    if (dep !== undefined && dep !== ctx.deployment) continue;
    const ok = satisfies(e.v, cmp);
    note(observed, { expr: cmp.expr, instance: inst, value: e.v, bounds: boundsOf(cmp), satisfied: ok });
    by.set(inst, (by.get(inst) ?? true) && ok);
  }
  let ok = 0;
  let fail = 0;
  const none: string[] = [];
  for (const i of ctx.ready) {
    const s = by.get(i);
    if (s === undefined) none.push(i);
    else if (s) ok++;
    else fail++;
  }
  if (ctx.ready.length === 0) missing.push(`no ready instances for ${JSON.stringify(cmp.expr)}`);
  else if (none.length > 0) missing.push(`no samples for ${none.join(', ')} in ${JSON.stringify(cmp.expr)}`);
  return { ok, fail, none };
}

/** Evaluates a condition; `missing` explains every unknown. */
export async function evaluateCondition(c: ConditionSpec, ctx: ConditionContext): Promise<ConditionOutcome> {
  const missing: string[] = [];
  const observed: Observation[] = [];
  const truth = await evalInto(c, ctx, missing, observed);
  return { truth, missing, observed };
}

async function evalInto(c: ConditionSpec, ctx: ConditionContext, missing: string[], observed: Observation[]): Promise<Truth> {
  switch (c.kind) {
    case 'all': {
      const r = await perInstance(ctx, c.cmp, missing, observed);
      if (!r) return 'unknown';
      if (r.fail > 0) return false;
      return r.none.length > 0 || ctx.ready.length === 0 ? 'unknown' : true;
    }
    case 'any': {
      const r = await perInstance(ctx, c.cmp, missing, observed);
      if (!r) return 'unknown';
      if (r.ok > 0) return true;
      return r.none.length > 0 || ctx.ready.length === 0 ? 'unknown' : false;
    }
    case 'atLeast': {
      const r = await perInstance(ctx, c.cmp, missing, observed);
      if (!r) return 'unknown';
      if (r.ok >= c.instances) return true;
      return r.ok + r.none.length < c.instances ? false : 'unknown';
    }
    case 'value': {
      const els = await run(ctx, c.cmp.expr, missing);
      if (!els) return 'unknown';
      if (els.length === 0) {
        missing.push(`no samples in ${JSON.stringify(c.cmp.expr)}`);
        return 'unknown';
      }
      let all = true;
      for (const e of els) {
        const ok = satisfies(e.v, c.cmp);
        note(observed, { expr: c.cmp.expr, ...(e.labels['instance'] !== undefined ? { instance: e.labels['instance'] } : {}), value: e.v, bounds: boundsOf(c.cmp), satisfied: ok });
        all &&= ok;
      }
      return all;
    }
    case 'count': {
      const ok = satisfies(ctx.desired, c.bounds);
      note(observed, { expr: 'count', value: ctx.desired, bounds: boundsOf(c.bounds), satisfied: ok });
      return ok;
    }
    case 'and': {
      let out: Truth = true;
      for (const sub of c.of) {
        const t = await evalInto(sub, ctx, missing, observed);
        if (t === false) out = false;
        else if (t === 'unknown' && out === true) out = 'unknown';
      }
      return out;
    }
    case 'or': {
      let out: Truth = false;
      for (const sub of c.of) {
        const t = await evalInto(sub, ctx, missing, observed);
        if (t === true) out = true;
        else if (t === 'unknown' && out === false) out = 'unknown';
      }
      return out;
    }
    case 'not': {
      const t = await evalInto(c.of, ctx, missing, observed);
      return t === 'unknown' ? 'unknown' : !t;
    }
  }
}
