/**
 * The audit log's hash chain (issue 11 item 8). Each event carries `prev_hash`, the hash of the
 * previous event of the same tenant, and `hash` = sha256 over `prev_hash` and the event's fields
 * (canonical JSON, below), so changing, removing or reordering a stored event breaks the chain
 * at that event (or, when its own hash was recomputed too, at the next one).
 *
 * One chain per tenant, not one global chain: retention prunes each tenant's oldest events
 * (a prefix of its chain), and a tenant can verify its own log without seeing others'. Where a
 * prefix was pruned, `meta.events_anchor:<tenant>` keeps the id and hash of the last pruned
 * event: the first kept event must link to it. Events written before migration 0028 (id ≤
 * `meta.events_chain_from`) are before the chain and not verified.
 *
 * Ordering under concurrent appends: on SQLite the store's one connection writes (the group
 * commit), so appends are serial; on PostgreSQL every append takes a transaction-scoped advisory
 * lock first, so two control planes appending at once are serialised and ids follow chain order.
 */
import crypto from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Insertable } from 'kysely';
import type { Database, EventTable } from './schema.js';

/** The `prev_hash` of a tenant's first chained event. */
export const GENESIS_HASH = '0'.repeat(64);
/** The advisory lock key PostgreSQL appends serialise on. */
export const EVENT_CHAIN_LOCK = 7_274_011;
export const CHAIN_FROM_KEY = 'events_chain_from';
export const anchorKey = (tenant: string): string => `events_anchor:${tenant}`;

/** The fields of an event row the hash covers (all but its id and the chain's own columns). */
export type ChainedFields = Omit<Insertable<EventTable>, 'id' | 'hash' | 'prev_hash'>;

/** sha256 hex over the previous hash and the event's fields (canonical JSON array). */
export function eventHash(prev: string, r: ChainedFields): string {
  const canon = JSON.stringify([prev, Number(r.ts), r.tenant ?? 'default', r.deployment ?? null, r.kind, r.actor, r.reason ?? null, r.correlation_id ?? null, r.target ?? null, r.outcome ?? null, r.data ?? null]);
  return crypto.createHash('sha256').update(canon).digest('hex');
}

/** Where a tenant's chain continues from when it has no kept event: the anchor of pruned ones. */
export interface ChainAnchor {
  /** The id of the last pruned event. */
  id: number;
  hash: string;
}

export function parseAnchor(v: string | undefined | null): ChainAnchor | undefined {
  if (!v) return undefined;
  try {
    const a = JSON.parse(v) as ChainAnchor;
    return typeof a.hash === 'string' && typeof a.id === 'number' ? a : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Links rows in order: each gets `prev_hash` (the tenant's last hash, looked up once per tenant
 * through `last`) and `hash`. `last` answers the hash of the tenant's newest stored event, else
 * its anchor's, else undefined (then the genesis hash).
 */
export function linkRows<R extends ChainedFields & { hash?: string | null; prev_hash?: string | null }>(rows: R[], last: (tenant: string) => string | undefined): void {
  const head = new Map<string, string>();
  for (const r of rows) {
    const t = r.tenant ?? 'default';
    const prev = head.get(t) ?? last(t) ?? GENESIS_HASH;
    r.prev_hash = prev;
    r.hash = eventHash(prev, r);
    head.set(t, r.hash);
  }
}

/** PostgreSQL: the advisory lock, then the tenant's head read inside the same transaction. */
export async function linkRowsInTransaction<R extends ChainedFields & { hash?: string | null; prev_hash?: string | null }>(trx: Transaction<Database> | Kysely<Database>, rows: R[]): Promise<void> {
  await sql`select pg_advisory_xact_lock(${EVENT_CHAIN_LOCK})`.execute(trx);
  const heads = new Map<string, string | undefined>();
  for (const t of new Set(rows.map((r) => r.tenant ?? 'default'))) heads.set(t, await headOf(trx, t));
  linkRows(rows, (t) => heads.get(t));
}

/** The hash the tenant's next event links to: its newest chained event's, else its anchor's. */
export async function headOf(db: Transaction<Database> | Kysely<Database>, tenant: string): Promise<string | undefined> {
  const row = await db.selectFrom('events').select('hash').where('tenant', '=', tenant).orderBy('id', 'desc').limit(1).executeTakeFirst();
  if (row?.hash) return row.hash;
  const a = await db.selectFrom('meta').select('value').where('key', '=', anchorKey(tenant)).executeTakeFirst();
  return parseAnchor(a?.value)?.hash;
}

/** What `nubis events verify` answers for one tenant. */
export interface ChainReport {
  tenant: string;
  /** Chained events checked. */
  checked: number;
  /** Events before the chain (written before migration 0028). */
  unchained: number;
  /** The hash of the newest event (compare it with a copy kept elsewhere to detect a rewrite of the whole tail). */
  head?: string;
  /** Where the anchor of pruned events points (id of the last pruned event). */
  anchoredAfter?: number;
  /** The first event whose link or contents do not match, and why. */
  broken?: { id: number; reason: string };
}

/** Walks the tenant's events in id order, page by page, and reports the first broken link. */
export async function verifyChain(db: Kysely<Database>, tenant: string, pageSize = 5000): Promise<ChainReport> {
  const from = Number((await db.selectFrom('meta').select('value').where('key', '=', CHAIN_FROM_KEY).executeTakeFirst())?.value ?? 0);
  const anchor = parseAnchor((await db.selectFrom('meta').select('value').where('key', '=', anchorKey(tenant)).executeTakeFirst())?.value);
  const unchained = Number((await db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).where('tenant', '=', tenant).where('id', '<=', from).executeTakeFirst())?.n ?? 0);
  const report: ChainReport = { tenant, checked: 0, unchained };
  if (anchor) report.anchoredAfter = anchor.id;
  let expected = anchor?.hash ?? GENESIS_HASH;
  let after = Math.max(from, anchor?.id ?? 0);
  for (;;) {
    const rows = await db.selectFrom('events').selectAll().where('tenant', '=', tenant).where('id', '>', after).orderBy('id').limit(pageSize).execute();
    for (const r of rows) {
      if (r.prev_hash !== expected) {
        report.broken = { id: r.id, reason: r.prev_hash ? 'its link does not match the event before it (an event before it was changed, removed or inserted)' : 'it carries no hash (written around the chain)' };
        return report;
      }
      if (r.hash !== eventHash(expected, r)) {
        report.broken = { id: r.id, reason: 'its contents do not match its hash (this event was changed)' };
        return report;
      }
      expected = r.hash;
      report.checked++;
    }
    if (rows.length < pageSize) break;
    after = rows[rows.length - 1]!.id;
  }
  if (report.checked > 0) report.head = expected;
  return report;
}
