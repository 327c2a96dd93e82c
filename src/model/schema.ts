/**
 * The application spec: one TypeBox definition gives the TypeScript types, the runtime
 * validator and the published JSON Schema (`schema/spec.schema.json`, served at
 * `/v1/schema/spec.json`). Keep every object closed (`additionalProperties: false`) so a
 * misspelt key is an error, not a silently ignored setting.
 */
import { Type, type Static, type TSchema, type TObject, type TProperties } from '@sinclair/typebox';
import { AlertsSection } from './alerts-schema.js';
import { Firewall, Placement } from './policy-schema.js';
import { BackupsSection } from './backups-schema.js';

const closed = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });

/** A name usable in keys, env vars and host names. */
export const NAME_PATTERN = '^[a-z][a-z0-9-]{0,39}$';
const Name = (description: string): TSchema => Type.String({ pattern: NAME_PATTERN, description });

/** A mapping keyed by names; any other key is an error (closed like every object). */
const Named = <T extends TSchema>(value: T, description?: string) =>
  Type.Record(Type.String({ pattern: NAME_PATTERN }), value, {
    additionalProperties: false,
    ...(description ? { description } : {}),
  });

/** Durations carry their unit: `500ms`, `30s`, `2m`, `1h`. */
/** Environment variable names. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h)$';
export const Duration = Type.String({ pattern: DURATION_PATTERN, description: 'a duration such as 500ms, 30s, 2m or 1h' });

export const PLATFORMS = ['local', 'sim', 'ssh', 'openstack', 'ec2', 'cloudsigma'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const HANDLER_NAMES = ['install', 'configure', 'start', 'stop', 'update'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export const Cloud = closed(
  {
    platform: Type.Union(PLATFORMS.map((p) => Type.Literal(p)), { description: 'the kind of cloud API' }),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'platform-specific options' })),
    concurrency: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'most node creations in flight at once; adaptive when absent' }),
    ),
    credential: Type.Optional(
      Type.String({ pattern: NAME_PATTERN, description: 'name of a stored credential whose secrets the driver receives (`nubis credentials set`)' }),
    ),
  },
  'a cloud: a platform with its options',
);

export const Requirements = closed({
  cores: Type.Optional(Type.Integer({ minimum: 1, description: 'at least this many cores' })),
  memory: Type.Optional(Type.Integer({ minimum: 1, description: 'at least this much memory, in MiB' })),
  disk: Type.Optional(Type.Integer({ minimum: 1, description: 'at least this much disk, in GiB' })),
  os: Type.Optional(Type.String({ description: 'OS family, such as linux or ubuntu' })),
  osVersion: Type.Optional(Type.String()),
  clouds: Type.Optional(Type.Array(Type.String(), { minItems: 1, description: 'names of clouds allowed' })),
  locations: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  maxPrice: Type.Optional(Type.Number({ minimum: 0, description: 'most per hour' })),
});

export const NodeTemplate = closed(
  {
    cloud: Type.Optional(
      Type.String({ description: 'name of a cloud in `clouds`; when absent, the requirements choose among the registered clouds' }),
    ),
    requirements: Type.Optional(Requirements),
    spread: Type.Optional(
      Type.Union([Type.Literal('clouds'), Type.Literal('locations')], {
        description: 'place successive nodes on the registered cloud (or location) with the fewest so far',
      }),
    ),
    placement: Type.Optional(Placement),
    cloudInit: Type.Optional(
      Type.Union(
        [
          Type.String({ minLength: 1, description: 'a cloud-config document (first line #cloud-config)' }),
          closed({ file: Type.String({ minLength: 1, description: 'a cloud-config file beside the spec (sent with it)' }) }),
        ],
        { description: 'your own cloud-config for first boot (openstack, ec2, cloudsigma), sent beside the Nubis part that starts the agent' },
      ),
    ),
  },
  'what a node needs',
);

export const Handler = Type.Union(
  [
    Type.String({ minLength: 1, description: 'a shell command, with the default timeout' }),
    closed({
      run: Type.String({ minLength: 1, description: 'a shell command run in the instance directory' }),
      timeout: Type.Optional(Duration),
      retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, description: 'extra attempts after a failure' })),
    }),
  ],
  { description: 'a lifecycle handler' },
);

export const Health = closed(
  {
    command: Type.Optional(Type.String({ minLength: 1, description: 'healthy when it exits 0' })),
    tcp: Type.Optional(Type.String({ description: 'name of a provided port that must accept a connection' })),
    http: Type.Optional(
      closed({
        port: Type.String({ description: 'name of a provided port' }),
        path: Type.Optional(Type.String({ pattern: '^/' })),
      }),
    ),
    interval: Type.Optional(Duration),
    timeout: Type.Optional(Duration),
    retries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'consecutive failures before unhealthy' })),
  },
  'a health probe: exactly one of command, tcp or http',
);

export const Lifecycle = closed({
  install: Type.Optional(Handler),
  configure: Type.Optional(Handler),
  start: Type.Optional(Handler),
  stop: Type.Optional(Handler),
  update: Type.Optional(Handler),
  health: Type.Optional(Health),
  backup: Type.Optional(Handler),
  restore: Type.Optional(Handler),
  verify: Type.Optional(Handler),
});

/** Names of an operation's parameters: each becomes `NUBIS_PARAM_<NAME>` (upper case) in the handler's env. */
export const PARAM_NAME_PATTERN = '^[a-z][a-z0-9_]{0,39}$';
export const PARAM_TYPES = ['string', 'integer', 'number', 'boolean'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export const OperationParam = closed(
  {
    type: Type.Union(PARAM_TYPES.map((t) => Type.Literal(t)), { description: 'the JSON type of the value' }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    required: Type.Optional(Type.Boolean({ description: 'a run without it is refused; default false' })),
    default: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'the value when a run gives none' })),
    enum: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Number()]), { minItems: 1, description: 'the only values allowed' })),
    minimum: Type.Optional(Type.Number({ description: 'integer and number: the least value' })),
    maximum: Type.Optional(Type.Number({ description: 'integer and number: the greatest value' })),
    minLength: Type.Optional(Type.Integer({ minimum: 0, description: 'string: the fewest characters' })),
    maxLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 65536, description: 'string: the most characters (at most 65536)' })),
    pattern: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'string: a regular expression the value must match' })),
  },
  'a typed parameter of an operation (a JSON Schema subset)',
);

export const Operation = Type.Union(
  [
    Type.String({ minLength: 1, description: 'a shell command, with the default timeout and no parameters' }),
    closed({
      run: Type.String({ minLength: 1, description: 'a shell command run in the instance directory; parameters arrive as NUBIS_PARAM_<NAME>, never in this text' }),
      description: Type.Optional(Type.String({ maxLength: 500 })),
      timeout: Type.Optional(Duration),
      params: Type.Optional(
        Type.Record(Type.String({ pattern: PARAM_NAME_PATTERN }), OperationParam, { additionalProperties: false, description: 'typed parameters, by name' }),
      ),
    }),
  ],
  { description: 'a custom operation: a named command run on demand on some or all instances' },
);

export const ProvidedPort = closed({
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'fixed port on clouds with own addresses' })),
});

export const RequiredPort = closed(
  {
    component: Type.String({ description: 'the component that provides the port' }),
    port: Type.String({ description: 'the name of its provided port' }),
    optional: Type.Optional(Type.Boolean({ description: 'start without it and receive `update` when it appears' })),
  },
  'a channel to another component',
);

export const Instances = closed({
  count: Type.Integer({ minimum: 0, description: 'how many instances to run' }),
  min: Type.Optional(Type.Integer({ minimum: 0, description: 'fewest instances scaling may leave; default 0' })),
  max: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'most instances scaling may add; default max(count, 100)' })),
  scaleIn: Type.Optional(Type.Union([Type.Literal('youngest'), Type.Literal('oldest')], { description: 'which instances go first' })),
});

export const UpdateStrategy = closed(
  {
    maxUnavailable: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'instances a rolling update may take out of service at once; default 1' })),
    maxSurge: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'extra instances a replacing update may start before old ones go; default 0' })),
    healthGate: Type.Optional(
      closed(
        { timeout: Type.Optional(Type.String({ pattern: DURATION_PATTERN, description: 'how long a batch may take to be running and healthy; default 10m' })) },
        'between batches, every instance of the component must be running and healthy',
      ),
    ),
  },
  'how a re-apply that changes handlers, env, artefacts or the node template is rolled out: batches of restarts in place, or of replacements when the node template changed',
);

/** The steps of a recovery ladder, in their usual order (src/operations/recovery). */
export const RECOVERY_STEPS = ['restart', 'reboot', 'recreate', 'alert'] as const;
export type RecoveryStep = (typeof RECOVERY_STEPS)[number];
/** Ladder steps that act (and so have a give-up limit); `alert` tells a person and gives up. */
export const RECOVERY_ACTIONS = ['restart', 'reboot', 'recreate'] as const;

const RecoveryLimit = closed(
  {
    max: Type.Integer({ minimum: 0, maximum: 1000, description: 'most times this step is taken within `within`; then the ladder skips it' }),
    within: Type.String({ pattern: DURATION_PATTERN, description: 'the sliding window the count is taken over, such as 10m' }),
  },
  'a give-up limit: at most `max` of this step within `within` (Brooklyn\'s restarter/replacer limits)',
);

export const RecoveryPolicy = closed(
  {
    window: Type.Optional(Type.String({ pattern: DURATION_PATTERN, description: 'probe failures are counted over this sliding window; default 30s' })),
    failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'probe failures within the window that mean the instance failed; default 3' })),
    ladder: Type.Optional(
      Type.Array(Type.Union(RECOVERY_STEPS.map((s) => Type.Literal(s))), {
        minItems: 1, maxItems: 4, description: 'the steps tried in order; default [restart, reboot, recreate, alert]',
      }),
    ),
    limits: Type.Optional(closed({ restart: Type.Optional(RecoveryLimit), reboot: Type.Optional(RecoveryLimit), recreate: Type.Optional(RecoveryLimit) })),
    stable: Type.Optional(Type.String({ pattern: DURATION_PATTERN, description: 'healthy this long ends a give-up and starts the ladder again from its first step; default 5m' })),
    stepTimeout: Type.Optional(Type.String({ pattern: DURATION_PATTERN, description: 'how long a step may take to bring the instance back before the next step is tried; default 10m' })),
  },
  'what to do when an instance fails: detection over a window of probe failures, then a ladder of steps with give-up limits',
);

export const Component = closed({
  nodeTemplate: Type.String({ description: 'name of a node template in `nodeTemplates`' }),
  instances: Type.Optional(Instances),
  provides: Type.Optional(Named(ProvidedPort, 'ports this component offers, by name')),
  requires: Type.Optional(Named(RequiredPort, 'channels to ports of other components, by name')),
  env: Type.Optional(
    Type.Record(
      Type.String({ pattern: ENV_NAME_PATTERN }),
      Type.Union([
        Type.String(),
        closed(
          { secret: Type.String({ minLength: 1, description: 'the value; sealed at rest with the installation key, never shown again' }) },
          'a secret value: handlers get it as any other variable; the store keeps it sealed, responses, events and the stored spec text show "***"',
        ),
      ]),
      {
        additionalProperties: false,
        description: 'environment variables for every handler; `NAME: { secret: "…" }` marks a secret value',
      },
    ),
  ),
  artefacts: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'files or folders, relative to the spec file' })),
  lifecycle: Type.Optional(Lifecycle),
  updateStrategy: Type.Optional(UpdateStrategy),
  recovery: Type.Optional(RecoveryPolicy),
  operations: Type.Optional(Named(Operation, 'custom operations run on demand (`nubis run`), by name')),
});

/** A metric name usable bare in PromQL (`app_cpu`) or Graphite-style dotted (`app.cpu.avg`). */
export const METRIC_NAME_PATTERN = '^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$';
/** A 5-field cron expression: minute hour day-of-month month day-of-week. */
export const CRON_PATTERN = '^\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+$';

export const MetricDef = closed(
  {
    expr: Type.String({ minLength: 1, maxLength: 4000, description: 'a query in the PromQL subset; each result element is stored as a series named after the metric' }),
    interval: Type.Optional(Duration),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  'an aggregated or composite metric, evaluated every interval (default 10s) and stored',
);

/** A comparison of query results with a threshold; at least one bound. */
const comparisonProps = {
  expr: Type.String({ minLength: 1, maxLength: 4000, description: 'a query in the PromQL subset' }),
  above: Type.Optional(Type.Number({ description: 'holds when the value is > this' })),
  below: Type.Optional(Type.Number({ description: 'holds when the value is < this' })),
  atOrAbove: Type.Optional(Type.Number({ description: 'holds when the value is ≥ this' })),
  atOrBelow: Type.Optional(Type.Number({ description: 'holds when the value is ≤ this' })),
};
export const Comparison = closed(comparisonProps, 'a query and one or more bounds its value must satisfy');
export const AtLeast = closed(
  { instances: Type.Integer({ minimum: 1, description: 'how many ready instances must satisfy the comparison' }), ...comparisonProps },
  'at least k ready instances satisfy the comparison',
);
export const CountCondition = closed(
  {
    above: Type.Optional(Type.Integer({ description: 'holds when the desired count is > this' })),
    below: Type.Optional(Type.Integer({ description: 'holds when the desired count is < this' })),
    atOrAbove: Type.Optional(Type.Integer()),
    atOrBelow: Type.Optional(Type.Integer()),
  },
  'a bound on the component\'s desired instance count',
);

/** Conditions nest `and`/`or`/`not` up to this depth. */
export const CONDITION_DEPTH = 2;
const conditionLeaves = {
  all: Type.Optional(Comparison),
  any: Type.Optional(Comparison),
  atLeast: Type.Optional(AtLeast),
  value: Type.Optional(Comparison),
  count: Type.Optional(CountCondition),
};
function conditionSchema(depth: number): TSchema {
  const description = 'exactly one of all, any, atLeast, value, count, and, or, not';
  if (depth === 0) return closed(conditionLeaves, description);
  const inner = conditionSchema(depth - 1);
  return closed(
    {
      ...conditionLeaves,
      and: Type.Optional(Type.Array(inner, { minItems: 1 })),
      or: Type.Optional(Type.Array(inner, { minItems: 1 })),
      not: Type.Optional(inner),
    },
    description,
  );
}
export const Condition = conditionSchema(CONDITION_DEPTH);

export const RuleAction = closed(
  {
    scale: Type.Union([Type.Literal('out'), Type.Literal('in'), Type.Literal('to')], { description: 'add, remove, or set instances' }),
    by: Type.Optional(Type.Integer({ minimum: 1, description: 'out/in: this many instances' })),
    percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000, description: 'out/in: this percentage of the current count, rounded up' })),
    minStep: Type.Optional(Type.Integer({ minimum: 1, description: 'with percent: at least this many (default 1)' })),
    count: Type.Optional(Type.Integer({ minimum: 0, description: 'to: exactly this many' })),
    min: Type.Optional(Type.Integer({ minimum: 0, description: 'never leave fewer than this (within the component\'s min)' })),
    max: Type.Optional(Type.Integer({ minimum: 0, description: 'never add beyond this (within the component\'s max)' })),
  },
  'what to do when the condition has held for `for`',
);

export const Rule = closed(
  {
    component: Type.String({ pattern: NAME_PATTERN, description: 'the component the rule scales (and whose instances quantifiers range over)' }),
    when: Condition,
    for: Type.Optional(Duration),
    action: RuleAction,
    cooldown: Type.Optional(Duration),
    stabilization: Type.Optional(Duration),
    interval: Type.Optional(Duration),
    enabled: Type.Optional(Type.Boolean()),
  },
  'a scaling rule: when the condition has held for `for`, act on the component',
);

export const Schedule = closed(
  {
    component: Type.String({ pattern: NAME_PATTERN, description: 'the component whose count is set' }),
    count: Type.Integer({ minimum: 0, description: 'the instance count to set' }),
    cron: Type.Optional(Type.String({ pattern: CRON_PATTERN, description: '5-field cron: minute hour day-of-month month day-of-week' })),
    timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the cron fields; default UTC' })),
    at: Type.Optional(Type.String({ minLength: 1, description: 'a one-off start time (ISO 8601 with offset or Z)' })),
    enabled: Type.Optional(Type.Boolean()),
  },
  'scheduled scaling: set a component\'s count on a cron recurrence or once at a time',
);

/** A Prometheus label name. */
export const LABEL_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,99}$';

export const ScrapeTarget = closed(
  {
    url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2000, description: 'the Prometheus text-format endpoint, such as http://10.0.0.5:9100/metrics' }),
    interval: Type.Optional(Duration),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: LABEL_NAME_PATTERN }), Type.String({ maxLength: 500 }), {
        additionalProperties: false,
        description: 'labels added to every scraped sample (besides deployment and instance)',
      }),
    ),
  },
  'a Prometheus text-format target scraped every interval (default 15s) into the metric store',
);

/** A credential Nubis generates for a deployment: passed to a component's environment, sealed at rest, shown once when the deployment is ready. */
export const AccessCredential = closed(
  {
    generate: Type.Union([Type.Literal('password'), Type.Literal('token')], { description: 'password: letters, digits and symbols; token: URL-safe letters and digits' }),
    length: Type.Optional(Type.Integer({ minimum: 12, maximum: 256, description: 'characters; default 24' })),
    env: Type.String({ pattern: ENV_NAME_PATTERN, description: 'the environment variable the component\'s handlers get it in' }),
    component: Type.String({ pattern: NAME_PATTERN, description: 'the component that gets it' }),
  },
  'a generated credential',
);

export const Access = closed(
  { credentials: Type.Optional(Named(AccessCredential, 'generated credentials, by name')) },
  'what the person who asked for the deployment receives when it is ready: its endpoints and these credentials (`nubis endpoints`)',
);

export const Spec = closed(
  {
    name: Name('the deployment name'),
    clouds: Named(Cloud, 'the clouds this application may use, by name'),
    nodeTemplates: Named(NodeTemplate, 'kinds of node, by name'),
    components: Named(Component, 'the application components, by name'),
    metrics: Type.Optional(
      Type.Record(Type.String({ pattern: METRIC_NAME_PATTERN }), MetricDef, {
        additionalProperties: false,
        description: 'aggregated and composite metrics, by series name',
      }),
    ),
    rules: Type.Optional(Named(Rule, 'scaling rules, by name')),
    schedules: Type.Optional(Named(Schedule, 'scheduled scaling policies, by name')),
    scrape: Type.Optional(Named(ScrapeTarget, 'Prometheus text-format targets the control plane scrapes, by name')),
    access: Type.Optional(Access),
    alerts: Type.Optional(AlertsSection),
    firewall: Type.Optional(Firewall),
    backups: Type.Optional(BackupsSection),
  },
  'a Nubis application spec',
);

export type SpecDoc = Static<typeof Spec>;
export type CloudDoc = Static<typeof Cloud>;
export type ComponentDoc = Static<typeof Component>;
export type RecoveryPolicyDoc = Static<typeof RecoveryPolicy>;
export type HandlerDoc = Static<typeof Handler>;
export type HealthDoc = Static<typeof Health>;
export type OperationDoc = Static<typeof Operation>;
export type OperationParamDoc = Static<typeof OperationParam>;
export type RequirementsDoc = Static<typeof Requirements>;
export type MetricDefDoc = Static<typeof MetricDef>;
export type RuleDoc = Static<typeof Rule>;
export type ScheduleDoc = Static<typeof Schedule>;
export type ScrapeTargetDoc = Static<typeof ScrapeTarget>;
export type ComparisonDoc = Static<typeof Comparison>;
export type RuleActionDoc = Static<typeof RuleAction>;
/** A condition as written (the schema nests it to CONDITION_DEPTH; the type is recursive). */
export interface ConditionDoc {
  all?: ComparisonDoc;
  any?: ComparisonDoc;
  atLeast?: Static<typeof AtLeast>;
  value?: ComparisonDoc;
  count?: Static<typeof CountCondition>;
  and?: ConditionDoc[];
  or?: ConditionDoc[];
  not?: ConditionDoc;
}
