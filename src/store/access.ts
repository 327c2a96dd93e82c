/**
 * Access delivery records (migration 0024): per deployment, when it first became ready (its
 * `deployment.access` event went out then) and when its generated credentials were shown, and
 * to whom. The credential values themselves are sealed in the deployment's spec (component
 * secret env, like `env: { X: { secret } }`), never here.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, DeploymentAccessTable } from './schema.js';

export type AccessRow = Selectable<DeploymentAccessTable>;

export interface AccessRepo {
  get(deployment: string): Promise<AccessRow | undefined>;
  /** Records the first time the deployment was ready; false when it was recorded before. */
  markReady(deployment: string, tenant: string, at: number): Promise<boolean>;
  /** Records that the credentials were shown; false when they had been shown before (nothing changes then). */
  markShown(deployment: string, at: number, by: string): Promise<boolean>;
}

export function createAccessRepo(db: Kysely<Database>): AccessRepo {
  return {
    get: (deployment) => db.selectFrom('deployment_access').selectAll().where('deployment', '=', deployment).executeTakeFirst(),
    async markReady(deployment, tenant, at) {
      const r = await db.insertInto('deployment_access').values({ deployment, tenant, ready_at: at, shown_at: null, shown_by: null })
        .onConflict((oc) => oc.column('deployment').doNothing()).executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    },
    async markShown(deployment, at, by) {
      const r = await db.updateTable('deployment_access').set({ shown_at: at, shown_by: by })
        .where('deployment', '=', deployment).where('shown_at', 'is', null).where('ready_at', 'is not', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}
