/** The ssh driver's options (see ./index.ts for what each one does). */
import { accessSync, constants } from 'node:fs';
import { NubisError } from '../../errors/index.js';
import type { DriverOptionsSchema } from '../options.js';
import { readSshOptions } from './index.js';

const int = (min: number, max: number) => ({ type: 'number', integer: true, min, max }) as const;

export const SSH_OPTIONS: DriverOptionsSchema = {
  required: ['hosts'],
  fields: {
    hosts: {
      type: 'array',
      items: { type: 'object', required: ['address'], fields: { address: { type: 'string' }, port: int(1, 65535), user: { type: 'string' }, name: { type: 'string' } } },
    },
    privateKeyPath: { type: 'string' },
    knownHostsPath: { type: 'string' },
    remoteRoot: { type: 'string' },
    agentPort: int(1, 65535),
    graphitePort: int(0, 65535),
    connectTimeoutMs: int(100, 120_000),
    commandTimeoutMs: int(100, 600_000),
    uploadTimeoutMs: int(1000, 3_600_000),
    readyTimeoutMs: int(100, 600_000),
    killGraceMs: int(0, 60_000),
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
