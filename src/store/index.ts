/**
 * store — persistence behind small repository functions; the only place that speaks SQL.
 * SQLite (better-sqlite3) by default, through Kysely so the same schema and queries run on
 * PostgreSQL later. Writes are group-committed: everything queued in one event-loop turn
 * lands in one transaction, and each caller's promise resolves only after that commit, so
 * "persist the intent, then call the cloud" holds without paying a transaction per row.
 */
import crypto from 'node:crypto';
import { Migrator, type Migration, type MigrationProvider, type Transaction, type Selectable, type Insertable } from 'kysely';
import { migrations } from './migrations.js';
import type { Database, DeploymentTable, NodeTable, InstanceTable, EventTable, StepRunTable, ArtefactTable } from './schema.js';
import { createRegistryRepo, type RegistryRepo } from './registry.js';
import { createMetricObjectRepo, type MetricObjectRepo } from './metric-objects.js';
import { createWorkflowRepo, type WorkflowRepo } from './workflows.js';
import { createOperationRepo, type OperationRepo } from './operations.js';
import { createBackupRepo, type BackupRepo } from './backups.js';
import { createAccessRepo, type AccessRepo } from './access.js';
import { createAlertRepo, type AlertRepo } from './alerts.js';
import type { StatementCacheStats } from './statement-cache.js';
import type { StoreBackend, StoreDialect } from './backend.js';
import { openSqliteBackend } from './sqlite.js';
import { isPostgresUrl, openPostgresBackend } from './postgres.js';
import { createRecoveryRepo, type RecoveryRepo } from './recovery.js';
import { pruneEvents, type EventPrune } from './events-prune.js';
import { createUserRepo, type UserRepo } from './users.js';
import { createCatalogRepo, type CatalogRepo } from './catalog.js';

export type { EventPrune } from './events-prune.js';

export type DeploymentRow = Selectable<DeploymentTable>;
export type NodeRow = Selectable<NodeTable>;
export type InstanceRow = Selectable<InstanceTable>;
export type EventRow = Selectable<EventTable>;
export type NewEventRow = Insertable<EventTable>;
export type StepRunRow = Selectable<StepRunTable>;
export type ArtefactRow = Selectable<ArtefactTable>;

/** One write, run inside the group transaction. */
export type WriteOp = (trx: Transaction<Database>) => Promise<unknown>;

export interface EventFilter {
  /** Only events this tenant may see. Absent: every tenant's (the control plane's own use). */
  tenant?: string;
  deployment?: string;
  kind?: string;
  /** Only events with id greater than this. */
  afterId?: number;
  correlationId?: string;
  /** Only events about this resource (any of these). */
  target?: string | string[];
  limit?: number;
  /** The newest `limit` events that match (still returned oldest first); default: the oldest. */
  newest?: boolean;
}

export interface Store {
  /** A stable random id for this control plane; tags cloud resources as their owner. */
  installationId(): Promise<string>;
  /** Queues writes; resolves once they are committed (with whatever else shares the turn). */
  write(...ops: WriteOp[]): Promise<void>;

  putDeployment(row: DeploymentRow): WriteOp;
  deleteDeployment(name: string): WriteOp;
  replaceArtefacts(deployment: string, files: { path: string; content: Buffer; mode: number }[]): WriteOp;
  putNode(row: NodeRow): WriteOp;
  deleteNode(key: string): WriteOp;
  putInstance(row: InstanceRow): WriteOp;
  deleteInstance(key: string): WriteOp;
  putStepRun(row: Omit<StepRunRow, 'id'>): WriteOp;
  /** Appends events; ids are assigned by the store, and written back onto the rows. */
  appendEvents(rows: (NewEventRow & { id?: number })[]): WriteOp;

  loadDeployments(): Promise<DeploymentRow[]>;
  loadNodes(): Promise<NodeRow[]>;
  loadInstances(): Promise<InstanceRow[]>;
  artefacts(deployment: string): Promise<ArtefactRow[]>;
  stepRuns(deployment: string, instance: string, step?: string): Promise<StepRunRow[]>;
  events(filter: EventFilter): Promise<EventRow[]>;
  lastEventId(): Promise<number>;
  /** Deletes events past the retention (./events-prune.ts), one batch per rule; resolves with the counts. */
  pruneEvents(p: EventPrune): Promise<{ byAge: number; byCount: number }>;

  /** Stores a token's hash (never the token); the tenant defaults to `default`. */
  createToken(name: string, hash: string, tenant?: string): Promise<void>;
  /** The name of the token with this sha256 hash, or undefined. */
  tokenName(hash: string): Promise<string | undefined>;
  /** The name and tenant of the token with this sha256 hash, or undefined. */
  tokenOwner(hash: string): Promise<{ name: string; tenant: string } | undefined>;
  /** Whether a token of this name exists in the tenant. */
  tokenExists(name: string, tenant: string): Promise<boolean>;
  tokenCount(): Promise<number>;

  /** Registries, sealed credentials and provider-call accounting (./registry.ts). */
  readonly registry: RegistryRepo;
  /** Metric definitions, rules and schedules created at run time (./metric-objects.ts). */
  readonly metricObjects: MetricObjectRepo;
  /** Loaded workflows, their files, node states and task output (./workflows.ts). */
  readonly workflows: WorkflowRepo;
  /** Custom operation runs and their instances' output (./operations.ts). */
  readonly operations: OperationRepo;
  /** Access delivery: first ready, credentials shown (./access.ts). */
  readonly access: AccessRepo;
  /** Alert rules and channels made at run time, alerts and their deliveries (./alerts.ts). */
  readonly alerts: AlertRepo;
  /** Recovery ladders of instances (./recovery.ts). */
  readonly recovery: RecoveryRepo;
  /** Backups, restores and restore drills (./backups.ts). */
  readonly backups: BackupRepo;
  /** Users, roles per tenant, browser sessions, tokens' roles (./users.ts). */
  readonly users: UserRepo;
  /** The service catalog's templates and orders (./catalog.ts). */
  readonly catalog: CatalogRepo;

  /** Which database is underneath. */
  readonly dialect: StoreDialect;
  /** How often SQL was compiled versus reused from the prepared-statement cache (./statement-cache.ts; zeros on PostgreSQL). */
  statementStats(): StatementCacheStats;

  close(): Promise<void>;
}

export interface StoreOptions {
  /** SQLite file path, ':memory:', or a PostgreSQL URL (`postgres://user:password@host:port/database`). */
  path: string;
}

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** Opens (creating if needed) and migrates the store. Fails with the connection's or the migration's error. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const backend = isPostgresUrl(opts.path) ? await openPostgresBackend(opts.path) : openSqliteBackend(opts.path);
  const { db } = backend;
  // Unordered: migrations land from parallel work, so a store may have run 0024 before 0022 was written.
  const migrator = new Migrator({ db, provider: new InCodeMigrations(), allowUnorderedMigrations: true });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await backend.close().catch(() => {});
    throw error;
  }

  let queue: { ops: WriteOp[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  /** A group commit through the query builder not yet committed: later batches wait for it (writes land in order). */
  let running: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    scheduled = false;
    while (running) await running;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    // SQLite's fast path: a batch of hot writes only, committed without the query builder
    let direct: boolean;
    try {
      direct = backend.commitDirect(batch.flatMap((item) => item.ops));
    } catch (e) {
      for (const item of batch) item.reject(e);
      return;
    }
    if (direct) {
      for (const item of batch) item.resolve();
      return;
    }
    const p = (async () => {
      try {
        await db.transaction().execute(async (trx) => {
          for (const item of batch) for (const op of item.ops) await op(trx);
        });
        for (const item of batch) item.resolve();
      } catch (e) {
        for (const item of batch) item.reject(e);
      }
    })();
    running = p;
    try {
      await p;
    } finally {
      if (running === p) running = undefined;
    }
  };

  let cachedId: string | undefined;

  const store: Store = {
    async installationId() {
      if (cachedId) return cachedId;
      const row = await db.selectFrom('meta').select('value').where('key', '=', 'installation_id').executeTakeFirst();
      if (row) return (cachedId = row.value);
      const id = crypto.randomBytes(6).toString('hex');
      await db.insertInto('meta').values({ key: 'installation_id', value: id }).execute();
      return (cachedId = id);
    },
    write(...ops) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ ops, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => void flush());
        }
      });
    },
    dialect: backend.dialect,
    putDeployment: (row) => backend.put('deployments', row, row.name),
    deleteDeployment: (name) => async (trx) => {
      await trx.deleteFrom('artefacts').where('deployment', '=', name).execute();
      await trx.deleteFrom('deployment_access').where('deployment', '=', name).execute();
      await trx.deleteFrom('deployments').where('name', '=', name).execute();
    },
    replaceArtefacts: (deployment, files) => async (trx) => {
      await trx.deleteFrom('artefacts').where('deployment', '=', deployment).execute();
      for (const f of files) await trx.insertInto('artefacts').values({ deployment, path: f.path, content: f.content, mode: f.mode }).execute();
    },
    putNode: (row) => backend.put('nodes', row, row.key),
    deleteNode: (key) => backend.del('nodes', key),
    putInstance: (row) => backend.put('instances', row, row.key),
    deleteInstance: (key) => backend.del('instances', key),
    putStepRun: (row) => backend.append('step_runs', [{ ...row }]),
    appendEvents: (rows) => backend.append('events', rows),
    loadDeployments: () => db.selectFrom('deployments').selectAll().execute(),
    loadNodes: () => db.selectFrom('nodes').selectAll().execute(),
    loadInstances: () => db.selectFrom('instances').selectAll().execute(),
    artefacts: (deployment) => db.selectFrom('artefacts').selectAll().where('deployment', '=', deployment).orderBy('path').execute(),
    stepRuns(deployment, instance, step) {
      let q = db.selectFrom('step_runs').selectAll().where('deployment', '=', deployment).where('instance', '=', instance);
      if (step) q = q.where('step', '=', step);
      return q.orderBy('id').execute();
    },
    events(f) {
      let q = db.selectFrom('events').selectAll();
      if (f.tenant !== undefined) q = q.where('tenant', '=', f.tenant);
      if (f.deployment !== undefined) q = q.where('deployment', '=', f.deployment);
      if (f.kind !== undefined) q = f.kind.endsWith('*') ? q.where('kind', 'like', f.kind.slice(0, -1) + '%') : q.where('kind', '=', f.kind);
      if (f.afterId !== undefined) q = q.where('id', '>', f.afterId);
      if (f.correlationId !== undefined) q = q.where('correlation_id', '=', f.correlationId);
      if (f.target !== undefined) q = typeof f.target === 'string' ? q.where('target', '=', f.target) : q.where('target', 'in', f.target);
      if (f.newest) return q.orderBy('id', 'desc').limit(f.limit ?? 1000).execute().then((rows) => rows.reverse());
      return q.orderBy('id').limit(f.limit ?? 1000).execute();
    },
    async pruneEvents(p) {
      let out = { byAge: 0, byCount: 0 };
      await store.write(async (trx) => (out = await pruneEvents(trx, p)));
      return out;
    },
    async lastEventId() {
      const row = await db.selectFrom('events').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
      return Number(row?.m ?? 0);
    },
    async createToken(name, hash, tenant = 'default') {
      await db.insertInto('tokens').values({ id: crypto.randomUUID(), name, hash, tenant, created_at: Date.now() }).execute();
    },
    async tokenOwner(hash) {
      return await db.selectFrom('tokens').select(['name', 'tenant']).where('hash', '=', hash).executeTakeFirst();
    },
    async tokenExists(name, tenant) {
      return (await db.selectFrom('tokens').select('id').where('name', '=', name).where('tenant', '=', tenant).executeTakeFirst()) !== undefined;
    },
    async tokenName(hash) {
      return (await db.selectFrom('tokens').select('name').where('hash', '=', hash).executeTakeFirst())?.name;
    },
    async tokenCount() {
      const row = await db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
      return Number(row?.n ?? 0);
    },
    // provider-call accounting joins the group commit as one synchronous op per batch
    registry: { ...createRegistryRepo(db), recordCalls: (rows) => (rows.length === 0 ? Promise.resolve() : store.write(backend.append('driver_calls', rows.map((r) => ({ ...r }))))) },
    metricObjects: createMetricObjectRepo(db),
    workflows: createWorkflowRepo(db),
    operations: createOperationRepo(db),
    access: createAccessRepo(db),
    alerts: createAlertRepo(db),
    recovery: createRecoveryRepo(db),
    backups: createBackupRepo(db),
    users: createUserRepo(db),
    catalog: createCatalogRepo(db),
    statementStats: () => backend.stats(),
    async close() {
      while (queue.length > 0 || scheduled) await flush();
      await backend.close();
    },
  };
  return store;
}

export type { Database } from './schema.js';
export type { StatementCacheStats } from './statement-cache.js';
export type { AccessRepo, AccessRow } from './access.js';
export type { RecoveryRepo, RecoveryStateRow } from './recovery.js';
export type { UserRepo, UserRow, SessionRow, TokenRow } from './users.js';
export type { CatalogRepo, CatalogTemplateRow, CatalogOrderRow } from './catalog.js';
export type { WorkflowRepo, WorkflowRow, WorkflowFileRow, WorkflowNodeRow, WorkflowLogRow } from './workflows.js';
export type { OperationRepo, OperationRunRow, OperationInstanceRunRow } from './operations.js';
export type { BackupRepo, BackupRunRow, BackupRunFilter } from './backups.js';
export type { AlertRepo, AlertRow, AlertObjectRow, AlertDeliveryRow, AlertListFilter } from './alerts.js';
export type { MetricObjectRepo, MetricObjectRow, MetricObjectKind } from './metric-objects.js';
export type { RegistryRepo, RegCloudRow, RegEntryRow, RegEntryKind, CredentialRow, DriverCallRow } from './registry.js';
export { ADMIN_TENANT, deploymentId, splitDeploymentId } from './deployment-ids.js';
export { secureDir, secureFiles } from './file-modes.js';
export { isPostgresUrl, redactStoreUrl } from './postgres.js';
export type { StoreDialect } from './backend.js';
