/**
 * Test helpers for the openstack peer tier: where the cloud is and how to log in, from the
 * environment, so the tests run against any OpenStack.
 *
 * - `NUBIS_OPENSTACK`: the JSON the loopback cloud's up.sh prints as its last line
 *   (auth_url, region, project, user, password, user_domain, project_domain, flavor, image,
 *   network, external_network; demo{…} is not used).
 * - otherwise the usual openrc variables: OS_AUTH_URL, OS_USERNAME, OS_PASSWORD (or
 *   OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET), OS_PROJECT_NAME,
 *   OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME, plus NUBIS_OS_FLAVOR,
 *   NUBIS_OS_IMAGE, NUBIS_OS_NETWORK and NUBIS_OS_EXTERNAL_NETWORK for what the servers use.
 */
import { createRealClock } from '../../src/clock/index.js';
import { createOpenStackDriver, type OpenStackDriver } from '../../src/drivers/openstack/index.js';

export interface OpenStackTestEnv {
  authUrl: string;
  region?: string;
  project?: string;
  userDomain: string;
  projectDomain: string;
  credentials: Record<string, string>;
  flavor: string;
  image: string;
  network?: string;
  externalNetwork?: string;
}

export const HOW_TO_PROVIDE = [
  'The openstack peer tests need a cloud. Provide one of:',
  '  NUBIS_OPENSTACK=\'{"auth_url":…,"region":…,"project":…,"user":…,"password":…,"user_domain":…,"project_domain":…,"flavor":…,"image":…,"network":…,"external_network":…}\'',
  '    (the last stdout line of shared/peers/openstack/up.sh: NUBIS_OPENSTACK="$(up.sh STATE_DIR | tail -1)")',
  '  or OS_AUTH_URL, OS_USERNAME + OS_PASSWORD (or OS_APPLICATION_CREDENTIAL_ID + OS_APPLICATION_CREDENTIAL_SECRET),',
  '    OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME,',
  '    NUBIS_OS_FLAVOR, NUBIS_OS_IMAGE, NUBIS_OS_NETWORK, NUBIS_OS_EXTERNAL_NETWORK (as for `. openrc`).',
].join('\n');

/** The cloud from the environment, or an error message saying how to provide it. */
export function readOpenStackEnv(env: NodeJS.ProcessEnv = process.env): OpenStackTestEnv | { error: string } {
  const json = env['NUBIS_OPENSTACK'];
  if (json && json.trim()) {
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(json) as Record<string, unknown>;
    } catch {
      return { error: `NUBIS_OPENSTACK is not JSON.\n${HOW_TO_PROVIDE}` };
    }
    const s = (k: string): string | undefined => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
    const authUrl = s('auth_url');
    if (!authUrl || !s('user') || s('password') === undefined) return { error: `NUBIS_OPENSTACK lacks auth_url, user or password.\n${HOW_TO_PROVIDE}` };
    return {
      authUrl,
      ...opt('region', s('region')),
      ...opt('project', s('project')),
      userDomain: s('user_domain') ?? 'Default',
      projectDomain: s('project_domain') ?? 'Default',
      credentials: { username: s('user')!, password: s('password')! },
      flavor: s('flavor') ?? 'm1.tiny',
      image: s('image') ?? 'cirros',
      ...opt('network', s('network')),
      ...opt('externalNetwork', s('external_network')),
    };
  }
  const authUrl = env['OS_AUTH_URL'];
  if (authUrl) {
    const credentials: Record<string, string> = {};
    if (env['OS_APPLICATION_CREDENTIAL_ID'] && env['OS_APPLICATION_CREDENTIAL_SECRET']) {
      credentials['applicationCredentialId'] = env['OS_APPLICATION_CREDENTIAL_ID'];
      credentials['applicationCredentialSecret'] = env['OS_APPLICATION_CREDENTIAL_SECRET'];
    } else if (env['OS_USERNAME'] && env['OS_PASSWORD'] !== undefined) {
      credentials['username'] = env['OS_USERNAME'];
      credentials['password'] = env['OS_PASSWORD'];
    } else return { error: `OS_AUTH_URL is set but not OS_USERNAME/OS_PASSWORD or an application credential.\n${HOW_TO_PROVIDE}` };
    if (!env['NUBIS_OS_IMAGE'] || !env['NUBIS_OS_FLAVOR']) return { error: `With OS_* variables, NUBIS_OS_IMAGE and NUBIS_OS_FLAVOR must name an image and a flavor.\n${HOW_TO_PROVIDE}` };
    return {
      authUrl,
      ...opt('region', env['OS_REGION_NAME']),
      ...opt('project', env['OS_PROJECT_NAME'] ?? env['OS_TENANT_NAME']),
      userDomain: env['OS_USER_DOMAIN_NAME'] ?? 'Default',
      projectDomain: env['OS_PROJECT_DOMAIN_NAME'] ?? 'Default',
      credentials,
      flavor: env['NUBIS_OS_FLAVOR'],
      image: env['NUBIS_OS_IMAGE'],
      ...opt('network', env['NUBIS_OS_NETWORK']),
      ...opt('externalNetwork', env['NUBIS_OS_EXTERNAL_NETWORK']),
    };
  }
  return { error: `Neither NUBIS_OPENSTACK nor OS_AUTH_URL is set.\n${HOW_TO_PROVIDE}` };
}

/** Driver options (no secrets) for the test cloud. */
export function openStackOptions(e: OpenStackTestEnv, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    authUrl: e.authUrl,
    ...opt('region', e.region),
    ...opt('project', e.project),
    userDomain: e.userDomain,
    projectDomain: e.projectDomain,
    flavor: e.flavor,
    image: e.image,
    ...opt('network', e.network),
    ...opt('floatingIpNetwork', e.externalNetwork),
    pollMs: 250,
    ...extra,
  };
}

/** A driver for the test cloud with credentials passed the way the registry will pass them. */
export function openStackDriver(e: OpenStackTestEnv, dataDir: string, extra: Record<string, unknown> = {}, credentials = e.credentials): OpenStackDriver {
  return createOpenStackDriver({ cloud: 'os-test', options: openStackOptions(e, extra), dataDir, clock: createRealClock(), credentials });
}

function opt<K extends string>(k: K, v: string | undefined): { [P in K]?: string } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: string };
}
