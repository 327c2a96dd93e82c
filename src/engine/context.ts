/**
 * What every engine controller shares: the in-memory model of deployments, nodes and
 * instances (written through to the store), the cloud lookups, event helpers, and the tracker
 * of actions in flight. Controllers (./controllers/) read current state from here; none keeps
 * its own copy of another's state.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock/index.js';
import type { EventInput, EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import type { CloudSpec, ComponentSpec } from '../model/index.js';
import type { Driver } from '../drivers/index.js';
import { NubisError, toNubisError } from '../errors/index.js';
import { explainCloudError } from '../drivers/index.js';
import { instanceToRow, nodeToRow, type Deployment, type InstanceRec, type NodeRec } from './state.js';
import type { CloudHandle, CloudRegistry, Placement, PlacementSource } from './clouds.js';
import { checkHostAccess, type TenantPolicy } from './tenancy.js';
import type { InstancePhase, NodeState } from './views.js';
import { NodeReachability, applyReachability, type ReachChange, type ReachabilityContext } from './reachability.js';
import { ComponentStates, componentKey } from './component-state.js';
import type { InstanceObservation } from './recovery-port.js';
import type { LoadSource } from './host-placement.js';

export interface EngineOptions {
  store: Store;
  events: EventLog;
  clock: Clock;
  clouds: CloudRegistry;
  /** Registered clouds and requirement-based selection; without it only spec clouds exist. */
  placement?: PlacementSource;
  /** Which tenants may use clouds that reach the control-plane host (./tenancy.ts). Default: only `default`. */
  tenancy?: TenantPolicy;
  /** Opens a component's secret env values (sealed in the spec) for its handler's env only; absent: handlers get none. */
  openSecrets?: (d: Deployment, comp: ComponentSpec) => Record<string, string>;
  /** Most agent steps running at once across all nodes. Default 32. */
  stepConcurrency?: number;
  /** How often running instances' agents are asked for health. Default 2 000. */
  observeIntervalMs?: number;
  /** How long one agent observation may take before it counts as missed. Default: `observeIntervalMs`, at least 5 000 (a loaded host answers late, not never). */
  observeTimeoutMs?: number;
  /** Consecutive missed agent observations that make a node unreachable (./reachability.ts). Default 3. */
  unreachableAfterMisses?: number;
  /** How often a provisioning node is polled. Default 250. */
  pollIntervalMs?: number;
  /**
   * How long a node may stay provisioning (counted from when this control plane began to wait
   * for it, so an adopted node gets the full time after a restart). On expiry the node is
   * deleted and created again with a new idempotency token. Default 600 000.
   */
  provisionTimeoutMs?: number;
  /** How often every cloud is listed by tag to adopt, de-duplicate, remove orphans and notice broken nodes. Default 10 000. */
  sweepIntervalMs?: number;
  /**
   * How long after a create returned a provider may still answer NotFound for the node (EC2
   * documents this eventual consistency): within it, a missing node is not "gone". Default 10 000.
   */
  consistencyWindowMs?: number;
  /**
   * Least time between two `update` runs of one instance; changes in between are delivered
   * together. Default 1 000.
   */
  updateIntervalMs?: number;
  /**
   * How long a node's agent may take to answer after the cloud says the node runs (first boot:
   * cloud-init installs and starts it); then the node fails with AGENT_UNREACHABLE and what to
   * check. Default 600 000.
   */
  agentTimeoutMs?: number;
  /** Per-resource backoff after failures. Defaults 1 000 and 30 000. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export const ENGINE_ACTOR = 'engine';

/** The options with their defaults applied. */
export interface EngineSettings {
  stepLimit: number;
  observeMs: number;
  observeTimeoutMs: number;
  pollMs: number;
  provisionTimeoutMs: number;
  sweepMs: number;
  updateInterval: number;
  backoffBase: number;
  backoffMax: number;
  consistencyMs: number;
  agentTimeoutMs: number;
}

export function engineSettings(opts: EngineOptions): EngineSettings {
  return {
    stepLimit: opts.stepConcurrency ?? 32,
    observeMs: opts.observeIntervalMs ?? 2000,
    observeTimeoutMs: opts.observeTimeoutMs ?? Math.max(opts.observeIntervalMs ?? 2000, 5000),
    pollMs: opts.pollIntervalMs ?? 250,
    provisionTimeoutMs: opts.provisionTimeoutMs ?? 600_000,
    sweepMs: opts.sweepIntervalMs ?? 10_000,
    updateInterval: opts.updateIntervalMs ?? 1000,
    backoffBase: opts.backoffBaseMs ?? 1000,
    backoffMax: opts.backoffMaxMs ?? 30_000,
    consistencyMs: opts.consistencyWindowMs ?? 10_000,
    agentTimeoutMs: opts.agentTimeoutMs ?? 600_000,
  };
}

/** Deployments, nodes and instances in memory, with instances indexed by deployment. */
export class EngineModel {
  readonly deployments = new Map<string, Deployment>();
  readonly nodes = new Map<string, NodeRec>();
  readonly instances = new Map<string, InstanceRec>();
  private readonly byDep = new Map<string, Map<string, InstanceRec>>();
  /** deployment → component → key → instance (a component's instances without a scan of the deployment). */
  private readonly byComp = new Map<string, Map<string, Map<string, InstanceRec>>>();

  indexInstance(i: InstanceRec): void {
    this.instances.set(i.key, i);
    let m = this.byDep.get(i.deployment);
    if (!m) this.byDep.set(i.deployment, (m = new Map()));
    m.set(i.key, i);
    let c = this.byComp.get(i.deployment);
    if (!c) this.byComp.set(i.deployment, (c = new Map()));
    let k = c.get(i.component);
    if (!k) c.set(i.component, (k = new Map()));
    k.set(i.key, i);
  }

  unindexInstance(key: string): void {
    const i = this.instances.get(key);
    if (!i) return;
    this.instances.delete(key);
    this.byDep.get(i.deployment)?.delete(key);
    this.byComp.get(i.deployment)?.get(i.component)?.delete(key);
  }

  /** A component's instances, without copying. */
  instancesOfComponent(d: string, component: string): Iterable<InstanceRec> {
    return this.byComp.get(d)?.get(component)?.values() ?? [];
  }

  instancesOf(d: string): InstanceRec[] {
    return [...(this.byDep.get(d)?.values() ?? [])];
  }

  /** A deployment's instances without copying. */
  instancesIn(d: string): Iterable<InstanceRec> {
    return this.byDep.get(d)?.values() ?? [];
  }
}

/**
 * Actions in flight, keyed by resource: a key is busy while its action runs. Each action's
 * end queues a pass over its deployment (through `onEnd`).
 */
export class ActionTracker {
  readonly busy = new Set<string>();
  readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly onError: (deployment: string, key: string, e: unknown) => void,
    private readonly onTouch: (key: string) => void,
    private readonly onEnd: (deployment: string, key: string) => void,
  ) {}

  track(key: string, deployment: string, p: Promise<void>): void {
    this.busy.add(key);
    this.onTouch(key);
    const t = p
      .catch((e: unknown) => this.onError(deployment, key, e))
      .finally(() => {
        this.busy.delete(key);
        this.onTouch(key);
        this.inflight.delete(t);
        this.onEnd(deployment, key);
      });
    this.inflight.add(t);
  }
}

export interface EngineContextDeps {
  opts: EngineOptions;
  owner: string;
  /** Queues a full pass over a deployment (the deployments controller): scale, and every resource looked at again. */
  enqueue: (deployment: string) => void;
  /** Queues the deployment's own pass only (scale, rollout, destroy), not its resources. */
  enqueueDeployment: (deployment: string) => void;
  /** Queues one resource (instance and node) of the resources controller. */
  wakeResource: (key: string) => void;
  /** Queues a provider component of the wiring controller (`<deployment>\0<component>`). */
  wakeComponent: (key: string) => void;
  /** Called when an action ends (idle checks). */
  onActionEnd: () => void;
}

export class EngineContext {
  readonly store: Store;
  readonly events: EventLog;
  readonly clock: Clock;
  readonly clouds: CloudRegistry;
  readonly opts: EngineOptions;
  readonly settings: EngineSettings;
  readonly owner: string;
  readonly model = new EngineModel();
  readonly deployments: Map<string, Deployment>;
  readonly nodes: Map<string, NodeRec>;
  readonly instances: Map<string, InstanceRec>;
  readonly actions: ActionTracker;
  readonly busy: Set<string>;
  /** Whether running nodes answer (./reachability.ts), judged by the observe and sweep controllers. */
  readonly reach: NodeReachability;
  private readonly reachContext: ReachabilityContext;
  /** Every in-flight action listens on this one signal. */
  private readonly abortCtl = new AbortController();
  readonly signal: AbortSignal;
  /** Signals of actions in flight (./childSignal). */
  private readonly children = new Set<AbortController>();
  private touchSeq = 0;
  stopped = false;
  readonly enqueue: (deployment: string) => void;
  /** Who hears of each agent observation of a running instance (./recovery-port.ts). */
  private readonly observers = new Set<(o: InstanceObservation) => void>();
  /**
   * Set by recovery (./recovery-port.ts): instances it decides for. The planner plans no
   * restart of its own for them when their process dies or their health fails.
   */
  recoveryOwns: ((inst: InstanceRec) => boolean) | undefined;
  /** Per component: serving and still-to-start counts, and the requirers waiting on them (./component-state.ts). */
  readonly components = new ComponentStates();
  /** Hosts' CPU load for load-aware placement (./host-placement.ts); set once metrics exist (Engine.useLoads). */
  loads: LoadSource | undefined;
  private readonly deps: EngineContextDeps;

  constructor(deps: EngineContextDeps) {
    const { opts } = deps;
    this.opts = opts;
    this.store = opts.store;
    this.events = opts.events;
    this.clock = opts.clock;
    this.clouds = opts.clouds;
    this.settings = engineSettings(opts);
    this.owner = deps.owner;
    this.deployments = this.model.deployments;
    this.nodes = this.model.nodes;
    this.instances = this.model.instances;
    this.signal = this.abortCtl.signal;
    setMaxListeners(0, this.signal);
    this.enqueue = deps.enqueue;
    this.deps = deps;
    this.actions = new ActionTracker(
      (deployment, key, e) => void this.events.append(this.ev({ deployment, kind: 'engine.error', target: key, outcome: 'error', reason: toNubisError(e).message })),
      (key) => this.touch(key),
      (deployment, key) => {
        // a resource's action: that resource and what depends on it; a deployment-wide one (scale, destroy, rollout): all of it
        if (key.includes('/')) this.changed(key, deployment);
        else if (deployment) this.enqueue(deployment);
        deps.onActionEnd();
      },
    );
    this.busy = this.actions.busy;
    this.reach = new NodeReachability(opts.unreachableAfterMisses);
    this.reachContext = { nodes: this.nodes, instances: this.instances, now: () => this.clock.now(), emit: (e) => this.emit(e), enqueue: (d) => this.enqueue(d) };
  }

  /** Enacts a reachability change (records and events); nothing when `change` is undefined. */
  applyReachability(change: ReachChange | undefined, data?: Record<string, unknown>, outcome?: string): Promise<void> {
    return applyReachability(this.reachContext, change, data, outcome);
  }

  /**
   * Resource `key` (an instance and its node) changed, or its action ended: it is looked at
   * again, its component's counts are brought up to date (waking requirers they unblock), its
   * component's consumers are rewired, and a deployment whose own pass watches every change
   * (destroying: its end; a rolling update: its health gate) gets that pass.
   */
  changed(key: string, deployment?: string): void {
    if (this.stopped) return;
    const inst = this.instances.get(key);
    const depName = inst?.deployment ?? this.nodes.get(key)?.deployment ?? deployment;
    const d = depName !== undefined ? this.deployments.get(depName) : undefined;
    const comp = this.components.update(key, inst, d, this.nodes, this.deps.wakeResource);
    this.deps.wakeResource(key);
    if (comp !== undefined) this.deps.wakeComponent(comp);
    if (d && (d.status === 'destroying' || d.rollout?.status === 'running' || d.rollout?.status === 'paused')) this.deps.enqueueDeployment(d.name);
  }

  /** A component's published wiring changed (its requirers' state as providers' stops see it). */
  changedComponent(deployment: string, component: string): void {
    if (!this.stopped) this.deps.wakeComponent(componentKey(deployment, component));
  }

  /** Adds a listener of agent observations; returns its removal. */
  onObservation(fn: (o: InstanceObservation) => void): () => void {
    this.observers.add(fn);
    return () => void this.observers.delete(fn);
  }

  /** An observation was made (the observe controller); every listener hears of it, none can break the round. */
  observed(o: InstanceObservation): void {
    for (const fn of this.observers) {
      try {
        fn(o);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  abort(reason: unknown): void {
    this.stopped = true;
    this.abortCtl.abort(reason);
    for (const c of this.children) c.abort(reason);
    this.children.clear();
  }

  /**
   * A signal of one action's own, aborted with `signal` when the engine stops. Thousands of
   * actions wait at once (for creation permits, step permits, agents): each listening on the
   * one engine-wide signal makes every new listener cost a walk of all the others.
   */
  childSignal(): { signal: AbortSignal; done(): void } {
    const c = new AbortController();
    if (this.signal.aborted) c.abort(this.signal.reason);
    else this.children.add(c);
    return { signal: c.signal, done: () => void this.children.delete(c) };
  }

  instancesOf(d: string): InstanceRec[] {
    return this.model.instancesOf(d);
  }

  /** Runs an action on a resource key; when it ends a pass over `deployment` is queued. */
  track(key: string, deployment: string, p: Promise<void>): void {
    this.actions.track(key, deployment, p);
  }

  /** The next touch sequence number (a sweep's list records it when it begins). */
  nextTouch(): number {
    return ++this.touchSeq;
  }

  /** Bumps a node's touch counter: a sweep whose list began earlier does not judge it. */
  touch(key: string): void {
    const n = this.nodes.get(key);
    if (n) n.touch = ++this.touchSeq;
  }

  backoff(attempt: number): number {
    const { backoffBase, backoffMax } = this.settings;
    const ceiling = Math.min(backoffMax, backoffBase * 2 ** Math.max(0, attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /**
   * A spec cloud by name, else one the deployment's tenant registered; its credential is the
   * tenant's. FORBIDDEN when the cloud reaches the control-plane host and the tenant may not.
   */
  cloudSpecFor(d: Deployment, cloudName: string): CloudSpec {
    const spec: CloudSpec | undefined = d.spec.clouds[cloudName] ?? (cloudName ? this.opts.placement?.cloud(d.tenant, cloudName) : undefined);
    if (!spec) throw new NubisError('SPEC_INVALID', `deployment ${d.spec.name} names unknown cloud ${JSON.stringify(cloudName)} (neither in its spec nor registered)`);
    checkHostAccess(d.tenant, spec, this.opts.tenancy ?? {});
    return spec;
  }

  cloudFor(d: Deployment, cloudName: string): CloudHandle {
    return this.clouds.get(this.cloudSpecFor(d, cloudName), d.tenant);
  }

  /** The handle key of a node's cloud; undefined for an unplaced node or a cloud gone from the registry. */
  handleKey(d: Deployment, cloudName: string): string | undefined {
    if (!cloudName) return undefined;
    try {
      return this.cloudFor(d, cloudName).key;
    } catch {
      return undefined;
    }
  }

  /** The cloud's driver, with calls tagged by the deployment's correlation id. */
  driverOf(d: Deployment, cloudName: string): Driver {
    const h = this.cloudFor(d, cloudName).driver;
    return d.correlationId ? h.withCorrelation(d.correlationId) : h;
  }

  /** Where the component's wanted nodes are, for spread. */
  placementsOf(d: Deployment, component: string): Placement[] {
    const out: Placement[] = [];
    for (const i of this.model.instancesIn(d.name)) {
      if (i.component !== component || !i.desired) continue;
      const n = this.nodes.get(i.key);
      if (n?.cloud) out.push({ cloud: n.cloud, ...(n.placement?.location ? { location: n.placement.location } : {}) });
    }
    return out;
  }

  placeFor(d: Deployment, component: string, planned: readonly Placement[] = []): { placement: Placement; reason: string } {
    const comp = d.spec.components[component];
    const tpl = comp ? d.spec.nodeTemplates[comp.nodeTemplate] : undefined;
    if (!comp || !tpl) throw new NubisError('SPEC_INVALID', `deployment ${d.name} has no component ${component} with a node template`);
    if (!this.opts.placement) {
      throw new NubisError('PLACEMENT_NO_FIT', `${d.name}/${component}: node template ${tpl.name} names no cloud, and this control plane has no registry to choose from`);
    }
    return this.opts.placement.place(d.tenant, tpl, [...this.placementsOf(d, component), ...planned], `${d.name}/${component} (node template ${tpl.name})`);
  }

  /** An engine event; it carries the correlation id of the request that caused it. */
  ev(e: Omit<EventInput, 'actor'> & { actor?: string }): EventInput {
    const corr = e.correlationId ?? (e.deployment ? this.deployments.get(e.deployment)?.correlationId : undefined);
    return { actor: ENGINE_ACTOR, ...e, ...(corr ? { correlationId: corr } : {}), ts: this.clock.now() };
  }

  emit(e: Omit<EventInput, 'actor'> & { actor?: string }): Promise<void> {
    return this.events.append(this.ev(e));
  }

  async setNode(n: NodeRec, status: NodeState, reason: string, extra: Partial<NodeRec> = {}, data?: Record<string, unknown>): Promise<void> {
    const from = n.status;
    Object.assign(n, extra);
    n.status = status;
    if (status === 'running' && n.runningAt === undefined) n.runningAt = this.clock.now();
    // reachability is judged of running nodes only: a node lost, re-created or deleted starts afresh
    if (status !== 'running' && n.unreachable) {
      n.unreachable = false;
      n.unreachableReason = undefined;
      this.reach.forget(n.key);
    }
    n.updatedAt = this.clock.now();
    n.touch = ++this.touchSeq;
    this.changed(n.key, n.deployment);
    await Promise.all([
      this.store.write(this.store.putNode(nodeToRow(n))),
      this.events.append(this.ev({ deployment: n.deployment, kind: 'node.state', target: n.key, reason, outcome: status, data: { from, to: status, ...(n.providerId ? { id: n.providerId } : {}), ...data } })),
    ]);
  }

  async setPhase(i: InstanceRec, phase: InstancePhase, reason: string, data?: Record<string, unknown>): Promise<void> {
    const from = i.phase;
    i.phase = phase;
    i.updatedAt = this.clock.now();
    this.changed(i.key, i.deployment);
    const writes: Promise<void>[] = [this.store.write(this.store.putInstance(instanceToRow(i)))];
    if (from !== phase) {
      writes.push(this.events.append(this.ev({ deployment: i.deployment, kind: 'instance.phase', target: i.key, reason, outcome: phase, data: { from, to: phase, ...data } })));
    }
    await Promise.all(writes);
  }

  /** Persists a node's fields without a state change (no node.state event). */
  saveNode(n: NodeRec): Promise<void> {
    n.updatedAt = this.clock.now();
    n.touch = ++this.touchSeq;
    this.changed(n.key, n.deployment);
    return this.store.write(this.store.putNode(nodeToRow(n)));
  }

  saveInstance(i: InstanceRec): Promise<void> {
    i.updatedAt = this.clock.now();
    this.changed(i.key, i.deployment);
    return this.store.write(this.store.putInstance(instanceToRow(i)));
  }
}

/** The data of an event that alerts (src/operations/alerts): the code, its provider status and code, the explanation. */
export function alertData(err: NubisError): Record<string, unknown> {
  const d = (typeof err.details === 'object' && err.details !== null ? err.details : {}) as { httpStatus?: unknown; providerCode?: unknown };
  return {
    code: err.code, alert: true, explanation: explain(err),
    ...(typeof d.httpStatus === 'number' ? { httpStatus: d.httpStatus } : {}),
    ...(typeof d.providerCode === 'string' ? { providerCode: d.providerCode } : {}),
  };
}

/** What an operator should be told about a cloud error that stops an action (seed 000 §4.1). */
export function explain(err: NubisError): string {
  const x = explainCloudError(err);
  return `${x.meaning} ${x.whatToDo} (runbook: ${x.runbook})`;
}
