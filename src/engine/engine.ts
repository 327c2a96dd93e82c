/**
 * The engine: level-based controllers for nodes, component instances and wiring, run by the
 * reconcile core (./core: keyed work queues on the Clock). `createEngine` only wires them:
 * the shared state and helpers are ./context.ts, the controllers ./controllers/ (deployments:
 * one pass per deployment that decides scale, rollouts and a destroy's end; resources: one
 * key per instance and its node, planned alone (./planner.ts `planInstance`) and carried out
 * by the nodes and instances actuators; wiring: one key per provider component, its
 * requirers' wiring computed once per change; sweep; observe). The cost of a change is the
 * resources it touches, not the deployment: a component's counts are kept incrementally
 * (./component-state.ts). Every action writes its intent before it calls a cloud or an agent,
 * and when it ends its resource (and what depends on it) is looked at again.
 *
 * Crash safety: a node's create intent (status `creating` + idempotency token) is committed
 * before the driver is called, and every cloud node carries owner, tenant, deployment, key and
 * attempt (the token) tags. At start (and periodically) each cloud is listed by owner tag and
 * the list judged by ./sweep.ts from those tags and the store alone: found nodes are adopted,
 * confirmed extra copies and unknown nodes deleted, intents that never reached the cloud
 * created again with the same token, and nodes the cloud lost (missed by several lists and
 * confirmed by get) created again at once.
 */
import { HostPlacer, type HostPlan, type LoadSource, type NewNode } from './host-placement.js';
import type { EventInput } from '../events/index.js';
import type { WriteOp } from '../store/index.js';
import type { AppSpec, CloudSpec } from '../model/types.js';
import { NubisError } from '../errors/index.js';
import { deploymentToRow, instanceToRow, nodeToRow, type Deployment, type InstanceRec, type NodeRec, deploymentFromRow, nodeFromRow, instanceFromRow } from './state.js';
import { planDeployment } from './planner.js';
import type { CloudHandle, Placement } from './clouds.js';
import { EngineContext, type EngineOptions } from './context.js';
import { ReconcileCore, type Controller } from './core/index.js';
import { RolloutController } from './rollout/index.js';
import { createOperationRunner, type OperationRunner } from './operations/index.js';
import { createHandlerPort, type HandlerPort } from './handler-port.js';
import { createRecoveryPort, type RecoveryPort } from './recovery-port.js';
import { LeakGuard } from './controllers/leaks/index.js';
import {
  DEPLOYMENTS, DeploymentsController, EXTRA_CONTROLLERS, InstancesController, NodesController, OBSERVE_KEY, ObserveController,
  RESOURCES, ResourcesController, SWEEP_ALL, SWEEP_UNSYNCED, SweepController, WIRING, WiringController,
} from './controllers/index.js';

export type { EngineOptions } from './context.js';
export { explain } from './context.js';

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
  /**
   * Persists a deployment (after apply, scale or destroy) with its events and `extra`, all in
   * one transaction (a crash keeps both or neither), and queues a pass.
   */
  saveDeployment(d: Deployment, event: EventInput | EventInput[], extra?: WriteOp[]): Promise<void>;
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
  /** Adds a controller to the reconcile core (./controllers/index.ts lists the built-in extra ones). */
  register(controller: Controller): void;
  // [placement] host placement and the load source of load-aware placement (./host-placement.ts)
  /** Where placement policies would put these new nodes of one cloud (nothing is recorded); throws PLACEMENT_*. */
  placeHosts(d: Deployment, cloud: string, nodes: readonly NewNode[], signal: AbortSignal): Promise<HostPlan>;
  /** Gives load-aware placement its source of hosts' CPU load (the metrics service). */
  useLoads(source: LoadSource): void;
  /** What a recovery controller acts through (./recovery-port.ts). */
  readonly recovery: RecoveryPort;
  /** This control plane's owner tag value. */
  ownerId(): string;
  /** Work counters for the control plane's own health (`/metrics`). */
  stats(): EngineStats;
  /** Custom operations on components' instances (./operations). */
  readonly operations: OperationRunner;
  /** Handler environments, probes and artefacts for backups, restores and drills (./handler-port.ts). */
  readonly handlers: HandlerPort;
  /** The leak guard (./controllers/leaks): scans each cloud's billed extras on the clock. */
  readonly leaks: LeakGuard;
  /** Sets the check every new node's create passes first (budgets' hard stop, ./cost.ts); it returns the refusal, if any. */
  setCreateGate(gate: ((d: Deployment) => NubisError | undefined) | undefined): void;
  /** The refusal of the create gate for this deployment, if any. */
  createRefusal(d: Deployment): NubisError | undefined;
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { store } = opts;
  const owner = await store.installationId();
  const idleWaiters: (() => void)[] = [];
  const checkIdle = (): void => {
    if (ctx.actions.inflight.size === 0 && !core.busy(DEPLOYMENTS) && !core.busy(RESOURCES) && !core.busy(WIRING)) {
      for (const w of idleWaiters.splice(0)) w();
    }
  };
  const core = new ReconcileCore({ clock: opts.clock, onSettle: () => checkIdle() });
  let deploymentCtl: DeploymentsController | undefined;
  const ctx: EngineContext = new EngineContext({
    opts,
    owner,
    enqueue: (name) => {
      if (ctx.stopped) return;
      deploymentCtl?.markFull(name);
      core.enqueue(DEPLOYMENTS, name);
    },
    enqueueDeployment: (name) => void (ctx.stopped || core.enqueue(DEPLOYMENTS, name)),
    wakeResource: (key) => void (ctx.stopped || core.enqueue(RESOURCES, key)),
    wakeComponent: (key) => void (ctx.stopped || core.enqueue(WIRING, key)),
    onActionEnd: () => checkIdle(),
  });
  const { deployments, nodes, clock } = ctx;

  const wiring = new WiringController(ctx, (key) => ctx.stopped || core.enqueue(RESOURCES, key));
  const nodeCtl = new NodesController(ctx);
  const instanceCtl = new InstancesController(ctx, wiring);
  const sweep = new SweepController(ctx);
  const observe = new ObserveController(ctx);
  const operations = createOperationRunner(ctx, wiring);
  const forgetCaches = (name: string): void => instanceCtl.invalidateArtefacts(name);
  // rolling updates (./rollout): restart in place or replace, batch by batch behind a health gate
  const rollouts = new RolloutController({
    now: () => clock.now(),
    busy: (key) => ctx.busy.has(key),
    commit: (key, name, ops, evs) => ctx.track(key, name, Promise.all([ctx.store.write(...ops), opts.events.append(...evs.map((e) => ctx.ev(e)))]).then(() => undefined)),
    putDeployment: (d) => ctx.store.putDeployment(deploymentToRow(d)),
    putInstance: (i) => ctx.store.putInstance(instanceToRow(i)),
    restart: (d, inst, back, reason) => ctx.track(inst.key, d.name, instanceCtl.stopInstance(d, inst).then(() => ((inst.attempts = 0), ctx.setPhase(inst, back, reason)))),
    wakeAt: (name, at) => void clock.sleep(Math.max(0, at - clock.now()) + 1, ctx.signal).then(() => ctx.enqueue(name), () => undefined),
  });
  deploymentCtl = new DeploymentsController(ctx, { forgetCaches, rollouts });
  core.register(deploymentCtl);
  core.register(new ResourcesController(ctx, { actuators: [nodeCtl, instanceCtl], sweep, wiring }));
  core.register(wiring);
  core.register(sweep);
  core.register(observe);
  for (const make of EXTRA_CONTROLLERS) core.register(make(ctx));
  const leaks = new LeakGuard(ctx, opts.leaks);
  core.register(leaks);

  const engine: Engine = {
    deployments,
    nodes,
    instances: ctx.instances,
    instancesOf: (d) => ctx.instancesOf(d),
    ownerId: () => owner,
    stats: () => {
      const s = core.stats(DEPLOYMENTS);
      return { passes: s.drains, passMsTotal: s.drainMsTotal, lastPassMs: s.lastDrainMs, queued: s.active, inflight: ctx.actions.inflight.size, sweeps: sweep.count() };
    },
    cloudFor: (d, c) => ctx.cloudFor(d, c),
    cloudSpecFor: (d, c) => ctx.cloudSpecFor(d, c),
    placeFor: (d, c, planned?: readonly Placement[]) => ctx.placeFor(d, c, planned),
    register: (c) => core.register(c),
    placeHosts: (d, cloud, list, signal) => new HostPlacer(ctx).place(d, cloud, list, signal),
    useLoads: (source) => void (ctx.loads = source),
    operations,
    handlers: createHandlerPort(ctx, wiring),
    leaks,
    setCreateGate: (g) => void (ctx.createGate = g),
    createRefusal: (d) => ctx.createGate?.(d),
    recovery: createRecoveryPort(ctx, instanceCtl),
    async start() {
      for (const r of await store.loadDeployments()) deployments.set(r.name, deploymentFromRow(r));
      for (const r of await store.loadNodes()) nodes.set(r.key, { ...nodeFromRow(r), visibleSince: clock.now() });
      for (const r of await store.loadInstances()) {
        const i = instanceFromRow(r);
        // `started` only lasts while a start action waits for health; that wait died with the
        // previous process, so start again (the agent replaces a start process it still runs)
        if (i.phase === 'started') i.phase = 'configured';
        ctx.model.indexInstance(i);
      }
      await operations.recover();
      await sweep.sweepAll();
      core.start();
      // a cloud whose sweep failed is retried until it succeeds; every cloud is listed periodically
      core.enqueueAfter(sweep.name, SWEEP_UNSYNCED, Math.min(ctx.settings.sweepMs, 5000));
      core.enqueueAfter(sweep.name, SWEEP_ALL, ctx.settings.sweepMs);
      core.enqueueAfter(observe.name, OBSERVE_KEY, ctx.settings.observeMs);
    },
    async stop() {
      ctx.abort(new NubisError('ABORTED', 'the control plane is stopping'));
      await Promise.allSettled([...ctx.actions.inflight, core.stop(), operations.drain()]);
    },
    enqueue: (name) => ctx.enqueue(name),
    async saveDeployment(d, event, extra = []) {
      const events = Array.isArray(event) ? event : [event];
      const correlationId = events.find((e) => e.correlationId)?.correlationId;
      if (correlationId) d.correlationId = correlationId;
      const guard = opts.reserve?.(d) ?? [];
      // the events are in the deployment's own transaction: a crash cannot keep one and lose the other
      const staged = opts.events.stage(...events.map((e) => ctx.ev(e)));
      const ops = [store.putDeployment(deploymentToRow(d)), ...extra, staged.op];
      if (guard.length > 0) {
        // a reservation may refuse the write: memory and the audit log change only once it committed
        await store.writeGuarded(...guard, ...ops);
        deployments.set(d.name, d);
        forgetCaches(d.name);
      } else {
        deployments.set(d.name, d);
        forgetCaches(d.name);
        await store.write(...ops);
      }
      staged.published();
      // a new cloud must be swept before anything is created on it
      for (const c of Object.keys(d.spec.clouds)) {
        const h = ctx.cloudFor(d, c);
        if (!h.synced) await sweep.sweep(h).catch(() => undefined);
      }
      ctx.enqueue(d.name);
    },
    resetFailures(name) {
      const ops: WriteOp[] = [];
      for (const i of ctx.instancesOf(name)) {
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
      const keys = new Set(ctx.instancesOf(name).map((i) => i.key));
      for (const n of nodes.values()) if (n.deployment === name) keys.add(n.key);
      const left = [...keys].map((k) => nodes.get(k)).filter((n): n is NodeRec => n !== undefined && n.status !== 'pending');
      deployments.delete(name);
      forgetCaches(name);
      for (const k of keys) {
        nodes.delete(k);
        ctx.model.unindexInstance(k);
        ctx.components.update(k, undefined, undefined, nodes);
      }
      ctx.components.forgetDeployment(name);
      const ops = [store.deleteDeployment(name), ...[...keys].flatMap((k) => [store.deleteNode(k), store.deleteInstance(k)])];
      await store.write(...ops);
      // an action still running may write its node once more when it ends: delete again then
      if ([...keys].some((k) => ctx.busy.has(k))) void Promise.allSettled([...ctx.actions.inflight]).then(() => store.write(...ops)).catch(() => undefined);
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
        count += planDeployment({ dep: d, instances: ctx.instancesOf(d.name), nodes, now, busy: ctx.busy }).length;
      }
      return count;
    },
    invalidateArtefacts: forgetCaches,
  };
  return engine;
}

export type { AppSpec };
