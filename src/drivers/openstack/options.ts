/** The openstack driver's options (see ./driver.ts for what each one does). */
import type { DriverOptionsSchema } from '../options.js';

const ms = { type: 'number', min: 0 } as const;
const s = { type: 'string' } as const;

export const OPENSTACK_OPTIONS: DriverOptionsSchema = {
  required: ['authUrl'],
  fields: {
    authUrl: { type: 'string', pattern: /^https?:\/\//, expected: 'the Keystone v3 URL' },
    region: s,
    interface: { type: 'string', enum: ['public', 'internal', 'admin'] },
    project: s,
    projectId: s,
    userDomain: s,
    projectDomain: s,
    flavor: s,
    image: s,
    network: s,
    keyName: s,
    securityGroups: { type: 'array', items: s },
    serverGroup: s,
    availabilityZone: s,
    microversion: { type: 'string', pattern: /^\d+\.\d+$/, expected: 'a microversion such as 2.52' },
    serverTags: { type: 'boolean' },
    pageSize: { type: 'number', integer: true, min: 1 },
    pollMs: ms,
    settleTimeoutMs: ms,
    deleteTimeoutMs: ms,
    rebootType: { type: 'string', enum: ['SOFT', 'HARD'] },
    tokenLifetimeMs: ms,
    refreshMarginMs: ms,
    requestTimeoutMs: ms,
    agentPort: { type: 'number', integer: true, min: 1, max: 65535 },
    agentConnectTimeoutMs: ms,
    floatingIpNetwork: s,
    agentBootstrap: s,
    onRequest: { type: 'any' },
    // the credential fallback for tests (the registry refuses secrets in options)
    username: s,
    password: s,
    applicationCredentialId: s,
    applicationCredentialSecret: s,
  },
};
