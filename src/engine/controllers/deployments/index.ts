/**
 * The deployments controller: one level-based pass per deployment key — decide scale (add or
 * retire instances), plan (../../planner.ts), and start each ready action on its resource
 * (nodes and instances controllers). Passes are de-duplicated by the core's queue; an action's
 * end queues another pass; resources waiting out a backoff requeue the key for when it ends.
 */
import crypto from 'node:crypto';
import type { EventInput } from '../../../events/index.js';
import type { WriteOp } from '../../../store/index.js';
import { NubisError, toNubisError } from '../../../errors/index.js';
import { deploymentToRow, instanceName, instanceToRow, nodeToRow, resourceKey, type Deployment, type InstanceRec, type NodeRec } from '../../state.js';
import { decideScale, planDeployment, type Action } from '../../planner.js';
import type { CloudHandle } from '../../clouds.js';
import { done, requeueAfter, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';
import type { SweepController } from '../sweep/index.js';
import type { Actuator } from '../actuator.js';
import type { PlanActionKind } from '../../views.js';
import type { RolloutController } from '../../rollout/index.js';

export const DEPLOYMENTS = 'deployments';

export interface DeploymentsDeps {
  /** Who carries out each action kind. */
  actuators: readonly Actuator[];
  sweep: SweepController;
  /** Drops a deployment's cached artefacts (once it is destroyed). */
  forgetCaches: (deployment: string) => void;
  /** Rolling updates (../../rollout): advanced at the top of each pass, from current state. */
  rollouts?: RolloutController;
}

export class DeploymentsController implements Controller {
  readonly name = DEPLOYMENTS;
  // A pass costs O(instances). When passes get expensive (thousands of nodes, completions
  // arriving every turn), they are spaced so planning takes at most a fifth of the CPU;
  // small deployments are planned on the next turn.
  readonly pacing = 'adaptive' as const;

  private readonly byKind = new Map<PlanActionKind, Actuator>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly deps: DeploymentsDeps,
  ) {
    for (const a of deps.actuators) for (const k of a.kinds) this.byKind.set(k, a);
  }

  initialKeys(): Iterable<string> {
    return this.ctx.deployments.keys();
  }

  reconcile(name: string): ReconcileResult {
    try {
      return this.pass(name);
    } catch (e) {
      void this.ctx.emit({ deployment: name, kind: 'engine.error', outcome: 'error', reason: toNubisError(e).message });
      return done;
    }
  }

  /** One level-based pass: scale, plan, start what is ready. */
  private pass(name: string): ReconcileResult {
    const { ctx } = this;
    const { store, busy } = ctx;
    const d = ctx.deployments.get(name);
    if (!d) return done;
    this.deps.rollouts?.reconcile(d, ctx.instancesOf(name));
    const now = ctx.clock.now();
    const mine = ctx.instancesOf(name);
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
            const { placement } = ctx.placeFor(d, a.component);
            node.cloud = placement.cloud;
            node.placement = placement;
          } catch {
            node.cloud = '';
          }
        }
        ctx.model.indexInstance(inst);
        ctx.nodes.set(key, node);
        writes.push(store.putInstance(instanceToRow(inst)), store.putNode(nodeToRow(node)));
        evs.push(ctx.ev({ deployment: name, kind: 'instance.added', target: key, reason: 'count below desired', data: { component: a.component } }));
      }
      for (const key of decision.remove) {
        const inst = ctx.instances.get(key)!;
        inst.desired = false;
        inst.updatedAt = now;
        writes.push(store.putInstance(instanceToRow(inst)));
        evs.push(ctx.ev({ deployment: name, kind: 'instance.removed', target: key, reason: d.status === 'destroying' ? 'deployment destroyed' : 'count above desired' }));
      }
      writes.push(store.putDeployment(deploymentToRow(d)));
      // Decisions are in memory already; the next pass runs once they are committed.
      ctx.track(`scale:${name}`, name, Promise.all([store.write(...writes), ctx.events.append(...evs)]).then(() => undefined));
      return done;
    }
    if (busy.has(`scale:${name}`)) return done;

    const actions = planDeployment({ dep: d, instances: mine, nodes: ctx.nodes, now, busy });
    for (const a of actions) {
      if (!a.ready) continue;
      let handle: CloudHandle | undefined;
      try {
        handle = this.cloudForAction(d, a);
      } catch (e) {
        void ctx.emit({ deployment: name, kind: 'engine.error', target: a.target, outcome: 'error', reason: toNubisError(e).message });
        continue;
      }
      if (handle && !handle.synced) {
        this.deps.sweep.kick(handle);
        continue;
      }
      ctx.track(a.target, name, this.execute(d, a));
    }
    let waitingUntil = Infinity;
    for (const i of mine) {
      if (i.notBefore && i.notBefore > now) waitingUntil = Math.min(waitingUntil, i.notBefore);
      const n = ctx.nodes.get(i.key);
      if (n?.notBefore && n.notBefore > now) waitingUntil = Math.min(waitingUntil, n.notBefore);
    }
    if (d.status === 'destroying' && mine.length === 0 && !busy.has(`destroy:${name}`)) {
      // the deployment disappears from views only once its removal and event are committed
      ctx.track(`destroy:${name}`, name, Promise.all([
        store.write(store.deleteDeployment(name)),
        ctx.emit({ deployment: name, kind: 'deployment.destroyed', target: name, reason: 'nothing left' }),
      ]).then(() => {
        ctx.deployments.delete(name);
        this.deps.forgetCaches(name);
      }));
    }
    return waitingUntil < Infinity ? requeueAfter(waitingUntil - now + 1) : done;
  }

  /** Every action waits until its cloud has been swept (that also restores agent tokens). */
  private cloudForAction(d: Deployment, a: Action): CloudHandle | undefined {
    const n = this.ctx.nodes.get(a.target);
    const cloud = n ? n.cloud : a.cloud;
    return cloud ? this.ctx.cloudFor(d, cloud) : undefined;
  }

  private execute(d: Deployment, a: Action): Promise<void> {
    const inst = this.ctx.instances.get(a.target)!;
    const actuator = this.byKind.get(a.kind);
    if (!actuator) return Promise.reject(new NubisError('INTERNAL', `no actuator carries out ${a.kind}`));
    return actuator.execute(d, inst, a);
  }
}
