/**
 * The store on PostgreSQL (`--store postgres://…`): the same schema and migrations as SQLite,
 * through Kysely's PostgreSQL dialect over a `pg` pool.
 *
 * The migrations are written once, for both databases; two SQLite types have no PostgreSQL
 * spelling and are rewritten on the way out (./portable-ddl.ts): `integer primary key
 * autoincrement` becomes `bigserial primary key`, every other `integer` a `bigint` (SQLite's
 * integers are 64-bit; PostgreSQL's `integer` is not), and `blob` becomes `bytea`. 64-bit
 * integers come back as numbers (the store's values are timestamps in ms and counters, far
 * below 2^53), never as strings.
 */
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { NubisError } from '../errors/index.js';
import type { Database } from './schema.js';
import { PortableDdl } from './portable-ddl.js';
import { fenceSetting, isFencedError, type Fence } from './leases.js';
import type { AppendTable, BackendOp, KeyedTable, StoreBackend } from './backend.js';
import { linkRowsInTransaction, type ChainedFields } from './event-chain.js';

const KEYS: Record<KeyedTable, string> = { nodes: 'key', instances: 'key', deployments: 'name' };
const INT8 = 20;

/** The row without its undefined fields (left out, as the SQLite writer does: an upsert then keeps the stored value). */
function defined(row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (v !== undefined) out[k] = v;
  return out;
}

/** Whether a store location names a PostgreSQL database. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** The URL without its password, for messages. */
export function redactStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** SQLSTATE classes that no retry fixes: authentication (28), a missing database or role (3D, 42704). */
const permanent = (code: unknown): boolean => typeof code === 'string' && (code.startsWith('28') || code.startsWith('3D'));

/**
 * Connects a pool to the database at `url`. Fails with STORE_UNAVAILABLE when the first connection
 * fails: retryable when the server did not answer, not when it refused (wrong password, no such database).
 */
export interface PostgresBackendOptions {
  /** Every session carries this fence (`nubis.fence`), which the fence trigger checks (./leases.ts). */
  fence?: Fence;
  /** Called when the database refused a statement as fenced. */
  onFenced?: () => void;
  /** Session limits: a paused or cut-off process's transaction ends instead of holding locks. */
  sessionLimits?: { idleInTransactionMs: number; lockMs: number; statementMs: number };
}

export async function openPostgresBackend(url: string, o: PostgresBackendOptions = {}): Promise<StoreBackend> {
  const limits = o.sessionLimits;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: { getTypeParser: (oid: number, format?: string) => (oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) },
    ...(limits ? { idle_in_transaction_session_timeout: limits.idleInTransactionMs, lock_timeout: limits.lockMs, statement_timeout: limits.statementMs } : {}),
  });
  // an idle client's error (the server restarted) must not crash the process; the next query fails instead
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    // a killed connection (pg_terminate_backend, a cut network) fails its query; it must not crash the process
    client.on('error', () => {});
    // queued before any query of whoever checked the client out
    if (o.fence) client.query(`select set_config('nubis.fence', $1, false)`, [fenceSetting(o.fence)]).catch(() => {});
  });
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => {});
    const code = (e as { code?: unknown }).code;
    throw new NubisError('STORE_UNAVAILABLE', `cannot open the store at ${redactStoreUrl(url)}: ${e instanceof Error ? e.message : String(e)}`, { retryable: !permanent(code), cause: e });
  }
  const onFenced = o.onFenced;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }), plugins: [new PortableDdl()],
    ...(onFenced ? { log: (e: { level: string; error?: unknown }) => void (e.level === 'error' && isFencedError(e.error) && onFenced()) } : {}),
  });
  const t = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  return {
    dialect: 'postgres',
    db,
    put: (table, row, _key) => {
      const values = defined(row);
      return (trx) =>
        (trx as unknown as typeof t).insertInto(table).values(values).onConflict((oc) => oc.column(KEYS[table]).doUpdateSet(values)).execute();
    },
    del: (table, key) => (trx) => (trx as unknown as typeof t).deleteFrom(table).where(KEYS[table], '=', key).execute(),
    append: (table: AppendTable, rows) => async (trx) => {
      // the audit chain (./event-chain.ts): serialised on an advisory lock, linked to the head read under it
      if (table === 'events') await linkRowsInTransaction(trx, rows as unknown as ChainedFields[]);
      for (const r of rows) {
        const { id: _ignored, ...values } = r;
        const out = await (trx as unknown as typeof t).insertInto(table).values(defined(values)).returning('id').executeTakeFirstOrThrow();
        r.id = Number(out.id);
      }
    },
    commitDirect: (_ops: readonly BackendOp[]) => false,
    stats: () => ({ prepares: 0, hits: 0, cached: 0 }),
    close: () => db.destroy(),
  };
}
