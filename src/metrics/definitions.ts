/**
 * Aggregated and composite metric definitions: each is a query evaluated on its own interval,
 * its result stored as the series named by the definition (with the definition's deployment
 * label when it belongs to one). A failed evaluation is counted and reported as `metric.failed`
 * when its message changes; it never throws.
 */
import type { Caller } from '../engine/index.js';
import { NubisError } from '../errors/index.js';
import type { MetricDefSpec } from '../model/index.js';
import type { MetricDefDoc } from '../model/index.js';
import { metricProblems, normaliseMetric } from '../model/index.js';
import { catalogKey, checkExpr, invalid, iso, tenantOfCaller, type CatalogKind, type CatalogObject, type ObjectCatalog, type ObjectSource } from './catalog.js';
import type { SelfMetrics } from './self-metrics.js';
import { scopeQuery, unscopeResult } from './tenancy.js';
import type { Labels, QueryResult, Sample } from './types.js';

export interface MetricDefinitionView {
  name: string;
  deployment?: string;
  source: ObjectSource;
  expr: string;
  intervalMs: number;
  description?: string;
  lastEvaluation?: string;
  lastError?: string;
}

export interface MetricDefinitionsOptions {
  catalog: ObjectCatalog;
  query: { instant(expr: string, timeMs: number): Promise<QueryResult> };
  ingest: (samples: Sample[], source: string, tenant: string) => void;
  self: SelfMetrics;
  now: () => number;
}

export interface MetricDefinitions {
  readonly kind: CatalogKind<MetricDefSpec>;
  /** Evaluates the definitions that are due; resolves with when the next one is. */
  evaluateDue(): Promise<number>;
  list(tenant: string, deployment?: string): MetricDefinitionView[];
  get(tenant: string, name: string, deployment?: string): MetricDefinitionView;
  put(name: string, body: MetricDefDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: MetricDefinitionView }>;
  remove(name: string, deployment: string | undefined, caller: Caller): Promise<void>;
}

class Definitions implements MetricDefinitions {
  readonly kind: CatalogKind<MetricDefSpec>;
  private readonly state = new Map<string, { next: number; last?: number; error?: string }>();

  constructor(private readonly o: MetricDefinitionsOptions) {
    this.kind = o.catalog.kind('metric', 'metrics', 'metric definition', normaliseMetric);
  }

  async evaluateDue(): Promise<number> {
    const now = this.o.now();
    let soonest = now + 1_000;
    const live = new Set<string>();
    for (const d of this.kind.all()) {
      const k = catalogKey(d.tenant, d.deployment, d.name);
      live.add(k);
      let st = this.state.get(k);
      if (!st) this.state.set(k, (st = { next: now }));
      if (st.next <= now) {
        st.next = now + d.spec.intervalMs;
        st.last = now;
        await this.evaluate(d, st, now);
      }
      soonest = Math.min(soonest, st.next);
    }
    for (const k of [...this.state.keys()]) if (!live.has(k)) this.state.delete(k);
    return soonest;
  }

  private async evaluate(d: CatalogObject<MetricDefSpec>, st: { error?: string }, now: number): Promise<void> {
    const ids = this.o.catalog.o.ids;
    try {
      const r = unscopeResult(await this.o.query.instant(scopeQuery(d.spec.expr, d.tenant), now));
      const out: Sample[] = [];
      const withDep = (l: Labels): Labels => (d.deployment && l['deployment'] === undefined ? { ...l, deployment: ids.name(d.deployment) } : l);
      if (r.resultType === 'scalar') out.push({ name: d.name, labels: withDep({}), t: now, v: r.result.v });
      else if (r.resultType === 'vector') {
        for (const e of r.result) {
          const { __name__: _n, ...labels } = e.labels;
          out.push({ name: d.name, labels: withDep(labels), t: now, v: e.v });
        }
      } else throw new NubisError('REQUEST_INVALID', 'a metric definition must give a vector or a scalar, not a range');
      this.o.ingest(out, 'definitions', d.tenant);
      this.o.self.inc('nubis_metric_evaluations_total', { outcome: 'ok' });
      st.error = undefined;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.o.self.inc('nubis_metric_evaluations_total', { outcome: 'error' });
      if (st.error !== msg) this.o.catalog.append('metric.failed', 'metrics', d.deployment || undefined, d.name, 'error', `metric ${d.name}: ${msg}`, { metric: d.name }, d.tenant);
      st.error = msg;
    }
  }

  private view(d: CatalogObject<MetricDefSpec>): MetricDefinitionView {
    const st = this.state.get(catalogKey(d.tenant, d.deployment, d.name));
    return {
      name: d.name,
      ...(d.deployment ? { deployment: this.o.catalog.o.ids.name(d.deployment) } : {}),
      source: d.source,
      expr: d.spec.expr,
      intervalMs: d.spec.intervalMs,
      ...(d.spec.description !== undefined ? { description: d.spec.description } : {}),
      ...(st?.last !== undefined ? { lastEvaluation: iso(st.last)! } : {}),
      ...(st?.error !== undefined ? { lastError: st.error } : {}),
    };
  }

  list(tenant: string, deployment?: string): MetricDefinitionView[] {
    return this.kind.list(tenant, deployment).map((d) => this.view(d));
  }

  get(tenant: string, name: string, deployment?: string): MetricDefinitionView {
    return this.view(this.kind.lookup(tenant, name, deployment));
  }

  async put(name: string, body: MetricDefDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: MetricDefinitionView }> {
    const tenant = tenantOfCaller(caller);
    const { deployment: named = '', ...doc } = body;
    const deployment = named ? this.o.catalog.mustDeployment(named, tenant).id : '';
    const problems = metricProblems(doc as Record<string, unknown>, []);
    if (problems.length) throw invalid(problems);
    checkExpr(doc.expr, ['expr']);
    const { created, obj } = await this.kind.put(tenant, deployment, name, doc);
    this.state.delete(catalogKey(tenant, deployment, name));
    this.o.catalog.append('metric.defined', caller.actor, deployment || undefined, name, 'ok', `metric ${name} ${created ? 'added' : 'changed'}: ${doc.expr}`, { name, expr: doc.expr }, tenant);
    return { created, view: this.view(obj) };
  }

  async remove(name: string, deployment: string | undefined, caller: Caller): Promise<void> {
    await this.kind.remove(name, deployment, caller);
  }
}

/** Metric definitions over the catalog (see above). */
export function createMetricDefinitions(o: MetricDefinitionsOptions): MetricDefinitions {
  return new Definitions(o);
}
