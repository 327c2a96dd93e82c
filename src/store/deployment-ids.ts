/**
 * Deployment ids: a deployment is named per tenant (tenants `acme` and `default` may both have
 * `webapp`); the store keys it by one string, `<name>` in the admin tenant `default` and
 * `<tenant>.<name>` in any other. Names never contain `.`, so ids never collide, and every key
 * built from an id (node and instance keys `<id>/<instance>`, artefacts, step logs, metric
 * objects) is walled by construction.
 */

/** The tenant of the bootstrap token: it administers the control-plane host. */
export const ADMIN_TENANT = 'default';

/** The store id of a tenant's deployment. */
export function deploymentId(tenant: string, name: string): string {
  return tenant === ADMIN_TENANT ? name : `${tenant}.${name}`;
}

/** The tenant and bare name of a deployment id. */
export function splitDeploymentId(id: string): { tenant: string; name: string } {
  const dot = id.indexOf('.');
  return dot < 0 ? { tenant: ADMIN_TENANT, name: id } : { tenant: id.slice(0, dot), name: id.slice(dot + 1) };
}
