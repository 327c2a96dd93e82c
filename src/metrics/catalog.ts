/**
 * The catalog of metric objects (definitions, scrape targets, and the scaling part's rules and
 * schedules): each kind merges a deployment's spec objects with run-time ones (API/CLI, persisted
 * in the store), identified by tenant, deployment and name. A run-time object overrides the
 * spec's object of the same deployment and name until it is removed; spec objects change only by
 * applying a spec.
 *
 * Tenancy: every object belongs to a tenant (a spec's objects to their deployment's tenant, a
 * run-time one to its creator's) and is seen, changed and removed by that tenant only; a
 * run-time object naming a deployment now owned by another tenant is inert (left out of `all`).
 *
 * Failure meaning: lookups throw NubisError NOT_FOUND, or CONFLICT when a name is ambiguous
 * without `?deployment=`; removing a spec object is CONFLICT; bad input REQUEST_INVALID with the
 * JSON path (`invalid`, `checkExpr`). Rows that no longer load are reported once as a
 * `metrics.load` event, not fatal.
 */
import type { Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import type { Engine } from '../engine/index.js';
import type { Caller } from '../engine/index.js';
import { NubisError } from '../errors/index.js';
import type { AppSpec } from '../model/index.js';
import type { PathProblem } from '../model/index.js';
import type { MetricObjectKind, MetricObjectRepo } from '../store/index.js';
import { DEFAULT_TENANT } from '../registry/index.js';
import { parseQuery } from './query/parser.js';

export type ObjectSource = 'spec' | 'api';
export type CatalogSection = 'metrics' | 'rules' | 'schedules' | 'scrape';

export interface DeploymentIds {
  id(tenant: string, name: string): string;
  /** The name its tenant knows a deployment id by. */
  name(id: string): string;
}

export interface CatalogObject<T> {
  tenant: string;
  /** The deployment id; '' for an object of no deployment. */
  deployment: string;
  name: string;
  source: ObjectSource;
  spec: T;
}

export interface ObjectCatalogOptions {
  clock: Clock;
  engine: Pick<Engine, 'deployments'>;
  objects: MetricObjectRepo;
  events: EventLog;
  ids: DeploymentIds;
}

export const catalogKey = (tenant: string, deployment: string, name: string): string => `${tenant}/${deployment}/${name}`;
export const tenantOfCaller = (c: Caller): string => c.tenant ?? DEFAULT_TENANT;
/** A deployment's tenant; deployments from before tenancy are the default tenant's. */
const tenantOfDeployment = (d: object): string => (d as { tenant?: string }).tenant ?? DEFAULT_TENANT;

export function jsonPath(path: readonly (string | number)[]): string {
  return '$' + path.map((s) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join('');
}

/** REQUEST_INVALID listing every problem with its JSON path. */
export function invalid(problems: PathProblem[]): NubisError {
  const msgs = problems.map((p) => `${jsonPath(p.path)}: expected ${p.expected}, found ${p.found}`);
  return new NubisError('REQUEST_INVALID', `request body is invalid: ${msgs.join('; ')}`, { details: { problems: msgs } });
}

/** REQUEST_INVALID at `path` when `expr` is not a query. */
export function checkExpr(expr: string, path: (string | number)[]): void {
  try {
    parseQuery(expr);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new NubisError('REQUEST_INVALID', `${jsonPath(path)}: ${msg}`, { details: { problems: [`${jsonPath(path)}: ${msg}`] } });
  }
}

export const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** One kind of object: its run-time objects and the spec's, merged. */
export class CatalogKind<T> {
  private readonly runtime = new Map<string, CatalogObject<T>>();

  constructor(
    private readonly catalog: ObjectCatalog,
    readonly kind: MetricObjectKind,
    private readonly section: CatalogSection,
    /** How messages name it: `rule`, `metric definition`. */
    readonly what: string,
    private readonly normalise: (name: string, doc: never) => T,
  ) {}

  /** Reads the persisted run-time objects, normalised again (bad rows are reported, not fatal). */
  async load(): Promise<string[]> {
    const errors: string[] = [];
    for (const row of await this.catalog.o.objects.list(this.kind)) {
      try {
        const spec = this.normalise(row.name, JSON.parse(row.body_json) as never);
        this.runtime.set(catalogKey(row.tenant, row.deployment, row.name), { tenant: row.tenant, deployment: row.deployment, name: row.name, source: 'api', spec });
      } catch (e) {
        errors.push(`${this.kind} ${row.name}: ${String(e)}`);
      }
    }
    return errors;
  }

  /** Spec objects of active deployments merged with run-time ones (run time wins), of one tenant when given. */
  all(tenant?: string): CatalogObject<T>[] {
    const out = new Map<string, CatalogObject<T>>();
    for (const d of this.catalog.o.engine.deployments.values()) {
      if (d.status === 'destroying') continue;
      const owner = tenantOfDeployment(d);
      if (tenant !== undefined && owner !== tenant) continue;
      const sec = (d.spec as AppSpec)[this.section] as Record<string, T> | undefined;
      for (const [name, spec] of Object.entries(sec ?? {})) out.set(catalogKey(owner, d.name, name), { tenant: owner, deployment: d.name, name, source: 'spec', spec });
    }
    for (const [k, v] of this.runtime) {
      if (tenant !== undefined && v.tenant !== tenant) continue;
      const owner = v.deployment ? this.catalog.deploymentTenant(v.deployment) : undefined;
      if (owner !== undefined && owner !== v.tenant) continue;
      out.set(k, v);
    }
    return [...out.values()].sort((a, b) => a.deployment.localeCompare(b.deployment) || a.name.localeCompare(b.name));
  }

  /** The tenant's objects, in the `?deployment=` (a name) when given. */
  list(tenant: string, deployment: string | undefined): CatalogObject<T>[] {
    return this.all(tenant).filter((x) => this.catalog.inDeployment(x, deployment));
  }

  /** The tenant's object of this name (in the `?deployment=` given): NOT_FOUND, or CONFLICT when ambiguous. */
  lookup(tenant: string, name: string, deployment: string | undefined): CatalogObject<T> {
    const hits = this.list(tenant, deployment).filter((x) => x.name === name);
    if (hits.length === 0) throw new NubisError('NOT_FOUND', `no ${this.what} named ${JSON.stringify(name)}${deployment !== undefined ? ` in deployment ${deployment}` : ''}`);
    if (hits.length > 1) {
      const where = hits.map((h) => (h.deployment ? this.catalog.o.ids.name(h.deployment) : '(none)')).join(', ');
      throw new NubisError('CONFLICT', `${hits.length} ${this.what}s are named ${JSON.stringify(name)} (deployments ${where}); give ?deployment=`);
    }
    return hits[0]!;
  }

  /** Persists and keeps a run-time object (`doc` as submitted, so a restart normalises it again). */
  async put(tenant: string, deployment: string, name: string, doc: unknown): Promise<{ created: boolean; obj: CatalogObject<T> }> {
    const k = catalogKey(tenant, deployment, name);
    const created = !this.runtime.has(k);
    const spec = this.normalise(name, doc as never);
    await this.catalog.o.objects.put({ kind: this.kind, tenant, deployment, name, body_json: JSON.stringify(doc), updated_at: this.catalog.o.clock.now() });
    const obj: CatalogObject<T> = { tenant, deployment, name, source: 'api', spec };
    this.runtime.set(k, obj);
    return { created, obj };
  }

  /** Removes the caller's run-time object of this name (CONFLICT for a spec one) and records `<kind>.removed`. */
  async remove(name: string, deployment: string | undefined, caller: Caller): Promise<CatalogObject<T>> {
    const hit = this.lookup(tenantOfCaller(caller), name, deployment);
    if (hit.source === 'spec') {
      throw new NubisError('CONFLICT', `${this.what} ${name} is defined in the spec of deployment ${this.catalog.o.ids.name(hit.deployment)}; remove it there and apply`);
    }
    this.runtime.delete(catalogKey(hit.tenant, hit.deployment, hit.name));
    await this.catalog.o.objects.remove(this.kind, hit.tenant, hit.deployment, hit.name);
    this.catalog.append(`${this.kind}.removed`, caller.actor, hit.deployment || undefined, name, 'ok', `${this.what} ${name} removed`, { name }, hit.tenant);
    return hit;
  }
}

/** Shared by every kind: deployments and their tenants, events. */
export class ObjectCatalog {
  constructor(readonly o: ObjectCatalogOptions) {}

  /** A kind of object kept in this catalog. */
  kind<T, D>(kind: MetricObjectKind, section: CatalogSection, what: string, normalise: (name: string, doc: D) => T): CatalogKind<T> {
    return new CatalogKind<T>(this, kind, section, what, normalise as (name: string, doc: never) => T);
  }

  /** The tenant of a deployment (by id) that exists, else undefined. */
  deploymentTenant(id: string): string | undefined {
    const d = this.o.engine.deployments.get(id);
    return d ? tenantOfDeployment(d) : undefined;
  }

  /** Whether an object (of a tenant) matches a `?deployment=` filter given by that tenant. */
  inDeployment(x: { tenant: string; deployment: string }, deployment: string | undefined): boolean {
    return deployment === undefined || x.deployment === this.o.ids.id(x.tenant, deployment);
  }

  /** The id and spec of a deployment the tenant owns; NOT_FOUND for another tenant's, as for none. */
  mustDeployment(name: string, tenant: string, path = '$.deployment'): { id: string; spec: AppSpec } {
    const id = this.o.ids.id(tenant, name);
    const d = this.o.engine.deployments.get(id);
    if (!d || tenantOfDeployment(d) !== tenant) throw new NubisError('NOT_FOUND', `${path}: no deployment named ${JSON.stringify(name)}`);
    return { id, spec: d.spec };
  }

  /** Records an event; `tenant` says who may see one of no deployment (else the deployment's tenant does). */
  append(kind: string, actor: string, deployment: string | undefined, target: string, outcome: string, reason: string, data: Record<string, unknown>, tenant?: string): void {
    const who: Record<string, string> = tenant !== undefined && !deployment ? { tenant } : {};
    void this.o.events
      .append({ kind, actor, ...(deployment ? { deployment } : {}), target, outcome, reason, data, ts: this.o.clock.now(), ...who })
      .catch(() => undefined);
  }
}

export function createObjectCatalog(o: ObjectCatalogOptions): ObjectCatalog {
  return new ObjectCatalog(o);
}
