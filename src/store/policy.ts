/**
 * Repository of the operators' controls (src/policy; tables in ./policy-tables.ts): the image
 * marketplace, quotas and address pools. Every row carries its tenant; reads take it.
 *
 * Quotas are counted here, in one place: `quota_usage` holds each tenant's limits and what its
 * deployments reserve, `quota_reservations` what each deployment reserves. `reserveQuota` is a
 * guarded write op (see Store.writeGuarded) committed in the same transaction as the
 * deployment's desired state: it locks the tenant's row, reads the deployment's previous
 * reservation and moves the tenant's use by the difference with one conditional UPDATE that
 * matches no row when a limit would be passed, so concurrent applies (in this process or on
 * other replicas over PostgreSQL) cannot overrun a quota. A refused reservation throws the
 * error `refuse` builds and rolls back only its own item.
 *
 * Address leases are one row per (tenant, pool, address), so the primary key itself forbids
 * leasing an address twice; `leaseAddress` runs in its own transaction and is idempotent per
 * node key.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type {
  AddressLeaseTable, AddressPoolTable, ImageEndorserTable, ImageEntryTable, ImagePolicyTable, QuotaReservationTable, QuotaUsageTable,
} from './policy-tables.js';

export type ImageEndorserRow = Selectable<ImageEndorserTable>;
export type ImageEntryRow = Selectable<ImageEntryTable>;
export type ImagePolicyRow = Selectable<ImagePolicyTable>;
export type QuotaUsageRow = Selectable<QuotaUsageTable>;
export type QuotaReservationRow = Selectable<QuotaReservationTable>;
export type AddressPoolRow = Selectable<AddressPoolTable>;
export type AddressLeaseRow = Selectable<AddressLeaseTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

/** What a deployment's desired state uses. */
export interface QuotaUse {
  nodes: number;
  cores: number;
  memoryMiB: number;
}

export type QuotaName = 'nodes' | 'cores' | 'memory' | 'deployments';

/** Why a reservation was refused: the first quota it would pass. */
export interface QuotaRefusal {
  tenant: string;
  quota: QuotaName;
  limit: number;
  /** What the tenant's other deployments use now. */
  used: number;
  /** What this deployment asks for. */
  requested: number;
}

export interface QuotaLimits {
  nodes: number | null;
  cores: number | null;
  memoryMiB: number | null;
  deployments: number | null;
}

export interface PolicyRepo {
  endorsers(tenant: string): Promise<ImageEndorserRow[]>;
  putEndorser(row: ImageEndorserRow): Promise<void>;
  deleteEndorser(tenant: string, name: string): Promise<boolean>;
  imageEntries(tenant: string): Promise<ImageEntryRow[]>;
  imageEntry(tenant: string, id: string): Promise<ImageEntryRow | undefined>;
  putImageEntry(row: ImageEntryRow): Promise<void>;
  revokeImageEntry(tenant: string, id: string, at: number, by: string): Promise<boolean>;
  imagePolicies(tenant?: string): Promise<ImagePolicyRow[]>;
  putImagePolicy(row: ImagePolicyRow): Promise<void>;
  deleteImagePolicy(tenant: string, cloud: string): Promise<boolean>;

  /** The tenant's limits and use; absent before anything was set or reserved. */
  quota(tenant: string): Promise<QuotaUsageRow | undefined>;
  setQuotaLimits(tenant: string, limits: QuotaLimits, now: number): Promise<void>;
  reservations(tenant: string): Promise<QuotaReservationRow[]>;
  /** The guarded op reserving `use` (and one deployment) for `deployment`; see the file comment. */
  reserveQuota(tenant: string, deployment: string, use: QuotaUse, now: number, refuse: (r: QuotaRefusal) => Error): Op;
  /** Gives back what a deployment reserved (it is gone). */
  releaseQuota(deployment: string): Op;

  pools(tenant: string): Promise<AddressPoolRow[]>;
  pool(tenant: string, name: string): Promise<AddressPoolRow | undefined>;
  putPool(row: AddressPoolRow): Promise<void>;
  deletePool(tenant: string, name: string): Promise<boolean>;
  leases(tenant: string, pool?: string): Promise<AddressLeaseRow[]>;
  /**
   * The node's address in the pool: the one it already has (a hold of its key is taken back),
   * else one held for its deployment (the hold ending soonest), else `pick` chooses among the addresses not leased or held (expired holds are freed
   * first). Resolves undefined when `pick` finds none. Throws on a concurrent insert of the same
   * address (the caller tries again).
   */
  leaseAddress(tenant: string, pool: string, deployment: string, nodeKey: string, now: number, pick: (taken: ReadonlySet<string>) => string | undefined): Promise<AddressLeaseRow | undefined>;
  /** Holds every lease of a node until `until`; resolves with the rows held. */
  holdNode(nodeKey: string, until: number): Promise<AddressLeaseRow[]>;
  /** Holds every lease of a deployment (forgotten with its nodes) until `until`; resolves with the rows held. */
  holdDeployment(deployment: string, until: number): Promise<AddressLeaseRow[]>;
  /** Holds one address until `until`; false when it is not leased. */
  holdAddress(tenant: string, pool: string, address: string, until: number): Promise<boolean>;
  releaseAddress(tenant: string, pool: string, address: string): Promise<boolean>;
  /** Frees the holds that ended at or before `now`; resolves with them. */
  expireHolds(now: number): Promise<AddressLeaseRow[]>;
}

const USE_COLUMNS = [
  { quota: 'nodes', used: 'nodes', max: 'max_nodes' },
  { quota: 'cores', used: 'cores', max: 'max_cores' },
  { quota: 'memory', used: 'memory_mib', max: 'max_memory_mib' },
  { quota: 'deployments', used: 'deployments', max: 'max_deployments' },
] as const;

async function ensureUsageRow(trx: Transaction<Database>, tenant: string, now: number): Promise<void> {
  await trx.insertInto('quota_usage').values({
    tenant, max_nodes: null, max_cores: null, max_memory_mib: null, max_deployments: null, nodes: 0, cores: 0, memory_mib: 0, deployments: 0, updated_at: now,
  }).onConflict((oc) => oc.column('tenant').doNothing()).execute();
}

/** The first quota the change passes, read after a refused UPDATE (the row is locked by then). */
function firstPassed(row: QuotaUsageRow, delta: Record<(typeof USE_COLUMNS)[number]['used'], number>, want: Record<(typeof USE_COLUMNS)[number]['used'], number>): Omit<QuotaRefusal, 'tenant'> | undefined {
  for (const c of USE_COLUMNS) {
    const max = row[c.max];
    const d = delta[c.used];
    if (d > 0 && max !== null && Number(row[c.used]) + d > Number(max)) {
      return { quota: c.quota, limit: Number(max), used: Number(row[c.used]) - (want[c.used] - d), requested: want[c.used] };
    }
  }
  return undefined;
}

function reserveOp(tenant: string, deployment: string, use: QuotaUse, now: number, refuse: (r: QuotaRefusal) => Error): Op {
  return async (trx) => {
    await ensureUsageRow(trx, tenant, now);
    // the row lock (PostgreSQL) makes the read of the previous reservation below current
    await trx.updateTable('quota_usage').set({ updated_at: now }).where('tenant', '=', tenant).execute();
    const old = await trx.selectFrom('quota_reservations').selectAll().where('deployment', '=', deployment).executeTakeFirst();
    const want = { nodes: use.nodes, cores: use.cores, memory_mib: use.memoryMiB, deployments: 1 };
    const delta = {
      nodes: use.nodes - Number(old?.nodes ?? 0), cores: use.cores - Number(old?.cores ?? 0), memory_mib: use.memoryMiB - Number(old?.memory_mib ?? 0), deployments: old ? 0 : 1,
    };
    let q = trx.updateTable('quota_usage').set((eb) => ({
      nodes: eb('nodes', '+', delta.nodes), cores: eb('cores', '+', delta.cores), memory_mib: eb('memory_mib', '+', delta.memory_mib), deployments: eb('deployments', '+', delta.deployments),
    })).where('tenant', '=', tenant);
    // a dimension that does not grow is never refused (a lowered limit must not block a scale-in)
    for (const c of USE_COLUMNS) {
      const d = delta[c.used];
      if (d > 0) q = q.where((eb) => eb.or([eb(c.max, 'is', null), eb(eb(c.used, '+', d), '<=', eb.ref(c.max))]));
    }
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      const row = await trx.selectFrom('quota_usage').selectAll().where('tenant', '=', tenant).executeTakeFirstOrThrow();
      const passed = firstPassed(row, delta, want) ?? { quota: 'nodes' as const, limit: Number(row.max_nodes ?? 0), used: Number(row.nodes), requested: use.nodes };
      throw refuse({ tenant, ...passed });
    }
    const resv = { deployment, tenant, nodes: use.nodes, cores: use.cores, memory_mib: use.memoryMiB };
    await trx.insertInto('quota_reservations').values(resv).onConflict((oc) => oc.column('deployment').doUpdateSet(resv)).execute();
  };
}

function releaseOp(deployment: string): Op {
  return async (trx) => {
    const old = await trx.selectFrom('quota_reservations').selectAll().where('deployment', '=', deployment).executeTakeFirst();
    if (!old) return;
    await trx.updateTable('quota_usage').set((eb) => ({
      nodes: eb('nodes', '-', Number(old.nodes)), cores: eb('cores', '-', Number(old.cores)), memory_mib: eb('memory_mib', '-', Number(old.memory_mib)), deployments: eb('deployments', '-', 1),
    })).where('tenant', '=', old.tenant).execute();
    await trx.deleteFrom('quota_reservations').where('deployment', '=', deployment).execute();
  };
}

export function createPolicyRepo(db: Kysely<Database>): PolicyRepo {
  const deleted = (r: { numDeletedRows: bigint }): boolean => Number(r.numDeletedRows) > 0;
  return {
    endorsers: (tenant) => db.selectFrom('image_endorsers').selectAll().where('tenant', '=', tenant).orderBy('name').execute(),
    async putEndorser(row) {
      await db.insertInto('image_endorsers').values(row).onConflict((oc) => oc.columns(['tenant', 'name']).doUpdateSet(row)).execute();
    },
    deleteEndorser: async (tenant, name) => deleted(await db.deleteFrom('image_endorsers').where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst()),
    imageEntries: (tenant) => db.selectFrom('image_entries').selectAll().where('tenant', '=', tenant).orderBy('id').execute(),
    imageEntry: (tenant, id) => db.selectFrom('image_entries').selectAll().where('tenant', '=', tenant).where('id', '=', id).executeTakeFirst(),
    async putImageEntry(row) {
      await db.insertInto('image_entries').values(row).onConflict((oc) => oc.columns(['tenant', 'id']).doUpdateSet(row)).execute();
    },
    async revokeImageEntry(tenant, id, at, by) {
      const r = await db.updateTable('image_entries').set({ revoked_at: at, revoked_by: by }).where('tenant', '=', tenant).where('id', '=', id).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    imagePolicies(tenant) {
      let q = db.selectFrom('image_policies').selectAll();
      if (tenant !== undefined) q = q.where('tenant', '=', tenant);
      return q.orderBy('tenant').orderBy('cloud').execute();
    },
    async putImagePolicy(row) {
      await db.insertInto('image_policies').values(row).onConflict((oc) => oc.columns(['tenant', 'cloud']).doUpdateSet(row)).execute();
    },
    deleteImagePolicy: async (tenant, cloud) => deleted(await db.deleteFrom('image_policies').where('tenant', '=', tenant).where('cloud', '=', cloud).executeTakeFirst()),

    quota: (tenant) => db.selectFrom('quota_usage').selectAll().where('tenant', '=', tenant).executeTakeFirst(),
    async setQuotaLimits(tenant, l, now) {
      await db.transaction().execute(async (trx) => {
        await ensureUsageRow(trx, tenant, now);
        await trx.updateTable('quota_usage').set({ max_nodes: l.nodes, max_cores: l.cores, max_memory_mib: l.memoryMiB, max_deployments: l.deployments, updated_at: now }).where('tenant', '=', tenant).execute();
      });
    },
    reservations: (tenant) => db.selectFrom('quota_reservations').selectAll().where('tenant', '=', tenant).orderBy('deployment').execute(),
    reserveQuota: reserveOp,
    releaseQuota: releaseOp,

    pools: (tenant) => db.selectFrom('address_pools').selectAll().where('tenant', '=', tenant).orderBy('name').execute(),
    pool: (tenant, name) => db.selectFrom('address_pools').selectAll().where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst(),
    async putPool(row) {
      await db.insertInto('address_pools').values(row).onConflict((oc) => oc.columns(['tenant', 'name']).doUpdateSet(row)).execute();
    },
    deletePool: async (tenant, name) => deleted(await db.deleteFrom('address_pools').where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst()),
    leases(tenant, pool) {
      let q = db.selectFrom('address_leases').selectAll().where('tenant', '=', tenant);
      if (pool !== undefined) q = q.where('pool', '=', pool);
      return q.orderBy('pool').orderBy('address').execute();
    },
    leaseAddress(tenant, pool, deployment, nodeKey, now, pick) {
      return db.transaction().execute(async (trx) => {
        const mine = await trx.selectFrom('address_leases').selectAll().where('tenant', '=', tenant).where('pool', '=', pool).where('node_key', '=', nodeKey).executeTakeFirst();
        if (mine) {
          if (mine.state === 'leased') return mine;
          const back = { ...mine, state: 'leased', held_until: null, leased_at: now };
          await trx.updateTable('address_leases').set({ state: 'leased', held_until: null, leased_at: now }).where('tenant', '=', tenant).where('pool', '=', pool).where('address', '=', mine.address).execute();
          return back;
        }
        await trx.deleteFrom('address_leases').where('tenant', '=', tenant).where('pool', '=', pool).where('state', '=', 'held').where('held_until', '<=', now).execute();
        // an address held for this deployment goes to its new node first (the hold ending soonest)
        const kept = await trx.selectFrom('address_leases').selectAll().where('tenant', '=', tenant).where('pool', '=', pool).where('deployment', '=', deployment).where('state', '=', 'held')
          .orderBy('held_until').orderBy('address').executeTakeFirst();
        if (kept) {
          await trx.updateTable('address_leases').set({ node_key: nodeKey, state: 'leased', held_until: null, leased_at: now }).where('tenant', '=', tenant).where('pool', '=', pool).where('address', '=', kept.address).execute();
          return { ...kept, node_key: nodeKey, state: 'leased', held_until: null, leased_at: now };
        }
        const taken = new Set((await trx.selectFrom('address_leases').select('address').where('tenant', '=', tenant).where('pool', '=', pool).execute()).map((r) => r.address));
        const address = pick(taken);
        if (address === undefined) return undefined;
        const row: AddressLeaseRow = { tenant, pool, address, deployment, node_key: nodeKey, state: 'leased', leased_at: now, held_until: null };
        await trx.insertInto('address_leases').values(row).execute();
        return row;
      });
    },
    async holdNode(nodeKey, until) {
      return db.transaction().execute(async (trx) => {
        const rows = await trx.selectFrom('address_leases').selectAll().where('node_key', '=', nodeKey).where('state', '=', 'leased').execute();
        await trx.updateTable('address_leases').set({ state: 'held', held_until: until }).where('node_key', '=', nodeKey).where('state', '=', 'leased').execute();
        return rows.map((r) => ({ ...r, state: 'held', held_until: until }));
      });
    },
    async holdDeployment(deployment, until) {
      return db.transaction().execute(async (trx) => {
        const rows = await trx.selectFrom('address_leases').selectAll().where('deployment', '=', deployment).where('state', '=', 'leased').execute();
        await trx.updateTable('address_leases').set({ state: 'held', held_until: until }).where('deployment', '=', deployment).where('state', '=', 'leased').execute();
        return rows.map((r) => ({ ...r, state: 'held', held_until: until }));
      });
    },
    async holdAddress(tenant, pool, address, until) {
      const r = await db.updateTable('address_leases').set({ state: 'held', held_until: until }).where('tenant', '=', tenant).where('pool', '=', pool).where('address', '=', address).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    releaseAddress: async (tenant, pool, address) =>
      deleted(await db.deleteFrom('address_leases').where('tenant', '=', tenant).where('pool', '=', pool).where('address', '=', address).executeTakeFirst()),
    expireHolds(now) {
      return db.transaction().execute(async (trx) => {
        const rows = await trx.selectFrom('address_leases').selectAll().where('state', '=', 'held').where('held_until', '<=', now).execute();
        await trx.deleteFrom('address_leases').where('state', '=', 'held').where('held_until', '<=', now).execute();
        return rows;
      });
    },
  };
}
