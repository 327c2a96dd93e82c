/**
 * Quotas per tenant: most nodes, cores, memory (MiB) and deployments, set by the administrator.
 * A deployment's use is its desired state: for each component, its desired node count times
 * the cores and memory its node template asks for (`requirements.cores`, default 1;
 * `requirements.memory`, default 0). A deployment being destroyed keeps its reservation until
 * it is gone (its nodes still exist until then).
 *
 * `check` (plan and apply) refuses early from the stored use; `reserve` is the binding count:
 * a guarded op committed with the desired state (src/store/policy.ts), so concurrent applies
 * cannot together pass a quota. Both refuse with QUOTA_EXCEEDED naming the quota, the
 * tenant's current use and what the deployment asks for.
 */
import type { Clock } from '../../clock/index.js';
import { NubisError } from '../../errors/index.js';
import type { EventLog } from '../../events/index.js';
import { desiredCount, splitDeploymentId, type AdmissionRequest, type Deployment } from '../../engine/index.js';
import type { Actor } from '../audit.js';
import type { QuotaLimits, QuotaName, QuotaRefusal, QuotaUse, Store, WriteOp } from '../../store/index.js';

export const QUOTA_NAMES = ['nodes', 'cores', 'memory', 'deployments'] as const satisfies readonly QuotaName[];

export interface QuotaView {
  tenant: string;
  /** null: no limit. Memory in MiB. */
  limits: { nodes: number | null; cores: number | null; memory: number | null; deployments: number | null };
  used: { nodes: number; cores: number; memory: number; deployments: number };
  /** What each deployment reserves (its name as its tenant writes it). */
  deployments: { name: string; nodes: number; cores: number; memory: number }[];
}

export interface Quotas {
  show(tenant: string): Promise<QuotaView>;
  /** Sets the given limits (null clears one; absent keeps it). REQUEST_INVALID naming the field. */
  set(tenant: string, body: unknown, by: Actor): Promise<QuotaView>;
  /** Plan and apply: QUOTA_EXCEEDED when the deployment's desired state would pass a quota. */
  check(req: AdmissionRequest): Promise<void>;
  /** The guarded reservation op for a desired-state write; none for a deployment being destroyed. */
  reserve(d: Deployment): WriteOp[];
}

const UNITS: Record<QuotaName, string> = { nodes: 'nodes', cores: 'cores', memory: 'MiB', deployments: 'deployments' };

/** QUOTA_EXCEEDED, e.g. `quota cores of tenant acme: 6 in use + 4 asked by deployment web = 10 > 8`. */
export function quotaError(r: QuotaRefusal, deployment: string): NubisError {
  const unit = UNITS[r.quota];
  return new NubisError('QUOTA_EXCEEDED', `quota ${r.quota} of tenant ${r.tenant}: ${r.used} ${unit} in use by its other deployments + ${r.requested} asked by deployment ${deployment} = ${r.used + r.requested} > ${r.limit}`, {
    details: { quota: r.quota, tenant: r.tenant, limit: r.limit, used: r.used, requested: r.requested, deployment },
  });
}

/** What a deployment's desired state uses. */
export function useOf(d: Pick<Deployment, 'spec' | 'counts' | 'status'>): QuotaUse {
  const use: QuotaUse = { nodes: 0, cores: 0, memoryMiB: 0 };
  for (const c of Object.values(d.spec.components)) {
    const n = desiredCount(d as Deployment, c);
    const r = d.spec.nodeTemplates[c.nodeTemplate]?.requirements ?? {};
    use.nodes += n;
    use.cores += n * (r.cores ?? 1);
    use.memoryMiB += n * (r.memoryMiB ?? 0);
  }
  return use;
}

function parseLimits(body: unknown, before: QuotaLimits): QuotaLimits {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new NubisError('REQUEST_INVALID', '$: expected an object of limits (nodes, cores, memory, deployments)');
  const o = body as Record<string, unknown>;
  const out: QuotaLimits = { ...before };
  const field: Record<QuotaName, keyof QuotaLimits> = { nodes: 'nodes', cores: 'cores', memory: 'memoryMiB', deployments: 'deployments' };
  for (const [k, v] of Object.entries(o)) {
    if (!(QUOTA_NAMES as readonly string[]).includes(k)) throw new NubisError('REQUEST_INVALID', `$.${k}: expected one of ${QUOTA_NAMES.join(', ')}`);
    if (v !== null && (!Number.isSafeInteger(v) || (v as number) < 0)) throw new NubisError('REQUEST_INVALID', `$.${k}: expected an integer ≥ 0 or null (no limit), found ${JSON.stringify(v)}`);
    out[field[k as QuotaName]] = v as number | null;
  }
  return out;
}

export function createQuotas(o: { store: Store; clock: Clock; events?: EventLog }): Quotas {
  const repo = o.store.policy;
  const num = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));
  async function show(tenant: string): Promise<QuotaView> {
    const row = await repo.quota(tenant);
    const resv = await repo.reservations(tenant);
    return {
      tenant,
      limits: { nodes: num(row?.max_nodes), cores: num(row?.max_cores), memory: num(row?.max_memory_mib), deployments: num(row?.max_deployments) },
      used: { nodes: Number(row?.nodes ?? 0), cores: Number(row?.cores ?? 0), memory: Number(row?.memory_mib ?? 0), deployments: Number(row?.deployments ?? 0) },
      deployments: resv.map((r) => ({ name: splitDeploymentId(r.deployment).name, nodes: Number(r.nodes), cores: Number(r.cores), memory: Number(r.memory_mib) })),
    };
  }
  return {
    show,
    async set(tenant, body, by) {
      const v = await show(tenant);
      const limits = parseLimits(body, { nodes: v.limits.nodes, cores: v.limits.cores, memoryMiB: v.limits.memory, deployments: v.limits.deployments });
      await repo.setQuotaLimits(tenant, limits, o.clock.now());
      await o.events?.append({
        tenant, actor: by.actor, ...(by.correlationId ? { correlationId: by.correlationId } : {}), kind: 'quota.set', target: tenant, outcome: 'ok',
        reason: `quotas of tenant ${tenant} set`, data: { nodes: limits.nodes, cores: limits.cores, memory: limits.memoryMiB, deployments: limits.deployments },
      });
      return show(tenant);
    },
    async check(req) {
      const v = await show(req.tenant);
      const mine = v.deployments.find((x) => x.name === req.name);
      const want = { nodes: 0, cores: 0, memory: 0, deployments: 1 };
      for (const dm of req.demands) {
        want.nodes += dm.count;
        want.cores += dm.count * (dm.requirements.cores ?? 1);
        want.memory += dm.count * (dm.requirements.memoryMiB ?? 0);
      }
      const had = { nodes: mine?.nodes ?? 0, cores: mine?.cores ?? 0, memory: mine?.memory ?? 0, deployments: mine ? 1 : 0 };
      for (const q of QUOTA_NAMES) {
        const limit = v.limits[q];
        const others = v.used[q] - had[q];
        if (limit !== null && want[q] > had[q] && others + want[q] > limit) throw quotaError({ tenant: req.tenant, quota: q, limit, used: others, requested: want[q] }, req.name);
      }
    },
    reserve(d) {
      if (d.status === 'destroying') return [];
      const name = splitDeploymentId(d.name).name;
      return [repo.reserveQuota(d.tenant, d.name, useOf(d), o.clock.now(), (r) => quotaError(r, name))];
    },
  };
}
