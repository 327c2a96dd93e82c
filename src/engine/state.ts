/**
 * The engine's in-memory picture of desired and observed state. It is loaded from the store at
 * start and every change is written through (see ./engine.ts); the store is the truth after a
 * crash, this is the truth while running.
 */
import type { AppSpec, ComponentSpec } from '../model/types.js';
import type { CloudNode } from '../drivers/driver.js';
import type { Placement } from './clouds.js';
import type { InstancePhase, NodeState } from './views.js';
import type { DeploymentRow, InstanceRow, NodeRow } from '../store/index.js';

export interface Deployment {
  /** The id: `<spec name>` in tenant `default`, `<tenant>.<spec name>` elsewhere (./tenancy.ts). */
  name: string;
  /** Whose deployment it is: the tenant of the token that first applied it. */
  tenant: string;
  spec: AppSpec;
  specText: string;
  file: string;
  version: number;
  status: 'active' | 'destroying';
  /** component → count set at run time (`scale`, rules, schedules), overriding the spec; kept by a re-apply unless the spec's own count changed (./rollout/counts.ts). */
  counts: Record<string, number>;
  /** component → next ordinal. */
  ordinals: Record<string, number>;
  /** Of the request that last changed this deployment: every action it causes carries it. */
  correlationId?: string;
  /** The rolling update towards this version's revisions (./rollout); absent before the first apply that recorded one. */
  rollout?: RolloutState;
  createdAt: number;
  updatedAt: number;
}

export interface NodeRec {
  key: string;
  deployment: string;
  cloud: string;
  status: NodeState;
  token: string;
  providerId?: string;
  observed?: CloudNode;
  attempts: number;
  lastError?: string;
  createdAt: number;
  updatedAt: number;
  /** Not persisted: earliest clock time for the next attempt after a failure. */
  notBefore?: number;
  /** The offer, image and location selection chose (registered clouds only). */
  placement?: Placement;
  /** Not persisted: the node does not answer (the cloud reports it broken or stopped, or its agent missed observations); see ./reachability.ts. */
  unreachable?: boolean;
  /** Not persisted: why it is unreachable, and since when (clock ms). */
  unreachableReason?: string;
  unreachableSince?: number;
  /** Not persisted: a counter value bumped on every change and action; a sweep judges only nodes unchanged since its list began. */
  touch?: number;
  /** Not persisted: clock time its create returned (or it was adopted, or loaded at start); NotFound soon after is not "gone". */
  visibleSince?: number;
  /** Clock time the cloud first said it runs (booting ended, contextualizing began); see ./first-boot.ts. */
  runningAt?: number;
  /** Clock time its agent first answered over the network (the node is ready); see ./first-boot.ts. */
  agentUpAt?: number;
}

export interface InstanceRec {
  key: string;
  deployment: string;
  component: string;
  ordinal: number;
  /** `<component>-<ordinal>` */
  name: string;
  desired: boolean;
  phase: InstancePhase;
  wiringHash?: string;
  /** The revision it was installed from (./rollout/revision.ts); absent: created since the last apply, so at its revision. */
  revision?: string;
  runSeq: number;
  inflightRun?: string;
  restarts: number;
  attempts: number;
  lastError?: string;
  createdAt: number;
  updatedAt: number;
  /** Not persisted: what the agent last reported. */
  health: 'unknown' | 'healthy' | 'unhealthy';
  processAlive: boolean | undefined;
  notBefore?: number;
}

/** What a component's instances should run: lifecycle and node template hashes (./rollout/revision.ts). */
export interface Revision {
  /** `<install>.<configure>.<start>` part hashes: the first differing part says from which step to re-run. */
  config: string;
  node: string;
}

export type RolloutStatus = 'running' | 'paused' | 'completed' | 'failed';

/** A deployment's rolling update: persisted with the deployment, advanced level-based by ./rollout/controller.ts. */
export interface RolloutState {
  /** The deployment version whose revisions this rollout enacts. */
  version: number;
  status: RolloutStatus;
  /** component → the revision its instances should have. */
  revisions: Record<string, Revision>;
  /** component → progress. */
  components: Record<string, ComponentRollout>;
  /** Why it failed, or who paused it. */
  reason?: string;
  startedAt: number;
  endedAt?: number;
}

export interface ComponentRollout {
  /** Batches started so far. */
  batch: number;
  /** Clock time the current batch began; its health gate times out from here. */
  batchStartedAt?: number;
  /** Extra instances asked for by the current batch (maxSurge). */
  surge?: number;
  /** Old instances the current surge batch retires once the new ones are healthy. */
  retiring?: string[];
}

export function instanceName(component: string, ordinal: number): string {
  return `${component}-${ordinal}`;
}

export function resourceKey(deployment: string, instance: string): string {
  return `${deployment}/${instance}`;
}

/** The count the engine converges to: a `scale` override, else the spec's. */
export function desiredCount(d: Deployment, c: ComponentSpec): number {
  return d.status === 'destroying' ? 0 : (d.counts[c.name] ?? c.count) + (d.rollout?.components[c.name]?.surge ?? 0);
}

export function deploymentToRow(d: Deployment): DeploymentRow {
  return {
    name: d.name,
    tenant: d.tenant,
    spec_json: JSON.stringify(d.spec),
    spec_text: d.specText,
    file: d.file,
    version: d.version,
    status: d.status,
    counts_json: JSON.stringify(d.counts),
    ordinals_json: JSON.stringify(d.ordinals),
    correlation_id: d.correlationId ?? null,
    rollout_json: d.rollout ? JSON.stringify(d.rollout) : null,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

export function deploymentFromRow(r: DeploymentRow): Deployment {
  return {
    name: r.name,
    tenant: r.tenant,
    spec: JSON.parse(r.spec_json) as AppSpec,
    specText: r.spec_text,
    file: r.file,
    version: r.version,
    status: r.status === 'destroying' ? 'destroying' : 'active',
    counts: JSON.parse(r.counts_json) as Record<string, number>,
    ordinals: JSON.parse(r.ordinals_json) as Record<string, number>,
    ...(r.correlation_id !== null ? { correlationId: r.correlation_id } : {}),
    ...(r.rollout_json ? { rollout: JSON.parse(r.rollout_json) as RolloutState } : {}),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/**
 * What the store may keep of an observed node: the agent's token is a secret, so it stays in
 * memory and in the driver's own inventory; after a restart the cloud sweep supplies it again.
 */
function withoutSecrets(o: CloudNode): CloudNode {
  if (!o.agent) return o;
  return { ...o, agent: { url: o.agent.url, token: '' } };
}

export function nodeToRow(n: NodeRec): NodeRow {
  return {
    key: n.key,
    deployment: n.deployment,
    cloud: n.cloud,
    status: n.status,
    token: n.token,
    provider_id: n.providerId ?? null,
    observed_json: n.observed ? JSON.stringify(withoutSecrets(n.observed)) : null,
    attempts: n.attempts,
    last_error: n.lastError ?? null,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
    placement_json: n.placement ? JSON.stringify(n.placement) : null,
    running_at: n.runningAt ?? null,
    agent_up_at: n.agentUpAt ?? null,
  };
}

export function nodeFromRow(r: NodeRow): NodeRec {
  const n: NodeRec = {
    key: r.key,
    deployment: r.deployment,
    cloud: r.cloud,
    status: r.status as NodeState,
    token: r.token,
    attempts: r.attempts,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
  if (r.provider_id !== null) n.providerId = r.provider_id;
  if (r.observed_json !== null) n.observed = JSON.parse(r.observed_json) as CloudNode;
  if (r.last_error !== null) n.lastError = r.last_error;
  if (r.placement_json !== null && r.placement_json !== undefined) n.placement = JSON.parse(r.placement_json) as Placement;
  if (r.running_at !== null && r.running_at !== undefined) n.runningAt = Number(r.running_at);
  if (r.agent_up_at !== null && r.agent_up_at !== undefined) n.agentUpAt = Number(r.agent_up_at);
  return n;
}

export function instanceToRow(i: InstanceRec): InstanceRow {
  return {
    key: i.key,
    deployment: i.deployment,
    component: i.component,
    ordinal: i.ordinal,
    desired: i.desired ? 1 : 0,
    phase: i.phase,
    wiring_hash: i.wiringHash ?? null,
    revision: i.revision ?? null,
    run_seq: i.runSeq,
    inflight_run: i.inflightRun ?? null,
    restarts: i.restarts,
    attempts: i.attempts,
    last_error: i.lastError ?? null,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
  };
}

export function instanceFromRow(r: InstanceRow): InstanceRec {
  const i: InstanceRec = {
    key: r.key,
    deployment: r.deployment,
    component: r.component,
    ordinal: r.ordinal,
    name: instanceName(r.component, r.ordinal),
    desired: r.desired === 1,
    phase: r.phase as InstancePhase,
    runSeq: r.run_seq,
    restarts: r.restarts,
    attempts: r.attempts,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    health: 'unknown',
    processAlive: undefined,
  };
  if (r.wiring_hash !== null) i.wiringHash = r.wiring_hash;
  if (r.revision) i.revision = r.revision;
  if (r.inflight_run !== null) i.inflightRun = r.inflight_run;
  if (r.last_error !== null) i.lastError = r.last_error;
  return i;
}
