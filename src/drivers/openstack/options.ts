/** The openstack driver's options (see ./driver.ts for what each one does). */
import { doc, type DriverOptionsSchema } from '../option-types.js';

const ms = { type: 'number', min: 0 } as const;
const s = { type: 'string' } as const;

export const OPENSTACK_OPTIONS: DriverOptionsSchema = {
  required: ['authUrl'],
  fields: {
    authUrl: doc({ type: 'string', pattern: /^https?:\/\//, expected: 'the Keystone v3 URL' }, 'Keystone v3 URL (required)'),
    region: doc(s, 'region in the service catalogue'),
    interface: doc({ type: 'string', enum: ['public', 'internal', 'admin'] }, 'which catalogue endpoints to call; default public'),
    project: doc(s, 'project name to scope the token to'),
    projectId: doc(s, 'project id (instead of project)'),
    userDomain: doc(s, 'the user\'s domain; default Default'),
    projectDomain: doc(s, 'the project\'s domain; default Default'),
    flavor: doc(s, 'flavor name or id when the placement names none; default the smallest that meets the requirements'),
    image: doc(s, 'image name or id when the placement names none'),
    network: doc(s, 'network name or id; none boots without one'),
    keyName: doc(s, 'Nova key pair'),
    securityGroups: doc({ type: 'array', items: s }, 'security group names'),
    serverGroup: doc(s, 'server group id (affinity policies)'),
    availabilityZone: doc(s, 'zone when the placement names no location'),
    microversion: doc({ type: 'string', pattern: /^\d+\.\d+$/, expected: 'a microversion such as 2.52' }, 'pin the compute microversion instead of negotiating'),
    serverTags: doc({ type: 'boolean' }, 'also write Nubis tags as server tags (list filters by them); default true'),
    pageSize: doc({ type: 'number', integer: true, min: 1 }, 'servers per list page; default 100'),
    pollMs: doc(ms, 'status poll interval, in ms; default 500'),
    settleTimeoutMs: doc(ms, 'how long reboot, stop, start and createImage wait for a server to settle, in ms; default 120000'),
    deleteTimeoutMs: doc(ms, 'how long a delete waits for the server to go, in ms; default 90000'),
    rebootType: doc({ type: 'string', enum: ['SOFT', 'HARD'] }, 'default SOFT'),
    tokenLifetimeMs: doc(ms, 'assumed token lifetime when Keystone gives no expiry, in ms'),
    refreshMarginMs: doc(ms, 'renew a token this long before it expires, in ms'),
    requestTimeoutMs: doc(ms, 'longest single API call, in ms'),
    agentPort: doc({ type: 'number', integer: true, min: 1, max: 65535 }, 'where the control plane dials agents; default 7430'),
    agentConnectTimeoutMs: doc(ms, 'TLS handshake timeout to an agent, in ms; default 3000'),
    floatingIpNetwork: doc(s, 'external network floating IPs are taken from'),
    agentBootstrap: doc(s, 'a shell command the user data runs at first boot before it starts the agent (e.g. to install it)'),
    agentPath: doc(s, 'the agent program on the image; default /opt/nubis/agent/main.js'),
    graphitePort: doc({ type: 'number', integer: true, min: 0, max: 65535 }, 'the agent\'s Graphite listener on the VM, on 127.0.0.1 (NUBIS_GRAPHITE), 0 for none; default 2003'),
    onRequest: doc({ type: 'any' }, 'a function called with every HTTP call\'s record, for tests and accounting'),
    // the credential fallback for tests (the registry refuses secrets in options)
    username: doc(s, 'tests only: put credentials in a stored credential (nubis credentials set), not in the spec'),
    password: doc(s, 'tests only: see username'),
    applicationCredentialId: doc(s, 'tests only: see username'),
    applicationCredentialSecret: doc(s, 'tests only: see username'),
  },
};
