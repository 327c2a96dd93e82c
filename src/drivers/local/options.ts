/** The local driver's options (see ./index.ts for what each one does). */
import type { DriverOptionsSchema } from '../options.js';

export const LOCAL_OPTIONS: DriverOptionsSchema = {
  fields: {
    root: { type: 'string', expected: 'a directory path' },
    portBase: { type: 'number', integer: true, min: 1024, max: 65535 },
    portsPerNode: { type: 'number', integer: true, min: 2, max: 1000 },
    portMax: { type: 'number', integer: true, min: 1024, max: 65535 },
    readyTimeoutMs: { type: 'number', integer: true, min: 100, max: 600_000 },
    killGraceMs: { type: 'number', integer: true, min: 0, max: 60_000 },
  },
};
