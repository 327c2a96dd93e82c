/**
 * The sim cloud: a simulated IaaS with its own persistent inventory (a SQLite file in WAL
 * mode), separate from the control plane's store, so tests and benchmarks can count orphans
 * and duplicates from the cloud's point of view. It runs on whatever Clock it is given.
 *
 * Contract (what the sim driver and the HTTP server build on):
 * - Errors are NubisErrors with a CLOUD_* code and `details.httpStatus` (the status a real
 *   API would have answered); quota errors also carry `details.type = 'quota_exceeded'`.
 * - `create` is idempotent by `idempotencyToken` (like EC2's ClientToken): while the server
 *   the token made is not deleted, the same token returns it. A failed create leaves nothing,
 *   except an injected `partial` 500/503 which leaves a tagged server bound to the token.
 * - Servers are `provisioning` until their ready time on the sim clock, then `running`.
 *   Status is derived from the clock, so a reopened inventory shows servers whose ready
 *   time passed as running.
 * - `delete` of a missing or deleted id succeeds. Deleted servers stay in `inventory()` with
 *   `deletedAt`, and are never returned by `list` (nor by `get`, unless `staleReadMs` makes it
 *   answer an older state).
 * - Lists may be slow (`listLatencyMs`), paginated (`listPageSize`: one counted call per page)
 *   and miss fresh servers (`listLagMs`); `get` may answer an older state (`staleReadMs`) or
 *   NotFound right after create (`notFoundAfterCreateMs`). See ./model.ts.
 * - Several SimCloud objects may open one inventory file (two cloud entries over one account):
 *   they see each other's servers; `totals()` counts the calls all of them received.
 * - Every call honours its AbortSignal (rejects with ABORTED).
 *
 * Reads are answered from an in-memory copy of the inventory (./inventory-cache.ts) that every
 * write of this object updates and that is loaded again whenever another connection committed
 * to the file: a list of 10,000 servers costs a walk of an array, not a query and 10,000 JSON
 * parses. A server as returned is frozen and handed out again while its row and status stay the
 * same (callers never edit what a cloud answers).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRealClock, createScaledClock, type Clock } from '../../clock/index.js';
import { NubisError, cloudErrorFromStatus } from '../../errors/index.js';
import type { NodeRequirements } from '../../model/types.js';
import { createPrng } from './prng.js';
import { drawError, provisioningMs, SIM_OPS, type SimModel, type SimOp } from './model.js';
import { InventoryCache, type CachedRow, type Row } from './inventory-cache.js';
import { createSimSnapshots, type SimSnapshots } from './snapshots.js';
import { SimExtras, type SimExtra } from './extras.js';

export type SimServerStatus = 'provisioning' | 'running' | 'deleted';

export interface SimServer {
  id: string;
  tags: Record<string, string>;
  status: SimServerStatus;
  /** A made-up private address, unique per server. */
  address: string;
  createdAt: number;
  /** When provisioning ends (sim clock). */
  readyAt: number;
  deletedAt?: number;
  idempotencyToken?: string;
  reboots: number;
  requirements?: NodeRequirements;
}

export interface SimCreateRequest {
  tags: Record<string, string>;
  idempotencyToken?: string;
  requirements?: NodeRequirements;
}

export interface SimCounters {
  /** API calls received per operation (including failed ones). */
  calls: Record<SimOp, number>;
  /** Calls that failed, per operation (injected, outage, quota, not found, aborted). */
  errors: Record<SimOp, number>;
  /** Servers actually created (idempotent replays not counted). */
  created: number;
  /** Idempotent create replays that returned an existing server. */
  replayed: number;
  deleted: number;
  /** The most creations in flight (provisioning) seen at any create. */
  maxInFlightCreates: number;
}

export interface SimCloudOptions extends SimModel {
  /** Cloud name, used in the default file name. Default `sim`. */
  name?: string;
  /** SQLite file, or `:memory:`. Default `<dataDir>/sim-<name>.db`, or `:memory:` without dataDir. */
  path?: string;
  dataDir?: string;
  /** The sim's clock. Default: a scaled clock when `timeScale` is set, else the wall clock. */
  clock?: Clock;
  /**
   * Wall time × timeScale, continuous across restarts of the same inventory file: the clock's
   * origin is stored in the file, so times recorded by an earlier process stay meaningful.
   */
  timeScale?: number;
}

export interface SimCloud {
  readonly name: string;
  readonly clock: Clock;
  readonly model: SimModel;
  /** Accepts a server; it is `provisioning` until its ready time. */
  create(req: SimCreateRequest, signal?: AbortSignal): Promise<SimServer>;
  /** The server, or undefined when it does not exist or was deleted. */
  get(id: string, signal?: AbortSignal): Promise<SimServer | undefined>;
  /** Servers (not deleted) carrying all these tags, oldest first; walks every page. */
  list(tags: Record<string, string>, signal?: AbortSignal): Promise<SimServer[]>;
  /**
   * One page of `list` (one API call): at most `limit` servers (capped by `listPageSize`)
   * from `offset`; `nextOffset` is set while more may follow.
   */
  listPage(tags: Record<string, string>, page: { offset: number; limit?: number }, signal?: AbortSignal): Promise<{ servers: SimServer[]; nextOffset?: number }>;
  /** Deletes the server; a missing or deleted id succeeds. */
  delete(id: string, signal?: AbortSignal): Promise<void>;
  /** Reboots a server; CLOUD_NOT_FOUND when it does not exist. */
  reboot(id: string, signal?: AbortSignal): Promise<void>;
  /** The server including deleted ones, outside the API: no faults, no counters. */
  peek(id: string): SimServer | undefined;
  /** Every server ever created, deleted ones included, oldest first. */
  inventory(): SimServer[];
  /** Servers still provisioning from their create. */
  inFlightCreates(): number;
  /** Calls this object received. */
  counters(): SimCounters;
  /** Calls every SimCloud over this inventory file received, in any process, since it was made. */
  totals(): SimCounters;
  /** Every call fails with 503 until `untilMs` (sim clock). */
  outage(untilMs: number): void;
  /** Resolves once the server is running (sleeping on the sim clock); rejects if it is deleted. */
  whenRunning(id: string, signal?: AbortSignal): Promise<SimServer>;
  /** Snapshots of servers (./snapshots.ts); their calls are counted like the others. */
  readonly snapshots: SimSnapshots;
  /** Billed extras (./extras.ts) outside the API: add one, see all (deleted ones too). */
  readonly extras: SimExtras;
  /** Every extra not deleted (one counted call). */
  listResources(signal?: AbortSignal): Promise<SimExtra[]>;
  /** Deletes an extra; a missing or deleted id succeeds. */
  deleteResource(id: string, signal?: AbortSignal): Promise<void>;
  /** Closes the inventory file and cancels timers. Further calls fail with CLOUD_UNAVAILABLE. */
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS servers (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  token TEXT,
  tags TEXT NOT NULL,
  requirements TEXT,
  address TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  ready_at INTEGER NOT NULL,
  boot_until INTEGER NOT NULL DEFAULT 0,
  deleted_at INTEGER,
  reboots INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS servers_token ON servers (token) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS servers_ready ON servers (ready_at) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
`;

function abortedError(): NubisError {
  return new NubisError('ABORTED', 'sim cloud call aborted');
}

/** The error a real API answering `status` would produce; `details.httpStatus` keeps the status. */
export function simError(status: number, message: string): NubisError {
  return cloudErrorFromStatus(status, message);
}

/** Quota errors travel over HTTP as 403 with `type: 'quota_exceeded'`. */
export const QUOTA_ERROR_TYPE = 'quota_exceeded';

export function quotaError(message: string): NubisError {
  return new NubisError('CLOUD_QUOTA_EXCEEDED', message, { details: { httpStatus: 403, type: QUOTA_ERROR_TYPE } });
}

/** A clock at `factor` × wall speed whose origin is kept in the inventory file. */
function persistentScaledClock(db: Database.Database, factor: number): Clock {
  const get = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const realNow = Date.now();
  let simNow = realNow;
  const saved = get.get('clock');
  if (saved) {
    const c = JSON.parse(saved.value) as { sim: number; real: number; factor: number };
    simNow = c.sim + (realNow - c.real) * c.factor;
  }
  put.run('clock', JSON.stringify({ sim: simNow, real: realNow, factor }));
  return createScaledClock(factor, simNow);
}

export function createSimCloud(opts: SimCloudOptions = {}): SimCloud {
  const name = opts.name ?? 'sim';
  const model: SimModel = { ...opts };
  const path = opts.path ?? (opts.dataDir ? join(opts.dataDir, `sim-${name}.db`) : ':memory:');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const clock = opts.clock ?? (opts.timeScale ? persistentScaledClock(db, opts.timeScale) : createRealClock());

  const countRow = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM servers').get();
  const prng = createPrng(((opts.seed ?? 1) * 2654435761 + (countRow?.n ?? 0) * 40503) >>> 0);

  const q = {
    inFlight: db.prepare<[number], { n: number }>(
      'SELECT count(*) AS n FROM servers WHERE deleted_at IS NULL AND ready_at > ?',
    ),
    nextSeq: db.prepare<[], { n: number }>('SELECT coalesce(max(seq), 0) + 1 AS n FROM servers'),
    insert: db.prepare(
      `INSERT INTO servers (seq, id, token, tags, requirements, address, created_at, ready_at)
       VALUES (@seq, @id, @token, @tags, @requirements, @address, @created_at, @ready_at)`,
    ),
    markDeleted: db.prepare('UPDATE servers SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
    reboot: db.prepare('UPDATE servers SET reboots = reboots + 1, boot_until = ? WHERE id = ?'),
    bump: db.prepare('INSERT INTO totals (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n'),
    raise: db.prepare('INSERT INTO totals (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = max(n, excluded.n)'),
    totals: db.prepare<[], { name: string; n: number }>('SELECT name, n FROM totals'),
  };

  const rows = new InventoryCache<SimServer>(db);
  const extras = new SimExtras(db, clock, prng, model);

  /**
   * The server now (frozen, the same object while its row and status stay the same), or as it
   * was at `at` (a stale read: deleted only if deleted by then).
   */
  const toServer = (r: CachedRow<SimServer>, at?: number, clockNow?: number): SimServer => {
    const now = at === undefined ? (clockNow ?? clock.now()) : Math.max(at, r.created_at);
    const deleted = r.deleted_at !== null && (at === undefined || r.deleted_at <= now);
    const status: SimServerStatus = deleted ? 'deleted' : now < r.ready_at || now < r.boot_until ? 'provisioning' : 'running';
    if (at === undefined && r.answer?.status === status) return r.answer.value;
    const s: SimServer = {
      id: r.id,
      tags: r.tagMap as Record<string, string>,
      status,
      address: r.address,
      createdAt: r.created_at,
      readyAt: r.ready_at,
      reboots: r.reboots,
    };
    if (deleted) s.deletedAt = r.deleted_at!;
    if (r.token !== null) s.idempotencyToken = r.token;
    if (r.reqs !== undefined) s.requirements = r.reqs;
    if (at !== undefined) return s;
    Object.freeze(s);
    r.answer = { status, value: s };
    return s;
  };

  const zero = (): Record<SimOp, number> =>
    Object.fromEntries(SIM_OPS.map((op) => [op, 0])) as Record<SimOp, number>;
  const counters: SimCounters = { calls: zero(), errors: zero(), created: 0, replayed: 0, deleted: 0, maxInFlightCreates: 0 };
  /** Counts in this object and in the file (for `totals()`). */
  const count = (name: 'created' | 'replayed' | 'deleted' | `calls.${SimOp}` | `errors.${SimOp}`): void => {
    if (name === 'created' || name === 'replayed' || name === 'deleted') counters[name]++;
    else {
      const [kind, op] = name.split('.') as ['calls' | 'errors', SimOp];
      counters[kind][op]++;
    }
    if (!closed) q.bump.run(name, 1);
  };
  let outageUntil = -Infinity;
  let closed = false;
  const timers = new AbortController();

  /** A timer on the sim clock at each ready time, so a virtual clock's autoAdvance moves to it. */
  const armReadyTimer = (readyAt: number): void => {
    const ms = readyAt - clock.now();
    if (ms > 0) clock.sleep(ms, timers.signal).catch(() => {});
  };
  for (const r of rows.all()) if (r.deleted_at === null) armReadyTimer(r.ready_at);

  const inOutage = (now: number): boolean =>
    now < outageUntil || (model.outages ?? []).some((w) => now >= w.fromMs && now < w.untilMs);

  async function call<T>(op: SimOp, signal: AbortSignal | undefined, fn: () => T): Promise<T> {
    count(`calls.${op}`);
    try {
      if (!closed) rows.sync();
      if (signal?.aborted) throw abortedError();
      if (closed) throw simError(503, 'sim cloud is closed');
      if (inOutage(clock.now())) throw simError(503, `sim cloud ${name} is in an outage`);
      const latency = (model.apiLatencyMs ?? 0) + (op === 'list' ? (model.listLatencyMs ?? 0) : 0);
      // a list answers the state as it was when the call began; the slow part is the answer
      const early = op === 'list' && latency > 0 ? { value: fn() } : undefined;
      if (latency > 0) {
        try {
          await clock.sleep(latency, signal);
        } catch {
          throw abortedError();
        }
        if (closed) throw simError(503, 'sim cloud is closed');
      }
      return early ? early.value : fn();
    } catch (e) {
      count(`errors.${op}`);
      throw e;
    }
  }

  const insertServer = db.transaction((req: SimCreateRequest): CachedRow<SimServer> => {
    const now = clock.now();
    const inFlight = (q.inFlight.get(now)?.n ?? 0) + 1;
    counters.maxInFlightCreates = Math.max(counters.maxInFlightCreates, inFlight);
    q.raise.run('maxInFlightCreates', inFlight);
    const seq = q.nextSeq.get()?.n ?? 1;
    const row = {
      seq,
      id: `srv-${prng.hex(8)}-${seq.toString(16).padStart(4, '0')}`,
      token: req.idempotencyToken ?? null,
      tags: JSON.stringify(req.tags),
      requirements: req.requirements ? JSON.stringify(req.requirements) : null,
      address: `10.${(seq >> 16) & 255}.${(seq >> 8) & 255}.${seq & 255}`,
      created_at: now,
      ready_at: now + Math.round(provisioningMs(model, inFlight, prng)),
    };
    q.insert.run(row);
    extras.madeWith(row.id, req.tags, now);
    count('created');
    armReadyTimer(row.ready_at);
    // lists filter on the tags kept with the row (./inventory-cache.ts); the row is as inserted
    return rows.inserted({ ...row, boot_until: 0, deleted_at: null, reboots: 0 });
  });

  /** Marks the server deleted with its extras (but the kinds the provider forgets), in one transaction. */
  const deleteServer = db.transaction((id: string, now: number): boolean => {
    if (q.markDeleted.run(now, id).changes === 0) return false;
    extras.deletedWith(id, now);
    return true;
  });

  /** Live servers carrying all these tags and created by `createdBy`, oldest first. */
  function liveTagged(tags: Record<string, string>, createdBy: number): CachedRow<SimServer>[] {
    const keys = Object.keys(tags);
    const values = keys.map((k) => tags[k]);
    const all = rows.all();
    const out: CachedRow<SimServer>[] = [];
    next: for (let i = 0; i < all.length; i++) {
      const r = all[i]!;
      if (r.deleted_at !== null || r.created_at > createdBy) continue;
      for (let j = 0; j < keys.length; j++) if (r.tagMap[keys[j]!] !== values[j]) continue next;
      out.push(r);
    }
    return out;
  }

  const snapshots = createSimSnapshots({ db, clock, model, prng, call, isLive: (id) => rows.get(id)?.deleted_at === null });
  const cloud: SimCloud = {
    name,
    clock,
    model,
    snapshots,
    extras,
    listResources(signal) {
      return call('listResources', signal, () => {
        const fault = drawError(model, 'listResources', prng);
        if (fault) throw simError(fault.status, `sim listResources failed (injected ${fault.status})`);
        return extras.live();
      });
    },
    deleteResource(id, signal) {
      return call('deleteResource', signal, () => {
        const fault = drawError(model, 'deleteResource', prng);
        if (fault) throw simError(fault.status, `sim deleteResource failed (injected ${fault.status})`);
        extras.remove(id);
      });
    },
    create(req, signal) {
      return call('create', signal, () => {
        const fault = drawError(model, 'create', prng);
        if (fault && !fault.partial) throw simError(fault.status, `sim create failed (injected ${fault.status})`);
        const existing = req.idempotencyToken ? rows.liveByToken(req.idempotencyToken) : undefined;
        let row: CachedRow<SimServer>;
        if (existing) {
          count('replayed');
          row = existing;
        } else {
          const limit = model.quota?.servers;
          if (limit !== undefined && rows.liveCount() >= limit) throw quotaError(`server quota of ${limit} reached; delete servers or raise the quota`);
          row = insertServer(req);
        }
        if (fault) throw simError(fault.status, `sim create failed after accepting the server (injected partial ${fault.status})`);
        return toServer(row);
      });
    },
    get(id, signal) {
      return call('get', signal, () => {
        const fault = drawError(model, 'get', prng);
        if (fault) throw simError(fault.status, `sim get failed (injected ${fault.status})`);
        const r = rows.get(id);
        const now = clock.now();
        if (!r || now - r.created_at < (model.notFoundAfterCreateMs ?? 0)) return undefined;
        const s = model.staleReadMs ? toServer(r, now - model.staleReadMs) : toServer(r);
        return s.status === 'deleted' ? undefined : s;
      });
    },
    async list(tags, signal) {
      const out: SimServer[] = [];
      for (let offset: number | undefined = 0; offset !== undefined; ) {
        const page = await cloud.listPage(tags, { offset }, signal);
        out.push(...page.servers);
        offset = page.nextOffset;
      }
      return out;
    },
    listPage(tags, page, signal) {
      return call('list', signal, () => {
        const fault = drawError(model, 'list', prng);
        if (fault) throw simError(fault.status, `sim list failed (injected ${fault.status})`);
        const now = clock.now();
        const visible = liveTagged(tags, now - (model.listLagMs ?? 0));
        const offset = Math.max(0, Math.floor(page.offset));
        const cap = model.listPageSize ?? Infinity;
        const end = Math.min(visible.length, offset + Math.min(page.limit ?? cap, cap));
        const servers: SimServer[] = [];
        for (let i = offset; i < end; i++) servers.push(toServer(visible[i]!, undefined, now));
        const next = offset + servers.length;
        return { servers, ...(next < visible.length ? { nextOffset: next } : {}) };
      });
    },
    delete(id, signal) {
      return call('delete', signal, () => {
        const fault = drawError(model, 'delete', prng);
        if (fault) throw simError(fault.status, `sim delete failed (injected ${fault.status})`);
        const now = clock.now();
        if (deleteServer(id, now)) {
          rows.deleted(id, now);
          count('deleted');
        }
      });
    },
    reboot(id, signal) {
      return call('reboot', signal, () => {
        const fault = drawError(model, 'reboot', prng);
        if (fault) throw simError(fault.status, `sim reboot failed (injected ${fault.status})`);
        const r = rows.get(id);
        if (!r || r.deleted_at !== null) throw simError(404, `no server ${id}`);
        const until = clock.now() + (model.rebootMs ?? 0);
        q.reboot.run(until, id);
        rows.rebooted(id, until);
        armReadyTimer(until);
      });
    },
    peek(id) {
      rows.sync();
      const r = rows.get(id);
      return r ? toServer(r) : undefined;
    },
    inventory: () => {
      rows.sync();
      return rows.all().map((r) => toServer(r));
    },
    inFlightCreates: () => q.inFlight.get(clock.now())?.n ?? 0,
    counters: () => ({
      ...counters,
      calls: { ...counters.calls },
      errors: { ...counters.errors },
    }),
    totals() {
      const t: SimCounters = { calls: zero(), errors: zero(), created: 0, replayed: 0, deleted: 0, maxInFlightCreates: 0 };
      for (const { name: k, n } of q.totals.all()) {
        const [kind, op] = k.split('.') as [string, SimOp | undefined];
        if ((kind === 'calls' || kind === 'errors') && op && op in t[kind]) t[kind][op] = n;
        else if (k === 'created' || k === 'replayed' || k === 'deleted' || k === 'maxInFlightCreates') t[k] = n;
      }
      return t;
    },
    outage(untilMs) {
      outageUntil = untilMs;
    },
    async whenRunning(id, signal) {
      for (;;) {
        const s = cloud.peek(id);
        if (!s || s.status === 'deleted') throw simError(404, `no server ${id}`);
        if (s.status === 'running') return s;
        const r = rows.get(id)!;
        await clock.sleep(Math.max(1, Math.max(r.ready_at, r.boot_until) - clock.now()), signal);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      timers.abort();
      db.close();
    },
  };
  return cloud;
}
