/** The ssh driver's options (see ./index.ts for what each one does). */
import { accessSync, constants } from 'node:fs';
import { NubisError } from '../../errors/index.js';
import { doc, type DriverOptionsSchema } from '../option-types.js';
import { readSshOptions } from './config.js';

const int = (min: number, max: number) => ({ type: 'number', integer: true, min, max }) as const;

export const SSH_OPTIONS: DriverOptionsSchema = {
  required: ['hosts'],
  fields: {
    hosts: doc({
      type: 'array',
      items: {
        type: 'object', required: ['address'],
        fields: {
          address: doc({ type: 'string' }, 'host name or IP address the control plane logs in to'),
          port: doc(int(1, 65535), 'SSH port; default 22'),
          user: doc({ type: 'string' }, 'login user; default root'),
          name: doc({ type: 'string' }, 'the host\'s name in the pool (unique); default the address, or address:port'),
          attributes: doc({ type: 'object' }, 'attributes for custom placement ranks (rack, zone, …): string or number values'),
        },
      },
    }, 'the pool: one node per host (required)'),
    privateKeyPath: doc({ type: 'string' }, 'the login key when the cloud\'s credential has no privateKey (key-only authentication)'),
    knownHostsPath: doc({ type: 'string' }, 'host keys, pinned on first contact; default <data>/ssh/known_hosts'),
    remoteRoot: doc({ type: 'string' }, 'everything Nubis puts on a host lives under it; default /opt/nubis'),
    agentPort: doc(int(1, 65535), 'where the agent listens, on the host\'s address; default 7430'),
    graphitePort: doc(int(0, 65535), 'the agent\'s Graphite listener for custom metrics (NUBIS_GRAPHITE), 0 for none; default 2003'),
    connectTimeoutMs: doc(int(100, 120_000), 'SSH handshake timeout, in ms; default 5000'),
    commandTimeoutMs: doc(int(100, 600_000), 'longest remote command, in ms; default 20000'),
    uploadTimeoutMs: doc(int(1000, 3_600_000), 'longest upload of the agent bundle, in ms; default 300000'),
    readyTimeoutMs: doc(int(100, 600_000), 'how long a started agent has to answer, in ms; default 20000'),
    killGraceMs: doc(int(0, 60_000), 'between SIGTERM and SIGKILL when a node\'s processes stop, in ms; default 2000'),
  },
  check: (o) => {
    readSshOptions({ cloud: 'check', options: o, dataDir: '/nonexistent', clock: { now: () => 0 } as never });
    // a key file named here must be readable now, not at the first connection (reading changes nothing)
    const key = o['privateKeyPath'];
    if (typeof key === 'string' && key !== '') {
      try {
        accessSync(key, constants.R_OK);
      } catch (e) {
        throw new NubisError('SPEC_INVALID', `ssh driver: cannot read privateKeyPath ${key}: ${(e as Error).message}`);
      }
    }
  },
};
