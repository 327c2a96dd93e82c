/**
 * The sim driver's options (see ./driver.ts and ./model.ts for what each one does). New sim
 * options must be added here, or specs using them are refused.
 */
import type { DriverOptionsSchema } from '../options.js';
import { parseSimModel } from './model.js';

const ms = { type: 'number', min: 0 } as const;

export const SIM_OPTIONS: DriverOptionsSchema = {
  fields: {
    cloud: { type: 'any' },
    url: { type: 'string', pattern: /^https?:\/\//, expected: 'the sim server\'s http URL' },
    path: { type: 'string', expected: 'a file path or ":memory:"' },
    latencyMs: ms,
    latency: { type: 'object', fields: { minMs: ms, maxMs: ms } },
    slowdown: { type: 'string', enum: ['none', 'cloudsigma'] },
    apiLatencyMs: ms,
    listLatencyMs: ms,
    listPageSize: { type: 'number', integer: true, min: 1 },
    listLagMs: ms,
    staleReadMs: ms,
    notFoundAfterCreateMs: ms,
    rebootMs: ms,
    errors: { type: 'object' },
    quota: { type: 'object', fields: { servers: ms } },
    outages: { type: 'array', items: { type: 'object' } },
    seed: { type: 'number' },
    stepLatencyMs: ms,
    stepFailures: { type: 'object', values: { type: 'number', min: 0, max: 1 } },
  },
  check: (o) => void parseSimModel(o),
};
