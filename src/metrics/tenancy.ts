/**
 * The tenant wall of the metric store. Every sample is labelled at ingest with the tenant it
 * belongs to (`nubis_tenant`, set last, so a sender cannot choose it), and every query runs
 * with a mandatory matcher on that label injected into each of its selectors, on both
 * backends: the query text is parsed, scoped and printed again before the embedded engine or
 * VictoriaMetrics sees it. Results are shown without the label (each holds one tenant only).
 *
 * The default tenant also sees series without the label: those stored before tenancy existed.
 */
import { DEFAULT_TENANT } from '../registry/types.js';
import { formatExpr, parseQuery, type Expr } from './query/parser.js';
import type { Labels, LabelMatcher, QueryResult, Sample } from './types.js';

/** The label that says whose a series is. */
export const TENANT_LABEL = 'nubis_tenant';

/** The matcher every selector of a query of `tenant` carries. */
export function tenantMatcher(tenant: string): LabelMatcher {
  if (tenant === DEFAULT_TENANT) return { name: TENANT_LABEL, op: '=~', value: `${DEFAULT_TENANT}|` };
  return { name: TENANT_LABEL, op: '=', value: tenant };
}

/** The samples, each labelled with `tenant` (whatever label of that name they came with). */
export function labelTenant(samples: readonly Sample[], tenant: string): Sample[] {
  return samples.map((s) => ({ ...s, labels: { ...s.labels, [TENANT_LABEL]: tenant } }));
}

/** A copy of `e` whose every selector also requires `tenant`'s label. */
export function scopeExpr(e: Expr, tenant: string): Expr {
  const m = tenantMatcher(tenant);
  switch (e.type) {
    case 'number':
      return e;
    case 'vector':
      return { ...e, matchers: [...e.matchers, m] };
    case 'matrix':
      return { ...e, selector: { ...e.selector, matchers: [...e.selector.matchers, m] } };
    case 'call':
      return { ...e, args: e.args.map((a) => scopeExpr(a, tenant)) };
    case 'aggregate':
      return { ...e, param: e.param ? scopeExpr(e.param, tenant) : null, expr: scopeExpr(e.expr, tenant) };
    case 'binary':
      return { ...e, lhs: scopeExpr(e.lhs, tenant), rhs: scopeExpr(e.rhs, tenant) };
    case 'unary':
    case 'paren':
      return { ...e, expr: scopeExpr(e.expr, tenant) };
  }
}

/**
 * The query text as `tenant` may run it. Parses first, so a malformed query fails as it
 * always did (REQUEST_INVALID with the column of the user's text).
 */
export function scopeQuery(text: string, tenant: string): string {
  return formatExpr(scopeExpr(parseQuery(text), tenant));
}

/** Labels without the tenant label. */
export function withoutTenant(labels: Labels): Labels {
  if (!(TENANT_LABEL in labels)) return labels;
  const { [TENANT_LABEL]: _t, ...rest } = labels;
  return rest;
}

/** A result as shown to its tenant: the tenant label dropped from every element. */
export function unscopeResult(r: QueryResult): QueryResult {
  switch (r.resultType) {
    case 'scalar':
      return r;
    case 'vector':
      return { resultType: 'vector', result: r.result.map((x) => ({ ...x, labels: withoutTenant(x.labels) })) };
    case 'matrix':
      return { resultType: 'matrix', result: r.result.map((x) => ({ ...x, labels: withoutTenant(x.labels) })) };
  }
}
