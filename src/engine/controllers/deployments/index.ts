/**
 * The deployments controller: one level-based pass per deployment key — advance its rolling
 * update, decide scale (add or retire instances), and end a destroy once nothing is left. It
 * does not plan resources: a full pass (apply, scale, a sweep, an explicit `enqueue`) wakes
 * every resource of the deployment on the resources controller, which plans each on its own;
 * a light pass (a resource of a destroying deployment or one in a rolling update changed)
 * only looks at the deployment's own state. Passes are de-duplicated by the core's queue.
 */
import crypto from 'node:crypto';
import type { EventInput } from '../../../events/index.js';
import type { WriteOp } from '../../../store/index.js';
import { NubisError, toNubisError } from '../../../errors/index.js';
import { deploymentToRow, instanceName, instanceToRow, nodeToRow, resourceKey, type Deployment, type InstanceRec, type NodeRec } from '../../state.js';
import { decideScale } from '../../planner.js';
import { done, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';
import type { RolloutController } from '../../rollout/index.js';

export const DEPLOYMENTS = 'deployments';

export interface DeploymentsDeps {
  /** Drops a deployment's cached artefacts (once it is destroyed). */
  forgetCaches: (deployment: string) => void;
  /** Rolling updates (../../rollout): advanced at the top of each pass, from current state. */
  rollouts?: RolloutController;
}

export class DeploymentsController implements Controller {
  readonly name = DEPLOYMENTS;
  // A pass costs O(instances) (the scale decision, a rollout's health gate). Light passes come
  // with resource changes of a destroying or rolling deployment; when they get expensive they
  // are spaced so they take at most a fifth of the CPU.
  readonly pacing = 'adaptive' as const;
  /** Deployments whose next pass wakes every resource. */
  private readonly full = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly deps: DeploymentsDeps,
  ) {}

  /** The next pass over the deployment wakes all its resources (call before queueing the key). */
  markFull(name: string): void {
    this.full.add(name);
  }

  initialKeys(): Iterable<string> {
    for (const name of this.ctx.deployments.keys()) this.full.add(name);
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

  /** One level-based pass: rollout, scale, then (a full pass) every resource; a destroy's end. */
  private pass(name: string): ReconcileResult {
    const { ctx } = this;
    const { store, busy } = ctx;
    const d = ctx.deployments.get(name);
    if (!d) {
      this.full.delete(name);
      return done;
    }
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

    if (this.full.delete(name)) {
      // recounted and looked at again, each on its own key; every component's consumers rewired
      for (const i of mine) ctx.changed(i.key, name);
      for (const c of Object.keys(d.spec.components)) ctx.changedComponent(name, c);
    }
    if (d.status === 'destroying' && mine.length === 0 && !busy.has(`destroy:${name}`) && ![...ctx.destroyHolds].some((holds) => holds(name))) {
      // the deployment disappears from views only once its removal and event are committed
      ctx.track(`destroy:${name}`, name, Promise.all([
        store.write(store.deleteDeployment(name)),
        ctx.emit({ deployment: name, kind: 'deployment.destroyed', target: name, reason: 'nothing left' }),
      ]).then(() => {
        ctx.deployments.delete(name);
        ctx.components.forgetDeployment(name);
        this.deps.forgetCaches(name);
      }));
    }
    return done;
  }
}
