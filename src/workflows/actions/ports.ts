/**
 * The action ports over a control plane: what the workflows controller passes to `runAction`
 * for one workflow (its tenant, its caller for the audit trail, its pools).
 */
import type { Clock } from '../../clock/index.js';
import { deploymentId, type Caller, type ControlPlane } from '../../engine/index.js';
import type { WfAction, WfPool } from '../model/types.js';
import { measuredProvisioning, type MeasureSources } from '../pools/index.js';
import { actionOptions, runAction, type ActionPorts, type ActionResult } from './run.js';

export interface ControlPlanePortsOptions {
  readonly controlPlane: Pick<ControlPlane, 'getDeployment' | 'scale' | 'events'> & Partial<Pick<ControlPlane, 'runOperation'>>;
  readonly clock: Clock;
  /** Who the workflow acts as (`workflow:<name>`), with its tenant. */
  readonly caller: Caller;
  readonly pools?: readonly WfPool[];
  /** The engine's deployments (RunningControlPlane.engine), for the spec count `start` scales to. */
  readonly engine?: MeasureSources['engine'];
  /** The control plane's events and accounting, for ready-by plans (with `engine`: RunningControlPlane.engine, .registry.accounting). */
  readonly measure?: Omit<MeasureSources, 'engine'>;
  readonly queryMetric?: ActionPorts['queryMetric'];
  readonly backup?: ActionPorts['backup'];
  /** `backup D C` with the deployment's id and the workflow's caller (src/operations/backups); resolves with what it did. */
  readonly backupNow?: (deployment: string, component: string, caller: Caller) => Promise<string>;
}

export function controlPlanePorts(o: ControlPlanePortsOptions): ActionPorts {
  const tenant = o.caller.tenant ?? 'default';
  const id = (name: string): string => deploymentId(tenant, name);
  const cp = o.controlPlane;
  return {
    clock: o.clock,
    getDeployment: (d) => cp.getDeployment(id(d)),
    scale: (d, c, n) => cp.scale(id(d), c, n, o.caller),
    watch: (d, fn) => cp.events.subscribe({ deployment: id(d) }, () => fn()),
    ...(o.engine ? { specCount: async (d: string, c: string) => o.engine!.deployments.get(id(d))?.spec.components[c]?.count ?? 1 } : {}),
    pool: (name) => {
      const p = o.pools?.find((x) => x.name === name);
      return p ? { deployment: p.deployment, component: p.component } : undefined;
    },
    ...(o.engine && o.measure ? { provisioning: (d: string, c: string) => measuredProvisioning({ engine: o.engine!, ...o.measure! }, { deployment: id(d), component: c, now: o.clock.now() }) } : {}),
    ...(o.queryMetric ? { queryMetric: o.queryMetric } : {}),
    ...(o.backup ? { backup: o.backup } : {}),
    ...(o.backupNow && !o.backup ? { backup: (d: string, c: string) => o.backupNow!(id(d), c, o.caller) } : {}),
    ...(cp.runOperation ? { operation: (d: string, c: string, op: string, params: Readonly<Record<string, string>>) => cp.runOperation!(id(d), c, op, { params: { ...params }, reason: `an action task of ${o.caller.actor}` }, o.caller) } : {}),
  };
}

/** What one action run is about, as the workflows controller knows it. */
export interface ActionRunContext {
  readonly tenant: string;
  readonly workflow: string;
  readonly pools: readonly WfPool[];
  /** The task's variables: NUBIS_ACTION_TIMEOUT, NUBIS_READY_BY. */
  readonly variables: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  /** Progress worth showing (a ready-by plan), e.g. as the task's label. */
  readonly progress?: (text: string) => void;
}

/**
 * The whole action port in one call: `actionRunner({ controlPlane, clock, engine, measure })`
 * returns `run(action, ctx)` with the workflow's caller (`workflow:<name>` in its tenant), its
 * pools, the options its variables give (timeout, ready-by) and ready-by plans measured from
 * the control plane's events and accounting.
 */
export function actionRunner(o: Omit<ControlPlanePortsOptions, 'caller' | 'pools'>): (action: WfAction, ctx: ActionRunContext) => Promise<ActionResult> {
  return (action, ctx) => runAction(
    action,
    controlPlanePorts({ ...o, caller: { actor: `workflow:${ctx.workflow}`, tenant: ctx.tenant }, pools: ctx.pools }),
    { signal: ctx.signal, ...actionOptions(ctx.variables, o.clock.now()), ...(ctx.progress ? { onProgress: ctx.progress } : {}) },
  );
}
