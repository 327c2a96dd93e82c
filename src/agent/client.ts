/**
 * AgentClient over the agent's HTTP routes (see ./server.ts).
 *
 * Failure meaning: a network failure, a hung agent or a run the agent no longer knows (it was
 * restarted) throws AGENT_UNREACHABLE (retryable; retrying with the same runId is safe). An
 * aborted signal throws ABORTED. Errors the agent reports keep its code. A handler that fails
 * or times out is not an error here: runStep returns its StepResult with that state.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ERROR_CODES, NubisError, type ErrorCode } from '../errors/index.js';
import type { HandlerName } from '../model/types.js';
import type { AgentClient, AgentStatus, JobFeed, JobInfo, JobStatusList, StepRequest, StepResult } from './protocol.js';
import { agentClientOptions, type AgentTlsClient } from './tls/index.js';
import { fetchArchive, pushArchive } from './archive-client.js';

export { agentRequest, type AgentTransport } from './request.js';
import { agentRequest, type AgentTransport } from './request.js';

/** How long one long-poll request waits on the agent. */
const POLL_MS = 20_000;
/** Extra time allowed beyond the handler's timeout (kill grace, queueing). */
const MARGIN_MS = 30_000;

interface Reply {
  status: number;
  text: string;
}

function call(
  base: URL, tls: AgentTransport, token: string, method: string, path: string, body: unknown, signal: AbortSignal, timeoutMs: number,
  pool: HttpAgent | false = false,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new NubisError('ABORTED', 'the agent call was aborted'));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const req = agentRequest(new URL(path, base), tls, { method, headers, agent: pool, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => reject(mapNetworkError(e, base, signal)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(mapNetworkError(e, base, signal)));
    req.end(payload);
  });
}

function mapNetworkError(e: Error, base: URL, signal: AbortSignal): NubisError {
  if (signal.aborted || e.name === 'AbortError') return new NubisError('ABORTED', 'the agent call was aborted', { cause: e });
  return new NubisError('AGENT_UNREACHABLE', `agent at ${base.origin}: ${e.message}`, { cause: e });
}

function replyError(r: Reply, base: URL): NubisError {
  let code: ErrorCode = r.status === 401 ? 'UNAUTHORIZED' : r.status === 404 ? 'NOT_FOUND' : r.status === 400 ? 'REQUEST_INVALID' : 'AGENT_UNREACHABLE';
  let message = `agent at ${base.origin} answered ${r.status}`;
  try {
    const parsed = JSON.parse(r.text) as { error?: { code?: string; message?: string } };
    const c = parsed.error?.code;
    if (c !== undefined && Object.hasOwn(ERROR_CODES, c)) code = c as ErrorCode;
    if (parsed.error?.message) message = `agent: ${parsed.error.message}`;
  } catch {
    // not JSON: keep the status-derived code
  }
  return new NubisError(code, message, { details: { httpStatus: r.status } });
}

function json<T>(r: Reply, base: URL): T {
  if (r.status < 200 || r.status > 299) throw replyError(r, base);
  try {
    return JSON.parse(r.text) as T;
  } catch {
    throw new NubisError('AGENT_UNREACHABLE', `agent at ${base.origin} sent a body that is not JSON`);
  }
}

/**
 * A client for the agent at `url` (e.g. `http://127.0.0.1:21000`) using bearer `token`; an
 * `https:` URL needs `tls`, and an agent whose certificate is not of its CA and identity fails
 * as AGENT_UNREACHABLE before anything is sent.
 */
export function createHttpAgentClient(url: string, token: string, tls?: AgentTransport): AgentClient {
  const base = new URL(url);
  const requestTimeout = 15_000;
  // job calls come in quick succession (a feed read per child command): keep their connections
  const pool = base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 8 }) : new HttpAgent({ keepAlive: true, maxSockets: 8 });
  return {
    async runStep(req: StepRequest, signal: AbortSignal): Promise<StepResult> {
      const deadline = Date.now() + req.timeoutMs + MARGIN_MS;
      let r = json<StepResult>(await call(base, tls, token, 'POST', `/v1/steps?waitMs=${POLL_MS}`, req, signal, POLL_MS + requestTimeout), base);
      while (r.state === 'running') {
        if (Date.now() > deadline) {
          throw new NubisError('AGENT_UNREACHABLE', `agent did not finish run ${req.runId} within ${req.timeoutMs + MARGIN_MS} ms`);
        }
        const reply = await call(base, tls, token, 'GET', `/v1/steps/${encodeURIComponent(req.runId)}?waitMs=${POLL_MS}`, undefined, signal, POLL_MS + requestTimeout);
        if (reply.status === 404) throw new NubisError('AGENT_UNREACHABLE', `agent lost run ${req.runId} (it was restarted)`);
        r = json<StepResult>(reply, base);
      }
      return r;
    },
    async stopInstance(instance, signal) {
      json<unknown>(await call(base, tls, token, 'POST', `/v1/instances/${encodeURIComponent(instance)}/stop`, undefined, signal, requestTimeout + 10_000), base);
    },
    async status(signal) {
      return json<AgentStatus>(await call(base, tls, token, 'GET', '/v1/status', undefined, signal, requestTimeout), base);
    },
    async logs(instance: string, step: HandlerName | undefined, signal: AbortSignal) {
      const q = step === undefined ? '' : `?step=${encodeURIComponent(step)}`;
      const r = await call(base, tls, token, 'GET', `/v1/instances/${encodeURIComponent(instance)}/logs${q}`, undefined, signal, requestTimeout);
      if (r.status === 404) return '';
      if (r.status < 200 || r.status > 299) throw replyError(r, base);
      return r.text;
    },
    async runJob(req, signal) {
      return json<JobInfo>(await call(base, tls, token, 'POST', '/v1/jobs', req, signal, requestTimeout + 10_000, pool), base);
    },
    async killJob(jobId, signal) {
      json<unknown>(await call(base, tls, token, 'POST', `/v1/jobs/${encodeURIComponent(jobId)}/kill`, undefined, signal, requestTimeout + 10_000), base);
    },
    async jobStatus(signal) {
      return json<JobStatusList>(await call(base, tls, token, 'GET', '/v1/jobs', undefined, signal, requestTimeout), base);
    },
    async jobFeed(after, waitMs, signal, answers) {
      const wait = Math.max(0, Math.min(waitMs, POLL_MS));
      const path = `/v1/jobs/feed?after=${after}&waitMs=${wait}`;
      const r = answers && answers.length > 0
        ? await call(base, tls, token, 'POST', path, { answers }, signal, wait + requestTimeout, pool)
        : await call(base, tls, token, 'GET', path, undefined, signal, wait + requestTimeout, pool);
      return json<JobFeed>(r, base);
    },
    async answerJobs(answers, signal) {
      json<unknown>(await call(base, tls, token, 'POST', '/v1/jobs/answers', { answers }, signal, requestTimeout, pool), base);
    },
    async jobLogs(job, signal) {
      const path = typeof job === 'string'
        ? `/v1/jobs/${encodeURIComponent(job)}/logs`
        : `/v1/jobs/logs?workflow=${encodeURIComponent(job.workflow)}&path=${encodeURIComponent(job.path)}&try=${job.tryNo}`;
      const r = await call(base, tls, token, 'GET', path, undefined, signal, requestTimeout);
      if (r.status === 404) return '';
      if (r.status < 200 || r.status > 299) throw replyError(r, base);
      return r.text;
    },
    archive: (instance, paths, signal) => fetchArchive(base, tls, token, instance, paths, signal),
    extract: (instance, body, signal) => pushArchive(base, tls, token, instance, body, signal),
  };
}

/**
 * Whether the agent at `url` answers its unauthenticated `/healthz` as node `id` (within 1 s).
 * Never throws: no answer, another server or another node's agent is `false`.
 */
export function agentAnswers(url: string, id: string, tls?: AgentTransport): Promise<boolean> {
  return new Promise((resolve) => {
    let req: ClientRequest;
    try {
      req = agentRequest(new URL(`${url}/healthz`), tls, { method: 'GET', agent: false, timeout: 1000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(res.statusCode === 200 && (JSON.parse(Buffer.concat(chunks).toString()) as { node?: string }).node === id);
          } catch {
            resolve(false);
          }
        });
      });
    } catch {
      return resolve(false);
    }
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
