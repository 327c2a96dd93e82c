/**
 * The agent's monitoring part: a sensor hub, a Graphite plaintext listener and an HTTP push
 * endpoint, all feeding one bounded sample buffer the control plane pulls from. Monitors are
 * kept in `<sandbox>/agent-monitors.json` so a restarted agent measures the same things.
 *
 * Routes (mounted by ./../server.ts, behind the agent's bearer token):
 *
 *   GET    /v1/monitors               { monitors: MonitorStatus[] }
 *   PUT    /v1/monitors/<id>          body MonitorSpec (its `id` may be left out; if present it must
 *                                     equal <id>) → { monitor: MonitorSpec }; replaces a monitor of that id
 *   DELETE /v1/monitors/<id>          { ok: true }; 404 NOT_FOUND when there is none
 *   GET    /v1/metrics?after=C&limit=N&waitMs=W  SampleRead (see ./buffer.ts): samples after cursor C
 *                                     (default 0), at most N (default 10,000, at most 100,000); with W
 *                                     (at most 60,000) and nothing after C yet, the answer is held until
 *                                     a sample arrives or W ms pass (the control plane's sample stream)
 *   POST   /v1/metrics                push: text/plain Graphite lines or application/json
 *                                     { samples: [...] } → { accepted, malformed, examples }
 *   GET    /v1/metrics/stats          buffer fill, Graphite listener and push counters
 *
 * Every sample gets the label `node`; a sample pushed with its own `node` keeps it as
 * `exported_node`.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../clock/index.js';
import { isNubisError, NubisError } from '../../errors/index.js';
import { startGraphiteListener, type GraphiteListener, type GraphiteListenerStats } from '../../metrics/ingest/graphite.js';
import { parsePushBody } from '../../metrics/ingest/push.js';
import type { Sample } from '../../metrics/types.js';
import { createSampleBuffer, DEFAULT_BUFFER_SAMPLES, type SampleBuffer } from './buffer.js';
import { createSensorHub, type SensorHub } from './hub.js';
import { checkMonitorSpec, type MonitorSpec } from './spec.js';

export interface AgentMetricsOptions {
  nodeId: string;
  sandbox: string;
  /** Graphite plaintext TCP port; absent: no listener. 0 picks a free port. */
  graphitePort?: number;
  /** Default 127.0.0.1. */
  graphiteHost?: string;
  /** Ring buffer size in samples. Default 100,000. */
  bufferSamples?: number;
  instancePid(instance: string): number | undefined;
  clock?: Clock;
  procRoot?: string;
  log?: (line: string) => void;
}

export interface AgentMetricsRequest {
  method: string;
  /** Decoded path segments, `v1` first. */
  parts: string[];
  url: URL;
  contentType: string | undefined;
  body(): Promise<string>;
  /** Aborts when the caller went away (ends a held read early). */
  signal?: AbortSignal;
}

export interface AgentMetrics {
  readonly hub: SensorHub;
  readonly buffer: SampleBuffer;
  readonly graphitePort?: number;
  /** Answers the routes above; undefined when the path is not one of them. */
  handle(req: AgentMetricsRequest): Promise<{ status: number; body: unknown } | undefined>;
  close(): Promise<void>;
}

const DEFAULT_READ = 10_000;
const MAX_READ = 100_000;
const MAX_WAIT_MS = 60_000;

function errorReply(e: NubisError): { status: number; body: unknown } {
  return { status: e.status, body: { error: e.toJSON() } };
}

/** Starts the hub (restoring saved monitors) and the Graphite listener when a port is given. */
export async function startAgentMetrics(opts: AgentMetricsOptions): Promise<AgentMetrics> {
  const log = opts.log ?? (() => {});
  const buffer = createSampleBuffer(opts.bufferSamples ?? DEFAULT_BUFFER_SAMPLES);
  const nodeLabels = { node: opts.nodeId };
  const push = { requests: 0, accepted: 0, malformed: 0 };
  const savedPath = join(opts.sandbox, 'agent-monitors.json');

  const hub = createSensorHub({
    nodeId: opts.nodeId,
    labels: {},
    onSamples: (s) => buffer.append(s),
    instancePid: opts.instancePid,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.procRoot ? { procRoot: opts.procRoot } : {}),
  });

  const save = (): void => {
    const tmp = `${savedPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, monitors: hub.list().map((m) => m.spec) }, null, 2));
    renameSync(tmp, savedPath);
  };

  try {
    const saved = JSON.parse(readFileSync(savedPath, 'utf8')) as { monitors?: unknown[] };
    for (const m of saved.monitors ?? []) {
      try {
        hub.set(m as MonitorSpec);
      } catch (e) {
        log(`saved monitor skipped: ${(e as Error).message}`);
      }
    }
  } catch {
    // none saved yet
  }

  let graphite: GraphiteListener | undefined;
  if (opts.graphitePort !== undefined) {
    try {
      graphite = await startGraphiteListener({
        port: opts.graphitePort,
        ...(opts.graphiteHost ? { host: opts.graphiteHost } : {}),
        labels: nodeLabels,
        onSamples: (s: Sample[]) => buffer.append(s),
      });
    } catch (e) {
      await hub.close();
      throw e;
    }
  }

  const handle = async (req: AgentMetricsRequest): Promise<{ status: number; body: unknown } | undefined> => {
    const { method, parts, url } = req;
    const allow = (m: string): void => {
      if (method !== m) throw new NubisError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}; use ${m}`);
    };
    try {
      if (parts[1] === 'monitors' && parts.length === 2) {
        allow('GET');
        return { status: 200, body: { monitors: hub.list() } };
      }
      if (parts[1] === 'monitors' && parts.length === 3) {
        const id = parts[2]!;
        if (method === 'DELETE') {
          if (!hub.remove(id)) throw new NubisError('NOT_FOUND', `no monitor ${id}`);
          save();
          return { status: 200, body: { ok: true } };
        }
        if (method !== 'PUT') throw new NubisError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}; use PUT or DELETE`);
        let doc: unknown;
        try {
          doc = JSON.parse(await req.body());
        } catch (e) {
          throw new NubisError('REQUEST_INVALID', `body is not JSON: ${(e as Error).message}`);
        }
        if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
          const body = doc as Record<string, unknown>;
          if (body['id'] !== undefined && body['id'] !== id) {
            throw new NubisError('REQUEST_INVALID', `id: ${JSON.stringify(body['id'])} does not match the path's ${JSON.stringify(id)}`, { details: { path: 'id' } });
          }
          doc = { ...body, id };
        }
        const spec = hub.set(checkMonitorSpec(doc));
        save();
        return { status: 200, body: { monitor: spec } };
      }
      if (parts[1] === 'metrics' && parts.length === 2) {
        if (method === 'POST') {
          const r = parsePushBody(req.contentType, await req.body(), { labels: nodeLabels });
          push.requests++;
          push.accepted += r.samples.length;
          push.malformed += r.malformed.length;
          buffer.append(r.samples);
          return { status: 200, body: { accepted: r.samples.length, malformed: r.malformed.length, examples: r.malformed.slice(0, 5) } };
        }
        allow('GET');
        const after = intParam(url, 'after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
        const limit = intParam(url, 'limit', 0, MAX_READ) ?? DEFAULT_READ;
        const waitMs = intParam(url, 'waitMs', 0, MAX_WAIT_MS) ?? 0;
        if (waitMs > 0) await buffer.waitFor(after, waitMs, req.signal);
        return { status: 200, body: buffer.read(after, limit) };
      }
      if (parts[1] === 'metrics' && parts[2] === 'stats' && parts.length === 3) {
        allow('GET');
        const g: GraphiteListenerStats | undefined = graphite?.stats();
        return {
          status: 200,
          body: { buffer: { capacity: buffer.capacity, end: buffer.end() }, push, ...(graphite ? { graphite: { port: graphite.port, ...g } } : {}) },
        };
      }
      return undefined;
    } catch (e) {
      if (isNubisError(e)) return errorReply(e);
      throw e;
    }
  };

  return {
    hub,
    buffer,
    ...(graphite ? { graphitePort: graphite.port } : {}),
    handle,
    async close() {
      await hub.close();
      await graphite?.close();
    },
  };
}

function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new NubisError('REQUEST_INVALID', `${name}: must be a whole number`, { details: { path: name } });
  const n = Number(raw);
  if (n < min || n > max) throw new NubisError('REQUEST_INVALID', `${name}: must be from ${min} to ${max}`, { details: { path: name } });
  return n;
}
