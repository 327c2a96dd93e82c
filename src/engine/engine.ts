/**
 * The engine: level-based controllers for nodes, component instances and wiring. Each pass
 * over a deployment decides scale, plans (./planner.ts) and starts the ready actions; every
 * action writes its intent before it calls a cloud or an agent, and queues another pass when
 * it ends. Passes are keyed by deployment and de-duplicated; failures back off per resource.
 *
 * Crash safety: a node's create intent (status `creating` + idempotency token) is committed
 * before the driver is called, and every cloud node carries owner, tenant, deployment, key and
 * attempt (the token) tags. At start (and periodically) each cloud is listed by owner tag and
 * the list judged by ./sweep.ts from those tags and the store alone: found nodes are adopted,
 * confirmed extra copies and unknown nodes deleted, intents that never reached the cloud
 * created again with the same token, and nodes the cloud lost (missed by several lists and
 * confirmed by get) created again at once.
 */
import crypto from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock/index.js';
import type { EventInput, EventLog } from '../events/index.js';
import type { Store, WriteOp } from '../store/index.js';
import type { AppSpec, CloudSpec, ComponentSpec, HandlerName } from '../model/types.js';
import { maskSecrets } from '../model/index.js';
import type { CloudNode, Driver } from '../drivers/driver.js';
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../drivers/driver.js';
import type { HealthProbe, InstanceFiles, StepResult } from '../agent/protocol.js';
import { NubisError, toNubisError } from '../errors/index.js';
import { explainCloudError } from '../drivers/index.js';
import {
  deploymentToRow,
  instanceName,
  instanceToRow,
  nodeToRow,
  resourceKey,
  type Deployment,
  type InstanceRec,
  type NodeRec,
  deploymentFromRow,
  nodeFromRow,
  instanceFromRow,
} from './state.js';
import { decideScale, planDeployment, componentWiringHashes, type Action } from './planner.js';
import { computeWiring, providedEndpoints, wiringEnv, wiringHash } from './wiring.js';
import type { CloudHandle, CloudRegistry, Placement, PlacementSource } from './clouds.js';
import { checkHostAccess, type TenantPolicy } from './tenancy.js';
import type { InstancePhase, NodeState } from './views.js';
import { decideSweep, emptyHistory, DEFAULT_TENANT_TAG, type SweepHistory, type SweepIntent } from './sweep.js';
import { applySweepDecision, type SweepContext } from './sweep-actions.js';
import { RolloutController } from './rollout/index.js';

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
  /** Per-resource backoff after failures. Defaults 1 000 and 30 000. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const ENGINE = 'engine';

export interface EngineStats {
  /** Planning passes run, and their total and last duration (wall ms). */
  passes: number;
  passMsTotal: number;
  lastPassMs: number;
  /** Deployments waiting for a pass. */
  queued: number;
  /** Actions running now. */
  inflight: number;
  /** Cloud lists the sweep has judged. */
  sweeps: number;
}

export interface Engine {
  readonly deployments: Map<string, Deployment>;
  readonly nodes: Map<string, NodeRec>;
  readonly instances: Map<string, InstanceRec>;
  instancesOf(deployment: string): InstanceRec[];
  /** Loads state, sweeps every cloud in use, and starts the loops. */
  start(): Promise<void>;
  /** Stops loops and waits for in-flight actions to end (they are aborted). */
  stop(): Promise<void>;
  /** Queues a pass over the deployment. */
  enqueue(deployment: string): void;
  /** Persists a deployment (after apply, scale or destroy) and queues a pass. */
  saveDeployment(d: Deployment, event: EventInput, extra?: WriteOp[]): Promise<void>;
  /** Resets failed instances and nodes so they are tried again (on apply). */
  resetFailures(deployment: string): WriteOp[];
  /**
   * Drops a deployment with its nodes and instances from memory and the store, whatever its
   * clouds say (destroy --forget). Resolves with the nodes that may still exist in a cloud.
   */
  forget(deployment: string): Promise<NodeRec[]>;
  /** Resolves when no action is in flight and no pass is queued. */
  idle(): Promise<void>;
  /** One full planning pass over every deployment without starting anything; for benchmarks. */
  dryPass(): number;
  /** Artefacts as sent to agents, cached per deployment version. */
  invalidateArtefacts(deployment: string): void;
  cloudFor(d: Deployment, cloud: string): CloudHandle;
  /**
   * The spec of a cloud the deployment names (its own, else its tenant's registered one),
   * without building anything. Throws SPEC_INVALID for an unknown cloud, FORBIDDEN for host
   * access its tenant may not use.
   */
  cloudSpecFor(d: Deployment, cloud: string): CloudSpec;
  /**
   * Where the next node of a component would go (template without a cloud), given the
   * component's current nodes plus `planned`. Throws PLACEMENT_NO_FIT when nothing fits.
   */
  placeFor(d: Deployment, component: string, planned?: readonly Placement[]): { placement: Placement; reason: string };
  /** This control plane's owner tag value. */
  ownerId(): string;
  /** Work counters for the control plane's own health (`/metrics`). */
  stats(): EngineStats;
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { store, events, clock, clouds } = opts;
  const stepLimit = opts.stepConcurrency ?? 32;
  const observeMs = opts.observeIntervalMs ?? 2000;
  const pollMs = opts.pollIntervalMs ?? 250;
  const provisionTimeoutMs = opts.provisionTimeoutMs ?? 600_000;
  const sweepMs = opts.sweepIntervalMs ?? 10_000;
  const updateInterval = opts.updateIntervalMs ?? 1000;
  const backoffBase = opts.backoffBaseMs ?? 1000;
  const backoffMax = opts.backoffMaxMs ?? 30_000;
  const consistencyMs = opts.consistencyWindowMs ?? 10_000;
  const owner = await store.installationId();

  const deployments = new Map<string, Deployment>();
  const nodes = new Map<string, NodeRec>();
  const instances = new Map<string, InstanceRec>();
  const byDep = new Map<string, Map<string, InstanceRec>>();
  const busy = new Set<string>();
  const queued = new Set<string>();
  const artefactCache = new Map<string, { version: number; files: InstanceFiles[] }>();
  let passScheduled = false;
  let stopped = false;
  let touchSeq = 0;
  let sweepCount = 0;
  const abort = new AbortController();
  // every in-flight action listens on this one signal
  setMaxListeners(0, abort.signal);
  const inflight = new Set<Promise<void>>();
  const idleWaiters: (() => void)[] = [];
  let stepsRunning = 0;
  const stepWaiters: (() => void)[] = [];

  const indexInstance = (i: InstanceRec): void => {
    instances.set(i.key, i);
    let m = byDep.get(i.deployment);
    if (!m) byDep.set(i.deployment, (m = new Map()));
    m.set(i.key, i);
  };
  const unindexInstance = (key: string): void => {
    const i = instances.get(key);
    if (!i) return;
    instances.delete(key);
    byDep.get(i.deployment)?.delete(key);
  };
  const instancesOf = (d: string): InstanceRec[] => [...(byDep.get(d)?.values() ?? [])];

  const backoff = (attempt: number): number => {
    const ceiling = Math.min(backoffMax, backoffBase * 2 ** Math.max(0, attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  };

  /**
   * A spec cloud by name, else one the deployment's tenant registered; its credential is the
   * tenant's. FORBIDDEN when the cloud reaches the control-plane host and the tenant may not.
   */
  const cloudSpecFor = (d: Deployment, cloudName: string): CloudSpec => {
    const spec: CloudSpec | undefined = d.spec.clouds[cloudName] ?? (cloudName ? opts.placement?.cloud(d.tenant, cloudName) : undefined);
    if (!spec) throw new NubisError('SPEC_INVALID', `deployment ${d.spec.name} names unknown cloud ${JSON.stringify(cloudName)} (neither in its spec nor registered)`);
    checkHostAccess(d.tenant, spec, opts.tenancy ?? {});
    return spec;
  };
  const cloudFor = (d: Deployment, cloudName: string): CloudHandle => clouds.get(cloudSpecFor(d, cloudName), d.tenant);

  /** Where the component's wanted nodes are, for spread. */
  const placementsOf = (d: Deployment, component: string): Placement[] => {
    const out: Placement[] = [];
    for (const i of instancesOf(d.name)) {
      if (i.component !== component || !i.desired) continue;
      const n = nodes.get(i.key);
      if (n?.cloud) out.push({ cloud: n.cloud, ...(n.placement?.location ? { location: n.placement.location } : {}) });
    }
    return out;
  };

  const placeFor = (d: Deployment, component: string, planned: readonly Placement[] = []): { placement: Placement; reason: string } => {
    const comp = d.spec.components[component];
    const tpl = comp ? d.spec.nodeTemplates[comp.nodeTemplate] : undefined;
    if (!comp || !tpl) throw new NubisError('SPEC_INVALID', `deployment ${d.name} has no component ${component} with a node template`);
    if (!opts.placement) {
      throw new NubisError('PLACEMENT_NO_FIT', `${d.name}/${component}: node template ${tpl.name} names no cloud, and this control plane has no registry to choose from`);
    }
    return opts.placement.place(d.tenant, tpl, [...placementsOf(d, component), ...planned], `${d.name}/${component} (node template ${tpl.name})`);
  };

  /** Sweeps a cloud whose handle is new, then queues the deployments. */
  const kickSweep = (h: CloudHandle): void => {
    if (stopped) return;
    // after a failed sweep nothing is queued: the unsynced-cloud loop tries again (a broken cloud must not spin the passes)
    void sweep(h)
      .then(() => {
        for (const name of deployments.keys()) enqueue(name);
      }, () => undefined);
  };

  // ---- persistence helpers: mutate in memory, then write through ----

  /** An engine event; it carries the correlation id of the request that caused it. */
  const ev = (e: Omit<EventInput, 'actor'> & { actor?: string }): EventInput => {
    const corr = e.correlationId ?? (e.deployment ? deployments.get(e.deployment)?.correlationId : undefined);
    return { actor: ENGINE, ...e, ...(corr ? { correlationId: corr } : {}), ts: clock.now() };
  };

  /** The cloud's driver, with calls tagged by the deployment's correlation id. */
  const driverOf = (d: Deployment, cloudName: string): Driver => {
    const h = cloudFor(d, cloudName).driver;
    return d.correlationId ? h.withCorrelation(d.correlationId) : h;
  };

  async function setNode(n: NodeRec, status: NodeState, reason: string, extra: Partial<NodeRec> = {}, data?: Record<string, unknown>): Promise<void> {
    const from = n.status;
    Object.assign(n, extra);
    n.status = status;
    n.updatedAt = clock.now();
    n.touch = ++touchSeq;
    await Promise.all([
      store.write(store.putNode(nodeToRow(n))),
      events.append(ev({ deployment: n.deployment, kind: 'node.state', target: n.key, reason, outcome: status, data: { from, to: status, ...(n.providerId ? { id: n.providerId } : {}), ...data } })),
    ]);
  }

  async function setPhase(i: InstanceRec, phase: InstancePhase, reason: string, data?: Record<string, unknown>): Promise<void> {
    const from = i.phase;
    i.phase = phase;
    i.updatedAt = clock.now();
    const writes: Promise<void>[] = [store.write(store.putInstance(instanceToRow(i)))];
    if (from !== phase) {
      writes.push(events.append(ev({ deployment: i.deployment, kind: 'instance.phase', target: i.key, reason, outcome: phase, data: { from, to: phase, ...data } })));
    }
    await Promise.all(writes);
  }

  const saveInstance = (i: InstanceRec): Promise<void> => {
    i.updatedAt = clock.now();
    return store.write(store.putInstance(instanceToRow(i)));
  };

  // ---- the loop ----

  // A pass costs O(instances). When passes get expensive (thousands of nodes, completions
  // arriving every turn), they are spaced so planning takes at most a fifth of the CPU;
  // small deployments are planned on the next turn.
  let nextPassAt = 0;
  let passCount = 0;
  let passMsTotal = 0;
  let lastPassMs = 0;
  function enqueue(name: string): void {
    if (stopped) return;
    queued.add(name);
    if (!passScheduled) {
      passScheduled = true;
      const wait = nextPassAt - performance.now();
      if (wait > 0) setTimeout(runPasses, wait);
      else setImmediate(runPasses);
    }
  }

  function runPasses(): void {
    passScheduled = false;
    // a pass scheduled before stop() must not write to a store that is being closed
    if (stopped) queued.clear();
    const names = [...queued];
    queued.clear();
    const t0 = performance.now();
    for (const name of names) {
      try {
        pass(name);
      } catch (e) {
        void events.append(ev({ deployment: name, kind: 'engine.error', outcome: 'error', reason: toNubisError(e).message }));
      }
    }
    const took = performance.now() - t0;
    passCount += names.length > 0 ? 1 : 0;
    passMsTotal += took;
    lastPassMs = took;
    nextPassAt = took > 2 ? performance.now() + 4 * took : 0;
    checkIdle();
  }

  function checkIdle(): void {
    if (inflight.size === 0 && queued.size === 0 && !passScheduled) {
      for (const w of idleWaiters.splice(0)) w();
    }
  }

  /** Bumps a node's touch counter: a sweep whose list began earlier does not judge it. */
  const touch = (key: string): void => {
    const n = nodes.get(key);
    if (n) n.touch = ++touchSeq;
  };

  function track(key: string, deployment: string, p: Promise<void>): void {
    busy.add(key);
    touch(key);
    const t = p
      .catch((e: unknown) => {
        void events.append(ev({ deployment, kind: 'engine.error', target: key, outcome: 'error', reason: toNubisError(e).message }));
      })
      .finally(() => {
        busy.delete(key);
        touch(key);
        inflight.delete(t);
        enqueue(deployment);
        checkIdle();
      });
    inflight.add(t);
  }

  /** One level-based pass: scale, plan, start what is ready. */
  function pass(name: string): void {
    const d = deployments.get(name);
    if (!d) return;
    rollouts.reconcile(d, instancesOf(name));
    const now = clock.now();
    const mine = instancesOf(name);
    const decision = decideScale(d, mine);
    if (decision.add.length > 0 || decision.remove.length > 0) {
      const writes: WriteOp[] = [];
      const evs: EventInput[] = [];
      for (const a of decision.add) {
        const iname = instanceName(a.component, a.ordinal);
        const key = resourceKey(name, iname);
        const comp = d.spec.components[a.component]!;
        d.ordinals[a.component] = a.ordinal + 1;
        const inst: InstanceRec = {
          key, deployment: name, component: a.component, ordinal: a.ordinal, name: iname, desired: true, phase: 'pending',
          runSeq: 0, restarts: 0, attempts: 0, createdAt: now, updatedAt: now, health: 'unknown', processAlive: undefined,
        };
        const node: NodeRec = {
          key, deployment: name, cloud: comp.cloud, status: 'pending', token: crypto.randomUUID(), attempts: 0, createdAt: now, updatedAt: now,
        };
        if (!comp.cloud) {
          // chosen now so spread sees it; when nothing fits, createNode tries again and reports
          try {
            const { placement } = placeFor(d, a.component);
            node.cloud = placement.cloud;
            node.placement = placement;
          } catch {
            node.cloud = '';
          }
        }
        indexInstance(inst);
        nodes.set(key, node);
        writes.push(store.putInstance(instanceToRow(inst)), store.putNode(nodeToRow(node)));
        evs.push(ev({ deployment: name, kind: 'instance.added', target: key, reason: 'count below desired', data: { component: a.component } }));
      }
      for (const key of decision.remove) {
        const inst = instances.get(key)!;
        inst.desired = false;
        inst.updatedAt = now;
        writes.push(store.putInstance(instanceToRow(inst)));
        evs.push(ev({ deployment: name, kind: 'instance.removed', target: key, reason: d.status === 'destroying' ? 'deployment destroyed' : 'count above desired' }));
      }
      writes.push(store.putDeployment(deploymentToRow(d)));
      // Decisions are in memory already; the next pass runs once they are committed.
      track(`scale:${name}`, name, Promise.all([store.write(...writes), events.append(...evs)]).then(() => undefined));
      return;
    }
    if (busy.has(`scale:${name}`)) return;

    const actions = planDeployment({ dep: d, instances: mine, nodes, now, busy });
    let waitingUntil = Infinity;
    for (const a of actions) {
      if (!a.ready) continue;
      let handle: CloudHandle | undefined;
      try {
        handle = cloudForAction(d, a);
      } catch (e) {
        void events.append(ev({ deployment: name, kind: 'engine.error', target: a.target, outcome: 'error', reason: toNubisError(e).message }));
        continue;
      }
      if (handle && !handle.synced) {
        kickSweep(handle);
        continue;
      }
      track(a.target, name, execute(d, a));
    }
    for (const i of mine) if (i.notBefore && i.notBefore > now) waitingUntil = Math.min(waitingUntil, i.notBefore);
    for (const i of mine) {
      const n = nodes.get(i.key);
      if (n?.notBefore && n.notBefore > now) waitingUntil = Math.min(waitingUntil, n.notBefore);
    }
    if (waitingUntil < Infinity) {
      const t = clock.sleep(waitingUntil - now + 1, abort.signal).then(() => enqueue(name), () => undefined);
      void t;
    }
    if (d.status === 'destroying' && mine.length === 0 && !busy.has(`destroy:${name}`)) {
      // the deployment disappears from views only once its removal and event are committed
      track(`destroy:${name}`, name, Promise.all([
        store.write(store.deleteDeployment(name)),
        events.append(ev({ deployment: name, kind: 'deployment.destroyed', target: name, reason: 'nothing left' })),
      ]).then(() => {
        deployments.delete(name);
        artefactCache.delete(name);
      }));
    }
  }

  /** Every action waits until its cloud has been swept (that also restores agent tokens). */
  function cloudForAction(d: Deployment, a: Action): CloudHandle | undefined {
    const n = nodes.get(a.target);
    const cloud = n ? n.cloud : a.cloud;
    return cloud ? cloudFor(d, cloud) : undefined;
  }

  async function execute(d: Deployment, a: Action): Promise<void> {
    const inst = instances.get(a.target)!;
    switch (a.kind) {
      case 'create-node':
        return createNode(d, inst);
      case 'install':
      case 'configure':
        return step(d, inst, a.kind);
      case 'start':
        return start(d, inst);
      case 'update':
        return update(d, inst);
      case 'restart':
        return restart(inst, a.reason);
      case 'stop':
        return stopInstance(d, inst);
      case 'delete-node':
        return deleteNode(d, inst);
    }
  }

  // ---- nodes ----

  async function createNode(d: Deployment, inst: InstanceRec): Promise<void> {
    const n = nodes.get(inst.key)!;
    const comp = d.spec.components[inst.component]!;
    if (!n.cloud) {
      // selection found nothing when the node was added (or the registry changed): try again
      try {
        const { placement, reason } = placeFor(d, inst.component);
        await setNode(n, n.status, `placed: ${reason}`, { cloud: placement.cloud, placement });
      } catch (e) {
        const err = toNubisError(e);
        n.lastError = `${err.code}: ${err.message}`;
        await setNode(n, 'failed', 'no placement', {}, { code: err.code, alert: true, explanation: explain(err) });
        return;
      }
      if (!cloudFor(d, n.cloud).synced) return; // the next pass waits for its sweep
    }
    const cloud = cloudFor(d, n.cloud);
    const driver = driverOf(d, n.cloud);
    if (n.status === 'pending') await setNode(n, 'creating', 'intent persisted before create');
    // A node the cloud already has (adopted after a restart, or a retried poll) takes no
    // creation permit: only creates this process sends hold one, and then only until the
    // provisioning deadline, so a node stuck provisioning never blocks the creates of others.
    const release = n.providerId ? undefined : await cloud.limiter.acquire(abort.signal);
    const t0 = clock.now();
    let ok = false;
    try {
      if (!n.providerId) {
        const cn = await driver.create(
          {
            key: n.key,
            tags: { [TAG_OWNER]: owner, [TAG_TENANT]: d.tenant, [TAG_DEPLOYMENT]: n.deployment, [TAG_KEY]: n.key, [TAG_ATTEMPT]: n.token },
            idempotencyToken: n.token,
            requirements: d.spec.nodeTemplates[comp.nodeTemplate]?.requirements ?? {},
            ...(n.placement ? { placement: placementRequest(n.placement) } : {}),
          },
          abort.signal,
        );
        n.visibleSince = clock.now();
        await setNode(n, cn.status === 'running' ? 'running' : 'provisioning', 'created', { providerId: cn.id, observed: cn });
      }
      ok = await awaitProvisioned(n, inst, driver);
      if (ok) {
        n.attempts = 0;
        n.notBefore = undefined;
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      await createFailed(n, driver, toNubisError(e));
    } finally {
      release?.({ latencyMs: clock.now() - t0, ok });
    }
  }

  /**
   * Polls a provisioning node until it runs. Resolves false without error when its instance
   * is no longer wanted (destroy or scale-in: the next pass deletes it). Throws CLOUD_TIMEOUT
   * (the node is deleted and made again) when it is still provisioning after
   * `provisionTimeoutMs`, and the cloud's verdict when it reports the node gone or broken.
   */
  async function awaitProvisioned(n: NodeRec, inst: InstanceRec, driver: Driver): Promise<boolean> {
    const deadline = clock.now() + provisionTimeoutMs;
    let notFound = 0;
    while (n.status !== 'running') {
      if (!inst.desired || deployments.get(n.deployment)?.status === 'destroying') return false;
      if (clock.now() >= deadline) {
        throw new NubisError('CLOUD_TIMEOUT', `node ${n.providerId} still provisioning after ${Math.round(provisionTimeoutMs / 1000)} s; deleting it and creating another`, {
          details: { vanished: false },
        });
      }
      await clock.sleep(pollMs, abort.signal);
      const cn = await driver.get(n.providerId!, abort.signal);
      if (!cn) {
        // NotFound within the provider's consistency window after create is not "gone"
        if (++notFound < 3 || clock.now() < (n.visibleSince ?? 0) + consistencyMs) continue;
        throw new NubisError('CLOUD_NOT_FOUND', `node ${n.providerId} vanished while provisioning`, { retryable: true, details: { vanished: true } });
      }
      notFound = 0;
      if (cn.status === 'error') throw new NubisError('CLOUD_INTERNAL', `node ${cn.id} failed to provision`, { details: { vanished: false } });
      n.observed = cn;
      if (cn.status === 'running') await setNode(n, 'running', 'provisioned', { observed: cn });
    }
    return true;
  }

  /** Records a failed create or provisioning wait: retry with backoff (a broken node deleted, a new token), or fail. */
  async function createFailed(n: NodeRec, driver: Driver, err: NubisError): Promise<void> {
    n.attempts++;
    n.lastError = `${err.code}: ${err.message}`;
    const vanished = (err.details as { vanished?: boolean } | undefined)?.vanished;
    if (vanished !== undefined) {
      // The cloud lost or broke the node: forget it (deleting a broken one) and start over with a new token.
      if (!vanished && n.providerId) await driver.delete(n.providerId, abort.signal).catch(() => undefined);
      n.providerId = undefined;
      n.observed = undefined;
      n.token = crypto.randomUUID();
    }
    if (err.retryable) {
      n.notBefore = clock.now() + backoff(n.attempts);
      await setNode(n, n.providerId ? n.status : 'pending', 'create failed, will retry', {}, { code: err.code, attempt: n.attempts });
    } else {
      await setNode(n, 'failed', 'create failed', {}, { code: err.code, alert: true, explanation: explain(err) });
    }
  }

  async function deleteNode(d: Deployment, inst: InstanceRec): Promise<void> {
    const n = nodes.get(inst.key);
    const finish = async (): Promise<void> => {
      nodes.delete(inst.key);
      unindexInstance(inst.key);
      await Promise.all([
        store.write(store.deleteNode(inst.key), store.deleteInstance(inst.key)),
        events.append(ev({ deployment: d.name, kind: 'instance.deleted', target: inst.key, reason: 'node deleted' })),
      ]);
    };
    if (!n || n.status === 'pending' || !n.cloud) return finish();
    const driver = driverOf(d, n.cloud);
    try {
      if (n.status !== 'deleting') await setNode(n, 'deleting', 'intent persisted before delete');
      if (n.providerId) await driver.delete(n.providerId, abort.signal);
      else {
        // The create may or may not have reached the cloud: find it by tag.
        for (const cn of await driver.list({ [TAG_OWNER]: owner, [TAG_KEY]: n.key }, abort.signal)) {
          await driver.delete(cn.id, abort.signal);
        }
      }
      await events.append(ev({ deployment: d.name, kind: 'node.state', target: n.key, outcome: 'deleted', reason: 'deleted', data: { from: 'deleting', to: 'deleted' } }));
      await finish();
    } catch (e) {
      if (abort.signal.aborted) return;
      await deleteFailed(n, toNubisError(e));
    }
  }

  /**
   * A retryable delete failure backs off and tries again; a non-retryable one (forbidden,
   * bad request, …) would fail the same way forever, so the node is marked failed with the
   * reason and no more deletes are sent: the destroy ends there, its status names the node
   * and why, and `destroy --forget` (or fixing the cloud and destroying again) finishes it.
   */
  async function deleteFailed(n: NodeRec, err: NubisError): Promise<void> {
    n.attempts++;
    n.lastError = `delete failed: ${err.code}: ${err.message}`;
    if (!err.retryable) {
      n.notBefore = undefined;
      await setNode(n, 'failed', 'delete failed', {}, { code: err.code, alert: true, explanation: explain(err) });
      return;
    }
    n.notBefore = clock.now() + backoff(n.attempts);
    await setNode(n, 'deleting', 'delete failed, will retry', {}, { code: err.code, attempt: n.attempts });
  }

  // ---- instances ----

  async function acquireStep(): Promise<() => void> {
    while (stepsRunning >= stepLimit) await new Promise<void>((r) => stepWaiters.push(r));
    stepsRunning++;
    return () => {
      stepsRunning--;
      stepWaiters.shift()?.();
    };
  }

  async function artefactsFor(d: Deployment): Promise<InstanceFiles[]> {
    const c = artefactCache.get(d.name);
    if (c && c.version === d.version) return c.files;
    const rows = await store.artefacts(d.name);
    const files = rows.map((r) => ({ path: r.path, base64: Buffer.from(r.content).toString('base64'), mode: r.mode }));
    artefactCache.set(d.name, { version: d.version, files });
    return files;
  }

  function healthProbe(comp: ComponentSpec, node: CloudNode | undefined): HealthProbe | undefined {
    const h = comp.health;
    if (!h) return undefined;
    const probe: HealthProbe = { kind: h.kind, intervalMs: h.intervalMs, timeoutMs: h.timeoutMs, retries: h.retries };
    if (h.command) probe.command = h.command;
    if (h.path) probe.path = h.path;
    if (h.port) {
      const ep = providedEndpoints(comp, node)[h.port];
      if (ep) {
        probe.port = ep.port;
        probe.host = ep.host;
      }
    }
    return probe;
  }

  /** Runs one handler through the agent, recording intent, output and outcome. */
  async function runHandler(d: Deployment, inst: InstanceRec, stepName: HandlerName): Promise<{ result: StepResult; hash: string }> {
    const comp = d.spec.components[inst.component]!;
    const n = nodes.get(inst.key)!;
    const cloud = cloudFor(d, n.cloud);
    const needed = new Set(Object.values(comp.requires).map((ch) => ch.component));
    const byComponent = new Map<string, InstanceRec[]>();
    if (needed.size > 0) {
      for (const i of byDep.get(d.name)?.values() ?? []) {
        if (!needed.has(i.component)) continue;
        const l = byComponent.get(i.component) ?? [];
        l.push(i);
        byComponent.set(i.component, l);
      }
    }
    const wiring = computeWiring({ dep: d, inst, byComponent, nodes });
    const hash = wiringHash(wiring);
    const handler = comp.handlers[stepName];
    const runId = inst.inflightRun?.includes(`:${stepName}:`) ? inst.inflightRun : `${inst.key}:${stepName}:${++inst.runSeq}`;
    if (inst.inflightRun !== runId) {
      inst.inflightRun = runId;
      await saveInstance(inst);
    }
    const secrets = comp.secretEnv && opts.openSecrets ? opts.openSecrets(d, comp) : {};
    const env = wiringEnv({ ...comp, env: { ...comp.env, ...secrets } }, wiring, n.observed?.address ?? '127.0.0.1', n.observed?.graphite);
    env.NUBIS_STEP = stepName;
    const release = await acquireStep();
    const startedAt = clock.now();
    let result: StepResult;
    try {
      result = await cloud.driver.agent(n.observed!).runStep(
        {
          runId,
          instance: inst.name,
          step: stepName,
          ...(handler ? { command: handler.run } : {}),
          timeoutMs: handler?.timeoutMs ?? 60_000,
          env,
          wiring,
          ...(stepName === 'install' ? { files: await artefactsFor(d) } : {}),
          ...(stepName === 'start' ? { health: healthProbe(comp, n.observed) } : {}),
        },
        abort.signal,
      );
    } finally {
      release();
    }
    inst.inflightRun = undefined;
    // a handler that prints a secret value: the step log and events show "***"
    if (comp.secretEnv) result = { ...result, output: maskSecrets(result.output, Object.values(secrets)) };
    await Promise.all([
      store.write(
        store.putStepRun({
          deployment: d.name, instance: inst.name, step: stepName, run_id: runId, state: result.state,
          exit_code: result.exitCode ?? null, output: result.output, started_at: result.startedAt || startedAt, ended_at: result.endedAt ?? clock.now(),
        }),
        store.putInstance(instanceToRow(inst)),
      ),
      events.append(ev({
        deployment: d.name, kind: 'instance.step', target: inst.key, reason: stepName, outcome: result.state,
        data: { step: stepName, runId, exitCode: result.exitCode ?? null, durationMs: (result.endedAt ?? clock.now()) - (result.startedAt || startedAt) },
      })),
    ]);
    return { result, hash };
  }

  /** Records a failed attempt: back off, or mark the instance failed once retries are spent. */
  async function stepFailed(d: Deployment, inst: InstanceRec, stepName: HandlerName, err: NubisError, output: string, backTo?: InstancePhase): Promise<void> {
    if (abort.signal.aborted) return;
    const handler = d.spec.components[inst.component]?.handlers[stepName];
    const retries = handler?.retries ?? 2;
    inst.attempts++;
    inst.lastError = `${stepName}: ${err.code}: ${err.message}${output ? `\n${output.slice(-2000)}` : ''}`;
    if (err.code === 'AGENT_UNREACHABLE' || inst.attempts <= retries) {
      inst.notBefore = clock.now() + backoff(inst.attempts);
      await Promise.all([
        backTo ? setPhase(inst, backTo, `${stepName} failed, will retry`) : saveInstance(inst),
        events.append(ev({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: `${stepName} failed`, outcome: 'error', data: { step: stepName, code: err.code, attempt: inst.attempts, of: retries + 1, output: output.slice(-4000) } })),
      ]);
    } else {
      await setPhase(inst, 'failed', `${stepName} failed after ${inst.attempts} attempts`, { step: stepName, code: err.code, alert: true, output: output.slice(-4000) });
    }
  }

  function resultError(stepName: HandlerName, r: StepResult): NubisError {
    if (r.state === 'timed-out') return new NubisError('HANDLER_TIMEOUT', `${stepName} handler timed out`);
    return new NubisError('HANDLER_FAILED', `${stepName} handler exited with ${r.exitCode ?? r.signal ?? 'an error'}`);
  }

  async function step(d: Deployment, inst: InstanceRec, stepName: 'install' | 'configure'): Promise<void> {
    try {
      const { result, hash } = await runHandler(d, inst, stepName);
      if (result.state !== 'succeeded') return stepFailed(d, inst, stepName, resultError(stepName, result), result.output);
      inst.attempts = 0;
      inst.lastError = undefined;
      if (stepName === 'configure') inst.wiringHash = hash;
      await setPhase(inst, stepName === 'install' ? 'installed' : 'configured', `${stepName} succeeded`);
    } catch (e) {
      await stepFailed(d, inst, stepName, toNubisError(e), '');
    }
  }

  async function start(d: Deployment, inst: InstanceRec): Promise<void> {
    const comp = d.spec.components[inst.component]!;
    const n = nodes.get(inst.key)!;
    const agent = cloudFor(d, n.cloud).driver.agent(n.observed!);
    try {
      const { result, hash } = await runHandler(d, inst, 'start');
      if (result.state !== 'succeeded') return stepFailed(d, inst, 'start', resultError('start', result), result.output);
      inst.wiringHash = hash;
      await setPhase(inst, 'started', 'start succeeded');
      if (comp.handlers.start || comp.health) {
        const h = comp.health;
        const deadline = clock.now() + (comp.handlers.start?.timeoutMs ?? 60_000) + (h ? h.intervalMs * (h.retries + 1) : 0);
        for (;;) {
          const st = (await agent.status(abort.signal)).instances.find((s) => s.instance === inst.name);
          const ok = h ? st?.health === 'healthy' : st?.process === 'running' || (st?.process === 'exited' && st.exitCode === 0);
          if (ok) break;
          if (st?.process === 'exited' && st.exitCode !== 0) throw new NubisError('HEALTH_FAILED', `the start process exited with ${st.exitCode ?? 'a signal'}`);
          if (clock.now() > deadline) throw new NubisError('HEALTH_FAILED', `not healthy within ${Math.round((deadline - clock.now()) / 1000)} s${st?.healthDetail ? `: ${st.healthDetail}` : ''}`);
          await clock.sleep(Math.min(200, h?.intervalMs ?? 200), abort.signal);
        }
      }
      inst.attempts = 0;
      inst.lastError = undefined;
      if (Object.keys(comp.requires).length > 0) inst.notBefore = clock.now() + updateInterval;
      inst.health = comp.health ? 'healthy' : 'unknown';
      inst.processAlive = undefined;
      await setPhase(inst, 'running', 'healthy');
    } catch (e) {
      const err = toNubisError(e);
      if (err.code === 'HEALTH_FAILED') await agent.stopInstance(inst.name, abort.signal).catch(() => undefined);
      await stepFailed(d, inst, 'start', err, '', 'configured');
    }
  }

  async function update(d: Deployment, inst: InstanceRec): Promise<void> {
    const comp = d.spec.components[inst.component]!;
    if (!comp.handlers.update) return restart(inst, 'its channels changed and it has no update handler');
    try {
      const { result, hash } = await runHandler(d, inst, 'update');
      if (result.state !== 'succeeded') return stepFailed(d, inst, 'update', resultError('update', result), result.output);
      inst.wiringHash = hash;
      inst.attempts = 0;
      inst.notBefore = clock.now() + updateInterval;
      await Promise.all([
        saveInstance(inst),
        events.append(ev({ deployment: d.name, kind: 'instance.wiring', target: inst.key, reason: 'update handler ran', data: { hash } })),
      ]);
    } catch (e) {
      await stepFailed(d, inst, 'update', toNubisError(e), '');
    }
  }

  async function restart(inst: InstanceRec, reason: string): Promise<void> {
    const d = deployments.get(inst.deployment)!;
    const n = nodes.get(inst.key)!;
    try {
      await cloudFor(d, n.cloud).driver.agent(n.observed!).stopInstance(inst.name, abort.signal);
    } catch (e) {
      const err = toNubisError(e);
      inst.notBefore = clock.now() + backoff(++inst.attempts);
      await events.append(ev({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: 'stop before restart failed', outcome: 'error', data: { code: err.code } }));
      return;
    }
    inst.restarts++;
    inst.notBefore = inst.restarts > 1 ? clock.now() + backoff(inst.restarts - 1) : undefined;
    inst.health = 'unknown';
    inst.processAlive = undefined;
    const comp = d.spec.components[inst.component];
    const back: InstancePhase = comp && !comp.handlers.update && reason.includes('channels') ? 'installed' : 'configured';
    await setPhase(inst, back, `restart: ${reason}`, { restarts: inst.restarts });
  }

  async function stopInstance(d: Deployment, inst: InstanceRec): Promise<void> {
    const n = nodes.get(inst.key)!;
    const comp = d.spec.components[inst.component];
    await setPhase(inst, 'stopping', 'stopping');
    try {
      if (comp?.handlers.stop) {
        const { result } = await runHandler(d, inst, 'stop');
        if (result.state !== 'succeeded') {
          await events.append(ev({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: 'stop handler failed; stopping the process anyway', outcome: 'error', data: { output: result.output.slice(-2000) } }));
        }
      }
      await cloudFor(d, n.cloud).driver.agent(n.observed!).stopInstance(inst.name, abort.signal);
    } catch (e) {
      // A node that cannot be reached is deleted anyway; its processes go with it.
      await events.append(ev({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: 'stop failed; the node will be deleted', outcome: 'error', data: { code: toNubisError(e).code } }));
    }
    await setPhase(inst, 'stopped', 'stopped');
  }

  // ---- observation ----

  async function observeAgents(): Promise<void> {
    const byNode: Promise<void>[] = [];
    for (const inst of instances.values()) {
      if (!inst.desired || inst.phase !== 'running' || busy.has(inst.key)) continue;
      const d = deployments.get(inst.deployment);
      const n = nodes.get(inst.key);
      if (!d || n?.status !== 'running' || !n.observed) continue;
      byNode.push(
        (async () => {
          try {
            const st = await cloudFor(d, n.cloud).driver.agent(n.observed!).status(abort.signal);
            const s = st.instances.find((x) => x.instance === inst.name);
            const comp = d.spec.components[inst.component];
            const alive = s ? s.process !== 'exited' || s.exitCode === 0 : false;
            const health = s?.health ?? 'unknown';
            const changed = alive !== (inst.processAlive ?? true) || health !== inst.health;
            inst.processAlive = comp?.handlers.start ? alive : undefined;
            inst.health = health;
            if (changed) {
              await events.append(ev({ deployment: d.name, kind: 'instance.health', target: inst.key, outcome: health, data: { process: s?.process ?? 'none', detail: s?.healthDetail } }));
              enqueue(d.name);
            }
          } catch {
            // An agent that does not answer is judged by the next sweep of its cloud.
          }
        })(),
      );
    }
    await Promise.all(byNode);
  }

  /** Per cloud handle: what its earlier lists showed; the sweep running now; a quick re-list scheduled. */
  const sweepHistory = new Map<string, SweepHistory>();
  const sweepRunning = new Map<string, Promise<void>>();
  const sweepSoon = new Set<string>();

  /** Lists a cloud by owner tag and carries out what ./sweep.ts decides; one at a time per handle. */
  function sweep(cloud: CloudHandle): Promise<void> {
    const running = sweepRunning.get(cloud.key);
    if (running) return running;
    const p = sweepOnce(cloud).finally(() => sweepRunning.delete(cloud.key));
    sweepRunning.set(cloud.key, p);
    return p;
  }

  async function sweepOnce(cloud: CloudHandle): Promise<void> {
    const listFrom = ++touchSeq;
    const found = await cloud.driver.list({ [TAG_OWNER]: owner }, abort.signal);
    // judged at once, against the state as of the moment the list returned
    const { decisions, history, suspects } = decideSweep({
      found, owner, intents: sweepIntents(cloud, listFrom), history: sweepHistory.get(cloud.key) ?? emptyHistory(), now: clock.now(),
    });
    sweepHistory.set(cloud.key, history);
    sweepCount++;
    await Promise.all(decisions.map((dec) => applySweepDecision(sweepContext, cloud.driver, dec)));
    cloud.synced = true;
    if (suspects > 0 && !sweepSoon.has(cloud.key) && !stopped) {
      // a node missed once is listed again soon, so a lost one is re-created promptly
      sweepSoon.add(cloud.key);
      const again = (): void => void sweepSoon.delete(cloud.key);
      clock.sleep(Math.min(sweepMs, 1000), abort.signal).then(() => (again(), sweep(cloud)), again).catch(() => undefined);
    }
  }

  /** Every node intent as the sweep of `cloud` sees it; `changed` when touched after the list began. */
  function sweepIntents(cloud: CloudHandle, listFrom: number): Map<string, SweepIntent> {
    const out = new Map<string, SweepIntent>();
    const own = new Map<string, string | undefined>();
    for (const n of nodes.values()) {
      const d = deployments.get(n.deployment);
      if (!d) continue;
      const ck = `${n.deployment}\0${n.cloud}`;
      if (!own.has(ck)) own.set(ck, handleKey(d, n.cloud));
      out.set(n.key, {
        key: n.key, deployment: n.deployment, tenant: d.tenant, status: n.status, token: n.token,
        ...(n.providerId ? { providerId: n.providerId } : {}),
        own: own.get(ck) === cloud.key,
        changed: busy.has(n.key) || (n.touch ?? 0) > listFrom,
        graceUntil: (n.visibleSince ?? 0) + consistencyMs,
      });
    }
    return out;
  }

  const sweepContext: SweepContext = {
    owner,
    nodes,
    instances,
    signal: abort.signal,
    now: () => clock.now(),
    setNode: (n, status, reason, extra, data) => setNode(n, status, reason, extra, data),
    setPhase: (i, phase, reason) => setPhase(i, phase, reason),
    emit: (e) => events.append(ev(e)),
    run(key, deployment, fn) {
      const p = fn();
      track(key, deployment ?? '', p);
      return p.catch(() => undefined);
    },
    hasIntent(cn) {
      const n = nodes.get(cn.tags[TAG_KEY] ?? '');
      const d = n ? deployments.get(n.deployment) : undefined;
      return !!d && n!.deployment === cn.tags[TAG_DEPLOYMENT] && d.tenant === (cn.tags[TAG_TENANT] ?? DEFAULT_TENANT_TAG);
    },
  };

  /** The handle key of a node's cloud; undefined for an unplaced node or a cloud gone from the registry. */
  function handleKey(d: Deployment, cloudName: string): string | undefined {
    if (!cloudName) return undefined;
    try {
      return cloudFor(d, cloudName).key;
    } catch {
      return undefined;
    }
  }

  async function sweepAll(): Promise<void> {
    for (const d of deployments.values()) for (const c of Object.keys(d.spec.clouds)) {
      try {
        cloudFor(d, c);
      } catch {
        /* reported at apply time */
      }
    }
    // registered clouds that nodes were placed on
    for (const n of nodes.values()) {
      const d = deployments.get(n.deployment);
      if (d) handleKey(d, n.cloud);
    }
    await Promise.all(
      clouds.all().map(async (c) => {
        try {
          await sweep(c);
        } catch (e) {
          await events.append(ev({ kind: 'cloud.sweep-failed', target: c.key, outcome: 'error', reason: toNubisError(e).message }));
        }
      }),
    );
    for (const d of deployments.keys()) enqueue(d);
  }

  async function loop(everyMs: number, fn: () => Promise<void>): Promise<void> {
    while (!stopped) {
      try {
        await clock.sleep(everyMs, abort.signal);
      } catch {
        return;
      }
      if (stopped) return;
      try {
        await fn();
      } catch {
        /* loops never die */
      }
    }
  }
  const loops: Promise<void>[] = [];

  // rolling updates (./rollout): restart in place or replace, batch by batch behind a health gate
  const rollouts = new RolloutController({
    now: () => clock.now(),
    busy: (key) => busy.has(key),
    commit: (key, name, ops, evs) => track(key, name, Promise.all([store.write(...ops), events.append(...evs.map(ev))]).then(() => undefined)),
    putDeployment: (d) => store.putDeployment(deploymentToRow(d)),
    putInstance: (i) => store.putInstance(instanceToRow(i)),
    restart: (d, inst, back, reason) => track(inst.key, d.name, stopInstance(d, inst).then(() => ((inst.attempts = 0), setPhase(inst, back, reason)))),
    wakeAt: (name, at) => void clock.sleep(Math.max(0, at - clock.now()) + 1, abort.signal).then(() => enqueue(name), () => undefined),
  });

  const engine: Engine = {
    deployments,
    nodes,
    instances,
    instancesOf,
    ownerId: () => owner,
    stats: () => ({ passes: passCount, passMsTotal, lastPassMs, queued: queued.size, inflight: inflight.size, sweeps: sweepCount }),
    cloudFor,
    cloudSpecFor,
    placeFor,
    async start() {
      for (const r of await store.loadDeployments()) deployments.set(r.name, deploymentFromRow(r));
      for (const r of await store.loadNodes()) nodes.set(r.key, { ...nodeFromRow(r), visibleSince: clock.now() });
      for (const r of await store.loadInstances()) {
        const i = instanceFromRow(r);
        // `started` only lasts while a start action waits for health; that wait died with the
        // previous process, so start again (the agent replaces a start process it still runs)
        if (i.phase === 'started') i.phase = 'configured';
        indexInstance(i);
      }
      await sweepAll();
      // a cloud whose sweep failed is retried until it succeeds
      loops.push(loop(Math.min(sweepMs, 5000), async () => {
        const pending = clouds.all().filter((c) => !c.synced);
        for (const c of pending) await sweep(c).catch(() => undefined);
        for (const d of deployments.keys()) if (pending.length) enqueue(d);
      }));
      loops.push(loop(sweepMs, async () => {
        await Promise.all(clouds.all().map((c) => sweep(c).catch(() => undefined)));
      }));
      loops.push(loop(observeMs, observeAgents));
    },
    async stop() {
      stopped = true;
      abort.abort(new NubisError('ABORTED', 'the control plane is stopping'));
      await Promise.allSettled([...inflight, ...loops]);
    },
    enqueue,
    async saveDeployment(d, event, extra = []) {
      if (event.correlationId) d.correlationId = event.correlationId;
      deployments.set(d.name, d);
      artefactCache.delete(d.name);
      await Promise.all([store.write(store.putDeployment(deploymentToRow(d)), ...extra), events.append(ev(event))]);
      // a new cloud must be swept before anything is created on it
      for (const c of Object.keys(d.spec.clouds)) {
        const h = cloudFor(d, c);
        if (!h.synced) await sweep(h).catch(() => undefined);
      }
      enqueue(d.name);
    },
    resetFailures(name) {
      const ops: WriteOp[] = [];
      for (const i of instancesOf(name)) {
        const n = nodes.get(i.key);
        if (i.phase === 'failed') {
          i.phase = 'pending';
          i.attempts = 0;
          i.notBefore = undefined;
          ops.push(store.putInstance(instanceToRow(i)));
        }
        if (n?.status === 'failed') {
          n.status = n.providerId ? 'provisioning' : 'pending';
          n.attempts = 0;
          n.notBefore = undefined;
          ops.push(store.putNode(nodeToRow(n)));
        }
      }
      return ops;
    },
    async forget(name) {
      const keys = new Set(instancesOf(name).map((i) => i.key));
      for (const n of nodes.values()) if (n.deployment === name) keys.add(n.key);
      const left = [...keys].map((k) => nodes.get(k)).filter((n): n is NodeRec => n !== undefined && n.status !== 'pending');
      deployments.delete(name);
      artefactCache.delete(name);
      for (const k of keys) {
        nodes.delete(k);
        unindexInstance(k);
      }
      const ops = [store.deleteDeployment(name), ...[...keys].flatMap((k) => [store.deleteNode(k), store.deleteInstance(k)])];
      await store.write(...ops);
      // an action still running may write its node once more when it ends: delete again then
      if ([...keys].some((k) => busy.has(k))) void Promise.allSettled([...inflight]).then(() => store.write(...ops)).catch(() => undefined);
      return left;
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
    dryPass() {
      let count = 0;
      const now = clock.now();
      for (const d of deployments.values()) {
        count += planDeployment({ dep: d, instances: instancesOf(d.name), nodes, now, busy }).length;
      }
      return count;
    },
    invalidateArtefacts(name) {
      artefactCache.delete(name);
    },
  };
  return engine;
}

/** The placement as the driver's create request carries it. */
function placementRequest(p: Placement): { offer?: string; image?: string; location?: string } {
  return { ...(p.offer ? { offer: p.offer } : {}), ...(p.image ? { image: p.image } : {}), ...(p.location ? { location: p.location } : {}) };
}

/** What an operator should be told about a cloud error that stops an action (seed 000 §4.1). */
export function explain(err: NubisError): string {
  const x = explainCloudError(err);
  return `${x.meaning} ${x.whatToDo} (runbook: ${x.runbook})`;
}

export type { AppSpec };
