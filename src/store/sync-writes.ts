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

/**
 * Which row an op writes: `id` is table and key; `sig` the columns an upsert sets (null: a
 * delete). Within one group commit an upsert that a later op on the same row makes moot (a
 * delete, or an upsert of the same columns) is skipped: the committed state is the same.
 */
export interface RowTarget {
  readonly id: string;
  readonly sig: string | null;
}

/** One write: a query-builder function, or (the hot ones) a synchronous statement run. */
export type SyncWriteOp = ((trx: Transaction<Database>) => Promise<unknown>) & { readonly sync: () => void; readonly row?: RowTarget };

export function isSyncOp(op: (trx: Transaction<Database>) => Promise<unknown>): op is SyncWriteOp {
  return typeof (op as Partial<SyncWriteOp>).sync === 'function';
}

export function syncOp(run: () => void, row?: RowTarget): SyncWriteOp {
  return Object.assign(async () => run(), row ? { sync: run, row } : { sync: run });
}

/** Which ops of a batch to skip: upserts that a later op on the same row overwrites (see RowTarget). */
export function mootUpserts(ops: readonly SyncWriteOp[]): boolean[] {
  const skip = new Array<boolean>(ops.length).fill(false);
  const later = new Map<string, string | null>();
  for (let j = ops.length - 1; j >= 0; j--) {
    const r = ops[j]!.row;
    if (!r) continue;
    const l = later.get(r.id);
    if (r.sig !== null && l !== undefined && (l === null || l === r.sig)) {
      skip[j] = true;
      continue;
    }
    later.set(r.id, r.sig);
  }
  return skip;
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

  /** The upsert of `row` (whose key is `key`) as an op; the row is read now. */
  put(row: object, key: string): SyncWriteOp {
    const { sig, cols, params } = this.split(row);
    const text = this.text(sig, cols);
    return syncOp(() => void this.cache.statement(text).run(params), { id: `${this.table}\0${key}`, sig });
  }
}

/** `delete from <table> where <column> = ?` (the table's key) as an op. */
export function deleteBy(cache: StatementCache, table: string, column: string): (value: string) => SyncWriteOp {
  const text = `delete from ${q(table)} where ${q(column)} = ?`;
  return (value) => syncOp(() => void cache.statement(text).run([value]), { id: `${table}\0${value}`, sig: null });
}
