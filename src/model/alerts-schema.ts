/**
 * The `alerts` section of a spec (and of run-time alert rules and channels): rules that open
 * an alert on events or on a metric condition, and the channels alerts are sent through.
 * Closed objects like the rest of the spec, so a misspelt key is an error.
 */
import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

const closed = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });

const NAME = '^[a-z][a-z0-9-]{0,39}$';
const DURATION = Type.String({ pattern: '^[0-9]+(ms|s|m|h)$', description: 'a duration such as 500ms, 30s, 2m or 1h' });
/** An event type (`backup.failed`); a trailing `*` matches a prefix (`backup.*`). */
export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9-]*(\\.[a-z0-9-]+)*(\\.\\*)?$';

export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const ALERT_CHANNEL_KINDS = ['webhook', 'smtp', 'log'] as const;
export type AlertChannelKind = (typeof ALERT_CHANNEL_KINDS)[number];

const EventType = Type.String({ pattern: EVENT_TYPE_PATTERN, maxLength: 100, description: 'an event type such as backup.failed; a trailing .* matches a prefix' });
const Scalar = Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean()]);
const WhereValue = Type.Union([Scalar, Type.Array(Scalar, { minItems: 1, maxItems: 50 })]);
const WHERE_KEY = '^(deployment|target|outcome|reason|actor|data(\\.[A-Za-z0-9_-]+)+)$';

const MetricCondition = closed(
  {
    expr: Type.String({ minLength: 1, maxLength: 4000, description: 'a query in the PromQL subset; each result element is one subject' }),
    above: Type.Optional(Type.Number({ description: 'firing while the value is > this' })),
    below: Type.Optional(Type.Number({ description: 'firing while the value is < this' })),
    atOrAbove: Type.Optional(Type.Number()),
    atOrBelow: Type.Optional(Type.Number()),
    for: Type.Optional(DURATION),
    interval: Type.Optional(DURATION),
  },
  'a metric condition: firing once it has held for `for` (default 0s), resolved when the value is back inside; evaluated every interval (default 30s)',
);

/** Exactly one of `events` (with where, resolvedBy, resolveWhere, subject) and `metric`. */
export const AlertTrigger = closed(
  {
    events: Type.Optional(Type.Array(EventType, { minItems: 1, maxItems: 50, description: 'the event types that open (or repeat) the alert' })),
    where: Type.Optional(
      Type.Record(Type.String({ pattern: WHERE_KEY }), WhereValue, {
        additionalProperties: false,
        description: 'fields the event must have: `outcome`, `target`, `data.code`…; a list matches any of its values, a string ending in * a prefix',
      }),
    ),
    resolvedBy: Type.Optional(Type.Array(EventType, { maxItems: 50, description: 'event types that resolve an open alert of the same subject (such as backup.succeeded)' })),
    resolveWhere: Type.Optional(
      Type.Record(Type.String({ pattern: WHERE_KEY }), WhereValue, { additionalProperties: false, description: 'fields a resolving event must have (as in where)' }),
    ),
    subject: Type.Optional(Type.String({ pattern: '^(deployment|target|data(\\.[A-Za-z0-9_-]+)+)$', description: 'the event field that tells alerts of one rule apart; default target (else the deployment)' })),
    metric: Type.Optional(MetricCondition),
  },
  'what opens the alert: events (exactly one of events and metric), or a metric condition',
);

export const AlertRule = closed(
  {
    on: Type.Optional(AlertTrigger),
    severity: Type.Optional(Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s)), { description: 'default warning (built-in rules: critical)' })),
    channels: Type.Optional(Type.Array(Type.String({ pattern: NAME }), { maxItems: 20, description: 'names of channels to notify; default: the event log and every channel marked default' })),
    quiet: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m|h)$', description: 'no repeat notification of an open alert within this; default 1h' })),
    summary: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the title of the alert; default from the rule and its event' })),
    enabled: Type.Optional(Type.Boolean()),
  },
  'an alert rule: when it fires an alert opens (one per subject), notifies its channels, and resolves when the condition clears',
);

const TLS_MODES = ['none', 'starttls', 'tls'] as const;
export const AlertChannel = closed(
  {
    kind: Type.Union(ALERT_CHANNEL_KINDS.map((k) => Type.Literal(k)), { description: 'webhook (JSON, HMAC-signed), smtp (mail) or log (the event log)' }),
    default: Type.Optional(Type.Boolean({ description: 'rules without `channels` (and the built-in rules) notify it' })),
    url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2000, description: 'webhook: where the JSON is POSTed' })),
    credential: Type.Optional(Type.String({ pattern: NAME, description: 'a stored credential (`nubis credentials set`) holding `secret` (webhook signing key) or `password` (SMTP)' })),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'smtp: the mail server' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'smtp: default 25 (465 with tls)' })),
    tls: Type.Optional(Type.Union(TLS_MODES.map((m) => Type.Literal(m)), { description: 'smtp: none, starttls (upgrade when offered; default) or tls (implicit)' })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'smtp: the login, with the credential\'s password' })),
    from: Type.Optional(Type.String({ minLength: 3, maxLength: 320, description: 'smtp: the sender address' })),
    to: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 320 }), { minItems: 1, maxItems: 50, description: 'smtp: the recipients' })),
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'tries before a delivery is given up; default 5' })),
    timeout: Type.Optional(DURATION),
  },
  'where alerts are sent',
);

export const AlertsSection = closed(
  {
    rules: Type.Optional(Type.Record(Type.String({ pattern: NAME }), AlertRule, { additionalProperties: false, description: 'alert rules by name; a built-in rule\'s name adjusts it' })),
    channels: Type.Optional(Type.Record(Type.String({ pattern: NAME }), AlertChannel, { additionalProperties: false, description: 'alert channels by name' })),
  },
  'alert rules and channels of this deployment (besides the built-in rules and the tenant\'s run-time ones)',
);

export type AlertRuleDoc = Static<typeof AlertRule>;
export type AlertChannelDoc = Static<typeof AlertChannel>;
export type AlertsDoc = Static<typeof AlertsSection>;
export const ALERT_SCHEMAS: Record<string, TSchema> = { AlertRule, AlertChannel };
