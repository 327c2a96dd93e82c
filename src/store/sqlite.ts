/**
 * The embedded store's database: one better-sqlite3 connection in WAL mode, with a
 * prepared-statement cache in front of it, and the engine's hot writes as cached statements
 * run synchronously (./sync-writes.ts). A file the server alone may read (./file-modes.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { createPrivateFile, databaseFiles, secureDir, secureFiles } from './file-modes.js';
import { StatementCache } from './statement-cache.js';
import { RowWriter, deleteBy, isSyncOp, mootUpserts, syncOp, type SyncWriteOp } from './sync-writes.js';
import type { AppendTable, BackendOp, KeyedTable, StoreBackend } from './backend.js';
import { anchorKey, linkRows, parseAnchor, type ChainedFields } from './event-chain.js';

const KEYS: Record<KeyedTable, string> = { nodes: 'key', instances: 'key', deployments: 'name' };

/** Opens (creating if needed) the SQLite file, or ':memory:'. */
export function openSqliteBackend(file: string): StoreBackend {
  const onDisk = file !== ':memory:';
  if (onDisk) {
    // the database holds specs (env values), tokens' hashes and sealed credentials: owner only
    if (!fs.existsSync(path.dirname(file))) secureDir(path.dirname(file));
    createPrivateFile(file);
    secureFiles(databaseFiles(file));
  }
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // SQLite gives the WAL and shared-memory files the database's mode; older ones may be looser
  if (onDisk) secureFiles(databaseFiles(file));
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  // Checkpoint the WAL every ~40 MB instead of every ~4 MB: each checkpoint writes back and
  // syncs every page changed since the last one, so under a stream of small commits (the
  // engine bringing thousands of nodes up) rarer checkpoints write each hot page back once
  // instead of many times. Durability is the same (synchronous = NORMAL in WAL mode).
  sqlite.pragma('wal_autocheckpoint = 10000');
  // statements are prepared once per SQL text, not once per query
  const statements = new StatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  const writers = {
    nodes: new RowWriter(statements, 'nodes', ['key']),
    instances: new RowWriter(statements, 'instances', ['key']),
    deployments: new RowWriter(statements, 'deployments', ['name']),
  };
  const appenders: Record<AppendTable, RowWriter> = {
    events: new RowWriter(statements, 'events'),
    step_runs: new RowWriter(statements, 'step_runs'),
    driver_calls: new RowWriter(statements, 'driver_calls'),
  };
  const deleters = {
    nodes: deleteBy(statements, 'nodes', KEYS.nodes),
    instances: deleteBy(statements, 'instances', KEYS.instances),
    deployments: deleteBy(statements, 'deployments', KEYS.deployments),
  };
  // the audit chain (./event-chain.ts): the tenant's head, read inside the writing transaction
  // (prepared on first use: the columns exist only once the migrations ran)
  const head = (tenant: string): string | undefined => {
    const r = statements.statement('select hash from events where tenant = ? order by id desc limit 1').get([tenant]) as { hash: string | null } | undefined;
    if (r?.hash) return r.hash;
    const a = statements.statement('select value from meta where key = ?').get([anchorKey(tenant)]) as { value: string } | undefined;
    return parseAnchor(a?.value)?.hash;
  };
  return {
    dialect: 'sqlite',
    db,
    put: (table, row, key) => writers[table].put(row, key),
    del: (table, key) => deleters[table](key),
    append: (table, rows) =>
      syncOp(() => {
        if (table === 'events') linkRows(rows as unknown as (ChainedFields & { hash?: string | null })[], head);
        for (const r of rows) {
          const { id: _ignored, ...values } = r;
          r.id = appenders[table].run(values);
        }
      }),
    commitDirect(batch: readonly BackendOp[]) {
      // a query-builder transaction of another caller (registry, migrations) holds the connection
      if (statements.inTransaction || !batch.every(isSyncOp)) return false;
      const ops = batch as readonly SyncWriteOp[];
      const skip = mootUpserts(ops);
      statements.statement('begin').run();
      try {
        for (let j = 0; j < ops.length; j++) if (!skip[j]) ops[j]!.sync();
        statements.statement('commit').run();
      } catch (e) {
        if (statements.inTransaction) statements.statement('rollback').run();
        throw e;
      }
      return true;
    },
    stats: () => statements.stats(),
    close: () => db.destroy(),
  };
}
