/**
 * The normalised application model the engine works from: defaults filled, durations in
 * milliseconds, references resolved. Produced only by `parseSpec` (see ./index.ts).
 */
import type { HandlerName, ParamType, Platform, RecoveryStep, RECOVERY_ACTIONS } from './schema.js';
import type { AlertsSpec } from './alerts.js';
import type { PlacementPolicy } from '../policy/index.js';
import type { FirewallSpec } from './policy.js';
import type { BackupPolicySpec } from './backups.js';

export interface AppSpec {
  /** The deployment name. */
  name: string;
  clouds: Record<string, CloudSpec>;
  nodeTemplates: Record<string, NodeTemplateSpec>;
  components: Record<string, ComponentSpec>;
  /** Aggregated/composite metrics by series name; present only when the spec has the section. */
  metrics?: Record<string, MetricDefSpec>;
  /** Scaling rules by name; present only when the spec has the section. */
  rules?: Record<string, RuleSpec>;
  /** Scheduled scaling policies by name; present only when the spec has the section. */
  schedules?: Record<string, ScheduleSpec>;
  /** Prometheus text-format targets the control plane scrapes, by name; present only when the spec has the section. */
  scrape?: Record<string, ScrapeTargetSpec>;
  /** Access delivery: credentials generated for the deployment; present only when the spec has the section. */
  access?: { credentials: Record<string, AccessCredentialSpec> };
  /** Alert rules and channels (src/operations/alerts); present only when the spec has the section. */
  alerts?: AlertsSpec;
  /** Firewalls from channels (src/policy/firewalls); present only when the spec has the section. */
  firewall?: FirewallSpec;
  /** Backup policies by name (src/operations/backups); present only when the spec has the section. */
  backups?: Record<string, BackupPolicySpec>;
}

/** A generated credential: its value lives sealed in `components[component].secretEnv[env]` once applied. */
export interface AccessCredentialSpec {
  name: string;
  generate: 'password' | 'token';
  /** Default 24. */
  length: number;
  env: string;
  component: string;
}

/** A Prometheus text-format target scraped every `intervalMs`; samples carry `labels` plus deployment and instance. */
export interface ScrapeTargetSpec {
  name: string;
  url: string;
  /** Default 15 000. */
  intervalMs: number;
  labels: Record<string, string>;
}

/** An aggregated or composite metric: `expr` evaluated every `intervalMs`, each result element stored as series `name`. */
export interface MetricDefSpec {
  name: string;
  expr: string;
  /** Default 10 000. */
  intervalMs: number;
  description?: string;
}

/** A query and the bounds its value must satisfy (all given bounds must hold). */
export interface ComparisonSpec {
  expr: string;
  above?: number;
  below?: number;
  atOrAbove?: number;
  atOrBelow?: number;
}

export interface CountBoundsSpec {
  above?: number;
  below?: number;
  atOrAbove?: number;
  atOrBelow?: number;
}

/**
 * A rule condition. Quantifiers (`all`, `any`, `atLeast`) range over the ready instances of
 * the rule's component, matching result elements by their `instance` label; `value` needs
 * every returned element to satisfy the comparison (and at least one element); `count`
 * bounds the component's desired count.
 */
export type ConditionSpec =
  | { kind: 'all' | 'any' | 'value'; cmp: ComparisonSpec }
  | { kind: 'atLeast'; instances: number; cmp: ComparisonSpec }
  | { kind: 'count'; bounds: CountBoundsSpec }
  | { kind: 'and' | 'or'; of: ConditionSpec[] }
  | { kind: 'not'; of: ConditionSpec };

/** What a rule does; the result is clamped to [max(component min, min), min(component max, max)]. */
export type RuleActionSpec =
  | { kind: 'out' | 'in'; by?: number; percent?: number; minStep: number; min?: number; max?: number }
  | { kind: 'to'; count: number; min?: number; max?: number };

/** A secret env value: `{ secret }` as parsed, `{ sealed, key }` (AES-256-GCM, key id) once sealed. */
export type SecretEnvValue = { secret: string } | { sealed: string; key: string };

export interface RuleSpec {
  name: string;
  component: string;
  when: ConditionSpec;
  /** How long the condition must hold before acting. Default 0. */
  forMs: number;
  action: RuleActionSpec;
  /** After any rule scales the component, rules wait this long. Default 60 000. */
  cooldownMs: number;
  /** Scale in only to the highest recommendation over this window. Default 0. */
  stabilizationMs: number;
  /** Evaluation period. Default 5 000. */
  intervalMs: number;
  enabled: boolean;
}

export interface ScheduleSpec {
  name: string;
  component: string;
  count: number;
  /** 5-field cron; exactly one of cron and at. */
  cron?: string;
  /** IANA zone of the cron fields. Default UTC. */
  timeZone: string;
  /** One-off start time, ms since the epoch. */
  at?: number;
  enabled: boolean;
}

export interface CloudSpec {
  name: string;
  platform: Platform;
  options: Record<string, unknown>;
  /** Fixed creation concurrency; undefined means adaptive. */
  concurrency?: number;
  /** Name of the stored credential the driver receives (DriverContext.credentials). */
  credential?: string;
}

export interface NodeRequirements {
  cores?: number;
  memoryMiB?: number;
  diskGiB?: number;
  os?: string;
  osVersion?: string;
  clouds?: string[];
  locations?: string[];
  maxPrice?: number;
}

export interface NodeTemplateSpec {
  name: string;
  /** Absent: requirement-based selection chooses among the registered clouds. */
  cloud?: string;
  requirements: NodeRequirements;
  /** Spread successive nodes over registered clouds or locations. */
  spread?: 'clouds' | 'locations';
  /** Placement policy over the cloud's hosts or over clouds (src/policy/placement); absent: the driver's own choice. */
  placement?: PlacementPolicy;
  /** The user's cloud-config for first boot, checked (./cloud-init.ts); `file` when it came from one. */
  cloudInit?: { text: string; file?: string };
}

export interface HandlerSpec {
  run: string;
  /** Default 60 000. */
  timeoutMs: number;
  /** Extra attempts after a failure. Default 2. */
  retries: number;
}

export interface HealthSpec {
  kind: 'command' | 'tcp' | 'http';
  command?: string;
  /** Name of a provided port (tcp, http). */
  port?: string;
  /** HTTP path, default `/`. */
  path?: string;
  /** Default 2 000. */
  intervalMs: number;
  /** Default 1 000. */
  timeoutMs: number;
  /** Consecutive failures before unhealthy. Default 3. */
  retries: number;
}

export interface ChannelSpec {
  /** Name of the required port on this component. */
  name: string;
  component: string;
  port: string;
  optional: boolean;
}

export interface ComponentSpec {
  name: string;
  nodeTemplate: string;
  /** The template's cloud, resolved; '' when selection chooses per node among registered clouds. */
  cloud: string;
  count: number;
  /** Default 0. */
  min: number;
  /** Default max(count, 100). */
  max: number;
  /** Default 'youngest'. */
  scaleIn: 'youngest' | 'oldest';
  provides: Record<string, { port?: number }>;
  requires: Record<string, ChannelSpec>;
  env: Record<string, string>;
  /**
   * Variables marked `secret` in the spec: plain text only between parsing and sealing (the
   * control plane seals them before anything is stored, ./secrets.ts), sealed afterwards.
   */
  secretEnv?: Record<string, SecretEnvValue>;
  /** Paths relative to the spec file. */
  artefacts: string[];
  handlers: Partial<Record<HandlerName, HandlerSpec>>;
  health?: HealthSpec;
  /** How a changed revision is rolled out; absent in specs stored before it existed (see defaults there). */
  updateStrategy?: UpdateStrategySpec;
  /** What to do when an instance fails (src/operations/recovery); absent: the engine restarts it with backoff, without limits. */
  recovery?: RecoverySpec;
  /** Custom operations by name (src/model/operations.ts); absent when the spec declares none. */
  operations?: Record<string, OperationSpec>;
}

/** A give-up limit of one ladder step: at most `max` within `withinMs`. */
export interface RecoveryLimitSpec {
  max: number;
  withinMs: number;
}

/** A component's recovery policy, normalised (./recovery.ts has the defaults). */
export interface RecoverySpec {
  /** Probe failures are counted over this sliding window. Default 30 000. */
  windowMs: number;
  /** Failures within the window that mean the instance failed. Default 3. */
  failures: number;
  /** Steps in order. Default restart, reboot, recreate, alert. */
  ladder: RecoveryStep[];
  /** Per acting step. Defaults: restart 3 in 10 min, reboot 2 in 1 h, recreate 1 in 6 h. */
  limits: Record<RecoveryAction, RecoveryLimitSpec>;
  /** Healthy this long ends a give-up and resets the ladder. Default 300 000. */
  stableMs: number;
  /** How long a step may take to bring the instance back. Default 600 000. */
  stepTimeoutMs: number;
}

/** A custom operation (Brooklyn's effector): a command run on demand with typed parameters. */
export interface OperationSpec {
  name: string;
  run: string;
  /** Default 60 000. */
  timeoutMs: number;
  description?: string;
  params: Record<string, OperationParamSpec>;
}

/** A typed parameter: the checks a given value must pass (all that are present). */
export interface OperationParamSpec {
  name: string;
  type: ParamType;
  required: boolean;
  default?: string | number | boolean;
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  description?: string;
}

/** Rolling update settings of a component (src/engine/rollout). */
export interface UpdateStrategySpec {
  /** Default 1. */
  maxUnavailable: number;
  /** Default 0. */
  maxSurge: number;
  /** How long a batch may take to be running and healthy before the rollout fails. Default 600 000. */
  healthGateTimeoutMs: number;
}

/** One precise problem in a spec. */
export interface SpecProblem {
  file: string;
  line: number;
  col: number;
  /** JSON path, such as `$.components.app.instances.count`. */
  path: string;
  expected: string;
  found: string;
  message: string;
}

export type { HandlerName, ParamType, Platform, RecoveryStep };
export type RecoveryAction = (typeof RECOVERY_ACTIONS)[number];
