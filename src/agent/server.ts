/**
 * The agent's HTTP face. Every route but `/healthz` needs `Authorization: Bearer <token>`.
 * With `tls` (every platform but `local`) it is HTTPS with mutual TLS: a connection without
 * the control plane's certificate of the installation CA fails in the handshake, /healthz included.
 * Errors are JSON `{ error: { code, message, retryable } }` with a code from the catalogue;
 * no input crashes the agent.
 *
 *   GET  /healthz                               readiness, no auth: `{ ok, node }` (503 while restoring)
 *   POST /v1/bootstrap                          the one-time bootstrap of a cloud agent (./bootstrap.ts); CONFLICT once done
 *   GET  /v1/status                             AgentStatus
 *   POST /v1/steps?waitMs=N                     body StepRequest → StepResult (state `running` if not done within N ms)
 *   GET  /v1/steps/<runId>?waitMs=N             StepResult of a known run, 404 NOT_FOUND otherwise
 *   POST /v1/instances/<instance>/stop          kills the supervised process → `{ ok: true }`
 *   GET  /v1/instances/<instance>/logs[?step=S] text/plain; 404 when there is no log
 *   GET|PUT /v1/instances/<instance>/archive    a tar of instance paths out, or in (backups; ./archive.ts)
 *   /v1/monitors…, /v1/metrics…                 monitors, pulled samples, push (./sensors/agent-metrics.ts)
 *   POST /v1/jobs                               body JobRequest → JobInfo (starts the job, returns at once; ./jobs.ts)
 *   GET  /v1/jobs                               JobStatusList
 *   GET  /v1/jobs/feed?after=N&waitMs=M         JobFeed: records after N, held up to M ms until one comes
 *   POST /v1/jobs/feed?after=N&waitMs=M         the same, delivering body `{ answers: JobAnswer[] }` first
 *   POST /v1/jobs/answers                       body `{ answers: JobAnswer[] }` → `{ ok: true }`
 *   POST /v1/jobs/<jobId>/kill                  kills the job's process group → `{ ok: true }`; 404 unknown job
 *   GET  /v1/jobs/<jobId>/logs                  text/plain output of the try; 404 when none
 *   GET  /v1/jobs/logs?workflow=W&path=P&try=N  the same by task path and try number
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ERROR_CODES, type ErrorCode } from '../errors/index.js';
import { BootstrapRefused, type AgentBootstrap } from './bootstrap.js';
import { createJobRunner, type JobRunner } from './jobs.js';
import { checkArchivePath, instanceDirOf, receiveArchive, sendArchive } from './archive.js';
import { createNodeRunner, type NodeRunner, type RunnerOptions } from './runner.js';
import { startAgentMetrics } from './sensors/agent-metrics.js';
import { agentServerOptions, isControlPlane, type AgentServerTls } from './tls/index.js';
import {
  checkInstanceName, checkJobAnswers, checkJobId, checkJobRequest, checkSeq, checkStepName, checkStepRequest, checkTaskPath,
  checkTryNo, checkWorkflowName, InvalidInput,
} from './validate.js';

export interface AgentOptions extends RunnerOptions {
  /** Bearer token every request but `/healthz` must carry. */
  token: string;
  /**
   * Serve HTTPS with this certificate and accept only clients with the control plane's
   * certificate of `ca` (mutual TLS); absent: plain HTTP (the `local` platform, on loopback).
   */
  tls?: AgentServerTls;
  /**
   * Wait for the control plane's one-time bootstrap (see ./bootstrap.ts) instead of `tls` and
   * `token`: until it came, only /healthz and POST /v1/bootstrap answer.
   */
  bootstrap?: AgentBootstrap;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Restart the start processes recorded in agent-state.json before serving. Default true. */
  restore?: boolean;
  /** Largest accepted request body. Default 64 MiB (artefacts travel base64 in steps). */
  maxBodyBytes?: number;
  /** What the jobs' `nubis` shim runs outside a job: `[node, cli main]`. Default this install's CLI. */
  jobCli?: readonly string[];
  /** Graphite plaintext listener port feeding the metric buffer; absent: no listener. 0: any free port. */
  graphitePort?: number;
  /** Address the Graphite listener binds; default `host` (cloud VMs: 127.0.0.1, so only the node's own processes send). */
  graphiteHost?: string;
  /** Metric buffer size in samples. Default 100,000 (oldest overwritten on overflow). */
  metricsBufferSamples?: number;
}

export interface RunningAgent {
  readonly url: string;
  readonly port: number;
  /** The Graphite listener's port, when one was asked for. */
  readonly graphitePort?: number;
  /** Stops serving and probing; with `killProcesses` also kills supervised processes and running handlers. */
  close(opts?: { killProcesses?: boolean }): Promise<void>;
}

/** Longest a single request waits for a run before answering `running`. */
const MAX_WAIT_MS = 30_000;

class HttpError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, code: ErrorCode, message: string): void {
  const entry = ERROR_CODES[code];
  send(res, entry.status, { error: { code, message, retryable: entry.retryable } });
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new HttpError('BODY_TOO_LARGE', `request body exceeds ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function waitParam(url: URL): number {
  const raw = url.searchParams.get('waitMs');
  if (raw === null) return MAX_WAIT_MS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new HttpError('REQUEST_INVALID', 'waitMs must be a non-negative number');
  return Math.min(n, MAX_WAIT_MS);
}

/** Starts the agent: listens, restarts the start processes it had before a restart, then answers. */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const runner: NodeRunner = createNodeRunner(opts);
  const jobs: JobRunner = createJobRunner({
    sandbox: opts.sandbox, nodeId: opts.nodeId,
    ...(opts.killGraceMs === undefined ? {} : { killGraceMs: opts.killGraceMs }),
    ...(opts.jobCli ? { cli: opts.jobCli } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  const metrics = await startAgentMetrics({
    nodeId: opts.nodeId,
    sandbox: opts.sandbox,
    ...(opts.graphitePort === undefined ? {} : { graphitePort: opts.graphitePort, graphiteHost: opts.graphiteHost ?? opts.host ?? '127.0.0.1' }),
    ...(opts.metricsBufferSamples === undefined ? {} : { bufferSamples: opts.metricsBufferSamples }),
    instancePid: (name) => runner.status().instances.find((i) => i.instance === name && i.process === 'running')?.pid,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  let expected = opts.bootstrap ? undefined : Buffer.from(`Bearer ${opts.token}`);
  const authorized = (req: IncomingMessage): boolean => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return expected !== undefined && got.length === expected.length && timingSafeEqual(got, expected);
  };
  const tls = opts.bootstrap ? opts.bootstrap.initialTls() : opts.tls;

  let ready = false;
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
    const method = req.method ?? 'GET';
    const allow = (m: string): void => {
      if (method !== m) throw new HttpError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}; use ${m}`);
    };

    if (url.pathname === '/healthz') {
      allow('GET');
      if (!ready) throw new HttpError('UNAVAILABLE', 'the agent is restoring its processes');
      return send(res, 200, { ok: true, node: opts.nodeId });
    }
    if (!ready) throw new HttpError('UNAVAILABLE', 'the agent is restoring its processes');
    if (tls && !isControlPlane(req.socket as TLSSocket)) throw new HttpError('FORBIDDEN', 'only the control plane may call this agent');
    if (url.pathname === '/v1/bootstrap') {
      allow('POST');
      if (!opts.bootstrap) throw new HttpError('CONFLICT', 'this agent has no bootstrap pending');
      const text = await readBody(req, 64 * 1024);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError('REQUEST_INVALID', 'body is not JSON');
      }
      try {
        const next = opts.bootstrap.accept(body);
        (server as TlsServer).setSecureContext({ ca: next.tls.ca, cert: next.tls.cert, key: next.tls.key });
        expected = Buffer.from(`Bearer ${next.token}`);
      } catch (e) {
        if (e instanceof BootstrapRefused) throw new HttpError(e.code, e.message);
        throw e;
      }
      opts.log?.('bootstrapped: serving with the certificate the control plane issued');
      return send(res, 200, { ok: true, node: opts.nodeId });
    }
    if (expected === undefined) throw new HttpError('UNAVAILABLE', 'the agent waits for its bootstrap by the control plane');
    if (!authorized(req)) throw new HttpError('UNAUTHORIZED', 'a valid bearer token is required');
    if (parts[0] !== 'v1') throw new HttpError('NOT_FOUND', `no route ${url.pathname}`);

    if (parts.length === 2 && parts[1] === 'status') {
      allow('GET');
      return send(res, 200, runner.status());
    }
    if (parts[1] === 'steps' && parts.length === 2) {
      allow('POST');
      const wait = waitParam(url);
      const text = await readBody(req, maxBody);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new HttpError('REQUEST_INVALID', `body is not JSON: ${(e as Error).message}`);
      }
      return send(res, 200, await runner.runStep(checkStepRequest(body), wait));
    }
    if (parts[1] === 'steps' && parts.length === 3) {
      allow('GET');
      const r = await runner.getRun(parts[2]!, waitParam(url));
      if (!r) throw new HttpError('NOT_FOUND', `no run ${parts[2]}`);
      return send(res, 200, r);
    }
    if (parts[1] === 'jobs') return routeJobs(req, res, url, parts.slice(2), method);
    if (parts[1] === 'monitors' || parts[1] === 'metrics') {
      // a held read (GET /v1/metrics?waitMs=) ends when its caller goes away
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      const r = await metrics.handle({
        method, parts, url, contentType: req.headers['content-type'], body: () => readBody(req, maxBody), signal: gone.signal,
      });
      if (r) return send(res, r.status, r.body);
    }
    if (parts[1] === 'instances' && parts.length === 4) {
      const name = checkInstanceName(parts[2], 'instance');
      if (parts[3] === 'stop') {
        allow('POST');
        await runner.stopInstance(name);
        return send(res, 200, { ok: true });
      }
      if (parts[3] === 'archive') {
        const dir = instanceDirOf(opts.sandbox, name);
        if (method === 'PUT') {
          const r = await receiveArchive(req, dir);
          if (r.exit !== 0) throw new HttpError('REQUEST_INVALID', `tar could not extract the archive (exit ${r.exit}): ${r.error}`);
          return send(res, 200, { sizeBytes: r.sizeBytes, sha256: r.sha256 });
        }
        allow('GET');
        const paths = url.searchParams.getAll('path').map((p, i) => checkArchivePath(p, `path[${i}]`));
        if (paths.length === 0) throw new HttpError('REQUEST_INVALID', 'path: name at least one path of the instance directory');
        return sendArchive(res, dir, paths);
      }
      if (parts[3] === 'logs') {
        allow('GET');
        const stepParam = url.searchParams.get('step');
        const step = stepParam === null || stepParam === '' ? undefined : checkStepName(stepParam, 'step');
        const text = runner.logs(name, step);
        if (text === undefined) throw new HttpError('NOT_FOUND', `no log for ${name}${step ? ` step ${step}` : ''}`);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
    }
    throw new HttpError('NOT_FOUND', `no route ${method} ${url.pathname}`);
  };

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    const text = await readBody(req, maxBody);
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpError('REQUEST_INVALID', `body is not JSON: ${(e as Error).message}`);
    }
  };
  const sendText = (res: ServerResponse, text: string): void => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const routeJobs = async (req: IncomingMessage, res: ServerResponse, url: URL, rest: string[], method: string): Promise<void> => {
    const allow = (m: string): void => {
      if (method !== m) throw new HttpError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}; use ${m}`);
    };
    if (rest.length === 0) {
      if (method === 'GET') return send(res, 200, jobs.status());
      allow('POST');
      return send(res, 200, await jobs.run(checkJobRequest(await readJson(req))));
    }
    if (rest.length === 1 && rest[0] === 'feed') {
      if (method === 'POST') jobs.answer(checkJobAnswers(await readJson(req)));
      else allow('GET');
      const after = checkSeq(url.searchParams.get('after'), 'after');
      const wait = waitParam(url);
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      return send(res, 200, await jobs.feed(after, wait, gone.signal));
    }
    if (rest.length === 1 && rest[0] === 'answers') {
      allow('POST');
      jobs.answer(checkJobAnswers(await readJson(req)));
      return send(res, 200, { ok: true });
    }
    if (rest.length === 1 && rest[0] === 'logs') {
      allow('GET');
      const q = url.searchParams;
      const tryText = q.get('try') ?? '';
      const ref = {
        workflow: checkWorkflowName(q.get('workflow') ?? undefined, 'workflow'),
        path: checkTaskPath(q.get('path') ?? undefined, 'path'),
        tryNo: checkTryNo(/^[0-9]{1,9}$/.test(tryText) ? Number(tryText) : undefined, 'try'),
      };
      const text = jobs.logs(ref);
      if (text === undefined) throw new HttpError('NOT_FOUND', `no output for ${ref.workflow}${ref.path} try ${ref.tryNo}`);
      return sendText(res, text);
    }
    if (rest.length === 2) {
      const id = checkJobId(rest[0], 'jobId');
      if (rest[1] === 'kill') {
        allow('POST');
        if (!(await jobs.kill(id))) throw new HttpError('NOT_FOUND', `no job ${id}`);
        return send(res, 200, { ok: true });
      }
      if (rest[1] === 'logs') {
        allow('GET');
        const text = jobs.logs(id);
        if (text === undefined) throw new HttpError('NOT_FOUND', `no output for job ${id}`);
        return sendText(res, text);
      }
    }
    throw new HttpError('NOT_FOUND', `no route ${method} ${url.pathname}`);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) sendError(res, e.code, e.message);
      else if (e instanceof InvalidInput) sendError(res, 'REQUEST_INVALID', e.message);
      else if (e instanceof URIError) sendError(res, 'REQUEST_INVALID', 'malformed percent-encoding in the path');
      else {
        opts.log?.(`internal error: ${(e as Error)?.stack ?? String(e)}`);
        sendError(res, 'INTERNAL', (e as Error)?.message ?? 'internal error');
      }
    });
  };
  const server = tls ? createTlsServer(agentServerOptions(tls), handler) : createServer(handler);
  server.on('tlsClientError', () => {});
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => {
      void metrics.close();
      reject(e);
    };
    server.once('error', onError);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  if (opts.restore ?? true) {
    await runner.restore();
    await jobs.restore();
    await jobs.reapOrphans();
  }
  ready = true;

  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    ...(metrics.graphitePort === undefined ? {} : { graphitePort: metrics.graphitePort }),
    async close(closeOpts) {
      await metrics.close();
      await jobs.close(closeOpts?.killProcesses ?? false);
      await runner.close(closeOpts?.killProcesses ?? false);
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}
