/**
 * Repository functions of the registries (clouds and their discovered or hand-entered
 * locations, offers and images), the credential registry (sealed rows only: this file never
 * sees a secret in the clear) and provider-call accounting. Every registry row carries its
 * tenant. Multi-row changes run in one transaction: a failure leaves the previous rows.
 */
import type { Kysely, Selectable } from 'kysely';
import type { CredentialTable, Database, DriverCallTable, RegCloudTable, RegEntryTable } from './schema.js';

export type RegCloudRow = Selectable<RegCloudTable>;
export type RegEntryRow = Selectable<RegEntryTable>;
export type CredentialRow = Selectable<CredentialTable>;
export type DriverCallRow = Selectable<DriverCallTable>;
export type RegEntryKind = 'location' | 'offer' | 'image';

export interface RegistryRepo {
  /** Clouds of one tenant, or of every tenant when `tenant` is undefined, by name. */
  clouds(tenant?: string): Promise<RegCloudRow[]>;
  cloud(tenant: string, name: string): Promise<RegCloudRow | undefined>;
  /** Inserts or replaces the cloud row (its entries are kept). */
  putCloud(row: RegCloudRow): Promise<void>;
  /** Deletes the cloud and all its entries. Resolves false when there was no such cloud. */
  deleteCloud(tenant: string, name: string): Promise<boolean>;
  /** Records the outcome of a discovery run on the cloud row. */
  markDiscovery(tenant: string, name: string, at: number, error: string | null): Promise<void>;

  /** Entries of a tenant (every cloud, or one), optionally of one kind, ordered by cloud, kind, id. */
  entries(tenant?: string, cloud?: string, kind?: RegEntryKind): Promise<RegEntryRow[]>;
  /**
   * Replaces the `discovered` entries of a cloud with these, in one transaction. Entries a
   * person entered (`manual`) are kept, and win over a discovered entry with the same id.
   */
  replaceDiscovered(tenant: string, cloud: string, rows: RegEntryRow[]): Promise<void>;
  /** Inserts or replaces one entry (hand entries use source `manual`). */
  putEntry(row: RegEntryRow): Promise<void>;
  deleteEntry(tenant: string, cloud: string, kind: RegEntryKind, id: string): Promise<boolean>;

  credentials(tenant?: string): Promise<CredentialRow[]>;
  credential(tenant: string, name: string): Promise<CredentialRow | undefined>;
  putCredential(row: CredentialRow): Promise<void>;
  deleteCredential(tenant: string, name: string): Promise<boolean>;
  /**
   * Replaces the sealed value and key id of every given credential in one transaction
   * (key rotation): either every row changes or none does.
   */
  resealCredentials(rows: CredentialRow[]): Promise<void>;

  /** Appends provider call records (one insert each, in one transaction). */
  recordCalls(rows: Omit<DriverCallRow, 'id'>[]): Promise<void>;
  /** Calls to a cloud at or after `since` (ms), oldest first. */
  calls(cloud: string, since: number): Promise<DriverCallRow[]>;
  /** Deletes call records older than `before` (ms); resolves to how many. */
  pruneCalls(before: number): Promise<number>;
}

export function createRegistryRepo(db: Kysely<Database>): RegistryRepo {
  return {
    clouds(tenant) {
      let q = db.selectFrom('reg_clouds').selectAll();
      if (tenant !== undefined) q = q.where('tenant', '=', tenant);
      return q.orderBy('tenant').orderBy('name').execute();
    },
    cloud: (tenant, name) => db.selectFrom('reg_clouds').selectAll().where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst(),
    async putCloud(row) {
      await db.insertInto('reg_clouds').values(row).onConflict((oc) => oc.columns(['tenant', 'name']).doUpdateSet(row)).execute();
    },
    async deleteCloud(tenant, name) {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('reg_entries').where('tenant', '=', tenant).where('cloud', '=', name).execute();
        const r = await trx.deleteFrom('reg_clouds').where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      });
    },
    async markDiscovery(tenant, name, at, error) {
      const set = error === null ? { last_discovered_at: at, last_discovery_error: null } : { last_discovery_error: error };
      await db.updateTable('reg_clouds').set(set).where('tenant', '=', tenant).where('name', '=', name).execute();
    },
    entries(tenant, cloud, kind) {
      let q = db.selectFrom('reg_entries').selectAll();
      if (tenant !== undefined) q = q.where('tenant', '=', tenant);
      if (cloud !== undefined) q = q.where('cloud', '=', cloud);
      if (kind !== undefined) q = q.where('kind', '=', kind);
      return q.orderBy('tenant').orderBy('cloud').orderBy('kind').orderBy('id').execute();
    },
    async replaceDiscovered(tenant, cloud, rows) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('reg_entries').where('tenant', '=', tenant).where('cloud', '=', cloud).where('source', '=', 'discovered').execute();
        const manual = await trx.selectFrom('reg_entries').select(['kind', 'id']).where('tenant', '=', tenant).where('cloud', '=', cloud).execute();
        const taken = new Set(manual.map((m) => `${m.kind}\u0000${m.id}`));
        for (const r of rows) {
          if (taken.has(`${r.kind}\u0000${r.id}`)) continue;
          taken.add(`${r.kind}\u0000${r.id}`);
          await trx.insertInto('reg_entries').values(r).execute();
        }
      });
    },
    async putEntry(row) {
      await db.insertInto('reg_entries').values(row).onConflict((oc) => oc.columns(['tenant', 'cloud', 'kind', 'id']).doUpdateSet(row)).execute();
    },
    async deleteEntry(tenant, cloud, kind, id) {
      const r = await db.deleteFrom('reg_entries').where('tenant', '=', tenant).where('cloud', '=', cloud).where('kind', '=', kind).where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    credentials(tenant) {
      let q = db.selectFrom('credentials').selectAll();
      if (tenant !== undefined) q = q.where('tenant', '=', tenant);
      return q.orderBy('tenant').orderBy('name').execute();
    },
    credential: (tenant, name) => db.selectFrom('credentials').selectAll().where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst(),
    async putCredential(row) {
      await db.insertInto('credentials').values(row).onConflict((oc) => oc.columns(['tenant', 'name']).doUpdateSet(row)).execute();
    },
    async deleteCredential(tenant, name) {
      const r = await db.deleteFrom('credentials').where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async resealCredentials(rows) {
      await db.transaction().execute(async (trx) => {
        for (const r of rows) {
          await trx
            .updateTable('credentials')
            .set({ sealed: r.sealed, key_id: r.key_id, updated_at: r.updated_at })
            .where('tenant', '=', r.tenant)
            .where('name', '=', r.name)
            .execute();
        }
      });
    },
    async recordCalls(rows) {
      if (rows.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += 200) await trx.insertInto('driver_calls').values(rows.slice(i, i + 200)).execute();
      });
    },
    calls: (cloud, since) => db.selectFrom('driver_calls').selectAll().where('cloud', '=', cloud).where('ts', '>=', since).orderBy('id').execute(),
    async pruneCalls(before) {
      const r = await db.deleteFrom('driver_calls').where('ts', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
