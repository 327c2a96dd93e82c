/**
 * The composition of the workflows controller with the real units, called by the server's
 * composition root (src/cli/server-root.ts) once the control plane exists:
 *
 *   const workflows = createWorkflows({ controlPlane, store, events });
 *   createApiServer({ controlPlane, store, workflows, … });
 *   await controlPlane.start();       // the reconcile core loads every stored workflow
 *
 * It registers the controller on the engine's reconcile core with `engine.register` rather
 * than in EXTRA_CONTROLLERS: its engine actions go through the control plane's facade (scale
 * with an audited caller), which is built after the engine, and the API needs the instance. The
 * engine knows nothing of workflows either way.
 *
 * Each port is one line: the scheduler's `createRuntime`, the actions unit's `runAction` over
 * `controlPlanePorts`, pool membership from the engine's instances. `ports` overrides any of
 * them (tests use a fake job runner).
 */
import { createRealClock, type Clock } from '../../clock/index.js';
import type { EventLog } from '../../events/index.js';
import type { Store } from '../../store/index.js';
import { deploymentId, type RunningControlPlane } from '../../engine/index.js';
import { createRuntime } from '../scheduler/index.js';
import { actionTimeout, controlPlanePorts, runAction } from '../actions/index.js';
import type { WfPool } from '../model/types.js';
import { WorkflowsController } from './controller.js';
import type { PoolMember, PoolPort, WorkflowPorts } from './ports.js';

export interface WorkflowsWiring {
  controlPlane: Pick<RunningControlPlane, 'engine' | 'events' | 'getDeployment' | 'scale'>;
  store: Store;
  events: EventLog;
  /** The control plane's clock. Default: the wall clock. */
  clock?: Clock;
  /** This control plane's API, given to jobs as NUBIS_URL. */
  controlUrl?: string;
  serverVariables?: Record<string, string>;
  /** Replaces single ports (a fake job runner in tests). */
  ports?: Partial<WorkflowPorts>;
  log?: (message: string) => void;
}

/** A pool's nodes: the running instances of its component, in the workflow's tenant. */
export function enginePools(cp: Pick<RunningControlPlane, 'engine' | 'events'>): PoolPort {
  const dep = (tenant: string, p: WfPool): string => deploymentId(tenant, p.deployment);
  return {
    members(tenant, pool): PoolMember[] {
      const out: PoolMember[] = [];
      for (const i of cp.engine.instancesOf(dep(tenant, pool))) {
        if (i.component !== pool.component || !i.desired || i.phase !== 'running') continue;
        const n = cp.engine.nodes.get(i.key);
        if (n && n.status !== 'running') continue;
        out.push({ id: i.key });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    watch: (tenant, pool, fn) => cp.events.subscribe({ deployment: dep(tenant, pool) }, () => fn()),
  };
}

export function createWorkflows(o: WorkflowsWiring): WorkflowsController {
  const clock = o.clock ?? createRealClock();
  const cp = o.controlPlane;
  const ports: WorkflowPorts = {
    runtime: (def, opts) => createRuntime(def, opts),
    actions: {
      run: (action, ctx) => runAction(
        action,
        controlPlanePorts({ controlPlane: cp, clock, caller: { actor: `workflow:${ctx.workflow}`, tenant: ctx.tenant }, pools: ctx.pools, engine: cp.engine }),
        { signal: ctx.signal, ...(actionTimeout(ctx.variables) !== undefined ? { timeoutMs: actionTimeout(ctx.variables)! } : {}) },
      ),
    },
    pools: enginePools(cp),
    ...o.ports,
  };
  const ctl = new WorkflowsController({
    store: o.store, events: o.events, clock, ports,
    ...(o.serverVariables ? { serverVariables: o.serverVariables } : {}),
    ...(o.controlUrl ? { controlUrl: o.controlUrl } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  cp.engine.register(ctl);
  return ctl;
}
