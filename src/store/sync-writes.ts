/**
 * The engine's hot writes — upsert a node, an instance or a deployment, delete one, append a
 * step run or events — as cached prepared statements run on the connection directly, without
 * the query builder. Building and compiling a Kysely query costs several times what SQLite
 * needs to bind and step it, and the engine writes these few rows tens of times per instance.
 *
 * Such an op is still a `WriteOp` (inside a query-builder transaction it runs on the same
 * connection, so it joins that transaction); the store's group commit runs a batch made only
 * of them synchronously, between one cached BEGIN and COMMIT (./index.ts).
 */
import type { Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { StatementCache } from './statement-cache.js';

/** One write: a query-builder function, or (the hot ones) a synchronous statement run. */
export type SyncWriteOp = ((trx: Transaction<Database>) => Promise<unknown>) & { readonly sync: () => void };

export function isSyncOp(op: (trx: Transaction<Database>) => Promise<unknown>): op is SyncWriteOp {
  return typeof (op as Partial<SyncWriteOp>).sync === 'function';
}

export function syncOp(run: () => void): SyncWriteOp {
  return Object.assign(async () => run(), { sync: run });
}

type Params = (string | number | bigint | Buffer | null)[];
const q = (id: string): string => `"${id.replace(/"/g, '""')}"`;

/**
 * Statements for rows of a table, by the set of columns a row sets (a column whose value is
 * undefined is left out, as the query builder does: an upsert then keeps its stored value).
 */
export class RowWriter {
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly cache: StatementCache,
    private readonly table: string,
    /** Conflict target of an upsert; absent: a plain insert. */
    private readonly conflict?: readonly string[],
  ) {}

  private split(row: object): { sig: string; cols: string[]; params: Params } {
    const cols: string[] = [];
    const params: Params = [];
    for (const [k, v] of Object.entries(row)) {
      if (v === undefined) continue;
      cols.push(k);
      params.push(v as Params[number]);
    }
    return { sig: cols.join(','), cols, params };
  }

  private text(sig: string, cols: string[]): string {
    let t = this.texts.get(sig);
    if (t === undefined) {
      t = `insert into ${q(this.table)} (${cols.map(q).join(', ')}) values (${cols.map(() => '?').join(', ')})`;
      if (this.conflict) t += ` on conflict (${this.conflict.map(q).join(', ')}) do update set ${cols.map((c) => `${q(c)} = excluded.${q(c)}`).join(', ')}`;
      this.texts.set(sig, t);
    }
    return t;
  }

  /** Runs the insert (or upsert) of `row`; returns the new rowid. */
  run(row: object): number {
    const { sig, cols, params } = this.split(row);
    return Number(this.cache.statement(this.text(sig, cols)).run(params).lastInsertRowid);
  }
}

/** `delete from <table> where <column> = ?` as a cached statement. */
export function deleteBy(cache: StatementCache, table: string, column: string): (value: string) => void {
  const text = `delete from ${q(table)} where ${q(column)} = ?`;
  return (value) => void cache.statement(text).run([value]);
}
