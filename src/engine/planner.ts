/**
 * The planner: a pure function from desired and observed state to an action graph. `plan`
 * shows the whole graph; the executor runs the actions that are ready (every dependency met
 * in the observed state) and plans again after each one finishes — the level-based loop.
 */
import type { ComponentSpec } from '../model/types.js';
import type { PlanAction, PlanActionKind } from './views.js';
import { desiredCount, instanceName, resourceKey, type Deployment, type InstanceRec, type NodeRec } from './state.js';
import { computeWiring, wiringHash } from './wiring.js';
import { ComponentStates } from './component-state.js';

export interface Action extends PlanAction {
  deployment: string;
  /** All dependencies are met now; the executor may start it. */
  ready: boolean;
}

export interface ScaleDecision {
  add: { component: string; ordinal: number }[];
  /** Keys of instances to mark undesired. */
  remove: string[];
}

/**
 * Which instances to add or retire so each component has its desired count. Ordinals are
 * never reused; scale-in takes the youngest first (highest ordinal) unless the component says
 * `scaleIn: oldest`. Components no longer in the spec lose all their instances.
 */
export function decideScale(dep: Deployment, instances: InstanceRec[]): ScaleDecision {
  const add: ScaleDecision['add'] = [];
  const remove: string[] = [];
  const live = new Map<string, InstanceRec[]>();
  for (const i of instances) {
    if (!i.desired) continue;
    if (!dep.spec.components[i.component] || dep.status === 'destroying') {
      remove.push(i.key);
      continue;
    }
    let list = live.get(i.component);
    if (!list) live.set(i.component, (list = []));
    list.push(i);
  }
  if (dep.status === 'destroying') return { add, remove };
  for (const comp of Object.values(dep.spec.components)) {
    const want = desiredCount(dep, comp);
    const list = live.get(comp.name) ?? [];
    if (list.length < want) {
      let next = dep.ordinals[comp.name] ?? 1;
      for (let k = list.length; k < want; k++) add.push({ component: comp.name, ordinal: next++ });
    } else if (list.length > want) {
      const sorted = [...list].sort((a, b) => (comp.scaleIn === 'oldest' ? a.ordinal - b.ordinal : b.ordinal - a.ordinal));
      for (const i of sorted.slice(0, list.length - want)) remove.push(i.key);
    }
  }
  return { add, remove };
}

export interface PlanInput {
  dep: Deployment;
  /** The deployment's instances. */
  instances: InstanceRec[];
  nodes: Map<string, NodeRec>;
  now: number;
  /** Instance keys with an action in flight: nothing new is planned for them. */
  busy?: ReadonlySet<string>;
}

const id = (kind: PlanActionKind, target: string): string => `${kind}:${target}`;

/** Per component: the wiring hash its instances should have now. */
export function componentWiringHashes(dep: Deployment, instances: InstanceRec[], nodes: Map<string, NodeRec>): Map<string, string> {
  const byComponent = new Map<string, InstanceRec[]>();
  for (const i of instances) {
    let l = byComponent.get(i.component);
    if (!l) byComponent.set(i.component, (l = []));
    l.push(i);
  }
  const out = new Map<string, string>();
  for (const comp of Object.values(dep.spec.components)) {
    const sample = byComponent.get(comp.name)?.[0];
    if (!sample) continue;
    out.set(comp.name, wiringHash(computeWiring({ dep, inst: sample, byComponent, nodes })));
  }
  return out;
}

/**
 * The whole deployment's graph: each instance planned alone (`planInstance`, the engine's hot
 * path) from counts over `instances`, then linked to the other instances' actions it waits
 * for (a configure after its providers' starts, a stop after its requirers' updates and, in a
 * destroy, their stops) so `plan` shows why it is not ready. Busy instances get no actions.
 */
export function planDeployment({ dep, instances, nodes, now, busy }: PlanInput): Action[] {
  const states = new ComponentStates();
  const byComponent = new Map<string, InstanceRec[]>();
  for (const i of instances) {
    states.update(i.key, i, dep, nodes);
    let l = byComponent.get(i.component);
    if (!l) byComponent.set(i.component, (l = []));
    l.push(i);
  }
  const hashes = componentWiringHashes(dep, instances, nodes);
  const requirers = new Map<string, string[]>();
  for (const c of Object.values(dep.spec.components)) {
    for (const ch of Object.values(c.requires)) {
      const l = requirers.get(ch.component) ?? [];
      if (!l.includes(c.name)) l.push(c.name);
      requirers.set(ch.component, l);
    }
  }
  const holding = new Map<string, boolean>();
  const env: InstancePlanEnv = {
    dep, nodes, now,
    counts: (c) => states.counts(dep.name, c),
    hash: (c) => hashes.get(c),
    requirersBusy: (c) => {
      let v = holding.get(c);
      if (v === undefined) holding.set(c, (v = (byComponent.get(c) ?? []).some((r) => requirerHoldsStop(dep, r, nodes, hashes.get(c)))));
      return v;
    },
    requirersOf: (c) => requirers.get(c) ?? [],
  };
  const plans: InstancePlan[] = [];
  const present = new Set<string>();
  for (const inst of instances) {
    if (busy?.has(inst.key)) continue;
    const p = planInstance(inst, env);
    plans.push(p);
    for (const a of p.actions) present.add(a.id);
  }
  const blockers = (kinds: readonly PlanActionKind[], components: readonly string[], self: string): string[] => {
    const out: string[] = [];
    for (const c of components) for (const o of byComponent.get(c) ?? []) for (const k of kinds) if (o.key !== self && present.has(id(k, o.key))) out.push(id(k, o.key));
    return out;
  };
  const stopBlockers: readonly PlanActionKind[] = dep.status === 'destroying' ? ['update', 'stop'] : ['update'];
  const actions: Action[] = [];
  for (const p of plans) {
    for (const a of p.actions) {
      if (a.kind === 'configure') a.after.push(...blockers(['start'], p.waitsForProviders, a.target));
      else if (a.kind === 'stop') a.after.push(...blockers(stopBlockers, p.waitsForRequirers, a.target));
      actions.push(a);
    }
  }
  return actions;
}

/** The cloud says the node runs and its agent has not answered yet (./first-boot.ts). */
const contextualizing = (n: NodeRec): boolean => n.runningAt !== undefined && n.agentUpAt === undefined;

function nodeReason(node: NodeRec | undefined): string {
  if (!node || node.status === 'pending') return node?.lastError ? `retry after: ${node.lastError}` : 'new node';
  if (node.status === 'running' && contextualizing(node)) return 'contextualizing: waits for its agent to answer';
  return `resume: node is ${node.status}`;
}

/**
 * A dry run for `plan`: the graph the engine would run from the current state to `dep`,
 * including instances a scale decision would add.
 */
export function previewPlan(dep: Deployment, instances: InstanceRec[], nodes: Map<string, NodeRec>, now: number): Action[] {
  const decision = decideScale(dep, instances);
  const removed = new Set(decision.remove);
  const virtual = instances.map((i) => (removed.has(i.key) ? { ...i, desired: false } : i));
  for (const a of decision.add) {
    const name = instanceName(a.component, a.ordinal);
    virtual.push({
      key: resourceKey(dep.name, name),
      deployment: dep.name,
      component: a.component,
      ordinal: a.ordinal,
      name,
      desired: true,
      phase: 'pending',
      runSeq: 0,
      restarts: 0,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      health: 'unknown',
      processAlive: undefined,
    });
  }
  return planDeployment({ dep, instances: virtual, nodes, now });
}

/** What planning one instance needs to know of the rest of its deployment. */
export interface InstancePlanEnv {
  dep: Deployment;
  nodes: ReadonlyMap<string, NodeRec>;
  now: number;
  /** Of a provider component: instances serving traffic, and wanted ones still to start. */
  counts(component: string): { serving: number; startPending: number };
  /** The wiring hash a requiring component's instances should have now. */
  hash(component: string): string | undefined;
  /** Whether the requirers of `component` (of the instance's own) still have updates or stops that its stop must wait for. */
  requirersBusy(component: string): boolean;
  /** Requiring components of each component. */
  requirersOf(component: string): readonly string[];
  /** Instances whose failures recovery decides for (no restart is planned for them); absent: none. */
  recoveryOwns?(inst: InstanceRec): boolean;
}

export interface InstancePlan {
  /** The instance's planned actions, in order (a chain: at most one is ready). */
  actions: Action[];
  /** The provider components whose state holds back its configure (mandatory channels). */
  waitsForProviders: string[];
  /** Requiring components whose updates or stops hold back its stop. */
  waitsForRequirers: string[];
}

/**
 * The actions of one instance, with readiness decided from the counts of its providers and
 * requirers (not from their planned actions: the engine plans each instance alone): a
 * configure waits until every mandatory channel has a serving provider and no wanted provider
 * is still to start; a channel change of a requirer without update handler (a restart) waits
 * likewise until no provider is still to start; a stop waits until its requirers' updates and (in a destroy) stops are
 * done. An instance with an action in flight gets none (the caller does not ask).
 */
export function planInstance(inst: InstanceRec, env: InstancePlanEnv): InstancePlan {
  const { dep, nodes, now } = env;
  const out: InstancePlan = { actions: [], waitsForProviders: [], waitsForRequirers: [] };
  const comp: ComponentSpec | undefined = dep.spec.components[inst.component];
  const node = nodes.get(inst.key);
  const waiting = (inst.notBefore ?? 0) > now;
  const push = (a: Omit<Action, 'deployment' | 'id'>): string => {
    const full: Action = { ...a, id: id(a.kind, a.target), deployment: dep.name };
    out.actions.push(full);
    return full.id;
  };
  if (inst.desired && comp) {
    if (inst.phase === 'failed' || node?.status === 'failed') return out;
    if (node?.status === 'running' && node.unreachable && inst.phase === 'running') return out;
    let prev: string | undefined;
    // ready only once its agent answered (./first-boot.ts); until then the create-node action waits for it
    const nodeUp = node?.status === 'running' && !contextualizing(node);
    if (!nodeUp) {
      const nodeWaiting = (node?.notBefore ?? 0) > now;
      const cloud = node?.cloud || comp.cloud;
      prev = push({ kind: 'create-node', target: inst.key, ...(cloud ? { cloud } : {}), after: [], ready: !nodeWaiting, reason: nodeReason(node) });
    }
    const phase = inst.phase;
    if (phase === 'pending') {
      prev = push({ kind: 'install', target: inst.key, after: prev ? [prev] : [], ready: !prev && nodeUp && !waiting, reason: 'new instance' });
    }
    if (phase === 'pending' || phase === 'installed') {
      let channelsMet = true;
      for (const ch of Object.values(comp.requires)) {
        if (ch.optional) continue;
        const c = env.counts(ch.component);
        if (c.serving === 0) channelsMet = false;
        if (c.serving === 0 || c.startPending > 0) out.waitsForProviders.push(ch.component);
      }
      prev = push({
        kind: 'configure',
        target: inst.key,
        after: prev ? [prev] : [],
        ready: !prev && nodeUp && !waiting && phase === 'installed' && out.waitsForProviders.length === 0,
        reason: channelsMet ? 'installed' : 'waits for a provider of every mandatory channel',
      });
    }
    // a recovery policy decides what a dead or failing instance gets (src/operations/recovery)
    if ((phase === 'running' || phase === 'started') && nodeUp && (inst.processAlive === false || inst.health === 'unhealthy') && env.recoveryOwns?.(inst)) return out;
    if (phase === 'pending' || phase === 'installed' || phase === 'configured') {
      push({ kind: 'start', target: inst.key, after: prev ? [prev] : [], ready: !prev && nodeUp && !waiting && phase === 'configured', reason: 'configured' });
    } else if ((phase === 'running' || phase === 'started') && nodeUp && inst.processAlive === false) {
      push({ kind: 'restart', target: inst.key, after: [], ready: !waiting, reason: 'its process exited' });
    } else if (phase === 'running' && nodeUp && inst.health === 'unhealthy') {
      push({ kind: 'restart', target: inst.key, after: [], ready: !waiting, reason: 'its health check failed' });
    } else if (phase === 'running' && nodeUp && Object.keys(comp.requires).length > 0 && env.hash(comp.name) !== inst.wiringHash) {
      // without an update handler the change costs a restart: not while a provider is still to start,
      // whose return may undo it (a provider restarting in place would restart every requirer for nothing)
      if (!comp.handlers.update) for (const ch of Object.values(comp.requires)) if (env.counts(ch.component).startPending > 0) out.waitsForProviders.push(ch.component);
      const held = out.waitsForProviders.length > 0;
      push({ kind: 'update', target: inst.key, after: [], ready: !waiting && !held, reason: held ? 'its channels changed; waits for its providers to start' : 'its channels changed' });
    }
    return out;
  }
  if (node?.status === 'failed' && node.providerId && node.lastError?.startsWith('delete failed')) return out;
  let prev: string | undefined;
  const nodeUp = node?.status === 'running';
  if (nodeUp && inst.phase !== 'pending' && inst.phase !== 'stopped') {
    for (const reqComp of env.requirersOf(inst.component)) if (env.requirersBusy(reqComp)) out.waitsForRequirers.push(reqComp);
    prev = push({ kind: 'stop', target: inst.key, after: [], ready: out.waitsForRequirers.length === 0, reason: dep.status === 'destroying' ? 'deployment destroyed' : 'scaled in' });
  }
  push({
    kind: 'delete-node',
    target: inst.key,
    ...(node?.cloud || comp?.cloud ? { cloud: node?.cloud || comp?.cloud } : {}),
    after: prev ? [prev] : [],
    ready: !prev && (node?.notBefore ?? 0) <= now,
    reason: dep.status === 'destroying' ? 'deployment destroyed' : 'scaled in',
  });
  return out;
}

/**
 * Whether requirer `r` has an update or (in a destroy) a stop still to come that a provider's
 * stop waits for; `hash` is its component's current wiring hash. An action in flight counts.
 */
export function requirerHoldsStop(dep: Deployment, r: InstanceRec, nodes: ReadonlyMap<string, NodeRec>, hash: string | undefined): boolean {
  const node = nodes.get(r.key);
  const nodeUp = node?.status === 'running';
  if (r.desired) {
    const comp = dep.spec.components[r.component];
    if (!comp || r.phase !== 'running' || !nodeUp || node.unreachable || Object.keys(comp.requires).length === 0) return false;
    if (r.processAlive === false || r.health === 'unhealthy') return false;
    return hash !== r.wiringHash;
  }
  return dep.status === 'destroying' && nodeUp && r.phase !== 'stopped' && r.phase !== 'pending';
}
