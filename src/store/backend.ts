/**
 * What differs between the two databases under the store: how a connection is opened and
 * migrated, and how the engine's hot writes (upsert a node, an instance or a deployment, delete
 * one, append step runs, events and provider calls) run. Everything else — the repositories,
 * the group commit — is the same query-builder code on both (./index.ts).
 *
 * SQLite (./sqlite.ts) runs the hot writes as cached prepared statements, synchronously, and a
 * batch made only of them between one BEGIN and COMMIT. PostgreSQL (./postgres.ts) runs them as
 * query-builder statements inside the group commit's transaction.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { StatementCacheStats } from './statement-cache.js';

export type StoreDialect = 'sqlite' | 'postgres';

/** One write, run inside the group transaction. */
export type BackendOp = (trx: Transaction<Database>) => Promise<unknown>;

/** The hot tables the engine writes by key. */
export type KeyedTable = 'nodes' | 'instances' | 'deployments';
/** The append-only tables whose ids the database assigns. */
export type AppendTable = 'events' | 'step_runs' | 'driver_calls';

export interface StoreBackend {
  readonly dialect: StoreDialect;
  readonly db: Kysely<Database>;
  /** The upsert of `row` (whose key is `key`) into a keyed table; the row is read now. */
  put(table: KeyedTable, row: object, key: string): BackendOp;
  /** Deletes the row of a keyed table with this key. */
  del(table: KeyedTable, key: string): BackendOp;
  /** Appends rows; each row's `id` is set to the id the database gave it once the op ran. */
  append(table: AppendTable, rows: (object & { id?: number })[]): BackendOp;
  /**
   * Commits a batch of ops at once when every op can run without the query builder (SQLite's
   * fast path). Returns false when it cannot: the caller runs the batch in a transaction.
   * Throws the first op's error after rolling the batch back.
   */
  commitDirect(ops: readonly BackendOp[]): boolean;
  /** Prepared-statement reuse (SQLite); zeros where the driver keeps its own cache. */
  stats(): StatementCacheStats;
  close(): Promise<void>;
}
