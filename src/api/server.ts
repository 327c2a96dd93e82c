/**
 * The HTTP server: routing, auth, correlation ids, body reading and the one error boundary.
 * Every failure becomes `{ "error": { code, message, retryable, details? } }` with the
 * catalogue's status; only a bug in Nubis yields INTERNAL (500), and it is logged, never fatal.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { NubisError, toNubisError } from '../errors/index.js';
import type { ControlPlane } from '../engine/views.js';
import type { Store } from '../store/index.js';
import type { MetricsService } from '../metrics/index.js';
import type { ScalingService } from '../scaling/index.js';
import type { WorkflowsController } from '../workflows/index.js';
import type { AlertsService } from '../operations/index.js';
import { buildAlertRoutes } from './routes-alerts.js';
import type { Backups, Recovery } from '../operations/index.js';
import { createAccessControl } from './access-control.js';
import { createUserService, type UserService } from '../users/index.js';
import { findJsonSyntaxError } from './json.js';
import { buildOpenApi } from './openapi.js';
import { matchRoute, parsePathParams, parseQuery, type Route, type StreamSink } from './router.js';
import { buildRoutes } from './routes.js';
import { buildTokenRoutes } from './routes-tokens.js';
import { buildUserRoutes } from './routes-users.js';
import { buildCatalogRoutes } from './routes-catalog.js';
import type { CatalogService } from '../catalog/index.js';
import { NAMED_SCHEMAS } from './schemas.js';
import { validateBody } from './validate.js';
import { valueWithoutPaths } from './no-paths.js';

export const DEFAULT_BODY_LIMIT = 20 * 1024 * 1024;
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ApiServerOptions {
  controlPlane: ControlPlane;
  store: Store;
  /** Largest accepted request body in bytes. Default 20 MiB. */
  bodyLimit?: number;
  /** Interval of SSE heartbeat comments. Default 15 s. */
  heartbeatMs?: number;
  /** Where internal errors are reported. Default: console.error. */
  log?: (message: string) => void;
  /** Version shown in the OpenAPI document. */
  version?: string;
  /** Metrics, rules and schedules (src/metrics/service.ts); their routes answer 503 without it. */
  metrics?: MetricsService;
  /** Scaling rules and schedules (src/scaling); their routes answer 503 without it. */
  scaling?: ScalingService;
  /** Workflows (src/workflows/controller); their routes answer 503 without it. */
  workflows?: WorkflowsController;
  /** Alerts (src/operations/alerts); their routes answer 503 without it. */
  alerts?: AlertsService;
  /** Recovery ladders (src/operations/recovery); their routes answer 503 without it. */
  recovery?: Recovery;
  /** Backups (src/operations/backups); their routes answer 503 without it. */
  backups?: Backups;
  /** Users, sessions and the tokens' roles (src/users). Default: one over `store`. */
  users?: UserService;
  // [users] entries below (helper h/users; keep them under this line)
  /** The service catalog (src/catalog); its routes answer 503 without it. */
  catalog?: CatalogService;
}

export interface InjectRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else as JSON (with content-type set if absent). */
  body?: unknown;
  /** For streams: disconnect once the body received so far satisfies this. */
  until?: (body: string) => boolean;
}

export interface InjectResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json<T = unknown>(): T;
}

export interface ApiServer {
  /** A node:http request listener. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Listens on `port` (0 for any free one) and `host` (default 127.0.0.1). */
  listen(port: number, host?: string): Promise<{ port: number }>;
  /** Ends event streams, stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
  /** Runs one request in process, without a socket (as client address `inject`). */
  inject(req: InjectRequest): Promise<InjectResponse>;
  /** Every operation the router knows. */
  readonly routes: readonly Route[];
}

/** The transport-independent view of one request and its response. */
interface Exchange {
  method: string;
  /** The client's address; whether the connection is TLS. */
  client: { address: string; tls: boolean };
  url: string;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Buffer | string>;
  signal: AbortSignal;
  sink: StreamSink;
  headersSent(): boolean;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  const len = header(headers, 'content-length');
  return (len !== undefined && len !== '0') || header(headers, 'transfer-encoding') !== undefined;
}

/** Reads the body up to `limit` bytes; BODY_TOO_LARGE beyond it. */
async function readBody(ex: Exchange, limit: number): Promise<Buffer> {
  const declared = header(ex.headers, 'content-length');
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
    throw new NubisError('BODY_TOO_LARGE', `request body of ${declared} bytes is larger than the limit of ${limit} bytes`, {
      details: { limit },
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ex.body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) {
      throw new NubisError('BODY_TOO_LARGE', `request body is larger than the limit of ${limit} bytes`, { details: { limit } });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/** Reads and parses a JSON body: 415 for another media type, 400 for empty or malformed JSON. */
async function readJson(ex: Exchange, limit: number): Promise<unknown> {
  const type = header(ex.headers, 'content-type');
  if (type === undefined && !hasBody(ex.headers)) {
    throw new NubisError('REQUEST_INVALID', 'a JSON request body is required');
  }
  if (type === undefined || !JSON_TYPE.test(type.trim())) {
    throw new NubisError('UNSUPPORTED_MEDIA_TYPE', `expected content-type application/json, found ${type === undefined ? 'none' : JSON.stringify(type)}`);
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new NubisError('UNSUPPORTED_MEDIA_TYPE', `expected a UTF-8 JSON body, found charset ${JSON.stringify(charset)}`);
  }
  const raw = await readBody(ex, limit);
  if (raw.length === 0) throw new NubisError('REQUEST_INVALID', 'a JSON request body is required');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new NubisError('REQUEST_INVALID', 'request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const p = findJsonSyntaxError(text);
    const where = p ? `${p.message} at line ${p.line}, column ${p.column} (position ${p.position})` : 'syntax error';
    throw new NubisError('REQUEST_INVALID', `request body is not valid JSON: ${where}`, {
      details: p ? { position: p.position, line: p.line, column: p.column } : undefined,
    });
  }
}

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const limit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = opts.log ?? ((m: string) => console.error(m));
  const users = opts.users ?? createUserService({ store: opts.store, events: opts.controlPlane.events });
  const access = createAccessControl(users);
  let openapi: object | undefined;
  const routes: Route[] = [
    ...buildRoutes({
      controlPlane: opts.controlPlane,
      heartbeatMs: opts.heartbeatMs ?? 15_000,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      ...(opts.scaling ? { scaling: opts.scaling } : {}),
      ...(opts.workflows ? { workflows: opts.workflows } : {}),
      ...(opts.recovery ? { recovery: opts.recovery } : {}),
      ...(opts.backups ? { backups: opts.backups } : {}),
      openapi: () => (openapi ??= buildOpenApi(routes, opts.version ?? '0.1.0')),
    }),
    ...buildTokenRoutes(opts.store, opts.controlPlane.events),
    // [users] entries below (helper h/users; keep them under this line)
    ...buildUserRoutes(users, opts.store, opts.controlPlane.events),
    ...buildCatalogRoutes(opts.catalog),
    ...buildAlertRoutes(opts.alerts),
  ];
  /** Aborters of in-flight exchanges, so close() can end event streams. */
  const live = new Set<AbortController>();

  async function run(ex: Exchange): Promise<void> {
    const given = header(ex.headers, 'x-correlation-id');
    const correlationId = given !== undefined && CORRELATION_ID.test(given) ? given : crypto.randomUUID();
    const baseHeaders: Record<string, string> = { 'x-correlation-id': correlationId };
    const sink: StreamSink = {
      ...ex.sink,
      writeHead: (status, headers) => ex.sink.writeHead(status, { ...baseHeaders, ...headers }),
    };
    const respond = (status: number, body: unknown, extra: Record<string, string> = {}): void => {
      const text = JSON.stringify(body);
      sink.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra });
      sink.write(text);
      sink.end();
    };
    try {
      let url: URL;
      try {
        if (!ex.url.startsWith('/')) throw new Error('not a path');
        url = new URL(`http://nubis.invalid${ex.url}`);
      } catch {
        throw new NubisError('REQUEST_INVALID', `malformed request target ${JSON.stringify(ex.url.slice(0, 200))}`);
      }
      const m = matchRoute(routes, ex.method, url.pathname);
      if (m.kind === 'none') throw new NubisError('NOT_FOUND', `no route for ${ex.method} ${url.pathname}`);
      if (m.kind === 'method') {
        throw new NubisError('METHOD_NOT_ALLOWED', `${ex.method} is not allowed on ${url.pathname}; allowed: ${m.allow.join(', ')}`, {
          details: { allow: m.allow },
        });
      }
      if (given !== undefined && given !== correlationId) {
        throw new NubisError('REQUEST_INVALID', `header "x-correlation-id": expected 1 to 128 of A-Z a-z 0-9 . _ : -, found ${JSON.stringify(given.slice(0, 60))}`, {
          details: { parameter: 'x-correlation-id' },
        });
      }
      const route = m.route;
      const who = route.auth ? await access.authenticate(ex.headers) : undefined;
      if (who) access.authorize(route, ex.method, who, ex.headers);
      const params = parsePathParams(route, m.rawParams);
      const query = parseQuery(route, url.searchParams);
      let body: unknown;
      if (route.body) {
        const schema = NAMED_SCHEMAS[route.body];
        if (!schema) throw new Error(`route ${route.operationId} names unknown schema ${route.body}`);
        body = validateBody(schema, await readJson(ex, limit));
      } else {
        await readBody(ex, limit);
      }
      const reply = await route.handle({
        params, query, body, headers: ex.headers, signal: ex.signal, stream: sink, client: ex.client,
        caller: who ? { actor: who.actor, tenant: who.tenant, correlationId } : { actor: 'anonymous', correlationId },
        ...(who ? { identity: who } : {}),
      });
      if (reply?.status === 204) {
        sink.writeHead(204, { 'cache-control': 'no-store', ...reply.headers });
        sink.end();
      } else if (reply) respond(reply.status, reply.body, reply.headers);
    } catch (e) {
      const err = toNubisError(e);
      if (err.code === 'INTERNAL') {
        log(`nubis api: internal error (correlation id ${correlationId}) on ${ex.method} ${ex.url}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      }
      if (ex.headersSent()) {
        sink.end();
        return;
      }
      const shown =
        err.code === 'INTERNAL'
          ? new NubisError('INTERNAL', `an unexpected error inside Nubis; the server log has the details under correlation id ${correlationId}`)
          : err;
      const extra: Record<string, string> = {};
      if (err.code === 'METHOD_NOT_ALLOWED') extra['allow'] = ((err.details as { allow: string[] }).allow ?? []).join(', ');
      if (err.code === 'UNAUTHORIZED') extra['www-authenticate'] = 'Bearer realm="nubis"';
      if (err.code === 'RATE_LIMITED') extra['retry-after'] = String(Math.max(1, Math.ceil(Number((err.details as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 1000) / 1000)));
      // the one place error bodies are rendered: they never name a file on this server
      respond(shown.status, { error: valueWithoutPaths(shown.toJSON()) }, extra);
    }
  }

  /** Runs an exchange; nothing escapes (a failure to even answer is logged). */
  function dispatch(ex: Exchange, ac: AbortController): void {
    live.add(ac);
    run(ex)
      .catch((e: unknown) => log(`nubis api: failed to answer ${ex.method} ${ex.url}: ${String(e)}`))
      .finally(() => live.delete(ac));
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    res.on('error', () => ac.abort());
    req.on('error', () => ac.abort());
    const ex: Exchange = {
      method: req.method ?? 'GET',
      client: { address: req.socket.remoteAddress ?? 'unknown', tls: (req.socket as { encrypted?: boolean }).encrypted === true },
      url: req.url ?? '/',
      headers: req.headers,
      body: req,
      signal: ac.signal,
      headersSent: () => res.headersSent,
      sink: {
        writeHead(status, headers) {
          if (res.headersSent) return;
          // An unread body would otherwise be drained on a kept-alive connection.
          if (!req.complete) headers = { ...headers, connection: 'close' };
          res.writeHead(status, headers);
        },
        write: (chunk) => (res.writableEnded || res.destroyed ? false : res.write(chunk)),
        backlog: () => res.writableLength,
        end() {
          if (!res.writableEnded) res.end();
        },
      },
    };
    dispatch(ex, ac);
  };

  const server = http.createServer(handler);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({
      error: { code: 'REQUEST_INVALID', message: `malformed HTTP request (${err.code ?? 'parse error'})`, retryable: false },
    });
    socket.end(
      `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  async function inject(r: InjectRequest): Promise<InjectResponse> {
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
    let payload: Buffer | undefined;
    if (r.body !== undefined) {
      payload = typeof r.body === 'string' ? Buffer.from(r.body) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(JSON.stringify(r.body));
      if (typeof r.body !== 'string' && !Buffer.isBuffer(r.body) && headers['content-type'] === undefined) {
        headers['content-type'] = 'application/json';
      }
      if (headers['content-length'] === undefined) headers['content-length'] = String(payload.length);
    }
    return new Promise<InjectResponse>((resolve) => {
      const ac = new AbortController();
      let status = 0;
      let out: Record<string, string> = {};
      let text = '';
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        ac.abort();
        resolve({ status, headers: out, body: text, json: <T>() => JSON.parse(text) as T });
      };
      const ex: Exchange = {
        method: r.method.toUpperCase(),
        client: { address: 'inject', tls: false },
        url: r.url,
        headers,
        body: (async function* () {
          if (payload && payload.length > 0) yield payload;
        })(),
        signal: ac.signal,
        headersSent: () => status !== 0,
        sink: {
          writeHead(s, h) {
            if (status !== 0) return;
            status = s;
            out = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
          },
          write(chunk) {
            if (done) return false;
            text += chunk;
            if (r.until?.(text)) finish();
            return true;
          },
          backlog: () => 0,
          end: finish,
        },
      };
      dispatch(ex, ac);
    });
  }

  return {
    handler,
    routes,
    inject,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const onError = (e: Error): void => reject(e);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve({ port: (server.address() as AddressInfo).port });
        });
      });
    },
    close() {
      for (const ac of live) ac.abort();
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        const force = setTimeout(() => server.closeAllConnections(), 5_000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
