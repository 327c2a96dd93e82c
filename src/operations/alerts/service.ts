/**
 * Alerts: rules over the event log and metric conditions open alerts (one per rule and
 * subject), which are sent through channels and resolved when the condition clears.
 *
 * Events are taken in log order from a persisted cursor, so an event committed just before a
 * crash still alerts after the restart, and none alerts twice. Failure meaning: the methods
 * validate their input and throw NubisError (REQUEST_INVALID with the JSON path, NOT_FOUND,
 * CONFLICT); evaluation and delivery failures never throw — they are events
 * (`alert.delivery-failed`, `alert.rule-failed`).
 */
import crypto from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import type { EventLog, EventInput, NubisEvent } from '../../events/index.js';
import { NubisError, toNubisError } from '../../errors/index.js';
import type { AlertRuleSpec, AlertsSpec } from '../../model/index.js';
import { scopeQuery, type QueryResult } from '../../metrics/index.js';
import { splitDeploymentId, type AlertDeliveryRow, type AlertRow, type EventRow, type Store } from '../../store/index.js';
import { DeliveryError, sendMail, sendWebhook, type ChannelTarget } from './channels.js';
import { DeliveryQueue } from './deliveries.js';
import { explainAlert, kindTitle } from './explain.js';
import { AlertLedger } from './ledger.js';
import { subjectOf, typeMatches, whereMatches } from './match.js';
import { MetricConditions } from './metric-rules.js';
import { AlertObjects, type ChannelInForce, type RuleInForce, type SealKey } from './objects.js';
import { alertView, messagePayload, messageSubject, messageText, type AlertMessageKind, type AlertView } from './view.js';

export interface AlertsServiceOptions {
  clock: Clock;
  store: Store;
  events: EventLog;
  /** The installation key: seals run-time channel secrets. */
  secretKey?: SealKey;
  /** The spec of a deployment (id), for its `alerts` section. */
  specOf: (deployment: string) => { alerts?: AlertsSpec } | undefined;
  /** Deployment ids of a tenant that have an alerts section with metric rules (all deployments is fine). */
  deployments: () => Iterable<string>;
  /** The fields of a stored credential (`nubis credentials set`). */
  credential?: (tenant: string, name: string) => Record<string, string>;
  /** The metric query side, for metric rules. */
  query?: { instant(expr: string, timeMs: number): Promise<QueryResult> };
  flush?: () => Promise<void>;
  /** Where runbook links point: default `docs/runbooks.md`. */
  runbookBase?: string;
  /** Webhook/SMTP retry backoff. Defaults 1 000 and 300 000 ms. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  random?: () => number;
  /** Tenants other than the administrator's may send to this host and private networks. Default false. */
  allowLocalTenants?: boolean;
  /** How often metric rules are looked at (each runs every its own interval). Default 1 000. */
  metricTickMs?: number;
}

export interface AlertRuleView {
  name: string;
  source: 'builtin' | 'api' | 'spec';
  deployment?: string;
  rule: AlertRuleSpec;
}

export interface AlertChannelView {
  name: string;
  source: 'api' | 'spec';
  deployment?: string;
  kind: string;
  default: boolean;
  /** The secret is never shown: how it is kept. */
  secret: 'sealed' | 'credential' | 'none';
  url?: string;
  host?: string;
  port?: number;
  to?: string[];
  credential?: string;
}

export interface AlertTestResult {
  channel: string;
  delivered: boolean;
  error?: string;
}

export interface AlertsService {
  start(): Promise<void>;
  stop(): Promise<void>;
  list(tenant: string, filter?: { state?: 'open' | 'resolved' | 'all'; deployment?: string }): Promise<AlertView[]>;
  get(tenant: string, id: string): Promise<AlertView & { deliveries: { channel: string; message: string; state: string; attempts: number; lastError?: string }[] }>;
  ack(tenant: string, id: string, by: string): Promise<AlertView>;
  /** Sends a test alert through a channel now (one attempt); the answer says whether it was taken. */
  test(tenant: string, channel: string, by: string, deployment?: string): Promise<AlertTestResult>;
  listRules(tenant: string, deployment?: string): AlertRuleView[];
  putRule(tenant: string, name: string, body: unknown, by: string): Promise<{ created: boolean; view: AlertRuleView }>;
  deleteRule(tenant: string, name: string, by: string): Promise<void>;
  listChannels(tenant: string, deployment?: string): AlertChannelView[];
  putChannel(tenant: string, name: string, body: unknown, by: string): Promise<{ created: boolean; view: AlertChannelView }>;
  deleteChannel(tenant: string, name: string, by: string): Promise<void>;
  /** Takes the events not yet taken and evaluates due metric rules (tests on a virtual clock). */
  settle(): Promise<void>;
}

const CURSOR = { tenant: '', kind: 'cursor', name: 'events' } as const;

function ruleView(name: string, r: RuleInForce): AlertRuleView {
  const v: AlertRuleView = { name, source: r.source, rule: r.rule };
  if (r.deployment !== undefined) v.deployment = splitDeploymentId(r.deployment).name;
  return v;
}

function channelView(name: string, c: ChannelInForce): AlertChannelView {
  const v: AlertChannelView = { name, source: c.source, kind: c.spec.kind, default: c.spec.default, secret: c.secret };
  if (c.deployment !== undefined) v.deployment = splitDeploymentId(c.deployment).name;
  if (c.spec.url !== undefined) {
    // a URL's query or user info may hold a token: show scheme, host and path only
    try {
      const u = new URL(c.spec.url);
      v.url = `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      v.url = '(invalid)';
    }
  }
  for (const k of ['host', 'port', 'credential'] as const) if (c.spec[k] !== undefined) (v as unknown as Record<string, unknown>)[k] = c.spec[k];
  if (c.spec.to) v.to = [...c.spec.to];
  return v;
}

class Alerts implements AlertsService {
  private readonly objects: AlertObjects;
  private readonly ledger: AlertLedger;
  private readonly queue: DeliveryQueue;
  private readonly metrics: MetricConditions;
  private readonly base: string;
  private cursor = 0;
  private unsubscribe: (() => void) | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private readonly stopping = new AbortController();
  private metricLoop: Promise<void> | undefined;
  private metricRun: Promise<void> = Promise.resolve();

  constructor(private readonly o: AlertsServiceOptions) {
    this.base = o.runbookBase ?? 'docs/runbooks.md';
    this.objects = new AlertObjects(o.store, o.secretKey, o.specOf, o.allowLocalTenants ?? false);
    const append = (...e: EventInput[]): Promise<void> => o.events.append(...e);
    this.queue = new DeliveryQueue({
      clock: o.clock, store: o.store, append,
      attempt: (row, signal) => this.attempt(row, signal),
      maxAttempts: (row) => this.channelOf(row.tenant, this.deploymentOf(row), row.channel)?.spec.attempts ?? 1,
      ...(o.backoffBaseMs !== undefined ? { backoffBaseMs: o.backoffBaseMs } : {}),
      ...(o.backoffCapMs !== undefined ? { backoffCapMs: o.backoffCapMs } : {}),
      ...(o.random ? { random: o.random } : {}),
    });
    this.ledger = new AlertLedger({
      clock: o.clock, store: o.store, append,
      deliveries: (row, message, rule) => this.plan(row, message, rule),
      sent: (rows) => this.queue.add(rows),
      ruleOf: (row) => this.objects.rules(row.tenant, row.deployment ?? undefined).get(row.rule)?.rule,
    });
    this.metrics = new MetricConditions(o.clock);
  }

  async start(): Promise<void> {
    await this.objects.load();
    await this.ledger.load();
    const c = (await this.o.store.alerts.objects(CURSOR.tenant)).find((r) => r.kind === CURSOR.kind && r.name === CURSOR.name);
    // a first start takes events from now on: the log before alerts existed is history
    this.cursor = c ? Number(c.body_json) : await this.o.store.lastEventId();
    if (!c) await this.saveCursor();
    this.unsubscribe = this.o.events.subscribe({}, () => this.kick());
    await this.queue.start();
    this.kick();
    if (this.o.query) this.metricLoop = this.runMetrics();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.stopping.abort();
    await this.draining;
    await this.metricLoop;
    await this.queue.stop();
  }

  async settle(): Promise<void> {
    this.kick();
    while (this.draining) await this.draining;
    await this.evaluateMetrics();
    while (this.draining) await this.draining;
    await this.queue.settled();
  }

  // ---- events → alerts

  private kick(): void {
    if (this.stopping.signal.aborted) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = await this.o.store.events({ afterId: this.cursor, limit: 500 });
      if (rows.length === 0) return;
      for (const r of rows) {
        await this.take(r).catch(async (e: unknown) => {
          await this.o.events.append({ tenant: r.tenant, kind: 'alert.rule-failed', actor: 'alerts', outcome: 'error', reason: `event ${r.id} (${r.kind}): ${toNubisError(e).message}` }).catch(() => undefined);
        });
        this.cursor = r.id;
      }
      await this.saveCursor();
    }
  }

  private saveCursor(): Promise<void> {
    return this.o.store.write(this.o.store.alerts.putObject({ ...CURSOR, body_json: String(this.cursor), sealed_secret: null, key_id: null, updated_at: this.o.clock.now() }));
  }

  private async take(r: EventRow): Promise<void> {
    if (r.kind.startsWith('alert.')) return;
    // most events (driver calls, steps) concern no rule: their data is not even parsed
    const rules = [...this.objects.rules(r.tenant, r.deployment ?? undefined)].filter(([, f]) =>
      f.rule.enabled && f.rule.on.kind === 'events' && [...f.rule.on.events, ...f.rule.on.resolvedBy].some((t) => typeMatches(t, r.kind)));
    if (rules.length === 0) return;
    const e: NubisEvent = { id: r.id, ts: new Date(Number(r.ts)).toISOString(), kind: r.kind, actor: r.actor };
    if (r.deployment !== null) e.deployment = r.deployment;
    if (r.reason !== null) e.reason = r.reason;
    if (r.target !== null) e.target = r.target;
    if (r.outcome !== null) e.outcome = r.outcome;
    if (r.data !== null) e.data = JSON.parse(r.data) as Record<string, unknown>;
    const tenant = r.tenant;
    for (const [name, inForce] of rules) {
      const rule = inForce.rule;
      if (rule.on.kind !== 'events') continue;
      const on = rule.on;
      const subject = this.qualify(subjectOf(e, on.subject), e.deployment);
      const ref = { id: e.id, kind: e.kind, ...(e.target !== undefined ? { target: e.target } : {}) };
      if (on.events.some((t) => typeMatches(t, e.kind)) && whereMatches(on.where, e)) {
        const kind = inForce.source === 'builtin' || Object.hasOwn(KIND_OF_BUILTIN, name) ? name : 'event-rule';
        const what = e.reason ?? `${e.kind}${e.outcome ? ` ${e.outcome}` : ''}`;
        const title = rule.summary ?? `${kind === 'event-rule' ? name : kindTitle(kind)}: ${subject}`;
        await this.ledger.fire({
          tenant, ...(e.deployment ? { deployment: e.deployment } : {}), rule, subject, title, what, kind,
          explanation: explainAlert(kind, e.data, e.reason, this.base), event: ref,
        });
      } else if (on.resolvedBy.some((t) => typeMatches(t, e.kind)) && whereMatches(on.resolveWhere, e)) {
        await this.ledger.clear({ tenant, rule: name, subject, reason: `${e.kind}${e.reason ? `: ${e.reason}` : ''}`, event: ref });
      }
    }
  }

  /** A subject names its deployment, so two deployments' alerts of one rule stay apart. */
  private qualify(subject: string, deployment: string | undefined): string {
    if (deployment === undefined || subject === deployment || subject.startsWith(`${deployment}/`)) return subject;
    return `${deployment}/${subject}`;
  }

  // ---- metric rules

  private async runMetrics(): Promise<void> {
    const tick = this.o.metricTickMs ?? 1_000;
    while (!this.stopping.signal.aborted) {
      await this.evaluateMetrics().catch(() => undefined);
      await this.o.clock.sleep(tick, this.stopping.signal).catch(() => undefined);
    }
  }

  private metricRules(): { tenant: string; deployment?: string; rule: AlertRuleSpec }[] {
    const out: { tenant: string; deployment?: string; rule: AlertRuleSpec }[] = [];
    const seen = new Set<string>();
    const add = (tenant: string, deployment: string | undefined, rules: Map<string, RuleInForce>): void => {
      for (const r of rules.values()) {
        if (!r.rule.enabled || r.rule.on.kind !== 'metric') continue;
        const k = `${tenant}\u0000${r.deployment ?? ''}\u0000${r.rule.name}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ tenant, ...(r.deployment !== undefined ? { deployment: r.deployment } : {}), rule: r.rule });
      }
    };
    for (const tenant of this.tenants()) add(tenant, undefined, this.objects.rules(tenant));
    for (const d of this.o.deployments()) add(splitDeploymentId(d).tenant, d, this.objects.rules(splitDeploymentId(d).tenant, d));
    return out;
  }

  private tenants(): string[] {
    return [...new Set([...this.objectTenants(), ...[...this.o.deployments()].map((d) => splitDeploymentId(d).tenant)])];
  }

  private objectTenants(): string[] {
    return this.objects.tenants();
  }

  /** One evaluation at a time (the loop's and settle's share the chain). */
  private evaluateMetrics(): Promise<void> {
    const run = this.metricRun.then(() => this.evaluateDue());
    this.metricRun = run.catch(() => undefined);
    return run;
  }

  private async evaluateDue(): Promise<void> {
    const q = this.o.query;
    if (!q) return;
    const due = this.metricRules().filter((m) => m.rule.on.kind === 'metric' && this.metrics.due(`${m.tenant}\u0000${m.deployment ?? ''}\u0000${m.rule.name}`, m.rule.on.intervalMs));
    if (due.length === 0) return;
    await this.o.flush?.();
    for (const m of due) {
      const on = m.rule.on;
      if (on.kind !== 'metric') continue;
      const key = `${m.tenant}\u0000${m.deployment ?? ''}\u0000${m.rule.name}`;
      let result: QueryResult;
      try {
        result = await q.instant(scopeQuery(on.expr, m.tenant), this.o.clock.now());
      } catch (e) {
        await this.o.events.append({ tenant: m.tenant, ...(m.deployment ? { deployment: m.deployment } : {}), kind: 'alert.rule-failed', actor: 'alerts', target: m.rule.name, outcome: 'error', reason: `alert rule ${m.rule.name}: ${toNubisError(e).message}` });
        continue;
      }
      const bound = (['above', 'below', 'atOrAbove', 'atOrBelow'] as const).filter((b) => on[b] !== undefined).map((b) => `${b} ${on[b]}`).join(', ');
      for (const v of this.metrics.judge(key, on, result)) {
        const subject = m.deployment ? `${m.deployment}/${v.subject}` : v.subject;
        if (v.due) {
          await this.ledger.fire({
            tenant: m.tenant, ...(m.deployment ? { deployment: m.deployment } : {}), rule: m.rule, subject,
            title: m.rule.summary ?? `${m.rule.name}: ${v.subject}`,
            what: `${on.expr} is ${v.value} (${bound})${on.forMs ? ` for ${on.forMs / 1000} s` : ''}`,
            kind: 'metric-condition', explanation: explainAlert('metric-condition', undefined, undefined, this.base),
          });
        } else if (!v.firing) {
          await this.ledger.clear({ tenant: m.tenant, rule: m.rule.name, subject, reason: `${on.expr} is ${v.value}, back inside (${bound})` });
        }
      }
    }
  }

  // ---- deliveries

  private deploymentOf(row: AlertDeliveryRow): string | undefined {
    return (JSON.parse(row.payload_json) as { deployment?: string }).deployment;
  }

  private channelOf(tenant: string, deployment: string | undefined, name: string): ChannelInForce | undefined {
    if (name === 'log') return { spec: { name: 'log', kind: 'log', default: true, attempts: 1, timeoutMs: 1_000 }, source: 'api', secret: 'none' };
    return this.objects.channels(tenant, deployment).get(name);
  }

  /** The deliveries a message of an alert owes: one per channel of its rule (default: the log and the default channels). */
  private plan(row: AlertRow, message: AlertMessageKind, rule: AlertRuleSpec | undefined): AlertDeliveryRow[] {
    const deployment = row.deployment ?? undefined;
    const names = rule?.channels ?? ['log', ...[...this.objects.channels(row.tenant, deployment).values()].filter((c) => c.spec.default).map((c) => c.spec.name)];
    const view = alertView(row);
    const now = this.o.clock.now();
    return [...new Set(names)].map((channel) => ({
      id: `dl-${crypto.randomBytes(8).toString('hex')}`, tenant: row.tenant, alert: row.id, channel, message,
      payload_json: JSON.stringify({ ...(deployment ? { deployment } : {}), subject: messageSubject(view, message), text: messageText(view, message), view }),
      state: 'pending', attempts: 0, next_at: now, last_error: null, created_at: now, updated_at: now,
    }));
  }

  private secretOf(tenant: string, c: ChannelInForce): string | undefined {
    if (c.secret === 'sealed') return this.objects.sealedSecret(tenant, c.spec.name);
    if (c.secret === 'credential' && c.spec.credential) {
      if (!this.o.credential) throw new DeliveryError(`channel ${c.spec.name}: no credential registry on this server`, false);
      let fields: Record<string, string>;
      try {
        fields = this.o.credential(tenant, c.spec.credential);
      } catch (e) {
        throw new DeliveryError(`channel ${c.spec.name}: credential ${c.spec.credential}: ${toNubisError(e).message}`, false);
      }
      return c.spec.kind === 'webhook' ? fields['secret'] : fields['password'];
    }
    return undefined;
  }

  private async attempt(row: AlertDeliveryRow, signal: AbortSignal): Promise<void> {
    const p = JSON.parse(row.payload_json) as { deployment?: string; subject: string; text: string; view: AlertView };
    const c = this.channelOf(row.tenant, p.deployment, row.channel);
    if (!c) throw new DeliveryError(`no alert channel named ${JSON.stringify(row.channel)}`, false);
    if (c.spec.kind === 'log') {
      await this.o.events.append({
        tenant: row.tenant, ...(p.deployment ? { deployment: p.deployment } : {}), kind: 'alert.message', actor: 'alerts', target: row.alert, outcome: row.message,
        reason: p.subject, data: { alert: row.alert, message: row.message, text: p.text, runbook: p.view.explanation.runbookUrl },
      });
      return;
    }
    try {
      this.objects.checkReach(row.tenant, c.spec);
    } catch (e) {
      throw new DeliveryError(toNubisError(e).message, false);
    }
    const target: ChannelTarget = { spec: c.spec };
    const secret = this.secretOf(row.tenant, c);
    if (secret !== undefined) target.secret = secret;
    const msg = { deliveryId: row.id, subject: p.subject, text: p.text, payload: messagePayload(p.view, row.message as AlertMessageKind, this.o.clock.now()) };
    if (c.spec.kind === 'webhook') await sendWebhook(target, msg, Date.now(), signal);
    else await sendMail(target, msg, signal);
  }

  // ---- the API's operations

  async list(tenant: string, filter: { state?: 'open' | 'resolved' | 'all'; deployment?: string } = {}): Promise<AlertView[]> {
    const rows = await this.o.store.alerts.list({ tenant, ...filter });
    return rows.map(alertView);
  }

  async get(tenant: string, id: string): Promise<AlertView & { deliveries: { channel: string; message: string; state: string; attempts: number; lastError?: string }[] }> {
    const row = await this.o.store.alerts.get(tenant, id);
    if (!row) throw new NubisError('NOT_FOUND', `no alert ${JSON.stringify(id)}`);
    const deliveries = (await this.o.store.alerts.deliveries(tenant, id)).map((d) => ({
      channel: d.channel, message: d.message, state: d.state, attempts: d.attempts, ...(d.last_error !== null ? { lastError: d.last_error } : {}),
    }));
    return { ...alertView(row), deliveries };
  }

  async ack(tenant: string, id: string, by: string): Promise<AlertView> {
    return alertView(await this.ledger.ack(tenant, id, by));
  }

  async test(tenant: string, channel: string, by: string, deployment?: string): Promise<AlertTestResult> {
    const c = this.channelOf(tenant, deployment, channel);
    if (!c) throw new NubisError('NOT_FOUND', `no alert channel named ${JSON.stringify(channel)}`);
    const now = this.o.clock.now();
    const row: AlertRow = {
      id: `al-test-${crypto.randomBytes(4).toString('hex')}`, tenant, deployment: deployment ?? null, rule: 'test', subject: channel, open_key: null, state: 'resolved',
      severity: 'info', title: `test alert through ${channel}`, count: 1, opened_at: now, last_seen_at: now, notified_at: now, resolved_at: null, acked_at: null, acked_by: null,
      body_json: JSON.stringify({ what: `a test alert sent by ${by}`, kind: 'test', explanation: explainAlert('test', undefined, undefined, this.base) }),
    };
    const [d] = this.plan(row, 'test', { name: 'test', on: { kind: 'events', events: [], where: {}, resolvedBy: [], resolveWhere: {}, subject: 'target' }, severity: 'info', quietMs: 0, enabled: true, channels: [channel] });
    let error: string | undefined;
    try {
      await this.attempt(d!, this.stopping.signal);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    await this.o.events.append({
      tenant, ...(deployment ? { deployment } : {}), kind: 'alert.tested', actor: by, target: channel, outcome: error ? 'error' : 'ok',
      reason: error ? `test alert not taken by ${channel}: ${error}` : `test alert sent through ${channel}`, data: { channel },
    });
    return { channel, delivered: error === undefined, ...(error ? { error } : {}) };
  }

  listRules(tenant: string, deployment?: string): AlertRuleView[] {
    return [...this.objects.rules(tenant, deployment)].map(([n, r]) => ruleView(n, r)).sort((a, b) => a.name.localeCompare(b.name));
  }

  async putRule(tenant: string, name: string, body: unknown, by: string): Promise<{ created: boolean; view: AlertRuleView }> {
    const { created, rule } = await this.objects.putRule(tenant, name, body);
    await this.audit(tenant, 'alert.rule-set', name, by, created ? 'created' : 'changed');
    return { created, view: ruleView(name, rule) };
  }

  async deleteRule(tenant: string, name: string, by: string): Promise<void> {
    await this.objects.deleteRule(tenant, name);
    await this.audit(tenant, 'alert.rule-removed', name, by, 'removed');
  }

  listChannels(tenant: string, deployment?: string): AlertChannelView[] {
    return [...this.objects.channels(tenant, deployment)].map(([n, c]) => channelView(n, c)).sort((a, b) => a.name.localeCompare(b.name));
  }

  async putChannel(tenant: string, name: string, body: unknown, by: string): Promise<{ created: boolean; view: AlertChannelView }> {
    const { created, channel } = await this.objects.putChannel(tenant, name, body);
    await this.audit(tenant, 'alert.channel-set', name, by, created ? 'created' : 'changed');
    return { created, view: channelView(name, channel) };
  }

  async deleteChannel(tenant: string, name: string, by: string): Promise<void> {
    await this.objects.deleteChannel(tenant, name);
    await this.audit(tenant, 'alert.channel-removed', name, by, 'removed');
  }

  private audit(tenant: string, kind: string, name: string, by: string, outcome: string): Promise<void> {
    return this.o.events.append({ tenant, kind, actor: by, target: name, outcome, reason: `${kind.replace('alert.', 'alert ').replace('-', ' ')}: ${name}` });
  }
}

/** Built-in rule names are also failure kinds (their explanation and runbook section). */
const KIND_OF_BUILTIN: Record<string, true> = { 'backup-failed': true, 'drill-failed': true, 'restore-failed': true, 'recovery-gave-up': true, 'provider-error': true, 'budget-exceeded': true, 'budget-warning': true, 'leak-found': true };

export function createAlertsService(o: AlertsServiceOptions): AlertsService {
  return new Alerts(o);
}
