/**
 * What a pool's cloud has taken to provision, from what the control plane already keeps: the
 * `node.state` and `instance.phase` events of the pool component's nodes (create accepted →
 * instance running), the provider
 * accounting's create calls, and the cloud's creation limiter (its learned concurrency).
 * Feeds `readyByPlan` (./ready-by.ts).
 */
import { NubisError } from '../../errors/index.js';
import type { Engine } from '../../engine/index.js';
import type { EventLog } from '../../events/index.js';
import { accountedCloud, type CallAccounting } from '../../registry/index.js';
import { provisioningStats, provisionSamplesFromEvents, type ProvisioningStats } from './ready-by.js';

export interface MeasureSources {
  readonly engine: Pick<Engine, 'deployments' | 'cloudFor'>;
  readonly events: Pick<EventLog, 'list'>;
  /** The registry's accounting (RunningControlPlane.registry.accounting); absent: create calls count 0. */
  readonly accounting?: Pick<CallAccounting, 'sla'>;
}

export interface MeasureTarget {
  /** The deployment id (`deploymentId(tenant, name)`). */
  readonly deployment: string;
  readonly component: string;
  readonly now: number;
  /** How far back create calls count. Default 7 days. */
  readonly windowMs?: number;
  /** Most events read. Default 20,000 (the newest). */
  readonly maxEvents?: number;
}

/**
 * The provisioning statistics of a pool's component on its cloud. NOT_FOUND when the deployment
 * or component does not exist. A template without a fixed cloud is measured on the cloud its
 * latest node was placed on (or reported as nothing measured).
 */
export async function measuredProvisioning(src: MeasureSources, t: MeasureTarget): Promise<ProvisioningStats> {
  const d = src.engine.deployments.get(t.deployment);
  if (!d) throw new NubisError('NOT_FOUND', `no deployment ${JSON.stringify(t.deployment)} to measure`);
  const comp = d.spec.components[t.component];
  if (!comp) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no component ${JSON.stringify(t.component)}`);
  const cloud = d.spec.nodeTemplates[comp.nodeTemplate]?.cloud;
  const mine = new RegExp(`/${t.component.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`);
  const limit = t.maxEvents ?? 20_000;
  const [nodes, phases] = await Promise.all([
    src.events.list({ deployment: t.deployment, kind: 'node.state', limit, newest: true }),
    src.events.list({ deployment: t.deployment, kind: 'instance.phase', limit, newest: true }),
  ]);
  const events = [...nodes, ...phases].sort((a, b) => a.id - b.id);
  const samples = provisionSamplesFromEvents(events, (key) => mine.test(key));
  if (!cloud) return provisioningStats('(selected)', samples, 2);
  let concurrency = 2;
  try {
    concurrency = src.engine.cloudFor(d, cloud).limiter.limit();
  } catch {
    // the cloud cannot be used now (no driver, credential): nothing to learn from its limiter
  }
  let createCallMs = 0;
  if (src.accounting) {
    const sla = await src.accounting.sla(accountedCloud(d.tenant, cloud), t.now - (t.windowMs ?? 7 * 86_400_000));
    createCallMs = sla.ops.find((o) => o.op === 'create')?.p95Ms ?? 0;
  }
  return { ...provisioningStats(cloud, samples, concurrency), createCallMs };
}
