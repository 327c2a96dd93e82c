/** The audit events of the operators' controls: who changed what, in the tenant it concerns. */
import type { EventLog } from '../events/index.js';
import type { Actor } from '../registry/index.js';

export type { Actor } from '../registry/index.js';

export type Audit = (tenant: string, by: Actor, kind: string, target: string, reason: string, data?: Record<string, unknown>) => Promise<void>;

/** An appender of `ok` events by `by.actor` (nothing without an event log). */
export function auditor(events: EventLog | undefined): Audit {
  return async (tenant, by, kind, target, reason, data) => {
    await events?.append({ tenant, actor: by.actor, ...(by.correlationId ? { correlationId: by.correlationId } : {}), kind, target, outcome: 'ok', reason, ...(data ? { data } : {}) });
  };
}
