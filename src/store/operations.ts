/**
 * Repository of custom operation runs (src/engine/operations, migration 0025): one row per run
 * and one per instance of it. Writes are `WriteOp`s, committed in the store's group
 * transaction with the events they go with. Runs are addressed through their deployment id,
 * which carries the tenant, so a tenant can reach only its own.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, OperationInstanceRunTable, OperationRunTable } from './schema.js';

export type OperationRunRow = Selectable<OperationRunTable>;
export type OperationInstanceRunRow = Selectable<OperationInstanceRunTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

export interface OperationRepo {
  /** Inserts or replaces a run's row. */
  putRun(row: OperationRunRow): Op;
  /** Inserts or replaces one instance's part of a run. */
  putInstance(row: OperationInstanceRunRow): Op;
  /** The run of this id in this deployment, or undefined (another deployment's run is not found). */
  run(deployment: string, id: string): Promise<OperationRunRow | undefined>;
  /** The deployment's newest runs first, at most `limit`. */
  runs(deployment: string, limit: number): Promise<OperationRunRow[]>;
  /** Runs still marked running (a control plane that stopped during them). */
  unfinished(): Promise<OperationRunRow[]>;
  /** The instances' parts of these runs, by instance name. */
  instances(runIds: readonly string[]): Promise<OperationInstanceRunRow[]>;
}

export function createOperationRepo(db: Kysely<Database>): OperationRepo {
  return {
    putRun: (row) => (trx) => trx.insertInto('operation_runs').values(row).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute(),
    putInstance: (row) => (trx) =>
      trx.insertInto('operation_instance_runs').values(row).onConflict((oc) => oc.columns(['run_id', 'instance']).doUpdateSet(row)).execute(),
    run: (deployment, id) => db.selectFrom('operation_runs').selectAll().where('id', '=', id).where('deployment', '=', deployment).executeTakeFirst(),
    runs: (deployment, limit) => db.selectFrom('operation_runs').selectAll().where('deployment', '=', deployment).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute(),
    unfinished: () => db.selectFrom('operation_runs').selectAll().where('state', '=', 'running').execute(),
    instances: async (runIds) => {
      if (runIds.length === 0) return [];
      return db.selectFrom('operation_instance_runs').selectAll().where('run_id', 'in', [...runIds]).orderBy('run_id').orderBy('instance').execute();
    },
  };
}
