/**
 * Repository of the leak guard (src/engine/leaks.ts) and of cost and budgets (src/engine/cost.ts):
 * leaks found, leak policies, node running intervals with their price, budgets and the threshold
 * each last warned of (migration 0028). Rows carry their tenant; readers filter by it.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema.js';
import type { BudgetTable, LeakPolicyTable, LeakTable, NodeUsageTable } from './leaks-tables.js';

export type LeakRow = Selectable<LeakTable>;
export type LeakPolicyRow = Selectable<LeakPolicyTable>;
export type NodeUsageRow = Selectable<NodeUsageTable>;
export type BudgetRow = Selectable<BudgetTable>;

export interface LeakRepo {
  /** Inserts leaks, or refreshes ones already recorded (their first sighting is kept), in one transaction. */
  putLeaks(rows: readonly LeakRow[]): Promise<void>;
  /** Sets `last_seen` of a cloud's open leaks (after a scan that listed the cloud). */
  touchLeaks(cloudKey: string, at: number): Promise<void>;
  /** Marks leaks deleted or gone, in one transaction. */
  endLeaks(ends: readonly { cloudKey: string; kind: string; id: string; status: 'deleted' | 'gone'; at: number }[]): Promise<void>;
  /** Leaks, newest first; `open` ones only unless `all`. */
  leaks(filter: { tenant?: string; all?: boolean }): Promise<LeakRow[]>;
  leakPolicies(): Promise<LeakPolicyRow[]>;
  putLeakPolicy(row: LeakPolicyRow): Promise<void>;
  deleteLeakPolicy(tenant: string, cloud: string): Promise<boolean>;

  /** Opens a running interval (no-op when one of this key is open already). */
  openUsage(row: NodeUsageRow): Promise<void>;
  /** Closes the key's open interval at `at`. */
  closeUsage(key: string, at: number): Promise<void>;
  /** Intervals overlapping [from, to) (open ones included), of a tenant or all. */
  usage(filter: { tenant?: string; from: number; to: number }): Promise<NodeUsageRow[]>;
  openUsageRows(): Promise<NodeUsageRow[]>;

  budgets(): Promise<BudgetRow[]>;
  putBudget(row: BudgetRow): Promise<void>;
  deleteBudget(tenant: string, deployment: string): Promise<boolean>;
  /** The highest threshold warned of for this budget and month (0: none). */
  budgetMark(tenant: string, deployment: string, month: string): Promise<number>;
  setBudgetMark(tenant: string, deployment: string, month: string, level: number): Promise<void>;
}

export function createLeakRepo(db: Kysely<Database>): LeakRepo {
  return {
    async putLeaks(rows) {
      if (rows.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += 200) {
          await trx.insertInto('leaks').values(rows.slice(i, i + 200)).onConflict((oc) => oc.columns(['cloud_key', 'kind', 'id']).doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'), reason: eb.ref('excluded.reason'), data_json: eb.ref('excluded.data_json'), last_seen: eb.ref('excluded.last_seen'), ended_at: eb.ref('excluded.ended_at'),
          }))).execute();
        }
      });
    },
    async touchLeaks(cloudKey, at) {
      await db.updateTable('leaks').set({ last_seen: at }).where('cloud_key', '=', cloudKey).where('status', '=', 'open').execute();
    },
    async endLeaks(ends) {
      if (ends.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const e of ends) {
          await trx.updateTable('leaks').set({ status: e.status, ended_at: e.at }).where('cloud_key', '=', e.cloudKey).where('kind', '=', e.kind).where('id', '=', e.id).where('status', '=', 'open').execute();
        }
      });
    },
    leaks(f) {
      let q = db.selectFrom('leaks').selectAll();
      if (f.tenant !== undefined) q = q.where('tenant', '=', f.tenant);
      if (!f.all) q = q.where('status', '=', 'open');
      return q.orderBy('first_seen', 'desc').orderBy('id').limit(10_000).execute();
    },
    leakPolicies: () => db.selectFrom('leak_policies').selectAll().execute(),
    async putLeakPolicy(row) {
      await db.insertInto('leak_policies').values(row).onConflict((oc) => oc.columns(['tenant', 'cloud']).doUpdateSet(row)).execute();
    },
    async deleteLeakPolicy(tenant, cloud) {
      const r = await db.deleteFrom('leak_policies').where('tenant', '=', tenant).where('cloud', '=', cloud).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async openUsage(row) {
      const open = await db.selectFrom('node_usage').select('key').where('key', '=', row.key).where('ended_at', 'is', null).executeTakeFirst();
      if (open) return;
      await db.insertInto('node_usage').values(row).onConflict((oc) => oc.columns(['key', 'started_at']).doNothing()).execute();
    },
    async closeUsage(key, at) {
      await db.updateTable('node_usage').set({ ended_at: at }).where('key', '=', key).where('ended_at', 'is', null).execute();
    },
    usage(f) {
      let q = db.selectFrom('node_usage').selectAll().where('started_at', '<', f.to).where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', f.from)]));
      if (f.tenant !== undefined) q = q.where('tenant', '=', f.tenant);
      return q.orderBy('started_at').execute();
    },
    openUsageRows: () => db.selectFrom('node_usage').selectAll().where('ended_at', 'is', null).execute(),
    budgets: () => db.selectFrom('budgets').selectAll().orderBy('tenant').orderBy('deployment').execute(),
    async putBudget(row) {
      await db.insertInto('budgets').values(row).onConflict((oc) => oc.columns(['tenant', 'deployment']).doUpdateSet(row)).execute();
    },
    async deleteBudget(tenant, deployment) {
      const r = await db.deleteFrom('budgets').where('tenant', '=', tenant).where('deployment', '=', deployment).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async budgetMark(tenant, deployment, month) {
      const r = await db.selectFrom('budget_marks').select('level').where('tenant', '=', tenant).where('deployment', '=', deployment).where('month', '=', month).executeTakeFirst();
      return Number(r?.level ?? 0);
    },
    async setBudgetMark(tenant, deployment, month, level) {
      await db.insertInto('budget_marks').values({ tenant, deployment, month, level }).onConflict((oc) => oc.columns(['tenant', 'deployment', 'month']).doUpdateSet({ level })).execute();
    },
  };
}
