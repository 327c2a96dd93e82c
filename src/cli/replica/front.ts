/**
 * The HTTP face of a replica (`serve --replica`): what a load balancer sends traffic to.
 *
 * Served here, on every replica, from the database:
 *   GET /healthz              alive (always 200 while the process runs), with the replica's role
 *   GET /readyz               200 when this replica can take traffic: the database answered
 *                             within the lease time, and it leads with its controllers up or
 *                             knows who leads; 503 with the reason otherwise
 *   GET /v1/control-plane     replicas, who leads, the lease's token and expiry (token needed)
 *   GET /v1/events, /v1/events/stream
 *                             the audit log, streamed from the database (LISTEN/NOTIFY), so a
 *                             stream on any replica sees what the leader writes and outlives it
 * Everything else needs the engine: the leader serves it (its in-process API server), a
 * follower forwards it to the leader's advertised URL. A replica that cannot reach the database
 * refuses writes (STORE_UNAVAILABLE: use another replica) and only forwards reads.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NubisError, toNubisError } from '../../errors/index.js';
import { callerTenant, streamEvents, tenantEvents, type AccessControl } from '../../api/index.js';
import type { EventLog } from '../../events/index.js';
import type { EventFilter } from '../../store/index.js';
import type { LeaseKeeperView } from './lease-keeper.js';

/** Header on a request one replica forwarded to another: the replicas it passed, comma-separated (at most two hops, never back). */
export const FORWARDED_HEADER = 'x-nubis-forwarded-by';
const MAX_HOPS = 2;

export interface FrontOptions {
  replicaId: string;
  /** Who is calling (a bearer token or a session cookie), as the API server checks it. */
  auth: Pick<AccessControl, 'authenticate'>;
  events: EventLog;
  keeper: { view(): LeaseKeeperView; databaseReachable(): boolean };
  /** The leader's own API server (this replica leads and its controllers run), else undefined. */
  inner(): string | undefined;
  leaseMs: number;
  heartbeatMs?: number;
  log(message: string): void;
}

export interface Front {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = toNubisError(e);
  const shown = err.code === 'INTERNAL' ? new NubisError('INTERNAL', 'an unexpected error inside the replica front') : err;
  const extra: Record<string, string> = err.retryable && err.status === 503 ? { 'retry-after': '1' } : {};
  if (err.code === 'UNAUTHORIZED') extra['www-authenticate'] = 'Bearer realm="nubis"';
  send(res, shown.status, { error: shown.toJSON() }, extra);
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The control plane as the database says it is now: what `GET /v1/control-plane` answers. */
export function controlPlaneView(self: string, v: LeaseKeeperView, leaseMs: number): Record<string, unknown> {
  const l = v.lease;
  const live = l !== undefined && l.expiresAt > l.now;
  return {
    self,
    role: v.role,
    leaseMs,
    leader: live ? { replica: l.holder, token: l.token, since: iso(l.acquiredAt), expiresAt: iso(l.expiresAt), expiresInMs: l.expiresAt - l.now, ...(v.replicas.find((r) => r.id === l.holder) ? { url: v.replicas.find((r) => r.id === l.holder)!.advertiseUrl } : {}) } : null,
    replicas: v.replicas.map((r) => ({
      id: r.id, url: r.advertiseUrl, startedAt: iso(r.startedAt), heartbeatAt: iso(r.heartbeatAt),
      heartbeatAgeMs: l ? Math.max(0, l.now - r.heartbeatAt) : undefined,
      role: live && l.holder === r.id ? 'leader' : 'follower',
    })),
  };
}

class ReplicaFront implements Front {
  private readonly server: http.Server;
  private readonly streams = new Set<AbortController>();

  constructor(private readonly o: FrontOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => sendError(res, e));
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.abort();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://replica');
    const p = url.pathname;
    if (req.method === 'GET' && p === '/healthz') return send(res, 200, { ok: true, replica: this.o.replicaId, role: this.o.keeper.view().role });
    if (req.method === 'GET' && p === '/readyz') return this.ready(res);
    if (req.method === 'GET' && p === '/v1/control-plane') {
      await this.o.auth.authenticate(req.headers);
      return send(res, 200, controlPlaneView(this.o.replicaId, this.o.keeper.view(), this.o.leaseMs));
    }
    if (req.method === 'GET' && (p === '/v1/events' || p === '/v1/events/stream')) return this.events(req, res, url);
    return this.forward(req, res);
  }

  private ready(res: ServerResponse): void {
    const v = this.o.keeper.view();
    const base = { replica: this.o.replicaId, role: v.role };
    if (!this.o.keeper.databaseReachable()) return send(res, 503, { ...base, ready: false, reason: 'the database did not answer within the lease time' });
    if (v.role === 'leader' && !this.o.inner()) return send(res, 503, { ...base, ready: false, reason: 'this replica leads; its controllers are starting' });
    if (v.role === 'follower' && !v.leaderUrl) return send(res, 503, { ...base, ready: false, reason: 'no replica leads now (a failover is under way)' });
    send(res, 200, { ...base, ready: true, ...(v.leaderUrl ? { leader: v.leaderUrl } : {}) });
  }

  /** The audit log from the database, in the caller's tenant (as the API server serves it). */
  private async events(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const who = await this.o.auth.authenticate(req.headers);
    const events = tenantEvents(this.o.events, callerTenant(who));
    const q = (name: string): string | undefined => url.searchParams.get(name) ?? undefined;
    const int = (name: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d{1,15}$/.test(v.trim())) throw new NubisError('REQUEST_INVALID', `${name}: expected an integer ≥ 0, found ${JSON.stringify(v)}`, { details: { parameter: name } });
      return Number(v.trim());
    };
    const deployment = q('deployment');
    const kind = q('kind');
    if (url.pathname === '/v1/events') {
      const f: EventFilter = {};
      if (deployment !== undefined) f.deployment = deployment;
      if (kind !== undefined) f.kind = kind;
      const after = int('after', q('after'));
      if (after !== undefined) f.afterId = after;
      const limit = int('limit', q('limit'));
      if (limit !== undefined) f.limit = Math.min(Math.max(limit, 1), 10_000);
      if (q('correlationId') !== undefined) f.correlationId = q('correlationId')!;
      if (q('target') !== undefined) f.target = q('target')!;
      if (f.afterId === undefined) f.newest = true;
      return send(res, 200, { events: await events.list(f) });
    }
    const lastId = req.headers['last-event-id'];
    const fromHeader = int('Last-Event-ID', Array.isArray(lastId) ? lastId[0] : lastId);
    const fromQuery = int('after', q('after'));
    const after = fromHeader === undefined ? fromQuery : Math.max(fromHeader, fromQuery ?? 0);
    const ac = new AbortController();
    this.streams.add(ac);
    res.on('close', () => ac.abort());
    try {
      await streamEvents(events, {
        writeHead: (s, h) => res.writeHead(s, h),
        write: (c) => res.write(c),
        backlog: () => res.writableLength,
        end: () => res.end(),
      }, { heartbeatMs: this.o.heartbeatMs ?? 15_000, signal: ac.signal, ...(after !== undefined ? { after } : {}), ...(deployment !== undefined ? { deployment } : {}), ...(kind !== undefined ? { kind } : {}) });
    } finally {
      this.streams.delete(ac);
    }
  }

  /** To the leader's API server: this replica's own when it leads, else the leader's advertised URL. */
  private forward(req: IncomingMessage, res: ServerResponse): void {
    const v = this.o.keeper.view();
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write && !this.o.keeper.databaseReachable()) {
      throw new NubisError('STORE_UNAVAILABLE', `replica ${this.o.replicaId} cannot reach the database: it is read-only until it can; send writes to another replica`, {
        details: { replica: this.o.replicaId },
      });
    }
    const inner = this.o.inner();
    const raw = req.headers[FORWARDED_HEADER];
    const passed = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((x) => x.trim()).filter(Boolean);
    const forwarded = passed.includes(this.o.replicaId) || passed.length >= MAX_HOPS;
    let targets: string[] = [];
    if (v.role === 'leader') targets = inner ? [inner] : [];
    else if (!forwarded && v.leaderUrl) targets = [v.leaderUrl];
    else if (!forwarded && !write && !this.o.keeper.databaseReachable()) {
      // cut off from the database, this replica does not know who leads: the others do (freshest first)
      targets = [...v.replicas].sort((a, b) => b.heartbeatAt - a.heartbeatAt).filter((r) => r.id !== this.o.replicaId && !passed.includes(r.id)).map((r) => r.advertiseUrl);
    }
    if (targets.length === 0) {
      const why = v.role === 'leader' ? 'this replica has just taken the lead and is starting its controllers' : forwarded ? 'this replica no longer leads' : 'no replica leads now (a failover is under way)';
      throw new NubisError('UNAVAILABLE', `${why}; retry in a moment`, { details: { replica: this.o.replicaId } });
    }
    this.proxy(req, res, targets, [...passed, this.o.replicaId].join(','));
  }

  /** Sends the request on to the first target; a read that could not connect tries the next. */
  private proxy(req: IncomingMessage, res: ServerResponse, targets: string[], via: string): void {
    const [base, ...rest] = targets as [string, ...string[]];
    const to = new URL(req.url ?? '/', base);
    const headers = { ...req.headers, host: to.host, [FORWARDED_HEADER]: via };
    const up = http.request(to, { method: req.method ?? 'GET', headers, agent: false }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
      res.on('close', () => r.destroy());
    });
    up.on('error', (e) => {
      if (rest.length > 0 && req.method === 'GET' && !res.headersSent) return this.proxy(req, res, rest, via);
      // the leader went away mid-request: whether it acted is unknown, so the client retries (requests are idempotent by name)
      sendError(res, new NubisError('UNAVAILABLE', `the leading replica did not answer (${e.message}); retry in a moment`, { details: { replica: this.o.replicaId } }));
    });
    res.on('close', () => up.destroy());
    if (req.method === 'GET' || req.method === 'HEAD') up.end();
    else req.pipe(up);
  }
}

export function createFront(o: FrontOptions): Front {
  return new ReplicaFront(o);
}
