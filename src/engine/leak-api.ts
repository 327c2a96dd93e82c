/**
 * The leak guard, cost and budgets as the API sees them, per tenant: a tenant sees and sets
 * only its own leaks, policies, costs and budgets; its deployments by bare name. Input is
 * checked here (REQUEST_INVALID naming the JSON path).
 */
import type { Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import { NubisError } from '../errors/index.js';
import { parseDuration } from '../model/index.js';
import { ADMIN_TENANT, deploymentId, splitDeploymentId, type LeakRow, type Store } from '../store/index.js';
import type { Engine } from './engine.js';
import type { LeakPolicy } from './leaks.js';
import type { LeakScanReport } from './controllers/leaks/index.js';
import type { BudgetView, CostReport, CostService } from './cost.js';

export interface LeakView {
  cloud: string;
  kind: string;
  id: string;
  deployment?: string;
  key?: string;
  /** open | deleted | gone */
  status: string;
  reason: string;
  firstSeen: string;
  lastSeen: string;
  endedAt?: string;
  node?: string;
  pricePerHour?: number;
  /** When the policy deletes it (open leaks under a delete policy). */
  deleteAt?: string;
}

export interface LeakPolicyView {
  /** The cloud's name, or `*` for all the tenant's clouds. */
  cloud: string;
  deleteAfterMs?: number;
  owned: boolean;
}

export interface LeakGuardApi {
  list(tenant: string, all: boolean): Promise<LeakView[]>;
  /** Scans now; the tenant's leaks after it (the administrator also gets the scan's counts). */
  scan(tenant: string): Promise<{ leaks: LeakView[]; report?: LeakScanReport }>;
  policies(tenant: string): Promise<LeakPolicyView[]>;
  /** Sets the policy; `created` when the tenant had none for that cloud. */
  setPolicy(tenant: string, cloud: string, body: unknown, actor: string): Promise<{ policy: LeakPolicyView; created: boolean }>;
  deletePolicy(tenant: string, cloud: string, actor: string): Promise<void>;
  cost(tenant: string, from: number, to: number, by: 'day' | 'deployment'): Promise<CostReport>;
  budgets(tenant: string): Promise<BudgetView[]>;
  setBudget(tenant: string, deployment: string | undefined, body: unknown, actor: string): Promise<BudgetView>;
  /** Removes the budget; NOT_FOUND for a deployment without one (the tenant's: idempotent). */
  deleteBudget(tenant: string, deployment: string | undefined, actor: string): Promise<void>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Validates a policy body: `{ deleteAfter?: "1h" | null, owned?: boolean }`. */
export function parseLeakPolicy(v: unknown): LeakPolicy {
  const bad = (path: string, expected: string, found: unknown): NubisError =>
    new NubisError('REQUEST_INVALID', `$${path ? `.${path}` : ''}: expected ${expected}, found ${JSON.stringify(found)}`, { details: { path: `$${path ? `.${path}` : ''}` } });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('', 'an object { deleteAfter?, owned? }', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'deleteAfter' && k !== 'owned') throw bad(k, 'no such field (deleteAfter, owned)', o[k]);
  const p: LeakPolicy = {};
  const d = o['deleteAfter'];
  if (d !== undefined && d !== null) {
    let ms: number;
    try {
      ms = typeof d === 'number' ? d : parseDuration(String(d));
    } catch {
      throw bad('deleteAfter', 'a duration such as 30m or 1h (or null: report only)', d);
    }
    if (!Number.isInteger(ms) || ms < 0) throw bad('deleteAfter', 'a duration ≥ 0', d);
    p.deleteAfterMs = ms;
  }
  const owned = o['owned'];
  if (owned !== undefined && typeof owned !== 'boolean') throw bad('owned', 'a boolean', owned);
  if (owned) p.owned = true;
  return p;
}

export function createLeakGuardApi(engine: Engine, store: Store, events: EventLog, cost: CostService, clock: Clock): LeakGuardApi {
  const view = (tenant: string, r: LeakRow, policies: Map<string, LeakPolicy>): LeakView => {
    const data = JSON.parse(r.data_json) as { node?: string; pricePerHour?: number };
    const v: LeakView = { cloud: r.cloud, kind: r.kind, id: r.id, status: r.status, reason: r.reason, firstSeen: iso(Number(r.first_seen)), lastSeen: iso(Number(r.last_seen)) };
    if (r.deployment !== null) v.deployment = tenant === ADMIN_TENANT ? r.deployment : splitDeploymentId(r.deployment).name;
    if (r.key !== null) v.key = tenant === ADMIN_TENANT ? r.key : r.key.replace(`${tenant}.`, '');
    if (r.ended_at !== null) v.endedAt = iso(Number(r.ended_at));
    if (data.node !== undefined) v.node = data.node;
    if (data.pricePerHour !== undefined) v.pricePerHour = data.pricePerHour;
    const p = policies.get(r.cloud) ?? policies.get('*');
    if (r.status === 'open' && p?.deleteAfterMs !== undefined) v.deleteAt = iso(Number(r.first_seen) + p.deleteAfterMs);
    return v;
  };
  const policiesOf = async (tenant: string): Promise<Map<string, LeakPolicy>> =>
    new Map((await store.leaks.leakPolicies()).filter((r) => r.tenant === tenant).map((r) => [r.cloud, JSON.parse(r.policy_json) as LeakPolicy]));
  const list = async (tenant: string, all: boolean): Promise<LeakView[]> => {
    const policies = await policiesOf(tenant);
    return (await store.leaks.leaks({ tenant, all })).map((r) => view(tenant, r, policies));
  };
  const checkCloud = (cloud: string): void => {
    if (cloud !== '*' && !/^[a-z][a-z0-9-]{0,39}$/.test(cloud)) throw new NubisError('REQUEST_INVALID', `cloud: expected a cloud name or *, found ${JSON.stringify(cloud)}`);
  };
  return {
    list,
    async scan(tenant) {
      const report = await engine.leaks.scan();
      return { leaks: await list(tenant, false), ...(tenant === ADMIN_TENANT ? { report } : {}) };
    },
    async policies(tenant) {
      return [...(await policiesOf(tenant))].map(([cloud, p]) => ({ cloud, ...(p.deleteAfterMs !== undefined ? { deleteAfterMs: p.deleteAfterMs } : {}), owned: p.owned === true }));
    },
    async setPolicy(tenant, cloud, body, actor) {
      checkCloud(cloud);
      const p = parseLeakPolicy(body);
      const created = !(await policiesOf(tenant)).has(cloud);
      await store.leaks.putLeakPolicy({ tenant, cloud, policy_json: JSON.stringify(p), updated_at: clock.now() });
      await events.append({ actor, tenant, kind: 'leak.policy-set', target: `leaks:${cloud}`, ts: clock.now(), data: { cloud, ...p } });
      return { policy: { cloud, ...(p.deleteAfterMs !== undefined ? { deleteAfterMs: p.deleteAfterMs } : {}), owned: p.owned === true }, created };
    },
    async deletePolicy(tenant, cloud, actor) {
      checkCloud(cloud);
      if (!(await store.leaks.deleteLeakPolicy(tenant, cloud))) throw new NubisError('NOT_FOUND', `no leak policy for ${cloud}`);
      await events.append({ actor, tenant, kind: 'leak.policy-removed', target: `leaks:${cloud}`, ts: clock.now(), data: { cloud } });
    },
    cost: (tenant, from, to, by) => cost.report(tenant, from, to, by),
    budgets: (tenant) => cost.budgets(tenant),
    async setBudget(tenant, deployment, body, actor) {
      if (deployment !== undefined && !engine.deployments.has(deploymentId(tenant, deployment))) throw new NubisError('NOT_FOUND', `no deployment ${deployment}`);
      return cost.setBudget(tenant, deployment, body, actor);
    },
    deleteBudget: (tenant, deployment, actor) => cost.deleteBudget(tenant, deployment, actor),
  };
}
