/**
 * Event retention in SQL: deletes events past a maximum age and beyond a count per tenant, in
 * batches. Each tenant loses a prefix of its log only (its oldest events in id order), so its
 * hash chain (./event-chain.ts) stays whole: the last pruned event's id and hash are kept as the
 * tenant's anchor, which the first kept event links to. By age, a tenant's events are deleted up
 * to its first event that is young enough (an old event after a young one waits for it).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { anchorKey } from './event-chain.js';

export interface EventPrune {
  /** Events with `ts` before this (ms since the epoch) are deleted. */
  olderThan: number;
  /** Each tenant keeps at most this many (its newest). */
  maxPerTenant: number;
  /** At most this many rows per rule and call, so one call never holds the writer long. */
  batch: number;
}

type Db = Transaction<Database> | Kysely<Database>;

/** Deletes the tenant's events with id below `cut` (at most `limit`, oldest first) and moves its anchor; resolves with the count. */
async function deletePrefix(trx: Db, tenant: string, cut: number, limit: number): Promise<number> {
  if (limit <= 0) return 0;
  const doomed = await trx.selectFrom('events').select(['id', 'hash']).where('tenant', '=', tenant).where('id', '<', cut).orderBy('id').limit(limit).execute();
  if (doomed.length === 0) return 0;
  const last = doomed[doomed.length - 1]!;
  const chained = [...doomed].reverse().find((r) => r.hash);
  await sql`DELETE FROM events WHERE tenant = ${tenant} AND id <= ${last.id}`.execute(trx);
  if (chained) {
    const value = JSON.stringify({ id: last.id, hash: chained.hash });
    await trx.insertInto('meta').values({ key: anchorKey(tenant), value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }
  return doomed.length;
}

/** Deletes what `p` says (up to `p.batch` rows per rule); resolves with the rows deleted by age and by count. */
export async function pruneEvents(trx: Db, p: EventPrune): Promise<{ byAge: number; byCount: number }> {
  const tenants = (await trx.selectFrom('events').select('tenant').distinct().execute()).map((r) => r.tenant);
  let byAge = 0;
  for (const tenant of tenants) {
    if (byAge >= p.batch) break;
    const oldest = await trx.selectFrom('events').select('ts').where('tenant', '=', tenant).orderBy('id').limit(1).executeTakeFirst();
    if (!oldest || Number(oldest.ts) >= p.olderThan) continue;
    const young = await trx.selectFrom('events').select('id').where('tenant', '=', tenant).where('ts', '>=', p.olderThan).orderBy('id').limit(1).executeTakeFirst();
    byAge += await deletePrefix(trx, tenant, young ? young.id : Number.MAX_SAFE_INTEGER, p.batch - byAge);
  }
  let byCount = 0;
  for (const tenant of tenants) {
    if (byCount >= p.batch) break;
    const cut = await trx.selectFrom('events').select('id').where('tenant', '=', tenant).orderBy('id', 'desc').limit(1).offset(p.maxPerTenant).executeTakeFirst();
    if (!cut) continue;
    byCount += await deletePrefix(trx, tenant, cut.id + 1, p.batch - byCount);
  }
  return { byAge, byCount };
}
