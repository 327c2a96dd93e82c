/**
 * The API's tenant wall. A caller acts in its token's tenant and names deployments by their
 * bare names; here they become deployment ids (`deploymentId`), and the audit log a caller sees
 * is its tenant's only, with its own deployments shown by bare name. Another tenant's objects
 * are not addressable at all, so they answer exactly like ones that do not exist (404).
 */
import type { EventLog, NubisEvent } from '../events/index.js';
import type { EventFilter } from '../store/index.js';
import { ADMIN_TENANT, deploymentId, localText } from '../engine/index.js';
import type { Caller } from '../engine/index.js';

/** The tenant a caller acts in; the bootstrap token's is `default`. */
export function callerTenant(caller: Pick<Caller, 'tenant'>): string {
  return caller.tenant ?? ADMIN_TENANT;
}

/** The id of the caller's deployment of this name. */
export function callerDeployment(caller: Pick<Caller, 'tenant'>, name: string): string {
  return deploymentId(callerTenant(caller), name);
}

/**
 * The audit log as one tenant sees it: only events of that tenant; filters by deployment and
 * target in the tenant's names; deployments and resource keys in events shown by bare name.
 * Appending goes to the real log unchanged (the tenant is derived from the event itself).
 */
export function tenantEvents(events: EventLog, tenant: string): EventLog {
  const local = (v: unknown): unknown => {
    if (typeof v === 'string') return localText(tenant, v);
    if (Array.isArray(v)) return v.map(local);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, local(x)]));
    return v;
  };
  const show = (e: NubisEvent): NubisEvent => (tenant === ADMIN_TENANT ? e : (local(e) as NubisEvent));
  const scoped = <F extends Pick<EventFilter, 'deployment' | 'target'>>(f: F): F & { tenant: string } => {
    const out: F & { tenant: string } = { ...f, tenant };
    if (f.deployment !== undefined) out.deployment = deploymentId(tenant, f.deployment);
    // a target is a resource key of the tenant's deployment, or a name of its own (a cloud)
    if (typeof f.target === 'string' && tenant !== ADMIN_TENANT) out.target = [f.target, `${tenant}.${f.target}`];
    return out;
  };
  return {
    append: (...e) => events.append(...e),
    stage: (...e) => events.stage(...e),
    list: async (filter) => (await events.list(scoped(filter))).map(show),
    subscribe: (filter, fn) => events.subscribe(scoped(filter), (e, t) => fn(show(e), t)),
    verify: () => events.verify(tenant),
  };
}
