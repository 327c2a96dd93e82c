/** Test helpers: quota reservations as apply makes them (a guarded write with the deployment row). */
import { NubisError } from '../../src/errors/index.js';
import type { DeploymentRow, QuotaRefusal, Store } from '../../src/store/index.js';

const refuse = (r: QuotaRefusal): Error => new NubisError('QUOTA_EXCEEDED', `quota ${r.quota}: ${r.used} + ${r.requested} > ${r.limit}`, { details: r });

function deploymentRow(name: string, tenant: string): DeploymentRow {
  return {
    name, tenant, spec_json: '{}', spec_text: '', file: 'x.yaml', version: 1, status: 'active', counts_json: '{}', ordinals_json: '{}', rollout_json: null,
    correlation_id: null, created_at: 1, updated_at: 1,
  } as DeploymentRow;
}

/** Reserves `nodes` (and 2 cores each) for a deployment with its row, as apply does. */
export function reserve(store: Store, tenant: string, name: string, nodes: number): Promise<void> {
  return store.writeGuarded(store.policy.reserveQuota(tenant, name, { nodes, cores: 2 * nodes, memoryMiB: 0 }, 1, refuse), store.putDeployment(deploymentRow(name, tenant)));
}

/** n deployments of 1 node each reserving at once under a 10-node quota, spread over `stores` (replicas on one database). */
export async function concurrentReservations(stores: Store[], tenant: string, n: number): Promise<{ ok: number; refused: NubisError[] }> {
  await stores[0]!.policy.setQuotaLimits(tenant, { nodes: 10, cores: null, memoryMiB: null, deployments: null }, 1);
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => {
    const s = stores[i % stores.length]!;
    // a plain write of another caller shares the batch: it must commit whatever the reservations do
    return Promise.all([reserve(s, tenant, `${tenant}.d${i}`, 1), s.write(s.putDeployment(deploymentRow(`${tenant}.plain${i}`, tenant)))]);
  }));
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as NubisError] : []));
  return { ok: results.length - refused.length, refused };
}

