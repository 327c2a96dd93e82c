/**
 * Tenant walls: deployments are known by their id (src/store/deployment-ids.ts: `<name>` in
 * tenant `default`, `<tenant>.<name>` elsewhere); tenants see bare names. Clouds that reach the
 * control-plane host are for the admin tenant only, unless the server allows otherwise.
 */
import type { CloudSpec } from '../model/types.js';
import { NubisError } from '../errors/index.js';
import { ADMIN_TENANT } from '../store/index.js';

export { ADMIN_TENANT, deploymentId, splitDeploymentId } from '../store/index.js';

/**
 * A text (deployment id, resource key, run id, event reason, error) as the tenant names it:
 * every `<tenant>.` that begins one of its deployment ids removed. Other text is unchanged.
 */
export function localText(tenant: string, text: string): string {
  if (tenant === ADMIN_TENANT || !text.includes(`${tenant}.`)) return text;
  return text.replace(new RegExp(`(?<![\\w.-])${tenant}\\.(?=[a-z])`, 'g'), '');
}

/** What the server lets tenants other than the admin do on its own host. */
export interface TenantPolicy {
  /** `nubis serve --allow-local-tenants`: every tenant may use host access. Default false. */
  allowLocalTenants?: boolean;
}

/**
 * What a cloud reaches on the control-plane host, or undefined when it reaches nothing there:
 * `local` runs shell commands on it; a `sim` inventory file and the ssh key and known-hosts
 * files are paths on it. An in-memory or HTTP `sim` reaches nothing, so any tenant may use it.
 */
export function hostAccess(c: CloudSpec): string | undefined {
  if (c.platform === 'local') return 'runs lifecycle handlers as shell commands on the control-plane host';
  const o = c.options;
  if (c.platform === 'sim' && typeof o['path'] === 'string' && o['path'] !== ':memory:') return 'keeps its inventory in a file on the control-plane host (option path)';
  if (c.platform === 'ssh') {
    for (const k of ['privateKeyPath', 'knownHostsPath']) if (o[k] !== undefined) return `reads a file on the control-plane host (option ${k})`;
  }
  return undefined;
}

/**
 * Refuses (FORBIDDEN) a cloud with host access for a tenant other than the admin, unless the
 * policy allows it. A refusal means the deployment cannot use that cloud on this server.
 */
export function checkHostAccess(tenant: string, c: CloudSpec, policy: TenantPolicy): void {
  if (tenant === ADMIN_TENANT || policy.allowLocalTenants) return;
  const what = hostAccess(c);
  if (what === undefined) return;
  throw new NubisError('FORBIDDEN', `cloud ${c.name} (platform ${c.platform}) ${what}; only tenant ${ADMIN_TENANT} may use it unless the server runs with --allow-local-tenants`, {
    details: { cloud: c.name, platform: c.platform },
  });
}
