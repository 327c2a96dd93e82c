/**
 * A per-SQL-text cache of prepared statements in front of one better-sqlite3 connection.
 * Kysely's SQLite driver calls `prepare(sql)` for every query it runs; SQLite's compile of a
 * statement costs far more than binding and stepping it, and the engine runs the same few
 * statements (upsert a node, upsert an instance, append an event) thousands of times. The
 * cache hands back the statement prepared the first time. Bounded (the oldest out first),
 * because a few statements vary in text with their row or parameter count; the store has a few
 * dozen distinct texts, so in practice nothing is ever evicted, and a hit costs one lookup.
 *
 * A statement still busy (an iterator left open by a stream) is never handed out twice: the
 * caller then gets a fresh, uncached one.
 */
import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export interface StatementCacheStats {
  /** Statements compiled by SQLite through this cache (misses, plus busy bypasses). */
  prepares: number;
  /** Queries that reused a cached statement. */
  hits: number;
  /** Statements held now. */
  cached: number;
}

export interface CachingDatabase extends SqliteDatabase {
  stats(): StatementCacheStats;
}

/** The default bound: far above the store's distinct statements, far below memory concerns. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 512;

export class StatementCache implements CachingDatabase {
  readonly #db: SQLite.Database;
  readonly #max: number;
  readonly #statements = new Map<string, SQLite.Statement>();
  #prepares = 0;
  #hits = 0;

  constructor(db: SQLite.Database, max = DEFAULT_STATEMENT_CACHE_SIZE) {
    this.#db = db;
    this.#max = Math.max(1, max);
  }

  prepare(sql: string): SqliteStatement {
    return this.statement(sql) as unknown as SqliteStatement;
  }

  /** The cached better-sqlite3 statement for `sql` (the store's own writes run on it directly). */
  statement(sql: string): SQLite.Statement {
    const cached = this.#statements.get(sql);
    if (cached && !cached.busy) {
      this.#hits++;
      return cached;
    }
    this.#prepares++;
    const stmt = this.#db.prepare(sql);
    if (cached) return stmt; // the cached one is mid-iteration; this one is used once
    if (this.#statements.size >= this.#max) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    this.#statements.set(sql, stmt);
    return stmt;
  }

  /** The connection underneath (its transaction state). */
  get inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }

  stats(): StatementCacheStats {
    return { prepares: this.#prepares, hits: this.#hits, cached: this.#statements.size };
  }
}
