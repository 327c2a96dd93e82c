/**
 * The sim cloud's inventory in memory: every server row of its file (deleted ones too), in
 * `seq` order, with tags and requirements parsed once, and the live rows indexed by id and by
 * idempotency token. The owning SimCloud updates it with each of its own writes; `sync()`
 * loads it again whenever another connection (a second SimCloud over the same file, a sim
 * server in another process) committed since the last look — SQLite's `PRAGMA data_version`
 * changes exactly then, and never for this connection's own commits.
 */
import type Database from 'better-sqlite3';
import type { NodeRequirements } from '../../model/index.js';

/** A `servers` row as stored: the columns of a cached row. */
export type Row = Omit<CachedRow<unknown>, 'tagMap' | 'reqs' | 'answer'>;

/**
 * A row with its JSON parsed, and what the cloud last answered for it (`A`), by status. A
 * class, so every cached row has one shape: the list walks them all, and property reads on
 * objects of many shapes (what spreading database rows gives) are several times slower.
 */
export class CachedRow<A> implements Row {
  seq: number;
  id: string;
  token: string | null;
  tags: string;
  requirements: string | null;
  address: string;
  created_at: number;
  ready_at: number;
  boot_until: number;
  deleted_at: number | null;
  reboots: number;
  readonly tagMap: Readonly<Record<string, string>>;
  readonly reqs: NodeRequirements | undefined;
  answer: { status: string; value: A } | undefined = undefined;

  constructor(r: Row) {
    this.seq = r.seq;
    this.id = r.id;
    this.token = r.token;
    this.tags = r.tags;
    this.requirements = r.requirements;
    this.address = r.address;
    this.created_at = r.created_at;
    this.ready_at = r.ready_at;
    this.boot_until = r.boot_until;
    this.deleted_at = r.deleted_at;
    this.reboots = r.reboots;
    this.tagMap = Object.freeze(JSON.parse(r.tags) as Record<string, string>);
    this.reqs = r.requirements !== null ? (JSON.parse(r.requirements) as NodeRequirements) : undefined;
  }
}

export class InventoryCache<A> {
  private rows: CachedRow<A>[] = [];
  private readonly byId = new Map<string, CachedRow<A>>();
  /** Live rows by token: the first (lowest seq) of each. */
  private readonly byToken = new Map<string, CachedRow<A>>();
  private live = 0;
  private version: number;
  private readonly dataVersion: Database.Statement<[], number>;
  private readonly readAll: Database.Statement<[], Row>;

  constructor(db: Database.Database) {
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.readAll = db.prepare<[], Row>('SELECT * FROM servers ORDER BY seq');
    this.version = this.dataVersion.get()!;
    this.load();
  }

  /** Loads the rows again if another connection committed since the last look. */
  sync(): void {
    const v = this.dataVersion.get()!;
    if (v === this.version) return;
    this.version = v;
    this.load();
  }

  private load(): void {
    this.rows = [];
    this.byId.clear();
    this.byToken.clear();
    this.live = 0;
    for (const r of this.readAll.all()) this.index(r);
  }

  private index(r: Row): CachedRow<A> {
    const c = new CachedRow<A>(r);
    this.rows.push(c);
    this.byId.set(c.id, c);
    if (c.deleted_at === null) {
      this.live++;
      if (c.token !== null && !this.byToken.has(c.token)) this.byToken.set(c.token, c);
    }
    return c;
  }

  get(id: string): CachedRow<A> | undefined {
    return this.byId.get(id);
  }

  /** The oldest live row made with this idempotency token. */
  liveByToken(token: string): CachedRow<A> | undefined {
    return this.byToken.get(token);
  }

  /** Every row, deleted ones included, oldest first (do not modify). */
  all(): readonly CachedRow<A>[] {
    return this.rows;
  }

  liveCount(): number {
    return this.live;
  }

  /** A row this connection inserted (its seq is the highest: it goes last). */
  inserted(r: Row): CachedRow<A> {
    return this.index(r);
  }

  /** This connection marked the row deleted at `at`. */
  deleted(id: string, at: number): void {
    const r = this.byId.get(id);
    if (!r || r.deleted_at !== null) return;
    r.deleted_at = at;
    r.answer = undefined;
    this.live--;
    if (r.token !== null && this.byToken.get(r.token) === r) {
      this.byToken.delete(r.token);
      // another live row made with the same token (a replay after a delete) takes its place
      const next = this.rows.find((o) => o.token === r.token && o.deleted_at === null);
      if (next) this.byToken.set(r.token, next);
    }
  }

  /** This connection rebooted the row: provisioning until `until`. */
  rebooted(id: string, until: number): void {
    const r = this.byId.get(id);
    if (!r) return;
    r.reboots++;
    r.boot_until = until;
    r.answer = undefined;
  }
}
