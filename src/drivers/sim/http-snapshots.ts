/**
 * Sim snapshots over HTTP (./snapshots.ts behind the sim server), so a sim cloud in its own
 * process keeps its snapshots across a control-plane SIGKILL:
 *   POST   /servers/<id>/snapshots {name, tags, volumes} → 201 {snapshot, parts} | 404
 *   GET    /snapshots/<id>                  → 200 {snapshot, parts} | 404
 *   GET    /snapshots/<id>/bytes            → 200 application/octet-stream | 404 (not ready)
 *   DELETE /snapshots/<id>                  → 204 (also for a missing id)
 *   POST   /admin/snapshots/inject {faults: ['error'|'truncate', …]} → 204 (not counted)
 * The driver side checks the bytes against the recorded size and SHA-256, as in-process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NubisError } from '../../errors/index.js';
import type { Driver, SnapshotOp, SnapshotRef } from '../driver.js';
import { combinedStatus, verifiedBytes } from '../snapshot-bytes.js';
import type { SimCloud } from './cloud.js';
import type { SimSnapshot, SimSnapshotFault } from './snapshots.js';

type Send = (res: ServerResponse, status: number, body?: unknown) => void;

/** Answers a snapshot route; false when the path is not one. */
export async function snapshotRoute(cloud: SimCloud, m: string, parts: string[], req: IncomingMessage, res: ServerResponse, send: Send, readJson: (r: IncomingMessage) => Promise<unknown>): Promise<boolean> {
  const [a, b, c] = parts;
  const snaps = cloud.snapshots;
  if (a === 'servers' && parts.length === 3 && b !== undefined && c === 'snapshots' && m === 'POST') {
    const body = (await readJson(req)) as { name?: unknown; tags?: unknown; volumes?: unknown } | null;
    if (typeof body?.name !== 'string' || typeof body.tags !== 'object' || body.tags === null) throw new NubisError('CLOUD_BAD_REQUEST', 'body must be {name, tags, volumes}', { details: { httpStatus: 400 } });
    send(res, 201, await snaps.take(b, { name: body.name, tags: body.tags as Record<string, string>, volumes: body.volumes === true }));
    return true;
  }
  if (a === 'snapshots' && b !== undefined) {
    if (parts.length === 2 && m === 'GET') {
      const got = await snaps.get(b);
      if (got) send(res, 200, got);
      else send(res, 404, { error: { type: 'CLOUD_NOT_FOUND', message: `no snapshot ${b}` } });
      return true;
    }
    if (parts.length === 2 && m === 'DELETE') {
      await snaps.remove(b);
      send(res, 204);
      return true;
    }
    if (parts.length === 3 && c === 'bytes' && m === 'GET') {
      const { bytes } = await snaps.read(b);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for await (const chunk of bytes) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      res.end();
      return true;
    }
  }
  if (a === 'admin' && b === 'snapshots' && c === 'inject' && m === 'POST') {
    const body = (await readJson(req)) as { faults?: unknown } | null;
    const faults = Array.isArray(body?.faults) ? body.faults : [];
    if (!faults.every((f) => f === 'error' || f === 'truncate')) throw new NubisError('CLOUD_BAD_REQUEST', "faults must be 'error' or 'truncate'", { details: { httpStatus: 400 } });
    snaps.inject(...(faults as SimSnapshotFault[]));
    send(res, 204);
    return true;
  }
  return false;
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

export interface SimHttpDeps {
  base: string;
  request(method: string, path: string, body: unknown, signal: AbortSignal): Promise<HttpAnswer>;
  fail(a: HttpAnswer, what: string): NubisError;
}

const refOf = (s: SimSnapshot, parts: SimSnapshot[] = []): SnapshotRef => ({
  id: s.id, kind: s.kind, ...(parts.length ? { parts: parts.map((p) => refOf(p)) } : {}), sizeBytes: s.sizeBytes, sha256: s.sha256, createdAt: s.createdAt,
});

/** The HTTP sim driver's snapshot calls. */
export function simHttpSnapshotCalls(deps: SimHttpDeps): Pick<Driver, SnapshotOp> {
  const enc = encodeURIComponent;
  const get = async (id: string, signal: AbortSignal): Promise<{ snapshot: SimSnapshot; parts: SimSnapshot[] } | undefined> => {
    const a = await deps.request('GET', `/snapshots/${enc(id)}`, undefined, signal);
    if (a.status === 404) return undefined;
    if (a.status !== 200) throw deps.fail(a, `sim snapshot ${id}`);
    return a.body as { snapshot: SimSnapshot; parts: SimSnapshot[] };
  };
  return {
    async snapshot(id, req, signal) {
      const a = await deps.request('POST', `/servers/${enc(id)}/snapshots`, { name: req.name, tags: req.tags, volumes: req.volumes }, signal);
      if (a.status !== 201) throw deps.fail(a, `sim snapshot of ${id}`);
      const { snapshot, parts } = a.body as { snapshot: SimSnapshot; parts: SimSnapshot[] };
      return refOf(snapshot, parts);
    },
    async snapshotStatus(ref, signal) {
      const got = await get(ref.id, signal);
      return got ? combinedStatus(got.snapshot.state, got.parts.map((p) => p.state)) : 'gone';
    },
    async readSnapshot(ref, signal) {
      const got = await get(ref.id, signal);
      if (!got) throw new NubisError('CLOUD_NOT_FOUND', `sim snapshot ${ref.id} is gone`);
      let res: Response;
      try {
        res = await fetch(`${deps.base}/snapshots/${enc(ref.id)}/bytes`, { signal });
      } catch (e) {
        if (signal.aborted) throw new NubisError('ABORTED', `sim read snapshot ${ref.id} aborted`, { cause: e });
        throw new NubisError('CLOUD_UNAVAILABLE', `sim cloud at ${deps.base} unreachable`, { cause: e });
      }
      if (res.status !== 200 || !res.body) throw deps.fail({ status: res.status, body: await res.json().catch(() => undefined) }, `sim read snapshot ${ref.id}`);
      const stream = res.body;
      const bytes = (async function* () {
        for await (const chunk of stream) yield chunk;
      })();
      return verifiedBytes(bytes, { sizeBytes: got.snapshot.sizeBytes, digests: { sha256: got.snapshot.sha256 } }, `sim snapshot ${ref.id}`);
    },
    async deleteSnapshot(ref, signal) {
      const a = await deps.request('DELETE', `/snapshots/${enc(ref.id)}`, undefined, signal);
      if (a.status !== 204 && a.status !== 404) throw deps.fail(a, `sim delete snapshot ${ref.id}`);
    },
  };
}
