/**
 * The sim driver's options (see ./driver.ts and ./model.ts for what each one does). New sim
 * options must be added here, or specs using them are refused.
 */
import { doc, type DriverOptionsSchema } from '../option-types.js';
import { parseSimModel } from './model.js';
import { readSimHosts } from './hosts.js';

const ms = { type: 'number', min: 0 } as const;

export const SIM_OPTIONS: DriverOptionsSchema = {
  fields: {
    cloud: doc({ type: 'any' }, 'an in-process SimCloud object'),
    url: doc({ type: 'string', pattern: /^https?:\/\//, expected: 'the sim server\'s http URL' }, 'talk HTTP to a sim server (nubis-sim) that survives a control-plane restart'),
    path: doc({ type: 'string', expected: 'a file path or ":memory:"' }, 'the sim inventory file; default <data>/sim-<cloud>.db'),
    latencyMs: doc(ms, 'fixed provisioning time (create accepted → running), in ms; default 0'),
    latency: doc({ type: 'object', fields: { minMs: ms, maxMs: ms } }, 'uniform provisioning time; wins over latencyMs'),
    slowdown: doc({ type: 'string', enum: ['none', 'cloudsigma'] }, 'cloudsigma: provisioning slows down beyond 4 creations in flight (seed 000 §6.3); wins over latency'),
    apiLatencyMs: doc(ms, 'time every API call takes, in ms; default 0'),
    listLatencyMs: doc(ms, 'extra time of every list call (each page), in ms'),
    listPageSize: doc({ type: 'number', integer: true, min: 1 }, 'servers per list page (offset-paginated)'),
    listLagMs: doc(ms, 'lists omit a server until this long after its create, in ms'),
    staleReadMs: doc(ms, 'get answers the server as it was this long ago, in ms'),
    notFoundAfterCreateMs: doc(ms, 'get answers NotFound for this long after a create, in ms'),
    rebootMs: doc(ms, 'how long a reboot takes, in ms'),
    errors: doc({ type: 'object' }, 'per operation (create, get, list, delete, reboot, snapshot, snapshotStatus, readSnapshot, deleteSnapshot): a list of { rate, status, partial? } failures to inject'),
    quota: doc({ type: 'object', fields: { servers: ms } }, 'most servers at once (beyond: a 402 quota error)'),
    outages: doc({ type: 'array', items: { type: 'object' } }, 'windows [fromMs, untilMs) of sim time in which every call fails with 503'),
    snapshot: doc({ type: 'object', fields: { latencyMs: ms, latency: { type: 'object', fields: { minMs: ms, maxMs: ms } }, sizeBytes: ms, failureRate: { type: 'number', min: 0, max: 1 } } }, 'snapshots: time to ready (latencyMs or latency {minMs, maxMs}), bytes per snapshot (sizeBytes, default 65536) and the probability the cloud fails one (failureRate)'),
    seed: doc({ type: 'number' }, 'seed of the random choices (errors, latencies, step failures)'),
    stepLatencyMs: doc(ms, 'how long every lifecycle step of a simulated agent takes, in ms'),
    contextualizeMs: doc(ms, 'first boot: how long after a server runs its agent starts answering, in ms; default 0'),
    stepFailures: doc({ type: 'object', values: { type: 'number', min: 0, max: 1 } }, 'step name → probability that it fails'),
    operationLatencyMs: doc(ms, 'how long every custom operation run on a simulated agent takes, in ms (default: stepLatencyMs)'),
    operationFailures: doc({ type: 'object', values: { type: 'number', min: 0, max: 1 } }, 'operation name → probability that a run on one instance fails'),
    hosts: doc({
      type: 'array',
      items: {
        type: 'object', required: ['name', 'nodes'],
        fields: {
          name: doc({ type: 'string' }, 'the host\'s name (unique), which placement names'),
          nodes: doc({ type: 'number', integer: true, min: 1 }, 'most servers on the host'),
          cores: doc({ type: 'number', integer: true, min: 1 }, 'the host\'s cores: servers\' required cores fit within them; unlimited when absent'),
          memory: doc({ type: 'number', integer: true, min: 1 }, 'the host\'s memory in MiB; unlimited when absent'),
          attributes: doc({ type: 'object' }, 'attributes for custom placement ranks (rack, zone, …): string or number values'),
        },
      },
    }, 'the host model: machines servers are placed on, each with a capacity in nodes (and cores, memory in MiB) and attributes for custom placement ranks'),
  },
  check: (o) => {
    parseSimModel(o);
    readSimHosts(o);
  },
};
