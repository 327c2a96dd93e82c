/** Events as stored rows and as the API shows them, and the live filter of subscriptions. */
import type { ChainReport, EventFilter, EventRow, Store } from '../store/index.js';
import type { NubisEvent } from './index.js';

/** A stored row as an event (its data parsed, absent fields left out). */
export function eventFromRow(r: EventRow): NubisEvent {
  const e: NubisEvent = { id: r.id, ts: new Date(Number(r.ts)).toISOString(), kind: r.kind, actor: r.actor };
  if (r.deployment !== null) e.deployment = r.deployment;
  if (r.reason !== null) e.reason = r.reason;
  if (r.correlation_id !== null) e.correlationId = r.correlation_id;
  if (r.target !== null) e.target = r.target;
  if (r.outcome !== null) e.outcome = r.outcome;
  if (r.data !== null) e.data = JSON.parse(r.data) as Record<string, unknown>;
  if (r.tenant) e.tenant = r.tenant;
  if (r.hash) e.hash = r.hash;
  if (r.prev_hash) e.prevHash = r.prev_hash;
  return e;
}

/** Verifies the hash chain of one tenant's events, or of every tenant's. */
export async function verifyChains(store: Store, tenant?: string): Promise<ChainReport[]> {
  const tenants = tenant !== undefined ? [tenant] : await store.eventTenants();
  const out: ChainReport[] = [];
  for (const t of tenants) out.push(await store.verifyEvents(t));
  return out;
}

export type LiveFilter = Pick<EventFilter, 'tenant' | 'deployment' | 'kind'>;

/** Whether a subscription with this filter gets the event (of this tenant). */
export function matchesLive(f: LiveFilter, e: NubisEvent, tenant: string): boolean {
  if (f.tenant !== undefined && f.tenant !== tenant) return false;
  if (f.deployment !== undefined && e.deployment !== f.deployment) return false;
  if (f.kind !== undefined) {
    if (f.kind.endsWith('*') ? !e.kind.startsWith(f.kind.slice(0, -1)) : e.kind !== f.kind) return false;
  }
  return true;
}
