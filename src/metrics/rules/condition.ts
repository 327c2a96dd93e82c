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
import type { InstantSample, QueryResult } from '../types.js';
import type { ComparisonSpec, ConditionSpec, CountBoundsSpec } from '../../model/types.js';

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
async function perInstance(ctx: ConditionContext, cmp: ComparisonSpec, missing: string[]): Promise<{ ok: number; fail: number; none: string[] } | undefined> {
  const els = await run(ctx, cmp.expr, missing);
  if (!els) return undefined;
  const ready = new Set(ctx.ready);
  const by = new Map<string, boolean>();
  for (const e of els) {
    const inst = e.labels['instance'];
    if (inst === undefined || !ready.has(inst)) continue;
    const dep = e.labels['deployment'];
    if (dep !== undefined && dep !== ctx.deployment) continue;
    by.set(inst, (by.get(inst) ?? true) && satisfies(e.v, cmp));
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
  const truth = await evalInto(c, ctx, missing);
  return { truth, missing };
}

async function evalInto(c: ConditionSpec, ctx: ConditionContext, missing: string[]): Promise<Truth> {
  switch (c.kind) {
    case 'all': {
      const r = await perInstance(ctx, c.cmp, missing);
      if (!r) return 'unknown';
      if (r.fail > 0) return false;
      return r.none.length > 0 || ctx.ready.length === 0 ? 'unknown' : true;
    }
    case 'any': {
      const r = await perInstance(ctx, c.cmp, missing);
      if (!r) return 'unknown';
      if (r.ok > 0) return true;
      return r.none.length > 0 || ctx.ready.length === 0 ? 'unknown' : false;
    }
    case 'atLeast': {
      const r = await perInstance(ctx, c.cmp, missing);
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
      return els.every((e) => satisfies(e.v, c.cmp));
    }
    case 'count':
      return satisfies(ctx.desired, c.bounds);
    case 'and': {
      let out: Truth = true;
      for (const sub of c.of) {
        const t = await evalInto(sub, ctx, missing);
        if (t === false) out = false;
        else if (t === 'unknown' && out === true) out = 'unknown';
      }
      return out;
    }
    case 'or': {
      let out: Truth = false;
      for (const sub of c.of) {
        const t = await evalInto(sub, ctx, missing);
        if (t === true) out = true;
        else if (t === 'unknown' && out === false) out = 'unknown';
      }
      return out;
    }
    case 'not': {
      const t = await evalInto(c.of, ctx, missing);
      return t === 'unknown' ? 'unknown' : !t;
    }
  }
}
