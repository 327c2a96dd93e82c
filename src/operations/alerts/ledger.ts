/**
 * The alert ledger: one open alert per tenant, rule and subject (deduplication, enforced by a
 * unique key in the store too); repeats while open counted, and notified again only after the
 * rule's quiet period (a reminder), never while acknowledged; a resolved message when the
 * condition clears. Operations run one at a time, so two events at once cannot open two alerts.
 * Every change is an event (`alert.opened|reminded|resolved|acked`) committed with the row and
 * the deliveries it owes.
 */
import crypto from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import type { EventInput } from '../../events/index.js';
import { NubisError } from '../../errors/index.js';
import type { AlertRuleSpec } from '../../model/index.js';
import type { AlertDeliveryRow, AlertRow, Store, WriteOp } from '../../store/index.js';
import type { AlertExplanation } from './explain.js';
import type { AlertBody, AlertMessageKind } from './view.js';

export interface AlertFiring {
  tenant: string;
  /** The deployment id, when the alert concerns one. */
  deployment?: string;
  rule: AlertRuleSpec;
  subject: string;
  title: string;
  what: string;
  kind: string;
  explanation: AlertExplanation;
  event?: { id: number; kind: string; target?: string };
}

export interface AlertClearing {
  tenant: string;
  rule: string;
  subject: string;
  reason: string;
  event?: { id: number; kind: string; target?: string };
}

export interface LedgerOptions {
  clock: Clock;
  store: Store;
  append: (...e: EventInput[]) => Promise<void>;
  /** The deliveries a message owes (rows to commit with it); `rule` is absent when it is no longer defined. */
  deliveries: (row: AlertRow, message: AlertMessageKind, rule: AlertRuleSpec | undefined) => AlertDeliveryRow[];
  /** Told the committed rows, to send them. */
  sent: (rows: AlertDeliveryRow[]) => void;
  /** The rule of an alert now (for its quiet period and channels at resolution). */
  ruleOf: (row: AlertRow) => AlertRuleSpec | undefined;
}

export const openKey = (tenant: string, rule: string, subject: string): string => `${tenant}\u0000${rule}\u0000${subject}`;

export class AlertLedger {
  private readonly open = new Map<string, AlertRow>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: LedgerOptions) {}

  async load(): Promise<void> {
    for (const r of await this.o.store.alerts.open()) this.open.set(r.open_key!, r);
  }

  /** The open (or acknowledged) alert of a rule and subject. */
  find(tenant: string, rule: string, subject: string): AlertRow | undefined {
    return this.open.get(openKey(tenant, rule, subject));
  }

  /** Open alerts of a tenant and rule (for metric rules, which resolve by absence of firing). */
  openOf(tenant: string, rule: string): AlertRow[] {
    return [...this.open.values()].filter((r) => r.tenant === tenant && r.rule === rule);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** A rule fired for a subject: opens an alert, or counts a repeat (a reminder after the quiet period). */
  fire(f: AlertFiring): Promise<{ row: AlertRow; notified: AlertMessageKind | undefined }> {
    return this.serial(async () => {
      const now = this.o.clock.now();
      const key = openKey(f.tenant, f.rule.name, f.subject);
      const before = this.open.get(key);
      const body: AlertBody = { what: f.what, kind: f.kind, explanation: f.explanation, ...(f.event ? { event: f.event } : {}) };
      let row: AlertRow;
      let message: AlertMessageKind | undefined;
      if (!before) {
        row = {
          id: `al-${crypto.randomBytes(8).toString('hex')}`, tenant: f.tenant, deployment: f.deployment ?? null, rule: f.rule.name, subject: f.subject,
          open_key: key, state: 'open', severity: f.rule.severity, title: f.title, body_json: JSON.stringify(body), count: 1,
          opened_at: now, last_seen_at: now, notified_at: now, resolved_at: null, acked_at: null, acked_by: null,
        };
        message = 'opened';
      } else {
        const quietOver = before.notified_at === null || now - before.notified_at >= f.rule.quietMs;
        message = before.state === 'open' && quietOver ? 'reminder' : undefined;
        row = { ...before, count: before.count + 1, last_seen_at: now, body_json: JSON.stringify(body), ...(message ? { notified_at: now } : {}) };
      }
      const owed = message ? this.o.deliveries(row, message, f.rule) : [];
      const events: EventInput[] = [];
      if (message) {
        events.push({
          tenant: f.tenant, ...(f.deployment ? { deployment: f.deployment } : {}), kind: message === 'opened' ? 'alert.opened' : 'alert.reminded', actor: 'alerts',
          target: row.id, outcome: row.severity, reason: `${row.title}: ${f.what}`,
          data: { alert: row.id, rule: row.rule, subject: row.subject, severity: row.severity, count: row.count, runbook: f.explanation.runbookUrl, channels: owed.map((d) => d.channel), ...(f.explanation.code ? { code: f.explanation.code } : {}) },
        });
      }
      await this.commit(row, owed, events);
      return { row, notified: message };
    });
  }

  /** The condition cleared: resolves the open alert of the subject (if any) and sends the resolved message. */
  clear(c: AlertClearing): Promise<AlertRow | undefined> {
    return this.serial(async () => {
      const key = openKey(c.tenant, c.rule, c.subject);
      const before = this.open.get(key);
      if (!before) return undefined;
      const now = this.o.clock.now();
      const body = JSON.parse(before.body_json) as AlertBody;
      body.resolution = c.reason;
      const row: AlertRow = { ...before, open_key: null, state: 'resolved', resolved_at: now, body_json: JSON.stringify(body) };
      const owed = before.notified_at !== null ? this.o.deliveries(row, 'resolved', this.o.ruleOf(row)) : [];
      await this.commit(row, owed, [{
        tenant: row.tenant, ...(row.deployment ? { deployment: row.deployment } : {}), kind: 'alert.resolved', actor: 'alerts', target: row.id, outcome: 'resolved',
        reason: `${row.title}: ${c.reason}`, data: { alert: row.id, rule: row.rule, subject: row.subject, openFor: now - row.opened_at, channels: owed.map((d) => d.channel) },
      }]);
      return row;
    });
  }

  /** A person took the alert: no reminders until it resolves (the resolved message is still sent). */
  ack(tenant: string, id: string, by: string): Promise<AlertRow> {
    return this.serial(async () => {
      const before = [...this.open.values()].find((r) => r.tenant === tenant && r.id === id);
      if (!before) {
        const done = await this.o.store.alerts.get(tenant, id);
        if (!done) throw new NubisError('NOT_FOUND', `no alert ${JSON.stringify(id)}`);
        if (done.state === 'resolved') throw new NubisError('CONFLICT', `alert ${id} is resolved already`);
        return done;
      }
      if (before.state === 'acked') return before;
      const row: AlertRow = { ...before, state: 'acked', acked_at: this.o.clock.now(), acked_by: by };
      await this.commit(row, [], [{
        tenant, ...(row.deployment ? { deployment: row.deployment } : {}), kind: 'alert.acked', actor: by, target: row.id, outcome: 'acked',
        reason: `${row.title}: acknowledged`, data: { alert: row.id, rule: row.rule, subject: row.subject },
      }]);
      return row;
    });
  }

  private async commit(row: AlertRow, owed: AlertDeliveryRow[], events: EventInput[]): Promise<void> {
    const ops: WriteOp[] = [this.o.store.alerts.put(row), ...owed.map((d) => this.o.store.alerts.putDelivery(d))];
    await Promise.all([this.o.store.write(...ops), events.length ? this.o.append(...events) : Promise.resolve()]);
    if (row.open_key !== null) this.open.set(row.open_key, row);
    else this.open.delete(openKey(row.tenant, row.rule, row.subject));
    if (owed.length) this.o.sent(owed);
  }
}
