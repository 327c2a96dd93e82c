/**
 * A client for the agent's monitoring routes (see ./agent-metrics.ts), apart from AgentClient
 * so the lifecycle protocol stays as it is.
 *
 * Failure meaning: a network failure or an agent that does not answer within 15 s (plus the hold of a held read) throws
 * AGENT_UNREACHABLE (retryable); an aborted signal throws ABORTED; an error the agent reports
 * keeps its code (REQUEST_INVALID for a bad monitor, NOT_FOUND, UNAUTHORIZED).
 */
import { agentRequest, type AgentTransport } from '../client.js';
import { ERROR_CODES, NubisError, type ErrorCode } from '../../errors/index.js';
import type { SampleRead } from './buffer.js';
import type { MonitorStatus } from './hub.js';
import type { MonitorSpec } from './spec.js';

export interface AgentMetricsClient {
  monitors(signal?: AbortSignal): Promise<MonitorStatus[]>;
  /** Adds or replaces a monitor; resolves with the spec as the agent keeps it. */
  setMonitor(spec: MonitorSpec, signal?: AbortSignal): Promise<MonitorSpec>;
  /** Resolves false when the agent had no such monitor. */
  removeMonitor(id: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * Samples after `after` (0 at first; then the returned `cursor`). With `waitMs`, the agent holds
   * the answer until a sample arrives or `waitMs` pass (a held read: the control plane's stream).
   */
  metrics(after: number, opts?: { limit?: number; waitMs?: number; signal?: AbortSignal }): Promise<SampleRead>;
}

const TIMEOUT_MS = 15_000;

function call(base: URL, tls: AgentTransport, token: string, method: string, path: string, body: unknown, signal: AbortSignal | undefined, heldMs = 0): Promise<{ status: number; text: string }> {
  const timeoutMs = TIMEOUT_MS + heldMs;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new NubisError('ABORTED', 'the agent call was aborted'));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const fail = (e: Error): NubisError =>
      signal?.aborted || e.name === 'AbortError'
        ? new NubisError('ABORTED', 'the agent call was aborted', { cause: e })
        : new NubisError('AGENT_UNREACHABLE', `agent at ${base.origin}: ${e.message}`, { cause: e });
    const req = agentRequest(new URL(path, base), tls, { method, headers, agent: false, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => reject(fail(e)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(fail(e)));
    req.end(payload);
  });
}

function parse<T>(r: { status: number; text: string }, base: URL): T {
  let doc: unknown;
  try {
    doc = JSON.parse(r.text);
  } catch {
    throw new NubisError('AGENT_UNREACHABLE', `agent at ${base.origin} answered ${r.status} with a body that is not JSON`);
  }
  if (r.status >= 200 && r.status <= 299) return doc as T;
  const err = (doc as { error?: { code?: string; message?: string; details?: unknown } }).error;
  const code: ErrorCode = err?.code !== undefined && Object.hasOwn(ERROR_CODES, err.code) ? (err.code as ErrorCode) : 'AGENT_UNREACHABLE';
  throw new NubisError(code, `agent: ${err?.message ?? `answered ${r.status}`}`, { details: err?.details ?? { httpStatus: r.status } });
}

/** A monitoring client for the agent at `url` using bearer `token` (and `tls` for an `https:` URL). */
export function createHttpAgentMetricsClient(url: string, token: string, tls?: AgentTransport): AgentMetricsClient {
  const base = new URL(url);
  return {
    async monitors(signal) {
      return parse<{ monitors: MonitorStatus[] }>(await call(base, tls, token, 'GET', '/v1/monitors', undefined, signal), base).monitors;
    },
    async setMonitor(spec, signal) {
      const r = await call(base, tls, token, 'PUT', `/v1/monitors/${encodeURIComponent(spec.id)}`, spec, signal);
      return parse<{ monitor: MonitorSpec }>(r, base).monitor;
    },
    async removeMonitor(id, signal) {
      const r = await call(base, tls, token, 'DELETE', `/v1/monitors/${encodeURIComponent(id)}`, undefined, signal);
      if (r.status === 404) return false;
      parse<unknown>(r, base);
      return true;
    },
    async metrics(after, opts = {}) {
      const q = new URLSearchParams({ after: String(after) });
      if (opts.limit !== undefined) q.set('limit', String(opts.limit));
      if (opts.waitMs !== undefined && opts.waitMs > 0) q.set('waitMs', String(Math.round(opts.waitMs)));
      return parse<SampleRead>(await call(base, tls, token, 'GET', `/v1/metrics?${q.toString()}`, undefined, opts.signal, opts.waitMs ?? 0), base);
    },
  };
}
