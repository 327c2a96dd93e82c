/**
 * Repository of backup runs (src/operations/backups, migration 0026): backups, restores and
 * restore drills, one row each, written before the run starts (its intent) so a control plane
 * that stopped during one finds it `running` and marks it failed. Rows are addressed through
 * their deployment id, which carries the tenant, so a tenant reaches only its own.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { BackupRunTable, Database } from './schema.js';

export type BackupRunRow = Selectable<BackupRunTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

export interface BackupRunFilter {
  policy?: string;
  kind?: string;
  state?: string;
  instance?: string;
  limit?: number;
}

export interface BackupRepo {
  /** Inserts or replaces a run. */
  put(row: BackupRunRow): Op;
  /** The run of this id in this deployment, or undefined (another deployment's run is not found). */
  get(deployment: string, id: string): Promise<BackupRunRow | undefined>;
  /** The deployment's runs, newest first. */
  list(deployment: string, f?: BackupRunFilter): Promise<BackupRunRow[]>;
  /** Runs still marked running (a control plane that stopped during them). */
  unfinished(): Promise<BackupRunRow[]>;
  /** When the newest run of this policy, kind and trigger started (the schedule's last fire), or undefined. */
  lastStart(deployment: string, policy: string, kind: string, trigger: string): Promise<number | undefined>;
}

export function createBackupRepo(db: Kysely<Database>): BackupRepo {
  return {
    put: (row) => (trx) => trx.insertInto('backup_runs').values(row).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute(),
    get: (deployment, id) => db.selectFrom('backup_runs').selectAll().where('id', '=', id).where('deployment', '=', deployment).executeTakeFirst(),
    list: (deployment, f = {}) => {
      let q = db.selectFrom('backup_runs').selectAll().where('deployment', '=', deployment);
      if (f.policy !== undefined) q = q.where('policy', '=', f.policy);
      if (f.kind !== undefined) q = q.where('kind', '=', f.kind);
      if (f.state !== undefined) q = q.where('state', '=', f.state);
      if (f.instance !== undefined) q = q.where('instance', '=', f.instance);
      return q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(f.limit ?? 1000).execute();
    },
    unfinished: () => db.selectFrom('backup_runs').selectAll().where('state', '=', 'running').execute(),
    lastStart: async (deployment, policy, kind, trigger) => {
      const r = await db.selectFrom('backup_runs').select((eb) => eb.fn.max('started_at').as('m'))
        .where('deployment', '=', deployment).where('policy', '=', policy).where('kind', '=', kind).where('trigger', '=', trigger).executeTakeFirst();
      return r?.m === null || r?.m === undefined ? undefined : Number(r.m);
    },
  };
}
