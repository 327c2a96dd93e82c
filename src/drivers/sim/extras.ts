/**
 * The sim cloud's billed extras (issue 11 item 5): volumes, VLANs, floating IPs… made with each
 * server (`extras: [volume, vlan]`, tagged like the server and attached to it) or on their own
 * (`add`, as a person in the provider's console would), listed by `listResources` and deleted by
 * `deleteResource`. Deleting a server deletes its extras in the same transaction — except the
 * kinds in `leakOnDelete`, which the provider "forgets", as CloudSigma's billing did with private
 * VLANs of deleted servers (seed 000 §6.5): they stay, and keep billing, until deleted on their own.
 *
 * Rows live in the cloud's own SQLite file beside the servers, so several SimCloud objects over
 * one file see the same extras.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../clock/index.js';
import type { ResourceKind } from '../driver.js';
import { RESOURCE_KINDS } from '../driver.js';
import type { Prng } from './prng.js';

export interface SimExtra {
  kind: ResourceKind;
  id: string;
  tags: Record<string, string>;
  /** The server it was made with. */
  node?: string;
  createdAt: number;
  deletedAt?: number;
  sizeGiB?: number;
  pricePerHour?: number;
}

export interface SimExtrasModel {
  /** Kinds made with every server. Default none. */
  extras?: ResourceKind[];
  /** Kinds the provider forgets to delete with their server (the fault). Default none. */
  leakOnDelete?: ResourceKind[];
  /** Price per hour of each kind (the cloud's currency), answered by listResources. */
  extraPrices?: Partial<Record<ResourceKind, number>>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS extras (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  tags TEXT NOT NULL,
  node TEXT,
  size_gib INTEGER,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX IF NOT EXISTS extras_node ON extras (node) WHERE deleted_at IS NULL;
`;

interface Row {
  id: string;
  kind: ResourceKind;
  tags: string;
  node: string | null;
  size_gib: number | null;
  created_at: number;
  deleted_at: number | null;
}

/** Kinds that have a size (10 GiB in the sim). */
const SIZED: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['volume', 'snapshot', 'image']);
const PREFIX: Record<ResourceKind, string> = { volume: 'vol', snapshot: 'snap', 'floating-ip': 'fip', port: 'port', 'security-group': 'sg', vlan: 'vlan', image: 'img' };

export class SimExtras {
  private readonly q;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly prng: Prng,
    private readonly model: SimExtrasModel,
  ) {
    db.exec(SCHEMA);
    this.q = {
      insert: db.prepare('INSERT INTO extras (id, kind, tags, node, size_gib, created_at) VALUES (@id, @kind, @tags, @node, @size_gib, @created_at)'),
      live: db.prepare<[], Row>('SELECT id, kind, tags, node, size_gib, created_at, deleted_at FROM extras WHERE deleted_at IS NULL ORDER BY seq'),
      all: db.prepare<[], Row>('SELECT id, kind, tags, node, size_gib, created_at, deleted_at FROM extras ORDER BY seq'),
      ofNode: db.prepare<[string], { id: string; kind: ResourceKind }>('SELECT id, kind FROM extras WHERE node = ? AND deleted_at IS NULL'),
      remove: db.prepare('UPDATE extras SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
      nextSeq: db.prepare<[], { n: number }>('SELECT coalesce(max(seq), 0) + 1 AS n FROM extras'),
    };
  }

  /** Makes the extras of a new server (inside the server's insert transaction). */
  madeWith(serverId: string, tags: Record<string, string>, at: number): void {
    for (const kind of this.model.extras ?? []) this.insert(kind, tags, serverId, at);
  }

  /** Deletes the extras of a deleted server, but the kinds the provider forgets. */
  deletedWith(serverId: string, at: number): void {
    const forget = new Set(this.model.leakOnDelete ?? []);
    for (const r of this.q.ofNode.all(serverId)) if (!forget.has(r.kind)) this.q.remove.run(at, r.id);
  }

  /** An extra made on its own (no server), as from the provider's console. */
  add(kind: ResourceKind, tags: Record<string, string> = {}, node?: string): SimExtra {
    const at = this.clock.now();
    const id = this.insert(kind, tags, node, at);
    return this.toExtra({ id, kind, tags: JSON.stringify(tags), node: node ?? null, size_gib: SIZED.has(kind) ? 10 : null, created_at: at, deleted_at: null });
  }

  private insert(kind: ResourceKind, tags: Record<string, string>, node: string | undefined, at: number): string {
    if (!(RESOURCE_KINDS as readonly string[]).includes(kind)) throw new RangeError(`unknown resource kind ${kind}`);
    // the row number keeps ids unique across SimCloud objects over one file (their PRNGs may agree)
    const id = `${PREFIX[kind]}-${this.prng.hex(8)}-${(this.q.nextSeq.get()?.n ?? 1).toString(16).padStart(4, '0')}`;
    this.q.insert.run({ id, kind, tags: JSON.stringify(tags), node: node ?? null, size_gib: SIZED.has(kind) ? 10 : null, created_at: at });
    return id;
  }

  /** Extras not deleted, oldest first. */
  live(): SimExtra[] {
    return this.q.live.all().map((r) => this.toExtra(r));
  }

  /** Every extra ever made, deleted ones included. */
  all(): SimExtra[] {
    return this.q.all.all().map((r) => this.toExtra(r));
  }

  /** Deletes one; a missing or deleted id is fine. Returns whether it was live. */
  remove(id: string): boolean {
    return this.q.remove.run(this.clock.now(), id).changes > 0;
  }

  private toExtra(r: Row): SimExtra {
    const e: SimExtra = { kind: r.kind, id: r.id, tags: JSON.parse(r.tags) as Record<string, string>, createdAt: r.created_at };
    if (r.node !== null) e.node = r.node;
    if (r.deleted_at !== null) e.deletedAt = r.deleted_at;
    if (r.size_gib !== null) e.sizeGiB = r.size_gib;
    const price = this.model.extraPrices?.[r.kind];
    if (price !== undefined) e.pricePerHour = price;
    return e;
  }
}
