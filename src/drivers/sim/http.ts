/**
 * The sim cloud behind a small JSON HTTP API, so it can run as its own process (and keep its
 * inventory when the control plane is killed). Routes, loosely after CloudSigma's API 2.0:
 *
 *   POST   /servers                       {tags, idempotencyToken?, requirements?} → 201 {server}
 *   GET    /servers?tag.<key>=<value>…[&offset=&limit=]
 *                                         → 200 {objects: [server], meta: {offset, next_offset?}}
 *                                           (all tags must match; at most `listPageSize` a page)
 *   GET    /servers/<id>                  → 200 {server} | 404
 *   DELETE /servers/<id>                  → 204 (also for a missing id)
 *   POST   /servers/<id>/action?do=reboot → 202 {} | 404
 *   GET    /admin/servers/<id>            → 200 {server} incl. deleted | 404 (no faults, not counted)
 *   snapshots: see ./http-snapshots.ts
 *   GET    /admin/inventory               → 200 {objects: [server]} incl. deleted
 *   GET    /admin/counters                → 200 SimCounters (this server's calls)
 *   GET    /admin/totals                  → 200 SimCounters (every process over this inventory)
 *   POST   /admin/outage                  {untilMs} | {durationMs} → 204
 *   GET    /admin/clock                   → 200 {now}
 *   GET    /health                        → 200 {ok: true}
 *
 * Errors answer the status a real cloud would, with `{error: {type, message}}`; `type` is the
 * Nubis code, or `quota_exceeded` for quota errors (status 403).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../clock/index.js';
import { isNubisError } from '../../errors/index.js';
import { createSimCloud, type SimCloud, type SimCreateRequest } from './cloud.js';
import type { SimModel } from './model.js';
import { snapshotRoute } from './http-snapshots.js';

export interface SimServerOptions extends SimModel {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Inventory file, or `:memory:`. */
  path: string;
  /** The sim clock runs this many times faster than the wall clock. Default 1. */
  timeScale?: number;
  /** Overrides the scaled clock (in-process tests). */
  clock?: Clock;
  /** Cloud name. Default `sim`. */
  name?: string;
}

export interface SimServerHandle {
  url: string;
  cloud: SimCloud;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1 << 20;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new HttpError(413, 'body too large');
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function parseCreate(body: unknown): SimCreateRequest {
  const b = body as Record<string, unknown> | null;
  if (typeof b !== 'object' || b === null) throw new HttpError(400, 'body must be an object');
  const tags = b['tags'];
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags) || Object.values(tags).some((v) => typeof v !== 'string')) {
    throw new HttpError(400, 'tags must be an object of strings');
  }
  const out: SimCreateRequest = { tags: tags as Record<string, string> };
  if (b['idempotencyToken'] !== undefined) {
    if (typeof b['idempotencyToken'] !== 'string') throw new HttpError(400, 'idempotencyToken must be a string');
    out.idempotencyToken = b['idempotencyToken'];
  }
  if (b['requirements'] !== undefined) out.requirements = b['requirements'] as SimCreateRequest['requirements'];
  return out;
}

/** A non-negative integer query parameter, or undefined when absent; 400 otherwise. */
function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new HttpError(400, `${name} must be a non-negative integer`);
  return Number(v);
}

export async function startSimServer(opts: SimServerOptions): Promise<SimServerHandle> {
  const { port, host = '127.0.0.1', timeScale, clock, ...rest } = opts;
  const cloud = createSimCloud({
    ...rest,
    ...(clock ? { clock } : { timeScale: timeScale ?? 1 }),
  });

  const send = (res: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method ?? 'GET';
    const [a, b, c] = parts;
    if (a === 'health' && parts.length === 1) return send(res, 200, { ok: true });
    if (await snapshotRoute(cloud, m, parts, req, res, send, readJson)) return;
    if (a === 'servers') {
      if (parts.length === 1 && m === 'POST') {
        const server = await cloud.create(parseCreate(await readJson(req)));
        return send(res, 201, { server });
      }
      if (parts.length === 1 && m === 'GET') {
        const tags: Record<string, string> = {};
        for (const [k, v] of url.searchParams) if (k.startsWith('tag.')) tags[k.slice(4)] = v;
        const offset = intParam(url, 'offset') ?? 0;
        const limit = intParam(url, 'limit');
        const page = await cloud.listPage(tags, { offset, ...(limit !== undefined ? { limit } : {}) });
        return send(res, 200, { objects: page.servers, meta: { offset, ...(page.nextOffset !== undefined ? { next_offset: page.nextOffset } : {}) } });
      }
      if (parts.length === 2 && b !== undefined) {
        if (m === 'GET') {
          const server = await cloud.get(b);
          return server ? send(res, 200, { server }) : send(res, 404, { error: { type: 'CLOUD_NOT_FOUND', message: `no server ${b}` } });
        }
        if (m === 'DELETE') {
          await cloud.delete(b);
          return send(res, 204);
        }
      }
      if (parts.length === 3 && b !== undefined && c === 'action' && m === 'POST') {
        if (url.searchParams.get('do') !== 'reboot') throw new HttpError(400, 'unknown action; supported: reboot');
        await cloud.reboot(b);
        return send(res, 202, {});
      }
    }
    if (a === 'admin') {
      if (b === 'servers' && parts.length === 3 && c !== undefined && m === 'GET') {
        const server = cloud.peek(c);
        return server ? send(res, 200, { server }) : send(res, 404, { error: { type: 'CLOUD_NOT_FOUND', message: `no server ${c}` } });
      }
      if (b === 'inventory' && parts.length === 2 && m === 'GET') return send(res, 200, { objects: cloud.inventory() });
      if (b === 'counters' && parts.length === 2 && m === 'GET') return send(res, 200, cloud.counters());
      if (b === 'totals' && parts.length === 2 && m === 'GET') return send(res, 200, cloud.totals());
      if (b === 'clock' && parts.length === 2 && m === 'GET') return send(res, 200, { now: cloud.clock.now() });
      if (b === 'outage' && parts.length === 2 && m === 'POST') {
        const body = (await readJson(req)) as { untilMs?: unknown; durationMs?: unknown };
        const until =
          typeof body.untilMs === 'number' ? body.untilMs
          : typeof body.durationMs === 'number' ? cloud.clock.now() + body.durationMs
          : undefined;
        if (until === undefined) throw new HttpError(400, 'give untilMs or durationMs');
        cloud.outage(until);
        return send(res, 204);
      }
    }
    throw new HttpError(404, `no route ${m} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.end();
      if (e instanceof HttpError) return send(res, e.status, { error: { type: e.status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: e.message } });
      if (isNubisError(e)) {
        const d = e.details as { httpStatus?: number; type?: string } | undefined;
        return send(res, d?.httpStatus ?? 500, { error: { type: d?.type ?? e.code, message: e.message } });
      }
      send(res, 500, { error: { type: 'INTERNAL', message: e instanceof Error ? e.message : String(e) } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}`,
    cloud,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      cloud.close();
    },
  };
}
