/**
 * The alert rules and channels in force for a tenant and deployment: the built-in rules,
 * the tenant's run-time ones (API/CLI; a channel's secret sealed with the installation key)
 * and the deployment spec's `alerts` section. A name later in that order adjusts or replaces
 * the one before. Run-time objects are validated with the spec's schema and checks.
 */
import { Value } from '@sinclair/typebox/value';
import { NubisError } from '../../errors/index.js';
import {
  AlertChannel, AlertRule, BUILTIN_ALERT_RULES, alertChannelProblems, alertRuleProblems, builtinAlertRule, normaliseAlertChannel, normaliseAlertRule,
  type AlertChannelDoc, type AlertChannelSpec, type AlertRuleDoc, type AlertRuleSpec, type AlertsSpec,
} from '../../model/index.js';
import { credentialAad, open, seal } from '../../registry/index.js';
import type { AlertObjectRow, Store } from '../../store/index.js';
import { Type } from '@sinclair/typebox';

export type AlertSource = 'builtin' | 'api' | 'spec';

export interface RuleInForce {
  rule: AlertRuleSpec;
  source: AlertSource;
  /** The deployment id of a spec rule. */
  deployment?: string;
}

export interface ChannelInForce {
  spec: AlertChannelSpec;
  source: 'api' | 'spec';
  deployment?: string;
  /** How its secret is kept: sealed here, a stored credential, or none. */
  secret: 'sealed' | 'credential' | 'none';
}

/** The run-time channel body: a channel as in the spec, plus an inline `secret` sealed on receipt. */
export const AlertChannelInput = Type.Object(
  { ...AlertChannel.properties, secret: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'the webhook signing key or SMTP password; sealed at rest, never shown again' })) },
  { additionalProperties: false, description: 'an alert channel, as in the spec\'s alerts.channels, with its secret inline or by credential' },
);

interface Runtime {
  rules: Map<string, RuleInForce>;
  channels: Map<string, { spec: AlertChannelSpec; sealed: string | null; keyId: string | null }>;
}

export interface SealKey {
  bytes: Buffer;
  id: string;
}

const channelAad = (tenant: string, name: string): string => credentialAad(tenant, `alert-channel:${name}`);

function invalid(problems: { path: (string | number)[]; expected: string; found: string }[]): NubisError {
  const path = (p: (string | number)[]): string => '$' + p.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
  const first = problems[0]!;
  return new NubisError('REQUEST_INVALID', `${path(first.path)}: expected ${first.expected}, found ${first.found}`, {
    details: { problems: problems.map((p) => ({ path: path(p.path), expected: p.expected, found: p.found })) },
  });
}

function schemaProblems(schema: typeof AlertRule | typeof AlertChannelInput, body: unknown): { path: (string | number)[]; expected: string; found: string }[] {
  const out: { path: (string | number)[]; expected: string; found: string }[] = [];
  for (const e of Value.Errors(schema, body)) {
    out.push({ path: e.path.split('/').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s)), expected: e.message.replace(/^Expected /, '').toLowerCase(), found: JSON.stringify(e.value) ?? 'nothing' });
    if (out.length >= 20) break;
  }
  return out;
}

export class AlertObjects {
  private readonly runtime = new Map<string, Runtime>();

  constructor(private readonly store: Store, private readonly key: SealKey | undefined, private readonly specOf: (deployment: string) => { alerts?: AlertsSpec } | undefined) {}

  async load(): Promise<void> {
    for (const row of await this.store.alerts.objects()) this.take(row);
  }

  /** Tenants with run-time rules or channels. */
  tenants(): string[] {
    return [...this.runtime.keys()];
  }

  private of(tenant: string): Runtime {
    let r = this.runtime.get(tenant);
    if (!r) this.runtime.set(tenant, (r = { rules: new Map(), channels: new Map() }));
    return r;
  }

  private take(row: AlertObjectRow): void {
    const rt = this.of(row.tenant);
    if (row.kind === 'rule') {
      const doc = JSON.parse(row.body_json) as AlertRuleDoc;
      rt.rules.set(row.name, { rule: normaliseAlertRule(row.name, doc, builtinAlertRule(row.name)), source: 'api' });
    } else if (row.kind === 'channel') {
      rt.channels.set(row.name, { spec: normaliseAlertChannel(row.name, JSON.parse(row.body_json) as AlertChannelDoc), sealed: row.sealed_secret, keyId: row.key_id });
    }
  }

  /** Rules in force for events of a deployment (id) of the tenant, or of none. */
  rules(tenant: string, deployment?: string): Map<string, RuleInForce> {
    const out = new Map<string, RuleInForce>();
    for (const n of Object.keys(BUILTIN_ALERT_RULES)) out.set(n, { rule: builtinAlertRule(n)!, source: 'builtin' });
    for (const [n, r] of this.runtime.get(tenant)?.rules ?? []) out.set(n, r);
    if (deployment !== undefined) {
      for (const [n, r] of Object.entries(this.specOf(deployment)?.alerts?.rules ?? {})) out.set(n, { rule: r, source: 'spec', deployment });
    }
    return out;
  }

  /** Channels in force for a deployment (id) of the tenant, or of none. */
  channels(tenant: string, deployment?: string): Map<string, ChannelInForce> {
    const out = new Map<string, ChannelInForce>();
    for (const [n, c] of this.runtime.get(tenant)?.channels ?? []) out.set(n, { spec: c.spec, source: 'api', secret: c.sealed ? 'sealed' : c.spec.credential ? 'credential' : 'none' });
    if (deployment !== undefined) {
      for (const [n, c] of Object.entries(this.specOf(deployment)?.alerts?.channels ?? {})) out.set(n, { spec: c, source: 'spec', deployment, secret: c.credential ? 'credential' : 'none' });
    }
    return out;
  }

  /** The sealed secret of a run-time channel, opened (for one send). */
  sealedSecret(tenant: string, name: string): string | undefined {
    const c = this.runtime.get(tenant)?.channels.get(name);
    if (!c?.sealed || !c.keyId) return undefined;
    if (!this.key) throw new NubisError('CREDENTIAL_KEY_INVALID', 'this server has no key to open alert channel secrets');
    return open(this.key.bytes, c.sealed, channelAad(tenant, name), c.keyId, `alert channel ${name}`);
  }

  async putRule(tenant: string, name: string, body: unknown): Promise<{ created: boolean; rule: RuleInForce }> {
    const problems = schemaProblems(AlertRule, body);
    if (problems.length) throw invalid(problems);
    const doc = body as AlertRuleDoc;
    const known = new Set(this.channels(tenant).keys());
    const sem = alertRuleProblems(doc as Record<string, unknown>, [], Object.hasOwn(BUILTIN_ALERT_RULES, name), known);
    if (sem.length) throw invalid(sem);
    const rt = this.of(tenant);
    const created = !rt.rules.has(name);
    const row: AlertObjectRow = { tenant, kind: 'rule', name, body_json: JSON.stringify(doc), sealed_secret: null, key_id: null, updated_at: Date.now() };
    await this.store.write(this.store.alerts.putObject(row));
    this.take(row);
    return { created, rule: rt.rules.get(name)! };
  }

  async deleteRule(tenant: string, name: string): Promise<void> {
    if (!this.of(tenant).rules.has(name)) throw new NubisError('NOT_FOUND', `no run-time alert rule named ${JSON.stringify(name)}${Object.hasOwn(BUILTIN_ALERT_RULES, name) ? ' (a built-in rule is turned off with `enabled: false`)' : ''}`);
    await this.store.write(this.store.alerts.deleteObject(tenant, 'rule', name));
    this.of(tenant).rules.delete(name);
  }

  async putChannel(tenant: string, name: string, body: unknown): Promise<{ created: boolean; channel: ChannelInForce }> {
    if (name === 'log') throw new NubisError('REQUEST_INVALID', 'channel name "log" is the event log\'s; choose another name', { details: { parameter: 'name' } });
    const problems = schemaProblems(AlertChannelInput, body);
    if (problems.length) throw invalid(problems);
    const input = body as AlertChannelDoc & { secret?: string };
    const sem = alertChannelProblems(input as Record<string, unknown>, [], { inlineSecret: true });
    if (input.secret !== undefined && input.credential !== undefined) sem.push({ path: ['secret'], expected: 'either secret or credential', found: 'both' });
    if (sem.length) throw invalid(sem);
    const { secret, ...doc } = input;
    if (secret !== undefined && !this.key) throw new NubisError('UNAVAILABLE', 'this server has no key to seal secrets with');
    const rt = this.of(tenant);
    const created = !rt.channels.has(name);
    const row: AlertObjectRow = {
      tenant, kind: 'channel', name, body_json: JSON.stringify(doc),
      sealed_secret: secret !== undefined ? seal(this.key!.bytes, secret, channelAad(tenant, name)) : null,
      key_id: secret !== undefined ? this.key!.id : null, updated_at: Date.now(),
    };
    await this.store.write(this.store.alerts.putObject(row));
    this.take(row);
    return { created, channel: this.channels(tenant).get(name)! };
  }

  async deleteChannel(tenant: string, name: string): Promise<void> {
    if (!this.of(tenant).channels.has(name)) throw new NubisError('NOT_FOUND', `no run-time alert channel named ${JSON.stringify(name)}`);
    await this.store.write(this.store.alerts.deleteObject(tenant, 'channel', name));
    this.of(tenant).channels.delete(name);
  }
}
