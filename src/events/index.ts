/**
 * events — the append-only audit log: every state transition and every driver call, with
 * actor, reason and correlation id. Subscribers (SSE streams) see an event only after it is
 * committed, so a stream never shows something a restart would forget.
 */
import { ADMIN_TENANT, splitDeploymentId, type Store, type EventFilter, type EventRow, type NewEventRow, type ChainReport, type WriteOp } from '../store/index.js';
import { eventFromRow as toEvent, matchesLive as matches, verifyChains, type LiveFilter } from './rows.js';

export type { ChainReport } from '../store/index.js';

export interface NubisEvent {
  id: number;
  /** ISO 8601. */
  ts: string;
  deployment?: string;
  /** Dotted kind, such as `node.state`, `instance.step`, `driver.call`, `deployment.applied`. */
  kind: string;
  /** Who: `user:<token name>`, `engine`, `agent:<node>`. */
  actor: string;
  reason?: string;
  correlationId?: string;
  /** What it concerns: a resource key, node id or deployment name. */
  target?: string;
  outcome?: string;
  data?: Record<string, unknown>;
  /** The tenant it belongs to and its place in that tenant's hash chain (set on stored events; see src/store/event-chain.ts). */
  tenant?: string;
  hash?: string;
  prevHash?: string;
}

/**
 * An event to record. `tenant` is who may see it; absent, it is the tenant of `deployment`
 * (src/engine/tenancy.ts), else the admin tenant `default`.
 */
export type EventInput = Omit<NubisEvent, 'id' | 'ts'> & { ts?: number; tenant?: string };

/** Events made into a write of the caller's own (see EventLog.stage). */
export interface StagedEvents {
  /** Appends the events; put it in the same `Store.write`/`writeGuarded` as the state they describe. */
  op: WriteOp;
  /** Tells subscribers; call it once that write committed (never when it failed: nothing was recorded). */
  published(): void;
}

export interface EventLog {
  /** Records events; resolves once they are committed. */
  append(...events: EventInput[]): Promise<void>;
  /**
   * The events as one write op, committed with the caller's other ops in one transaction, so a
   * crash can never keep the state change and lose its event (or the reverse).
   */
  stage(...events: EventInput[]): StagedEvents;
  list(filter: EventFilter): Promise<NubisEvent[]>;
  /** Calls `fn` with every committed event matching the filter (and the tenant it belongs to); returns an unsubscribe. */
  subscribe(filter: Pick<EventFilter, 'tenant' | 'deployment' | 'kind'>, fn: (e: NubisEvent, tenant: string) => void): () => void;
  /** Walks the hash chain of this tenant (every tenant's when absent) and reports the first broken link of each. */
  verify(tenant?: string): Promise<ChainReport[]>;
}

const SECRET_KEY = /token|password|secret|credential|authorization/i;

/** Drops values under secret-looking keys: events must never carry secrets. */
export function redact(data: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!data) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (SECRET_KEY.test(k)) out[k] = '[redacted]';
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = redact(v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}

export function createEventLog(store: Store, now: () => number = Date.now): EventLog {
  const subscribers = new Set<{ filter: LiveFilter; fn: (e: NubisEvent, tenant: string) => void }>();
  const toRows = (events: EventInput[]): (NewEventRow & { id?: number })[] =>
    events.map((e) => ({
      ts: e.ts ?? now(),
      deployment: e.deployment ?? null,
      kind: e.kind,
      actor: e.actor,
      reason: e.reason ?? null,
      correlation_id: e.correlationId ?? null,
      target: e.target ?? null,
      outcome: e.outcome ?? null,
      data: e.data ? JSON.stringify(redact(e.data)) : null,
      tenant: e.tenant ?? (e.deployment !== undefined ? splitDeploymentId(e.deployment).tenant : ADMIN_TENANT),
    }));
  const publish = (rows: (NewEventRow & { id?: number })[]): void => {
    if (subscribers.size === 0) return;
    for (const r of rows) {
      const ev = toEvent(r as EventRow);
      for (const s of subscribers) if (matches(s.filter, ev, r.tenant!)) s.fn(ev, r.tenant!);
    }
  };
  const stage = (events: EventInput[]): StagedEvents => {
    const rows = toRows(events);
    return { op: store.appendEvents(rows), published: () => publish(rows) };
  };
  return {
    async append(...events) {
      const s = stage(events);
      await store.write(s.op);
      s.published();
    },
    stage: (...events) => stage(events),
    async list(filter) {
      return (await store.events(filter)).map(toEvent);
    },
    subscribe(filter, fn) {
      const s = { filter, fn };
      subscribers.add(s);
      return () => subscribers.delete(s);
    },
    verify: (tenant) => verifyChains(store, tenant),
  };
}

export { createEventFeed, type EventFeed, type EventFeedOptions } from './feed.js';
export { createEventRetention, EVENT_RETENTION_DEFAULTS, type EventRetention, type EventRetentionOptions } from './retention.js';
