/**
 * Repository of recovery ladders (src/operations/recovery): one row per instance with a
 * recovery policy — where its ladder stands, the failures in its window and the steps taken
 * within their limits — so a restarted control plane neither forgets a give-up nor starts the
 * limits afresh (migration 0022). Rows are tenant-scoped through their deployment id and carry
 * the tenant for listing. Writes are `WriteOp`s, committed with the events they go with.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, RecoveryStateTable } from './schema.js';

export type RecoveryStateRow = Selectable<RecoveryStateTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

export interface RecoveryRepo {
  /** Inserts or replaces an instance's ladder. */
  put(row: RecoveryStateRow): Op;
  /** Drops an instance's ladder (the instance is gone). */
  remove(key: string): Op;
  list(): Promise<RecoveryStateRow[]>;
}

export function createRecoveryRepo(db: Kysely<Database>): RecoveryRepo {
  return {
    put: (row) => (trx) => trx.insertInto('recovery_states').values(row).onConflict((oc) => oc.column('key').doUpdateSet(row)).execute(),
    remove: (key) => (trx) => trx.deleteFrom('recovery_states').where('key', '=', key).execute(),
    list: () => db.selectFrom('recovery_states').selectAll().orderBy('key').execute(),
  };
}
