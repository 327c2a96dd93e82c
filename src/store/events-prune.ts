/** Event retention in SQL: deletes events past a maximum age and beyond a count per tenant, in batches. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

export interface EventPrune {
  /** Events with `ts` before this (ms since the epoch) are deleted. */
  olderThan: number;
  /** Each tenant keeps at most this many (its newest). */
  maxPerTenant: number;
  /** At most this many rows per rule and call, so one call never holds the writer long. */
  batch: number;
}

/** Deletes what `p` says (up to `p.batch` rows per rule); resolves with the rows deleted by age and by count. */
export async function pruneEvents(trx: Transaction<Database> | Kysely<Database>, p: EventPrune): Promise<{ byAge: number; byCount: number }> {
  const old = await sql`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ${p.olderThan} ORDER BY id LIMIT ${p.batch})`.execute(trx);
  let byCount = 0;
  const tenants = await trx.selectFrom('events').select('tenant').distinct().execute();
  for (const { tenant } of tenants) {
    if (byCount >= p.batch) break;
    const cut = await trx.selectFrom('events').select('id').where('tenant', '=', tenant).orderBy('id', 'desc').limit(1).offset(p.maxPerTenant).executeTakeFirst();
    if (!cut) continue;
    const r = await sql`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE tenant = ${tenant} AND id <= ${cut.id} ORDER BY id LIMIT ${p.batch - byCount})`.execute(trx);
    byCount += Number(r.numAffectedRows ?? 0);
  }
  return { byAge: Number(old.numAffectedRows ?? 0), byCount };
}
