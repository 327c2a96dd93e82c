/**
 * Repository of metric definitions, scaling rules and schedules created at run time (through
 * the API or CLI), so they survive a restart. Spec-defined ones live in the deployment's spec.
 * Each belongs to a tenant (migration 0009); two tenants may use the same names.
 * `body_json` is the definition as submitted (the API's document), validated before it is put.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, MetricObjectTable } from './schema.js';

export type MetricObjectRow = Selectable<MetricObjectTable>;
export type MetricObjectKind = 'metric' | 'rule' | 'schedule' | 'scrape';

export interface MetricObjectRepo {
  /** Every object of a kind, by name. */
  list(kind: MetricObjectKind): Promise<MetricObjectRow[]>;
  /** Inserts or replaces one object. */
  put(row: MetricObjectRow): Promise<void>;
  /** Resolves false when there was no such object. `deployment` is '' for none. */
  remove(kind: MetricObjectKind, tenant: string, deployment: string, name: string): Promise<boolean>;
}

export function createMetricObjectRepo(db: Kysely<Database>): MetricObjectRepo {
  return {
    list: (kind) => db.selectFrom('metric_objects').selectAll().where('kind', '=', kind).orderBy('deployment').orderBy('name').execute(),
    async put(row) {
      await db.insertInto('metric_objects').values(row).onConflict((oc) => oc.columns(['tenant', 'kind', 'deployment', 'name']).doUpdateSet(row)).execute();
    },
    async remove(kind, tenant, deployment, name) {
      const r = await db.deleteFrom('metric_objects').where('tenant', '=', tenant).where('kind', '=', kind).where('deployment', '=', deployment).where('name', '=', name).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
