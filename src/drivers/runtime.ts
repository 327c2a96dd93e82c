/**
 * The runtime wrapper every driver gets once: an event per cloud call attempt, per-call
 * timeouts, error classification, retries with exponential backoff and full jitter, and a
 * token-bucket rate limit per cloud. All waiting is on the given Clock.
 *
 * Contract:
 * - Every error leaving the wrapper is a NubisError. Driver NubisErrors pass unchanged.
 *   Network-level failures (connection refused/reset, DNS, socket timeouts) become
 *   CLOUD_UNAVAILABLE (retryable). Anything else thrown is a bug in a driver, not a cloud
 *   fault: INTERNAL, not retryable — retrying a bug only delays the alert.
 * - An attempt that runs past its timeout is aborted and fails with CLOUD_TIMEOUT (retryable).
 *   When the caller's signal aborts, the call fails with ABORTED at once and is not retried.
 * - Retryable errors are retried up to `retry.attempts` attempts in all, sleeping a uniform
 *   random time in [0, min(maxMs, baseMs × 2^(attempt−1))] between them (full jitter), or at
 *   least `details.retryAfterMs` when the error carries it. `create` is retried only because
 *   it carries an idempotency token (a create without one is never retried); get and list
 *   are reads; delete is idempotent; reboot may reboot twice, which a reboot tolerates.
 * - Snapshot calls exist on the wrapped driver only when the driver has them. `snapshot` is not
 *   retried (a second attempt would make a second image; the backup run retries as a whole);
 *   snapshotStatus is a read, deleteSnapshot is idempotent. `readSnapshot`'s timeout covers
 *   opening the stream only; the stream itself ends when the caller's signal aborts. A driver
 *   replaced by one without snapshots fails them with CLOUD_UNSUPPORTED.
 * - Each attempt first takes a token from the cloud's bucket (`ratePerSec`, `burst`).
 * - With a `health` (./cloud-health.ts), every attempt is first admitted by it: while the cloud
 *   backs off or is unusable the call fails fast, without an event, a token or a provider call;
 *   once an attempt leaves the cloud backing off or unusable, the call is not retried (the
 *   cloud's backoff spaces the next attempts, not the call's).
 * - `agent()` passes through: agent calls are not cloud API calls. `replace()` swaps in a
 *   rebuilt driver (new credentials); the old one is closed once its calls have ended.
 *   `close()` closes the current driver and never rejects.
 */
import type { Clock } from '../clock/index.js';
import { NubisError, isNubisError, type ErrorCode } from '../errors/index.js';
import type { Platform } from '../model/types.js';
import { snapshotCall as need, type CloudNode, type CreateNodeRequest, type Driver, type SnapshotOp, type SnapshotRef } from './driver.js';
import type { CloudHealth } from './cloud-health.js';

/** The optional snapshot calls (./driver.ts) are wrapped when the driver has them. */
export type DriverOp = 'create' | 'get' | 'list' | 'delete' | 'reboot' | SnapshotOp | PolicyOp;
/** The optional placement and firewall calls (./driver.ts). */
export type PolicyOp = 'hosts' | 'applyFirewall' | 'removeFirewall';

/** One attempt of one cloud call (invariant 5: every cloud API call is an event). */
export interface DriverCallEvent {
  cloud: string;
  platform: Platform;
  op: DriverOp;
  /** The resource key for create, the node id for get/delete/reboot/snapshot, `k=v,…` for list, the snapshot id for the other snapshot calls. */
  target: string;
  outcome: 'ok' | 'error';
  /** From the attempt's start (after the rate limit) to its end, on the wrapper's clock. */
  latencyMs: number;
  errorCode?: ErrorCode;
  retryable?: boolean;
  /** 1 for the first attempt. */
  attempt: number;
  correlationId?: string;
}

export interface RuntimeOptions {
  /** The cloud's name, for events. */
  cloud: string;
  clock: Clock;
  /** Called once per attempt; exceptions thrown by it are ignored. */
  onCall?: (e: DriverCallEvent) => void;
  /** Per-attempt timeouts. Defaults: create 10 min, others 2 min. */
  timeoutMs?: Partial<Record<DriverOp, number>>;
  /** Defaults: attempts 5 (in all), baseMs 500, maxMs 30 000. */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
  /** Attempts per second allowed to this cloud; unlimited when absent. */
  ratePerSec?: number;
  /** Bucket size: attempts that may go at once after a quiet spell. Default max(1, ratePerSec). */
  burst?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
  /** The cloud's health: admits every attempt (see the contract above). */
  health?: CloudHealth;
}

/** A wrapped driver; `withCorrelation` gives a view whose events carry the id. */
export interface RuntimeDriver extends Driver {
  withCorrelation(correlationId: string): Driver;
  /** Calls go to `next` from now on; the previous driver is closed once its calls have ended. */
  replace(next: Driver): void;
}

const DEFAULT_TIMEOUTS: Record<DriverOp, number> = {
  create: 10 * 60_000,
  get: 2 * 60_000,
  list: 2 * 60_000,
  delete: 2 * 60_000,
  reboot: 2 * 60_000,
  snapshot: 10 * 60_000,
  snapshotStatus: 2 * 60_000,
  readSnapshot: 2 * 60_000,
  deleteSnapshot: 2 * 60_000,
  hosts: 2 * 60_000,
  applyFirewall: 5 * 60_000,
  removeFirewall: 5 * 60_000,
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

function networkCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** How the wrapper classifies what a driver threw (see the contract above). */
export function classifyDriverError(e: unknown, op: DriverOp, cloud: string): NubisError {
  if (isNubisError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && e.name === 'AbortError') return new NubisError('ABORTED', `${op} on ${cloud} aborted`, { cause: e });
  const net = networkCode(e);
  if (net) return new NubisError('CLOUD_UNAVAILABLE', `${op} on ${cloud}: ${net} (${message})`, { cause: e });
  return new NubisError('INTERNAL', `driver for ${cloud} failed in ${op}: ${message}`, {
    cause: e,
    retryable: false,
    details: { cloud, op },
  });
}

function abortedError(op: DriverOp, cloud: string): NubisError {
  return new NubisError('ABORTED', `${op} on ${cloud} was cancelled`);
}

/** Rejects when `signal` aborts. Returns a disposer that detaches the listener. */
function onAbort(signal: AbortSignal, reject: (e: unknown) => void, make: () => unknown): () => void {
  const h = (): void => reject(make());
  signal.addEventListener('abort', h, { once: true });
  return () => signal.removeEventListener('abort', h);
}

function createTokenBucket(clock: Clock, ratePerSec: number, burst: number) {
  let tokens = burst;
  let last = clock.now();
  const refill = (): void => {
    const now = clock.now();
    tokens = Math.min(burst, tokens + ((now - last) * ratePerSec) / 1000);
    last = now;
  };
  return {
    /** Takes a token, waiting for one if needed (a reservation: waiters are served in order). */
    async take(signal: AbortSignal): Promise<void> {
      refill();
      tokens -= 1;
      if (tokens >= 0) return;
      const waitMs = (-tokens * 1000) / ratePerSec;
      try {
        await clock.sleep(waitMs, signal);
      } catch (e) {
        tokens += 1;
        throw e;
      }
    },
  };
}

/** Which driver calls go to, and closing replaced ones once their calls have ended. */
class InnerDriver {
  private active = new Map<Driver, number>();
  private retired = new Set<Driver>();
  constructor(public current: Driver) {}

  async use<T>(fn: (d: Driver) => Promise<T>): Promise<T> {
    const d = this.current;
    this.active.set(d, (this.active.get(d) ?? 0) + 1);
    try {
      return await fn(d);
    } finally {
      const n = (this.active.get(d) ?? 1) - 1;
      if (n > 0) this.active.set(d, n);
      else {
        this.active.delete(d);
        if (this.retired.delete(d)) void closeQuietly(d);
      }
    }
  }

  replace(next: Driver): void {
    const old = this.current;
    this.current = next;
    if (old === next) return;
    if (this.active.has(old)) this.retired.add(old);
    else void closeQuietly(old);
  }
}

async function closeQuietly(d: Driver): Promise<void> {
  try {
    await d.close();
  } catch {
    // a driver that cannot be built or closed has nothing left to release
  }
}

export function wrapDriver(driver: Driver, opts: RuntimeOptions): RuntimeDriver {
  const { clock, cloud, health } = opts;
  const drivers = new InnerDriver(driver);
  const attempts = Math.max(1, opts.retry?.attempts ?? 5);
  const baseMs = opts.retry?.baseMs ?? 500;
  const maxMs = opts.retry?.maxMs ?? 30_000;
  const random = opts.random ?? Math.random;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeoutMs };
  const bucket = opts.ratePerSec ? createTokenBucket(clock, opts.ratePerSec, opts.burst ?? Math.max(1, opts.ratePerSec)) : undefined;

  const emit = (e: DriverCallEvent): void => {
    try {
      opts.onCall?.(e);
    } catch {
      // an observer must not break cloud calls
    }
  };

  /** One attempt: the driver call raced against its timeout and the caller's abort. */
  async function attempt<T>(op: DriverOp, signal: AbortSignal, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
    const inner = new AbortController();
    const timer = new AbortController();
    let timedOut = false;
    const detach: (() => void)[] = [];
    try {
      return await new Promise<T>((resolve, reject) => {
        detach.push(
          onAbort(signal, reject, () => {
            inner.abort(abortedError(op, cloud));
            return abortedError(op, cloud);
          }),
        );
        clock.sleep(timeouts[op], timer.signal).then(
          () => {
            timedOut = true;
            const e = new NubisError('CLOUD_TIMEOUT', `${op} on ${cloud} got no answer within ${timeouts[op]} ms`);
            inner.abort(e);
            reject(e);
          },
          () => {},
        );
        fn(inner.signal).then(resolve, (e: unknown) => {
          if (timedOut) return;
          if (signal.aborted) return reject(abortedError(op, cloud));
          reject(classifyDriverError(e, op, cloud));
        });
      });
    } finally {
      timer.abort();
      for (const d of detach) d();
    }
  }

  function view(correlationId?: string): Driver {
    async function call<T>(op: DriverOp, target: string, retryable: boolean, signal: AbortSignal, fn: (d: Driver, s: AbortSignal) => Promise<T>): Promise<T> {
      for (let n = 1; ; n++) {
        if (signal.aborted) throw abortedError(op, cloud);
        if (bucket) {
          try {
            await bucket.take(signal);
          } catch {
            throw abortedError(op, cloud);
          }
        }
        const admission = health?.admit(op);
        const started = clock.now();
        try {
          const out = await drivers.use((d) => attempt(op, signal, (s) => fn(d, s)));
          admission?.settle();
          emit({ cloud, platform: driver.platform, op, target, outcome: 'ok', latencyMs: clock.now() - started, attempt: n, ...(correlationId ? { correlationId } : {}) });
          return out;
        } catch (err) {
          const e = err as NubisError;
          const refused = admission?.settle(e) ?? false;
          emit({
            cloud,
            platform: driver.platform,
            op,
            target,
            outcome: 'error',
            latencyMs: clock.now() - started,
            errorCode: e.code,
            retryable: e.retryable,
            attempt: n,
            ...(correlationId ? { correlationId } : {}),
          });
          if (!e.retryable || !retryable || e.code === 'ABORTED' || n >= attempts || refused) throw e;
          const cap = Math.min(maxMs, baseMs * 2 ** (n - 1));
          const after = (e.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
          const waitMs = Math.max(random() * cap, typeof after === 'number' ? Math.min(after, maxMs) : 0);
          try {
            if (waitMs > 0) await clock.sleep(waitMs, signal);
          } catch {
            throw abortedError(op, cloud);
          }
        }
      }
    }

    const snapshotCalls = driver.snapshot && driver.snapshotStatus && driver.readSnapshot && driver.deleteSnapshot ? snapshotView(call) : {};
    return {
      platform: driver.platform,
      ...snapshotCalls,
      ...policyView(driver, call),
      create: (req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode> =>
        call('create', req.key, req.idempotencyToken !== '', signal, (d, s) => d.create(req, s)),
      get: (id, signal) => call('get', id, true, signal, (d, s) => d.get(id, s)),
      list: (tags, signal) =>
        call('list', Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(','), true, signal, (d, s) => d.list(tags, s)),
      delete: (id, signal) => call('delete', id, true, signal, (d, s) => d.delete(id, s)),
      reboot: (id, signal) => call('reboot', id, true, signal, (d, s) => d.reboot(id, s)),
      agent: (node) => drivers.current.agent(node),
      close: () => closeQuietly(drivers.current),
    };
  }

  return { ...view(), withCorrelation: (id) => view(id), replace: (next) => drivers.replace(next) };
}

/**
 * The placement and firewall calls of a wrapped view, when the driver has them: `hosts` is a
 * read; applying and removing a firewall are idempotent, so all three are retried. A firewall
 * call's event target is `firewall:<deployment>/<component>`.
 */
function policyView(driver: Driver, call: Call): Pick<Driver, PolicyOp> {
  const fw = (s: { deployment: string; component: string }): string => `firewall:${s.deployment}/${s.component}`;
  return {
    ...(driver.hosts ? { hosts: (signal: AbortSignal) => call('hosts', 'hosts', true, signal, (d, s) => d.hosts!(s)) } : {}),
    ...(driver.applyFirewall ? { applyFirewall: (set, signal) => call('applyFirewall', fw(set), true, signal, (d, s) => d.applyFirewall!(set, s)) } : {}),
    ...(driver.removeFirewall ? { removeFirewall: (set, signal) => call('removeFirewall', fw(set), true, signal, (d, s) => d.removeFirewall!(set, s)) } : {}),
  } as Pick<Driver, PolicyOp>;
}

type Call = <T>(op: DriverOp, target: string, retryable: boolean, signal: AbortSignal, fn: (d: Driver, s: AbortSignal) => Promise<T>) => Promise<T>;

/** The snapshot calls of a wrapped view, each through `call` (events, timeouts, retries, limits). */
function snapshotView(call: Call): Pick<Driver, SnapshotOp> {
  return {
    snapshot: (id, req, signal) => call('snapshot', id, false, signal, (d, s) => need(d, 'snapshot')(id, req, s)),
    snapshotStatus: (ref: SnapshotRef, signal) => call('snapshotStatus', ref.id, true, signal, (d, s) => need(d, 'snapshotStatus')(ref, s)),
    readSnapshot: (ref, signal) =>
      call('readSnapshot', ref.id, true, signal, (d, s) => need(d, 'readSnapshot')(ref, AbortSignal.any([s, signal]))),
    deleteSnapshot: (ref, signal) => call('deleteSnapshot', ref.id, true, signal, (d, s) => need(d, 'deleteSnapshot')(ref, s)),
  };
}
