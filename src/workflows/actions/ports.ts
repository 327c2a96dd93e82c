/**
 * The action ports over a control plane: what the workflows controller passes to `runAction`
 * for one workflow (its tenant, its caller for the audit trail, its pools).
 */
import type { Clock } from '../../clock/index.js';
import { deploymentId, type Caller, type ControlPlane } from '../../engine/index.js';
import type { WfPool } from '../model/types.js';
import type { ActionPorts } from './run.js';

export interface ControlPlanePortsOptions {
  readonly controlPlane: Pick<ControlPlane, 'getDeployment' | 'scale' | 'events'>;
  readonly clock: Clock;
  /** Who the workflow acts as (`workflow:<name>`), with its tenant. */
  readonly caller: Caller;
  readonly pools?: readonly WfPool[];
  /** The engine's deployments (RunningControlPlane.engine), for the spec count `start` scales to. */
  readonly engine?: { readonly deployments: ReadonlyMap<string, { readonly spec: { readonly components: Readonly<Record<string, { readonly count: number }>> } }> };
  readonly queryMetric?: ActionPorts['queryMetric'];
  readonly backup?: ActionPorts['backup'];
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
    ...(o.queryMetric ? { queryMetric: o.queryMetric } : {}),
    ...(o.backup ? { backup: o.backup } : {}),
  };
}
