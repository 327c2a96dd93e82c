/**
 * The resources controller: one key per resource — an instance and the node it runs on share
 * the key `<deployment>/<instance>`. A reconcile plans that one instance from current state
 * (../../planner.ts `planInstance`: its own phase and node, its providers' and requirers'
 * counts) and starts its ready action on the actuator for the kind (the nodes or instances
 * controller). Nothing here walks a deployment: a key is woken by what affects it — its own
 * changes and action ends, its providers unblocking its configure (../../component-state.ts),
 * its channels changing or its requirers finishing (the wiring controller), a full pass over
 * its deployment (apply, scale, sweep) — and requeued for the end of its own backoff.
 */
import { NubisError, toNubisError } from '../../../errors/index.js';
import type { Deployment } from '../../state.js';
import { planInstance, type Action, type InstancePlanEnv } from '../../planner.js';
import type { CloudHandle } from '../../clouds.js';
import { done, requeueAfter, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';
import type { SweepController } from '../sweep/index.js';
import type { Actuator } from '../actuator.js';
import type { PlanActionKind } from '../../views.js';
import { requirersOf, type WiringController } from '../wiring/index.js';

export const RESOURCES = 'resources';

export interface ResourcesDeps {
  /** Who carries out each action kind. */
  actuators: readonly Actuator[];
  sweep: SweepController;
  wiring: WiringController;
}

export class ResourcesController implements Controller {
  readonly name = RESOURCES;
  private readonly byKind = new Map<PlanActionKind, Actuator>();
  /** The planning view of each deployment object, made once (a full pass reconciles all its resources). */
  private readonly envs = new WeakMap<Deployment, InstancePlanEnv>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly deps: ResourcesDeps,
  ) {
    for (const a of deps.actuators) for (const k of a.kinds) this.byKind.set(k, a);
  }

  reconcile(key: string): ReconcileResult {
    const { ctx } = this;
    const inst = ctx.instances.get(key);
    if (!inst || ctx.busy.has(key)) return done;
    const d = ctx.deployments.get(inst.deployment);
    // scale decisions are being committed: the pass that follows looks at every resource
    if (!d || ctx.busy.has(`scale:${d.name}`)) return done;
    const now = ctx.clock.now();
    const { wiring } = this.deps;
    let plan;
    try {
      plan = planInstance(inst, this.envFor(d, now));
    } catch (e) {
      void ctx.emit({ deployment: d.name, kind: 'engine.error', target: key, outcome: 'error', reason: toNubisError(e).message });
      return done;
    }
    for (const c of plan.waitsForProviders) ctx.components.wait(d.name, c, key);
    for (const c of plan.waitsForRequirers) wiring.waitForRequirers(d.name, c, key);
    for (const a of plan.actions) {
      if (!a.ready) continue;
      let handle: CloudHandle | undefined;
      try {
        handle = this.cloudForAction(d, a);
      } catch (e) {
        void ctx.emit({ deployment: d.name, kind: 'engine.error', target: a.target, outcome: 'error', reason: toNubisError(e).message });
        continue;
      }
      if (handle && !handle.synced) {
        // every deployment is looked at again once the sweep is done
        this.deps.sweep.kick(handle);
        continue;
      }
      ctx.track(a.target, d.name, this.execute(d, a));
      return done;
    }
    let waitingUntil = Infinity;
    if (inst.notBefore && inst.notBefore > now) waitingUntil = inst.notBefore;
    const n = ctx.nodes.get(key);
    if (n?.notBefore && n.notBefore > now) waitingUntil = Math.min(waitingUntil, n.notBefore);
    return waitingUntil < Infinity ? requeueAfter(waitingUntil - now + 1) : done;
  }

  private envFor(d: Deployment, now: number): InstancePlanEnv {
    let env = this.envs.get(d);
    if (!env) {
      const { ctx } = this;
      const { wiring } = this.deps;
      env = {
        dep: d, nodes: ctx.nodes, now,
        counts: (c) => ctx.components.counts(d.name, c),
        hash: (c) => wiring.hashOf(d, c),
        requirersBusy: (c) => wiring.requirersBusy(d, c),
        requirersOf: (c) => requirersOf(d.spec, c),
        recoveryOwns: (i) => ctx.recoveryOwns?.(i) ?? false,
      };
      this.envs.set(d, env);
    }
    env.now = now;
    return env;
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
