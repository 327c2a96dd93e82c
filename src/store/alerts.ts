/**
 * Repository of alerts (migration 0023): run-time rules and channels, alerts, and deliveries.
 * Every read takes the tenant, so no query can return another tenant's row. Writes are
 * `WriteOp`s that commit in the store's group transaction with the events that tell of them.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { AlertObjectTable, AlertTable, AlertDeliveryTable } from './alerts-tables.js';

export type AlertObjectRow = Selectable<AlertObjectTable>;
export type AlertRow = Selectable<AlertTable>;
export type AlertDeliveryRow = Selectable<AlertDeliveryTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

export interface AlertListFilter {
  tenant: string;
  /** open (open and acked) | resolved | all. Default open. */
  state?: 'open' | 'resolved' | 'all';
  deployment?: string;
  limit?: number;
}

export interface AlertRepo {
  putObject(row: AlertObjectRow): Op;
  deleteObject(tenant: string, kind: string, name: string): Op;
  objects(tenant?: string): Promise<AlertObjectRow[]>;

  /** Inserts or replaces an alert (by id). */
  put(row: AlertRow): Op;
  get(tenant: string, id: string): Promise<AlertRow | undefined>;
  /** Every open or acknowledged alert, of every tenant (loaded at start). */
  open(): Promise<AlertRow[]>;
  list(f: AlertListFilter): Promise<AlertRow[]>;

  putDelivery(row: AlertDeliveryRow): Op;
  /** Deliveries still pending, of every tenant, soonest first. */
  pendingDeliveries(): Promise<AlertDeliveryRow[]>;
  deliveries(tenant: string, alert: string): Promise<AlertDeliveryRow[]>;
}

export function createAlertRepo(db: Kysely<Database>): AlertRepo {
  return {
    putObject: (row) => (trx) =>
      trx.insertInto('alert_objects').values(row).onConflict((oc) => oc.columns(['tenant', 'kind', 'name']).doUpdateSet(row)).execute(),
    deleteObject: (tenant, kind, name) => (trx) =>
      trx.deleteFrom('alert_objects').where('tenant', '=', tenant).where('kind', '=', kind).where('name', '=', name).execute(),
    objects: (tenant) => {
      let q = db.selectFrom('alert_objects').selectAll();
      if (tenant !== undefined) q = q.where('tenant', '=', tenant);
      return q.orderBy('tenant').orderBy('kind').orderBy('name').execute();
    },
    put: (row) => (trx) => trx.insertInto('alerts').values(row).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute(),
    get: (tenant, id) => db.selectFrom('alerts').selectAll().where('tenant', '=', tenant).where('id', '=', id).executeTakeFirst(),
    open: () => db.selectFrom('alerts').selectAll().where('open_key', 'is not', null).execute(),
    list: (f) => {
      let q = db.selectFrom('alerts').selectAll().where('tenant', '=', f.tenant);
      if (f.state === undefined || f.state === 'open') q = q.where('open_key', 'is not', null);
      else if (f.state === 'resolved') q = q.where('state', '=', 'resolved');
      if (f.deployment !== undefined) q = q.where('deployment', '=', f.deployment);
      return q.orderBy('opened_at', 'desc').orderBy('id').limit(f.limit ?? 500).execute();
    },
    putDelivery: (row) => (trx) => trx.insertInto('alert_deliveries').values(row).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute(),
    pendingDeliveries: () => db.selectFrom('alert_deliveries').selectAll().where('state', '=', 'pending').orderBy('next_at').execute(),
    deliveries: (tenant, alert) =>
      db.selectFrom('alert_deliveries').selectAll().where('tenant', '=', tenant).where('alert', '=', alert).orderBy('created_at').orderBy('id').execute(),
  };
}
