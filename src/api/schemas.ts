/**
 * TypeBox schemas of every request body and response the API speaks. The router validates
 * bodies with them and the OpenAPI document is built from them, so the two cannot drift.
 * The type assertions at the bottom fail the build if a schema and its view type in
 * `src/engine/views.ts` disagree.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { HANDLER_NAMES, MetricDef, NAME_PATTERN, Rule, Schedule, ScrapeTarget } from '../model/schema.js';
import type {
  ComponentView, DeploymentSummary, DeploymentView, EndpointView, ForgetResult, InstanceView, PlanAction, PlanResult, SpecInput, StepLog,
} from '../engine/views.js';
import type { NubisEvent } from '../events/index.js';
import { CLOUD_SCHEMAS } from './routes-clouds.js';
import { MONITOR_SCHEMAS } from './routes-metrics.js';
import { TOKEN_SCHEMAS } from './routes-tokens.js';
import { USER_SCHEMAS } from './routes-users.js';
import { CATALOG_SCHEMAS } from './routes-catalog.js';
import { ROLLOUT_SCHEMAS, RolloutLineSchema } from './routes-rollout.js';
import { ACCESS_SCHEMAS } from './routes-access.js';
import { RECOVERY_SCHEMAS } from './routes-recovery.js';
import { BACKUP_SCHEMAS } from './routes-backups.js';
import { WORKFLOW_SCHEMAS } from './routes-workflows.js';
import { OPERATION_SCHEMAS } from './routes-operations.js';
import { ALERT_API_SCHEMAS } from './routes-alerts.js';

const closed = Type.Object;
const opts = { additionalProperties: false } as const;

/** Standard base64 (padding optional) or base64url. */
export const BASE64_PATTERN = '^[A-Za-z0-9+/_-]*={0,2}$';

export const SpecInputSchema = closed(
  {
    spec: Type.String({ description: 'the spec as YAML text' }),
    file: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'file name used in error messages; default spec.yaml' })),
    artefacts: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 1024 }), Type.String({ pattern: BASE64_PATTERN }), {
        description: 'relative path → base64 content of every artefact file the spec names',
      }),
    ),
  },
  { ...opts, description: 'a spec as submitted: YAML text plus the artefact files it names' },
);

export const ScaleRequestSchema = closed(
  {
    component: Type.String({ pattern: NAME_PATTERN, description: 'component name' }),
    count: Type.Integer({ minimum: 0, description: 'desired number of instances, within the component\'s min and max' }),
  },
  opts,
);
export type ScaleRequest = Static<typeof ScaleRequestSchema>;

const Phase = Type.Union(
  (['pending', 'installed', 'configured', 'started', 'running', 'stopping', 'stopped', 'failed'] as const).map((p) => Type.Literal(p)),
);
const NodeStateSchema = Type.Union(
  (['pending', 'creating', 'provisioning', 'running', 'unreachable', 'deleting', 'failed'] as const).map((p) => Type.Literal(p)),
);
const DeploymentStateSchema = Type.Union((['applying', 'ready', 'degraded', 'destroying'] as const).map((p) => Type.Literal(p)));

export const InstanceViewSchema = Type.Object({
  name: Type.String(),
  component: Type.String(),
  ordinal: Type.Integer(),
  desired: Type.Boolean(),
  phase: Phase,
  health: Type.Union([Type.Literal('unknown'), Type.Literal('healthy'), Type.Literal('unhealthy'), Type.Literal('unreachable')], { description: "unreachable: its node does not answer; its consumers' wiring leaves it out until it does" }),
  node: Type.Object({
    key: Type.String(),
    cloud: Type.String(),
    state: NodeStateSchema,
    id: Type.Optional(Type.String()),
    address: Type.Optional(Type.String()),
    step: Type.Optional(Type.Union([Type.Literal('booting'), Type.Literal('contextualizing'), Type.Literal('agent-up')], { description: 'first boot: the cloud provisions it; it runs but its agent does not answer yet; its agent answers (ready)' })),
    bootMs: Type.Optional(Type.Integer({ description: 'how long booting took, in ms' })),
    contextualizeMs: Type.Optional(Type.Integer({ description: 'how long contextualizing took (so far, while it lasts), in ms' })),
  }),
  endpoints: Type.Record(Type.String(), Type.String(), { description: 'provided port name → host:port' }),
  lastError: Type.Optional(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
});

export const ComponentViewSchema = Type.Object({
  name: Type.String(),
  desired: Type.Integer(),
  running: Type.Integer(),
  min: Type.Integer(),
  max: Type.Integer(),
});

export const CloudNoteSchema = Type.Object({
  cloud: Type.String(),
  health: Type.Union([Type.Literal('backoff'), Type.Literal('unusable')], { description: 'unusable: calls stopped until the credential or the cloud entry changes' }),
  reason: Type.String(),
  code: Type.Optional(Type.String()),
  since: Type.String({ format: 'date-time' }),
  retryAt: Type.Optional(Type.String({ format: 'date-time' })),
  refused: Type.Integer({ description: 'calls failed fast, without reaching the cloud, since this state began' }),
});

export const DeploymentRolloutSchema = Type.Object({
  status: Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('failed')]),
  version: Type.Integer(),
  batch: Type.Integer({ description: 'batches started so far, over every component' }),
  batches: Type.Integer({ description: 'batches the rollout takes: those started and those its outdated instances still need' }),
  updated: Type.Integer({ description: 'wanted instances at the new revision' }),
  instances: Type.Integer({ description: 'instances wanted' }),
  reason: Type.Optional(Type.String({ description: 'why it failed, or who paused it' })),
  line: Type.String({ description: 'for people: `batch 2/5, 3 of 5 updated, paused (by alice)`' }),
}, { description: 'the rolling update while it runs, is paused or failed; absent otherwise' });

export const ScaleRefusalSchema = Type.Object({
  component: Type.String(),
  by: Type.String({ description: 'who asked: rule:<name>, schedule:<name>' }),
  wanted: Type.Integer({ description: 'the count asked for' }),
  applied: Type.Optional(Type.Integer({ description: 'the count set instead when a rule was capped at the bound' })),
  bound: Type.Union([Type.Literal('max'), Type.Literal('min')]),
  limit: Type.Integer({ description: 'the bound\'s value' }),
  limitOf: Type.String({ description: 'instances.max, instances.min, rule max or rule min' }),
  code: Type.Literal('SCALE_OUT_OF_BOUNDS'),
  reason: Type.String(),
  at: Type.String({ format: 'date-time' }),
});

export const DeploymentViewSchema = Type.Object({
  name: Type.String(),
  state: DeploymentStateSchema,
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  components: Type.Array(ComponentViewSchema),
  instances: Type.Array(InstanceViewSchema),
  clouds: Type.Optional(Type.Array(CloudNoteSchema, { description: 'clouds of this deployment that back off or were stopped, and why' })),
  rollout: Type.Optional(DeploymentRolloutSchema),
  scaling: Type.Optional(Type.Array(ScaleRefusalSchema, { description: 'scale requests of rules and schedules that a component\'s bounds refused or capped, latest per component, until a scale of it goes through' })),
});

export const ForgetResultSchema = Type.Object({
  deployment: Type.String(),
  forgotten: Type.Literal(true),
  leftovers: Type.Array(Type.Object({
    key: Type.String({ description: 'the node key, also its nubis-key tag' }),
    cloud: Type.String(),
    status: NodeStateSchema,
    id: Type.Optional(Type.String({ description: 'the provider id' })),
  }), { description: 'nodes that may still exist in their clouds' }),
});

export const DeploymentSummarySchema = Type.Object({
  name: Type.String(),
  state: DeploymentStateSchema,
  version: Type.Integer(),
  instances: Type.Object({ desired: Type.Integer(), running: Type.Integer() }),
});

export const EndpointViewSchema = Type.Object({
  instance: Type.String(),
  component: Type.String(),
  port: Type.String(),
  address: Type.String({ description: 'host:port' }),
});

const PlanActionKindSchema = Type.Union(
  (['create-node', 'delete-node', 'install', 'configure', 'start', 'update', 'stop', 'restart'] as const).map((k) => Type.Literal(k)),
);

export const PlanActionSchema = Type.Object({
  id: Type.String(),
  kind: PlanActionKindSchema,
  target: Type.String(),
  cloud: Type.Optional(Type.String()),
  after: Type.Array(Type.String()),
  reason: Type.String(),
  host: Type.Optional(Type.String({ description: 'create-node with a placement policy: the host chosen' })),
  placement: Type.Optional(Type.String({ description: 'create-node with a placement policy: why that host' })),
});

export const CountDecisionSchema = Type.Object({
  component: Type.String(),
  spec: Type.Integer({ description: 'the count the spec gives now' }),
  runtime: Type.Integer({ description: 'the count set at run time (scale, a rule, a schedule)' }),
  count: Type.Integer({ description: 'the count after apply' }),
  wins: Type.Union([Type.Literal('spec'), Type.Literal('runtime')]),
  reason: Type.String(),
});

export const PlanResultSchema = Type.Object({
  deployment: Type.String(),
  create: Type.Boolean(),
  actions: Type.Array(PlanActionSchema),
  counts: Type.Optional(Type.Array(CountDecisionSchema, { description: 'components with a run-time count: which count wins after apply, and why' })),
  rollout: Type.Optional(Type.Array(RolloutLineSchema, { description: 'instances a rolling update restarts in place or replaces, in batch order, with why' })),
  summary: Type.Object({ add: Type.Integer(), change: Type.Integer(), remove: Type.Integer() }),
});

const HandlerNameSchema = Type.Union(HANDLER_NAMES.map((h) => Type.Literal(h)));

export const StepLogSchema = Type.Object({
  step: HandlerNameSchema,
  runId: Type.String(),
  state: Type.String(),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  startedAt: Type.String(),
  endedAt: Type.Optional(Type.String()),
  output: Type.String(),
});

export const EventSchema = Type.Object({
  id: Type.Integer(),
  ts: Type.String({ format: 'date-time' }),
  deployment: Type.Optional(Type.String()),
  kind: Type.String(),
  actor: Type.String(),
  reason: Type.Optional(Type.String()),
  correlationId: Type.Optional(Type.String()),
  target: Type.Optional(Type.String()),
  outcome: Type.Optional(Type.String()),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'a stable code from the error catalogue' }),
    message: Type.String(),
    retryable: Type.Boolean(),
    details: Type.Optional(Type.Unknown()),
  }),
});

export const DeploymentListSchema = Type.Object({ deployments: Type.Array(DeploymentSummarySchema) });
export const EndpointListSchema = Type.Object({ endpoints: Type.Array(EndpointViewSchema) });
export const LogListSchema = Type.Object({ logs: Type.Array(StepLogSchema) });
export const EventListSchema = Type.Object({ events: Type.Array(EventSchema) });
export const HealthSchema = Type.Object({ ok: Type.Boolean() });
export const AnyObjectSchema = Type.Object({}, { additionalProperties: true, description: 'a JSON Schema document' });

// ---- metrics, rules, schedules (src/api/routes-metrics.ts)

const StringMap = Type.Record(Type.String(), Type.String());
export const MetricPushSchema = closed(
  {
    samples: Type.Optional(Type.Array(Type.Unknown(), { description: 'JSON samples: { name, labels?, v, t? (ms) }' })),
    graphite: Type.Optional(Type.String({ description: 'Graphite plaintext lines: `path value [timestamp]`, also `name;tag=v`' })),
    prometheus: Type.Optional(Type.String({ description: 'Prometheus text exposition' })),
    labels: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), { description: 'added to every sample' })),
  },
  { ...opts, description: 'samples to ingest; malformed lines are counted and reported, never fatal' },
);
export const PushResultSchema = Type.Object({
  accepted: Type.Integer(),
  malformed: Type.Integer(),
  problems: Type.Array(Type.String(), { description: 'the first malformed lines' }),
});
export const SeriesListSchema = Type.Object({ status: Type.Literal('success'), data: Type.Array(StringMap) });
export const QueryResponseSchema = Type.Object(
  {
    status: Type.Literal('success'),
    data: Type.Object({
      resultType: Type.Union([Type.Literal('vector'), Type.Literal('matrix'), Type.Literal('scalar')]),
      result: Type.Unknown({ description: 'as Prometheus: vector [{metric, value: [t, "v"]}], matrix [{metric, values}], scalar [t, "v"]' }),
    }),
  },
  { description: 'the Prometheus HTTP API query result shape (times in seconds)' },
);
export const MetricDefinitionInputSchema = closed(
  { deployment: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'the deployment it belongs to' })), ...MetricDef.properties },
  { ...opts, description: 'an aggregated or composite metric definition' },
);
export const RuleInputSchema = closed(
  { deployment: Type.String({ pattern: NAME_PATTERN, description: 'the deployment whose component the rule scales' }), ...Rule.properties },
  { ...opts, description: 'a scaling rule, as in the spec\'s `rules` section, plus its deployment' },
);
export const ScheduleInputSchema = closed(
  { deployment: Type.String({ pattern: NAME_PATTERN, description: 'the deployment whose component is scaled' }), ...Schedule.properties },
  { ...opts, description: 'a scheduled scaling policy, as in the spec\'s `schedules` section, plus its deployment' },
);
export const ScrapeTargetInputSchema = closed(
  { deployment: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'the deployment it belongs to (its samples get a deployment label)' })), ...ScrapeTarget.properties },
  { ...opts, description: 'a Prometheus text-format scrape target, as in the spec\'s `scrape` section' },
);
const Source = Type.Union([Type.Literal('spec'), Type.Literal('api')], { description: 'spec: from a deployment\'s spec; api: created at run time' });
export const MetricDefinitionViewSchema = Type.Object({
  name: Type.String(),
  deployment: Type.Optional(Type.String()),
  source: Source,
  expr: Type.String(),
  intervalMs: Type.Integer(),
  description: Type.Optional(Type.String()),
  lastEvaluation: Type.Optional(Type.String({ format: 'date-time' })),
  lastError: Type.Optional(Type.String()),
});
export const RuleViewSchema = Type.Object({
  name: Type.String(),
  deployment: Type.String(),
  source: Source,
  spec: Type.Unknown({ description: 'the normalised rule (durations in ms)' }),
  state: Type.Object({
    truth: Type.String({ description: 'true, false, unknown (missing data) or never (not evaluated yet)' }),
    holdingSince: Type.Optional(Type.String({ format: 'date-time' })),
    lastEvaluation: Type.Optional(Type.String({ format: 'date-time' })),
    missing: Type.Array(Type.String()),
  }),
});
export const ScheduleViewSchema = Type.Object({
  name: Type.String(),
  deployment: Type.String(),
  source: Source,
  spec: Type.Unknown({ description: 'the normalised schedule (at in ms)' }),
  nextFire: Type.Optional(Type.String({ format: 'date-time' })),
});
export const ScrapeTargetViewSchema = Type.Object({
  name: Type.String(),
  deployment: Type.Optional(Type.String()),
  source: Source,
  url: Type.String(),
  intervalMs: Type.Integer(),
  labels: Type.Record(Type.String(), Type.String()),
  status: Type.Optional(
    Type.Object({
      up: Type.Boolean(),
      lastScrape: Type.Optional(Type.String({ format: 'date-time' })),
      lastDurationMs: Type.Optional(Type.Number()),
      lastError: Type.Optional(Type.String()),
      samples: Type.Integer(),
      malformed: Type.Integer(),
    }, { description: 'the last scrape' }),
  ),
});
export const ScrapeTargetListSchema = Type.Object({ targets: Type.Array(ScrapeTargetViewSchema) });
export const MetricDefinitionListSchema = Type.Object({ definitions: Type.Array(MetricDefinitionViewSchema) });
export const RuleListSchema = Type.Object({ rules: Type.Array(RuleViewSchema) });
export const ScheduleListSchema = Type.Object({ schedules: Type.Array(ScheduleViewSchema) });

/** Named schemas, published under `components.schemas` in the OpenAPI document. */
export const NAMED_SCHEMAS: Record<string, TSchema> = {
  SpecInput: SpecInputSchema,
  ScaleRequest: ScaleRequestSchema,
  PlanResult: PlanResultSchema,
  DeploymentView: DeploymentViewSchema,
  ForgetResult: ForgetResultSchema,
  DeploymentList: DeploymentListSchema,
  EndpointList: EndpointListSchema,
  LogList: LogListSchema,
  EventList: EventListSchema,
  Error: ErrorSchema,
  Health: HealthSchema,
  JsonSchema: AnyObjectSchema,
  MetricPush: MetricPushSchema,
  PushResult: PushResultSchema,
  SeriesList: SeriesListSchema,
  QueryResponse: QueryResponseSchema,
  MetricDefinitionInput: MetricDefinitionInputSchema,
  MetricDefinitionView: MetricDefinitionViewSchema,
  MetricDefinitionList: MetricDefinitionListSchema,
  RuleInput: RuleInputSchema,
  RuleView: RuleViewSchema,
  RuleList: RuleListSchema,
  ScheduleInput: ScheduleInputSchema,
  ScheduleView: ScheduleViewSchema,
  ScheduleList: ScheduleListSchema,
  ScrapeTargetInput: ScrapeTargetInputSchema,
  ScrapeTargetView: ScrapeTargetViewSchema,
  ScrapeTargetList: ScrapeTargetListSchema,
  ...CLOUD_SCHEMAS,
  ...TOKEN_SCHEMAS,
  ...MONITOR_SCHEMAS,
  ...ROLLOUT_SCHEMAS,
  ...ACCESS_SCHEMAS,
  ...RECOVERY_SCHEMAS,
  ...BACKUP_SCHEMAS,
  ...WORKFLOW_SCHEMAS,
  ...OPERATION_SCHEMAS,
  ...ALERT_API_SCHEMAS,
  // [users] entries below (helper h/users; keep them under this line)
  ...USER_SCHEMAS,
  ...CATALOG_SCHEMAS,
};

// Compile-time drift checks: each schema's static type and the view type are mutually assignable.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;
same<Same<Static<typeof SpecInputSchema>, SpecInput>>();
same<Same<Static<typeof InstanceViewSchema>, InstanceView>>();
same<Same<Static<typeof ComponentViewSchema>, ComponentView>>();
same<Same<Static<typeof DeploymentViewSchema>, DeploymentView>>();
same<Same<Static<typeof ForgetResultSchema>, ForgetResult>>();
same<Same<Static<typeof DeploymentSummarySchema>, DeploymentSummary>>();
same<Same<Static<typeof EndpointViewSchema>, EndpointView>>();
same<Same<Static<typeof PlanActionSchema>, PlanAction>>();
same<Same<Static<typeof PlanResultSchema>, PlanResult>>();
same<Same<Static<typeof StepLogSchema>, StepLog>>();
same<Same<Static<typeof EventSchema>, NubisEvent>>();
