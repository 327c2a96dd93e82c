/**
 * What the control plane shows to the API and CLI. Views never contain secrets
 * (agent tokens, credentials).
 */
import type { EventFilter } from '../store/index.js';
import type { EventLog } from '../events/index.js';
import type { Registry } from '../registry/index.js';
import type { HandlerName } from '../model/types.js';
import type { OperationRunView, RunOperationRequest } from './operations/types.js';
import type { TenantPolicy } from './tenancy.js';
import type { AccessView } from './access.js';

/** A spec as submitted: YAML text plus the artefact files it names (base64). */
export interface SpecInput {
  spec: string;
  /** File name used in error messages. Default `spec.yaml`. */
  file?: string;
  /** Relative path → base64 content. */
  artefacts?: Record<string, string>;
}

export type InstancePhase = 'pending' | 'installed' | 'configured' | 'started' | 'running' | 'stopping' | 'stopped' | 'failed';
export type NodeState = 'pending' | 'creating' | 'provisioning' | 'running' | 'unreachable' | 'deleting' | 'failed';

export interface InstanceView {
  /** Name within the deployment, e.g. `app-2`. */
  name: string;
  component: string;
  ordinal: number;
  desired: boolean;
  phase: InstancePhase;
  /** `unreachable`: its node does not answer; consumers are not wired to it meanwhile. */
  health: 'unknown' | 'healthy' | 'unhealthy' | 'unreachable';
  node: {
    key: string; cloud: string; state: NodeState; id?: string; address?: string;
    /** First boot (src/engine/first-boot.ts): booting (the cloud provisions it), contextualizing (it runs, its agent does not answer yet), agent-up (ready). */
    step?: 'booting' | 'contextualizing' | 'agent-up';
    /** How long booting took, and contextualizing (so far, while it lasts), in ms. */
    bootMs?: number;
    contextualizeMs?: number;
  };
  /** Provided port name → host:port. */
  endpoints: Record<string, string>;
  lastError?: string;
  createdAt: string;
}

export interface ComponentView {
  name: string;
  desired: number;
  running: number;
  min: number;
  max: number;
}

export type DeploymentState = 'applying' | 'ready' | 'degraded' | 'destroying';

export interface DeploymentView {
  name: string;
  state: DeploymentState;
  version: number;
  createdAt: string;
  updatedAt: string;
  components: ComponentView[];
  instances: InstanceView[];
  /** Clouds of this deployment that back off or were stopped, with why; absent when all are healthy. */
  clouds?: CloudNote[];
  /** The rolling update while it runs, is paused or failed; absent otherwise (`nubis rollout status` has the detail). */
  rollout?: DeploymentRollout;
  /** Scale requests of rules and schedules that a component's bounds refused or capped, latest per component, until a scale of it goes through. */
  scaling?: ScaleRefusal[];
}

/** A scale request beyond a component's bounds: refused (a schedule, `nubis scale`) or capped at the bound (a rule). */
export interface ScaleRefusal {
  component: string;
  /** Who asked: `rule:<name>`, `schedule:<name>` (or the person, for the event). */
  by: string;
  /** The count asked for. */
  wanted: number;
  /** The count set instead when a rule was capped at the bound; absent: nothing changed. */
  applied?: number;
  bound: 'max' | 'min';
  /** The bound's value. */
  limit: number;
  /** Where the bound comes from: `instances.max`, `instances.min`, or the rule's own `max`/`min` (`rule max`). */
  limitOf: string;
  code: 'SCALE_OUT_OF_BOUNDS';
  reason: string;
  at: string;
}

/** A rolling update in progress, paused or failed, as `status` shows it in one line. */
export interface DeploymentRollout {
  status: 'running' | 'paused' | 'failed';
  version: number;
  /** Batches started so far, over every component. */
  batch: number;
  /** Batches the rollout takes: those started and those its outdated instances still need. */
  batches: number;
  /** Wanted instances at the new revision. */
  updated: number;
  /** Instances wanted. */
  instances: number;
  /** Why it failed, or who paused it. */
  reason?: string;
  /** For people: `batch 2/5, 3 of 5 updated, paused (by alice)`, `…, failed: health gate timed out on web-3 (…)`. */
  line: string;
}

/** A cloud that does not take calls now, and why. */
export interface CloudNote {
  cloud: string;
  /** `backoff`: calls resume by themselves; `unusable`: calls stopped until the credential or the cloud entry changes. */
  health: 'backoff' | 'unusable';
  reason: string;
  code?: string;
  since: string;
  /** backoff only: when the next attempt goes out. */
  retryAt?: string;
  /** Calls failed fast, without reaching the cloud, since this state began. */
  refused: number;
}

/** What `forget` dropped: the nodes that may still exist in their clouds. */
export interface ForgetResult {
  deployment: string;
  forgotten: true;
  leftovers: { key: string; cloud: string; status: NodeState; id?: string }[];
}

export interface DeploymentSummary {
  name: string;
  state: DeploymentState;
  version: number;
  instances: { desired: number; running: number };
}

export interface EndpointView {
  instance: string;
  component: string;
  port: string;
  /** host:port */
  address: string;
}

export type PlanActionKind = 'create-node' | 'delete-node' | 'install' | 'configure' | 'start' | 'update' | 'stop' | 'restart';

export interface PlanAction {
  /** Stable id within one plan, e.g. `create-node:webapp/app-1`. */
  id: string;
  kind: PlanActionKind;
  /** Resource key `<deployment>/<instance>`. */
  target: string;
  cloud?: string;
  /** Ids of actions that must finish first. */
  after: string[];
  reason: string;
  /** create-node with a placement policy: the host chosen (src/policy/placement). */
  host?: string;
  /** create-node with a placement policy: why that host (or that the cloud decides itself). */
  placement?: string;
}

/** After a re-apply: the count a component converges to when a run-time count was set. */
export interface CountDecision {
  component: string;
  /** The count the spec file gives now. */
  spec: number;
  /** The count set at run time (scale, a rule, a schedule) before this apply. */
  runtime: number;
  /** The count the engine converges to after this apply. */
  count: number;
  wins: 'spec' | 'runtime';
  reason: string;
}

/** One instance a rolling update restarts in place or replaces, for `plan`. */
export interface RolloutLine {
  instance: string;
  component: string;
  /** restart: same node, lifecycle steps run again; replace: a new node, then the old one removed. */
  action: 'restart' | 'replace';
  batch: number;
  /** Batches of this component. */
  batches: number;
  reason: string;
}

/** A deployment's rolling update as `nubis rollout status` shows it. */
export interface RolloutView {
  deployment: string;
  /** none: no apply has recorded revisions yet. */
  status: 'none' | 'running' | 'paused' | 'completed' | 'failed';
  version: number;
  reason?: string;
  startedAt?: string;
  endedAt?: string;
  components: {
    name: string;
    batch: number;
    /** Wanted instances not at the component's revision yet. */
    outdated: number;
    instances: number;
    maxUnavailable: number;
    maxSurge: number;
    healthGateTimeoutMs: number;
    /** A batch is waiting for its health gate. */
    gating: boolean;
  }[];
}

export interface PlanResult {
  deployment: string;
  /** true when the deployment does not exist yet. */
  create: boolean;
  actions: PlanAction[];
  /** Components with a run-time count (scale, rules, schedules): which count wins after apply, and why. */
  counts?: CountDecision[];
  /** Instances a rolling update restarts in place or replaces, in batch order, with why. */
  rollout?: RolloutLine[];
  summary: { add: number; change: number; remove: number };
}

export interface StepLog {
  step: HandlerName;
  runId: string;
  state: string;
  exitCode: number | null;
  startedAt: string;
  endedAt?: string;
  output: string;
}

/** Who asks, for the audit trail. */
export interface Caller {
  actor: string;
  /** The tenant the caller's token acts in (registries are per tenant); absent: `default`. */
  tenant?: string;
  correlationId?: string;
}

/**
 * The control plane as the API sees it. Every method validates its input and throws a
 * NubisError with a stable code (SPEC_INVALID, NOT_FOUND, CONFLICT, SCALE_OUT_OF_BOUNDS, …).
 *
 * Tenancy: `plan` and `apply` act in the caller's tenant (the spec's name is the tenant's
 * deployment name). The other methods take a deployment id (`deploymentId(tenant, name)`:
 * the bare name in tenant `default`), which callers build from their own tenant only; views
 * show bare names (DeploymentView.name, node keys, plan targets).
 */
export interface ControlPlane {
  /** Read-only: what applying would do. The caller's tenant decides which deployment and clouds. */
  plan(input: SpecInput, caller?: Caller): Promise<PlanResult>;
  /** Persists the desired state; the engine converges in the background. */
  apply(input: SpecInput, caller: Caller): Promise<DeploymentView>;
  /** The tenant's deployments (absent: every tenant's, for the control plane's own use). */
  listDeployments(tenant?: string): Promise<DeploymentSummary[]>;
  getDeployment(name: string): Promise<DeploymentView>;
  endpoints(name: string): Promise<EndpointView[]>;
  /** Endpoints and generated credentials (./access.ts): the values in the first read after the deployment is ready only. */
  access?(name: string, caller: Caller): Promise<AccessView>;
  /** SCALE_OUT_OF_BOUNDS (422, with the component, bound and limit in details) outside the component's min and max; a `scale.refused` event, and for a rule or schedule a line on status. */
  scale(name: string, component: string, count: number, caller: Caller): Promise<DeploymentView>;
  /** A rule capped at a bound before it asked (`caller.actor` is `rule:<name>`): a `scale.refused` event and a line on status. */
  scaleRefused(name: string, component: string, refusal: { wanted: number; applied?: number; bound: 'max' | 'min'; limit: number; limitOf: string }, caller: Caller): Promise<void>;
  /** The rolling update of a deployment (src/engine/rollout). */
  rollout(name: string): Promise<RolloutView>;
  /** Pauses (no new batches; the running one finishes) or resumes it (a failed one tries its batch again). */
  setRolloutPaused(name: string, paused: boolean, caller: Caller): Promise<RolloutView>;
  /** Starts teardown; the deployment disappears once nothing is left. */
  destroy(name: string, caller: Caller): Promise<DeploymentView>;
  /**
   * Drops a deployment that is being destroyed from the store without waiting for its clouds
   * (one may be unusable); the answer lists what may be left there. CONFLICT when it is not
   * being destroyed.
   */
  forget(name: string, caller: Caller): Promise<ForgetResult>;
  /** Step logs of an instance (`app-2`), oldest first. */
  logs(deployment: string, instance: string, step?: HandlerName): Promise<StepLog[]>;
  /** Runs a custom operation of a component (./operations): see OperationRunner.run. */
  runOperation(deployment: string, component: string, operation: string, req: RunOperationRequest, caller: Caller): Promise<OperationRunView>;
  /** One operation run of the deployment (NOT_FOUND for another deployment's). */
  operationRun(deployment: string, id: string): Promise<OperationRunView>;
  /** The deployment's operation runs, newest first. */
  operationRuns(deployment: string, limit?: number): Promise<OperationRunView[]>;
  events: EventLog;
  /** The registries (clouds, offers, credentials, accounting); absent in a control plane without them. */
  registry?: Registry;
  /** The published JSON Schema of the spec. */
  specSchema(): object;
  /** Which tenants may use clouds that reach the control-plane host. */
  readonly tenancy?: TenantPolicy;
}

export type { EventFilter };
