/**
 * Alert rules and channels: semantic checks (after the schema walk) and normalisation, shared
 * by the spec parser and the API's run-time definitions.
 */
import type { AlertChannelDoc, AlertChannelKind, AlertRuleDoc, AlertSeverity, AlertsDoc } from './alerts-schema.js';

/** What an event field must be: one value, any of a list, or a prefix (`CLOUD_*`). */
export type WhereValue = string | number | boolean | (string | number | boolean)[];

export type AlertTriggerSpec =
  | { kind: 'events'; events: string[]; where: Record<string, WhereValue>; resolvedBy: string[]; resolveWhere: Record<string, WhereValue>; subject: string }
  | { kind: 'metric'; expr: string; above?: number; below?: number; atOrAbove?: number; atOrBelow?: number; forMs: number; intervalMs: number };

export interface AlertRuleSpec {
  name: string;
  on: AlertTriggerSpec;
  severity: AlertSeverity;
  /** Absent: the event log and every default channel. */
  channels?: string[];
  /** No repeat notification of an open alert within this. Default 3 600 000. */
  quietMs: number;
  summary?: string;
  enabled: boolean;
}

/** A channel as the spec or the API gives it; secrets only by credential name or sealed, never plain here. */
export interface AlertChannelSpec {
  name: string;
  kind: AlertChannelKind;
  default: boolean;
  url?: string;
  credential?: string;
  host?: string;
  port?: number;
  tls?: 'none' | 'starttls' | 'tls';
  user?: string;
  from?: string;
  to?: string[];
  /** Default 5. */
  attempts: number;
  /** Per attempt. Default 10 000. */
  timeoutMs: number;
}

export interface AlertsSpec {
  /** The section's rules, each merged over the built-in rule of its name when there is one. */
  rules: Record<string, AlertRuleSpec>;
  channels: Record<string, AlertChannelSpec>;
}

export const ALERT_DEFAULTS = { quietMs: 3_600_000, attempts: 5, timeoutMs: 10_000, metricIntervalMs: 30_000 } as const;

type Seg = string | number;
export interface AlertProblem {
  path: Seg[];
  expected: string;
  found: string;
}

const UNIT = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
function ms(s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(s);
  return m ? Number(m[1]) * UNIT[m[2] as keyof typeof UNIT] : dflt;
}
const MAX_MS = 7 * 24 * 3_600_000;
const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const BOUNDS = ['above', 'below', 'atOrAbove', 'atOrBelow'] as const;
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

function durationProblem(path: Seg[], v: unknown, minMs: number): AlertProblem[] {
  if (typeof v !== 'string' || !/^[0-9]+(ms|s|m|h)$/.test(v)) return [];
  const n = ms(v, -1);
  return n < minMs || n > MAX_MS || !Number.isSafeInteger(n) ? [{ path, expected: `duration from ${minMs}ms to 168h`, found: `duration ${JSON.stringify(v)}` }] : [];
}

/**
 * Semantic problems of one rule document. `builtin` says whether the name is a built-in rule's
 * (then `on` may be left out); `channels` are the names a rule may notify, when known.
 */
export function alertRuleProblems(r: Record<string, unknown>, path: Seg[], builtin: boolean, channels: ReadonlySet<string> | undefined): AlertProblem[] {
  const out: AlertProblem[] = [];
  const on = r['on'];
  if (on === undefined && !builtin) out.push({ path: [...path, 'on'], expected: 'events or metric (only a built-in rule may leave `on` out)', found: 'missing key' });
  const o = rec(on);
  const m = rec(o['metric']);
  if (on !== undefined && (o['events'] === undefined) === (o['metric'] === undefined)) {
    out.push({ path: [...path, 'on'], expected: 'exactly one of events, metric', found: o['events'] !== undefined ? 'both' : 'neither' });
  }
  if (o['metric'] !== undefined) {
    for (const k of ['where', 'resolvedBy', 'resolveWhere', 'subject']) if (o[k] !== undefined) out.push({ path: [...path, 'on', k], expected: `no ${k} with metric (only with events)`, found: `key ${JSON.stringify(k)}` });
    if (!BOUNDS.some((b) => typeof m[b] === 'number')) out.push({ path: [...path, 'on', 'metric'], expected: 'at least one of above, below, atOrAbove, atOrBelow', found: 'no bound' });
    out.push(...durationProblem([...path, 'on', 'metric', 'for'], m['for'], 0), ...durationProblem([...path, 'on', 'metric', 'interval'], m['interval'], 100));
  }
  out.push(...durationProblem([...path, 'quiet'], r['quiet'], 0));
  const list = r['channels'];
  if (channels && Array.isArray(list)) {
    list.forEach((c, i) => {
      if (typeof c === 'string' && c !== 'log' && !channels.has(c)) out.push({ path: [...path, 'channels', i], expected: `name of a channel (log, ${[...channels].join(', ') || 'none defined'})`, found: `unknown channel ${JSON.stringify(c)}` });
    });
  }
  return out;
}

/** Semantic problems of one channel document: the keys its kind needs, and none it does not take. */
export function alertChannelProblems(c: Record<string, unknown>, path: Seg[], opts: { inlineSecret?: boolean } = {}): AlertProblem[] {
  const out: AlertProblem[] = [];
  const kind = c['kind'];
  const need = (k: string, what: string): void => {
    if (c[k] === undefined) out.push({ path: [...path, k], expected: what, found: 'missing key' });
  };
  const refuse = (keys: string[]): void => {
    for (const k of keys) if (c[k] !== undefined) out.push({ path: [...path, k], expected: `no ${k} on a ${String(kind)} channel`, found: `key ${JSON.stringify(k)}` });
  };
  const smtpKeys = ['host', 'port', 'tls', 'user', 'from', 'to'];
  if (kind === 'webhook') {
    need('url', 'the URL to POST to');
    if (c['credential'] === undefined && !(opts.inlineSecret && c['secret'] !== undefined)) {
      out.push({ path: [...path, 'credential'], expected: opts.inlineSecret ? 'credential or secret: the signing key' : 'the name of a stored credential holding the signing key (field secret)', found: 'missing key' });
    }
    refuse(smtpKeys);
    const url = c['url'];
    if (typeof url === 'string' && /^https?:\/\/\S+$/.test(url) && !URL.canParse(url)) out.push({ path: [...path, 'url'], expected: 'an http or https URL', found: `string ${JSON.stringify(url)}` });
  } else if (kind === 'smtp') {
    need('host', 'the mail server host');
    need('from', 'the sender address');
    need('to', 'the recipients');
    refuse(['url']);
    if (c['user'] !== undefined && c['credential'] === undefined && !(opts.inlineSecret && c['secret'] !== undefined)) {
      out.push({ path: [...path, 'credential'], expected: 'a credential (field password) with user', found: 'missing key' });
    }
    const addrs: [Seg[], unknown][] = [[[...path, 'from'], c['from']], ...(Array.isArray(c['to']) ? c['to'].map((t, i): [Seg[], unknown] => [[...path, 'to', i], t]) : [])];
    for (const [p, a] of addrs) if (typeof a === 'string' && !ADDRESS.test(a)) out.push({ path: p, expected: 'a mail address such as ops@example.com', found: `string ${JSON.stringify(a)}` });
  } else if (kind === 'log') {
    refuse([...smtpKeys, 'url', 'credential', 'attempts', 'timeout', ...(opts.inlineSecret ? ['secret'] : [])]);
  }
  out.push(...durationProblem([...path, 'timeout'], c['timeout'], 100));
  return out;
}

/** A checked rule document, merged over a built-in rule of its name when there is one. */
export function normaliseAlertRule(name: string, r: AlertRuleDoc, base?: AlertRuleSpec): AlertRuleSpec {
  let on: AlertTriggerSpec;
  if (r.on === undefined) {
    if (!base) throw new Error(`alert rule ${name}: no trigger`);
    on = base.on;
  } else if (r.on.events !== undefined) {
    on = {
      kind: 'events', events: [...r.on.events], where: { ...(r.on.where ?? {}) }, resolvedBy: [...(r.on.resolvedBy ?? [])],
      resolveWhere: { ...(r.on.resolveWhere ?? {}) }, subject: r.on.subject ?? 'target',
    };
  } else {
    const m = r.on.metric!;
    on = { kind: 'metric', expr: m.expr, forMs: ms(m.for, 0), intervalMs: ms(m.interval, ALERT_DEFAULTS.metricIntervalMs) };
    for (const b of BOUNDS) if (m[b] !== undefined) on[b] = m[b];
  }
  const out: AlertRuleSpec = {
    name,
    on,
    severity: r.severity ?? base?.severity ?? 'warning',
    quietMs: r.quiet !== undefined ? ms(r.quiet, ALERT_DEFAULTS.quietMs) : base?.quietMs ?? ALERT_DEFAULTS.quietMs,
    enabled: r.enabled ?? base?.enabled ?? true,
  };
  const channels = r.channels ?? base?.channels;
  if (channels) out.channels = [...channels];
  const summary = r.summary ?? base?.summary;
  if (summary !== undefined) out.summary = summary;
  return out;
}

export function normaliseAlertChannel(name: string, c: AlertChannelDoc): AlertChannelSpec {
  const out: AlertChannelSpec = { name, kind: c.kind, default: c.default ?? false, attempts: c.attempts ?? ALERT_DEFAULTS.attempts, timeoutMs: ms(c.timeout, ALERT_DEFAULTS.timeoutMs) };
  for (const k of ['url', 'credential', 'host', 'port', 'tls', 'user', 'from'] as const) if (c[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = c[k];
  if (c.to) out.to = [...c.to];
  if (c.kind === 'smtp') {
    out.tls ??= 'starttls';
    out.port ??= out.tls === 'tls' ? 465 : 25;
  }
  return out;
}

/**
 * Problems of a spec's `alerts` section. A spec rule may also name the tenant's run-time
 * channels, so channel names are not checked here: an unknown one is a failed delivery event.
 */
export function alertsProblems(section: unknown): AlertProblem[] {
  const s = rec(section);
  const out: AlertProblem[] = [];
  for (const [n, c] of Object.entries(rec(s['channels']))) out.push(...alertChannelProblems(rec(c), ['alerts', 'channels', n]));
  for (const [n, r] of Object.entries(rec(s['rules']))) out.push(...alertRuleProblems(rec(r), ['alerts', 'rules', n], Object.hasOwn(BUILTIN_ALERT_RULES, n), undefined));
  return out;
}

/** A checked `alerts` section, rules merged over the built-ins of their names. */
export function normaliseAlerts(doc: AlertsDoc): AlertsSpec {
  const channels: Record<string, AlertChannelSpec> = {};
  for (const [n, c] of Object.entries(doc.channels ?? {})) channels[n] = normaliseAlertChannel(n, c);
  const rules: Record<string, AlertRuleSpec> = {};
  for (const [n, r] of Object.entries(doc.rules ?? {})) rules[n] = normaliseAlertRule(n, r, builtinAlertRule(n));
  return { rules, channels };
}

const critical = (events: string[], resolvedBy: string[], where: Record<string, WhereValue> = {}, resolveWhere: Record<string, WhereValue> = {}, subject = 'target'): AlertRuleSpec => ({
  name: '', on: { kind: 'events', events, where, resolvedBy, resolveWhere, subject }, severity: 'critical', quietMs: ALERT_DEFAULTS.quietMs, enabled: true,
});
/** Backups, drills and restores are told apart by instance (the target) and policy. */
const perPolicy = (events: string[], resolvedBy: string[]): AlertRuleSpec => critical(events, resolvedBy, {}, {}, 'target+data.policy');

/**
 * The rules every tenant has without configuring anything; a rule of the same name (spec or
 * run time) adjusts one (`enabled: false` turns it off). Event types are the operations'
 * contract (COMMON.md); `node.state` failed with `data.alert` is the engine's record of a
 * provider error that is not retried (src/engine/controllers/nodes).
 */
export const BUILTIN_ALERT_RULES: Readonly<Record<string, AlertRuleSpec>> = {
  'backup-failed': perPolicy(['backup.failed'], ['backup.succeeded']),
  'drill-failed': perPolicy(['drill.failed'], ['drill.passed']),
  'restore-failed': perPolicy(['restore.failed'], ['restore.succeeded']),
  'recovery-gave-up': critical(['recovery.gave-up'], ['recovery.recovered']),
  'provider-error': critical(['node.state'], ['node.state'], { outcome: 'failed', 'data.alert': true }, { outcome: ['running', 'deleted'] }),
  'budget-exceeded': critical(['budget.exceeded'], ['budget.ok']),
  'budget-warning': { ...critical(['budget.warning'], ['budget.ok']), severity: 'warning' },
  // one alert per leaked resource (its target: cloud/kind/id), resolved when it is deleted or gone
  'leak-found': critical(['leak.found'], ['leak.deleted', 'leak.gone']),
};

/** The built-in rule of this name, or undefined. */
export function builtinAlertRule(name: string): AlertRuleSpec | undefined {
  const b = Object.hasOwn(BUILTIN_ALERT_RULES, name) ? BUILTIN_ALERT_RULES[name] : undefined;
  return b ? { ...b, name } : undefined;
}
