/**
 * Firewalls from channels (migration 0030; src/engine/firewalls.ts): one row per (deployment,
 * cloud, component) set — the rules and members last intended, whether the cloud holds them
 * (`applied`) or a call is still to succeed (`applying`), so a restarted control plane knows
 * what to change or remove. Writes are `WriteOp`s, committed with the events they go with.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, FirewallTable } from './schema.js';

export type FirewallRow = Selectable<FirewallTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

export interface FirewallRepo {
  put(row: FirewallRow): Op;
  remove(key: string): Op;
  list(): Promise<FirewallRow[]>;
}

export function createFirewallRepo(db: Kysely<Database>): FirewallRepo {
  return {
    put: (row) => (trx) => trx.insertInto('firewalls').values(row).onConflict((oc) => oc.column('key').doUpdateSet(row)).execute(),
    remove: (key) => (trx) => trx.deleteFrom('firewalls').where('key', '=', key).execute(),
    list: () => db.selectFrom('firewalls').selectAll().orderBy('key').execute(),
  };
}
