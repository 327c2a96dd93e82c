/**
 * Which series a rule reads: the metric names its condition's queries select, so new data for
 * one of them can wake the rule (see ./evaluator.ts `dataArrived`). A selector without an exact
 * `__name__` (a regex, or none) reads any metric: `names` is then `'any'`.
 */
import type { ConditionSpec } from '../../model/index.js';
import { parseQuery, type Expr } from '../../metrics/index.js';

export interface RuleReads {
  names: ReadonlySet<string> | 'any';
}

function namesOf(e: Expr, out: Set<string>): boolean {
  switch (e.type) {
    case 'number':
      return true;
    case 'vector': {
      const m = e.matchers.find((x) => x.name === '__name__' && x.op === '=');
      if (!m) return false;
      out.add(m.value);
      return true;
    }
    case 'matrix':
      return namesOf(e.selector, out);
    case 'call':
      return e.args.every((a) => namesOf(a, out));
    case 'aggregate':
      return (e.param === null || namesOf(e.param, out)) && namesOf(e.expr, out);
    case 'binary':
      return namesOf(e.lhs, out) && namesOf(e.rhs, out);
    case 'unary':
    case 'paren':
      return namesOf(e.expr, out);
  }
}

function exprsOf(c: ConditionSpec, out: string[]): void {
  if (c.kind === 'not') exprsOf(c.of, out);
  else if ('cmp' in c) out.push(c.cmp.expr);
  else if (c.kind !== 'count') for (const x of c.of) exprsOf(x, out);
}

/** The metric names a condition reads; `'any'` when one of its selectors has no exact name or does not parse. */
export function ruleReads(c: ConditionSpec): RuleReads {
  const exprs: string[] = [];
  exprsOf(c, exprs);
  const names = new Set<string>();
  for (const x of exprs) {
    try {
      if (!namesOf(parseQuery(x), names)) return { names: 'any' };
    } catch {
      return { names: 'any' };
    }
  }
  return { names };
}

/** Whether new samples of these metric names may change what the rule sees. */
export function readsAny(r: RuleReads, arrived: Iterable<string>): boolean {
  if (r.names === 'any') return true;
  for (const n of arrived) if (r.names.has(n)) return true;
  return false;
}
