/** The cloudsigma driver's options (see ./driver.ts for what each one does). */
import type { DriverOptionsSchema } from '../options.js';
import { parseCloudSigmaOptions } from './driver.js';

const ms = { type: 'number', min: 0 } as const;

export const CLOUDSIGMA_OPTIONS: DriverOptionsSchema = {
  required: ['endpoint', 'cloneFrom'],
  fields: {
    endpoint: { type: 'string', pattern: /^https?:\/\//, expected: 'an API URL such as https://zrh.cloudsigma.com/api/2.0/' },
    cloneFrom: { type: 'string', expected: 'a server or drive uuid' },
    cloneKind: { type: 'string', enum: ['server', 'drive'] },
    recurse: { type: 'string', enum: ['all_drives', 'disks', 'cdroms'] },
    cpuMHz: { type: 'number', min: 1 },
    pageSize: { type: 'number', integer: true, min: 1 },
    pollMs: ms,
    stopTimeoutMs: ms,
    cloneTimeoutMs: ms,
    agentPort: { type: 'number', integer: true, min: 1, max: 65535 },
    agentPath: { type: 'string' },
  },
  check: (o) => void parseCloudSigmaOptions(o),
};
