/**
 * Snapshots in the sim cloud, kept in its inventory file beside the servers.
 *
 * Contract:
 * - `take` accepts a snapshot of a live server (CLOUD_NOT_FOUND otherwise); it is `pending`
 *   until its ready time on the sim clock (`snapshot.latencyMs` / `snapshot.latency`), then
 *   `ready`, or `error` when the cloud fails it (drawn with `snapshot.failureRate`, or injected
 *   with `inject('error')`). With `volumes`, a server gets one volume snapshot part.
 * - Bytes are a deterministic stream of `snapshot.sizeBytes` bytes (default 64 KiB) drawn from
 *   the snapshot's seed; the SHA-256 is recorded when the snapshot is taken, as a cloud
 *   records an image checksum. `inject('truncate')` makes the next snapshot's download end
 *   early (a cloud serving a short file): the reader must notice.
 * - `remove` of a missing or removed snapshot succeeds; removed snapshots are `gone`.
 * - Every API call (take, get, read, remove) goes through the cloud's `call`: counted as the
 *   ops snapshot, snapshotStatus, readSnapshot and deleteSnapshot, with outages, API latency and
 *   injected HTTP errors (`errors.snapshot`, …) like any other call. `inject`, `peek` and `all`
 *   are outside the API.
 */
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import { createPrng, type Prng } from './prng.js';
import { drawError, type SimModel, type SimOp } from './model.js';
import { cloudErrorFromStatus as simError } from '../../errors/index.js';

export interface SimSnapshotModel {
  /** Fixed time from accepted to ready. Default 0. */
  latencyMs?: number;
  /** Uniform time from accepted to ready; wins over latencyMs. */
  latency?: { minMs: number; maxMs: number };
  /** Bytes of every snapshot. Default 65 536. */
  sizeBytes?: number;
  /** Probability in [0, 1] that the cloud fails a snapshot (it goes to error at its ready time). */
  failureRate?: number;
}

export type SimSnapshotState = 'pending' | 'ready' | 'error' | 'gone';

export interface SimSnapshot {
  id: string;
  serverId: string;
  name: string;
  tags: Record<string, string>;
  kind: 'image' | 'volume';
  /** The image this volume snapshot belongs to. */
  parentId?: string;
  state: SimSnapshotState;
  sizeBytes: number;
  sha256: string;
  createdAt: number;
  readyAt: number;
}

/** A fault for the next snapshot taken: the cloud fails it, or serves a short download. */
export type SimSnapshotFault = 'error' | 'truncate';

export interface SimSnapshots {
  /** Accepts a snapshot of the server (and a volume part with `volumes`); CLOUD_NOT_FOUND for no live server. */
  take(serverId: string, req: { name: string; tags: Record<string, string>; volumes: boolean }, signal?: AbortSignal): Promise<{ snapshot: SimSnapshot; parts: SimSnapshot[] }>;
  /** The snapshot (its parts in `parts`), or undefined when unknown; removed ones are `gone`. */
  get(id: string, signal?: AbortSignal): Promise<{ snapshot: SimSnapshot; parts: SimSnapshot[] } | undefined>;
  /** The snapshot and its bytes, in chunks (CLOUD_NOT_FOUND unless ready). */
  read(id: string, signal?: AbortSignal): Promise<{ snapshot: SimSnapshot; bytes: AsyncIterable<Uint8Array> }>;
  /** Removes the snapshot and its parts; missing ones are fine. */
  remove(id: string, signal?: AbortSignal): Promise<void>;
  /** Faults for the next snapshots taken, in order. */
  inject(...faults: SimSnapshotFault[]): void;
  /** The snapshot outside the API: no faults, no counters. */
  peek(id: string): SimSnapshot | undefined;
  /** Every snapshot ever taken, removed ones included. */
  all(): SimSnapshot[];
}

/** What the sim cloud lends its snapshots. */
export interface SimSnapshotHost {
  db: Database.Database;
  clock: Clock;
  model: SimModel;
  prng: Prng;
  isLive(serverId: string): boolean;
  /** The cloud's API call: counters, outages, latency, abort. */
  call<T>(op: SimOp, signal: AbortSignal | undefined, fn: () => T): Promise<T>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshots (
  id TEXT PRIMARY KEY,
  server_id TEXT NOT NULL,
  parent_id TEXT,
  name TEXT NOT NULL,
  tags TEXT NOT NULL,
  kind TEXT NOT NULL,
  size INTEGER NOT NULL,
  served INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  seed INTEGER NOT NULL,
  fails INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  ready_at INTEGER NOT NULL,
  removed_at INTEGER
);
`;

interface Row {
  id: string;
  server_id: string;
  parent_id: string | null;
  name: string;
  tags: string;
  kind: 'image' | 'volume';
  size: number;
  served: number;
  sha256: string;
  seed: number;
  fails: number;
  created_at: number;
  ready_at: number;
  removed_at: number | null;
}

const CHUNK = 16 * 1024;

/** The snapshot's bytes: `size` bytes from its seed, in chunks; stops after `served` bytes. */
function* bytesOf(seed: number, size: number, served = size): Generator<Uint8Array> {
  const prng = createPrng(seed);
  for (let off = 0; off < served; off += CHUNK) {
    const n = Math.min(CHUNK, served - off);
    const chunk = new Uint8Array(n);
    for (let i = 0; i < n; i++) chunk[i] = Math.floor(prng.next() * 256);
    yield chunk;
  }
}

function sha256Of(seed: number, size: number): string {
  const h = createHash('sha256');
  for (const c of bytesOf(seed, size)) h.update(c);
  return h.digest('hex');
}

export function createSimSnapshots(host: SimSnapshotHost): SimSnapshots {
  const { db, clock, prng, call } = host;
  const model: SimSnapshotModel = host.model.snapshot ?? {};
  db.exec(SCHEMA);
  const q = {
    insert: db.prepare(
      `INSERT INTO snapshots (id, server_id, parent_id, name, tags, kind, size, served, sha256, seed, fails, created_at, ready_at)
       VALUES (@id, @server_id, @parent_id, @name, @tags, @kind, @size, @served, @sha256, @seed, @fails, @created_at, @ready_at)`,
    ),
    get: db.prepare<[string], Row>('SELECT * FROM snapshots WHERE id = ?'),
    parts: db.prepare<[string], Row>('SELECT * FROM snapshots WHERE parent_id = ? ORDER BY id'),
    all: db.prepare<[], Row>('SELECT * FROM snapshots ORDER BY created_at, id'),
    remove: db.prepare('UPDATE snapshots SET removed_at = ? WHERE (id = ? OR parent_id = ?) AND removed_at IS NULL'),
  };
  const faults: SimSnapshotFault[] = [];
  const size = model.sizeBytes ?? 65_536;

  const stateOf = (r: Row): SimSnapshotState => {
    if (r.removed_at !== null) return 'gone';
    if (clock.now() < r.ready_at) return 'pending';
    return r.fails ? 'error' : 'ready';
  };
  const toSnapshot = (r: Row): SimSnapshot => ({
    id: r.id,
    serverId: r.server_id,
    name: r.name,
    tags: JSON.parse(r.tags) as Record<string, string>,
    kind: r.kind,
    ...(r.parent_id !== null ? { parentId: r.parent_id } : {}),
    state: stateOf(r),
    sizeBytes: r.size,
    sha256: r.sha256,
    createdAt: r.created_at,
    readyAt: r.ready_at,
  });
  const readyDelay = (): number => Math.round(model.latency ? prng.between(model.latency.minMs, model.latency.maxMs) : (model.latencyMs ?? 0));

  const insert = (serverId: string, req: { name: string; tags: Record<string, string> }, kind: 'image' | 'volume', parent: string | undefined, fault: SimSnapshotFault | undefined): Row => {
    const seed = Math.floor(prng.next() * 2 ** 31);
    const now = clock.now();
    const fails = fault === 'error' || (!fault && prng.next() < (model.failureRate ?? 0)) ? 1 : 0;
    const row: Row = {
      id: `${kind === 'image' ? 'img' : 'snap'}-${prng.hex(8)}`,
      server_id: serverId,
      parent_id: parent ?? null,
      name: req.name,
      tags: JSON.stringify(req.tags),
      kind,
      size,
      served: fault === 'truncate' ? Math.floor(size / 2) : size,
      sha256: sha256Of(seed, size),
      seed,
      fails,
      created_at: now,
      ready_at: now + readyDelay(),
      removed_at: null,
    };
    q.insert.run(row);
    // a timer on the sim clock at the ready time, so a virtual clock's autoAdvance moves to it
    const wait = row.ready_at - now;
    if (wait > 0) clock.sleep(wait).catch(() => {});
    return row;
  };

  const injected = (op: SimOp): void => {
    const fault = drawError(host.model, op, prng);
    if (fault) throw simError(fault.status, `sim ${op} failed (injected ${fault.status})`);
  };

  return {
    take: (serverId, req, signal) =>
      call('snapshot', signal, () => {
        injected('snapshot');
        if (!host.isLive(serverId)) throw simError(404, `no server ${serverId} to snapshot`);
        const fault = faults.shift();
        const image = insert(serverId, req, 'image', undefined, fault);
        const parts = req.volumes ? [insert(serverId, { name: `${req.name}-vol0`, tags: req.tags }, 'volume', image.id, fault === 'error' ? undefined : fault)] : [];
        return { snapshot: toSnapshot(image), parts: parts.map(toSnapshot) };
      }),
    get: (id, signal) =>
      call('snapshotStatus', signal, () => {
        injected('snapshotStatus');
        const r = q.get.get(id);
        return r ? { snapshot: toSnapshot(r), parts: q.parts.all(id).map(toSnapshot) } : undefined;
      }),
    read: (id, signal) =>
      call('readSnapshot', signal, () => {
        injected('readSnapshot');
        const r = q.get.get(id);
        if (!r || stateOf(r) !== 'ready') throw simError(404, `snapshot ${id} is not ready (${r ? stateOf(r) : 'gone'})`);
        const bytes = (async function* () {
          yield* bytesOf(r.seed, r.size, r.served);
        })();
        return { snapshot: toSnapshot(r), bytes };
      }),
    remove: (id, signal) =>
      call('deleteSnapshot', signal, () => {
        injected('deleteSnapshot');
        q.remove.run(clock.now(), id, id);
      }),
    inject: (...f) => void faults.push(...f),
    peek(id) {
      const r = q.get.get(id);
      return r ? toSnapshot(r) : undefined;
    },
    all: () => q.all.all().map(toSnapshot),
  };
}
