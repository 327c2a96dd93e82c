/**
 * Concurrency limiters for node creation. A caller acquires a permit before a create and
 * releases it when the node is running (or the create failed), reporting how long that took.
 *
 * The adaptive limiter finds the in-flight level at which a cloud provisions fastest, for
 * clouds whose provisioning slows down when too many creations run at once (see the sim's
 * `cloudsigma` model: 15–30 s up to 4 in flight, 60 s and more beyond). Its rule, in the
 * spirit of TCP Vegas:
 *
 * - baseline = the lowest latency among the last `window` successful samples;
 * - a sample is *inflated* when latency > `tolerance` × max(baseline, `floorMs`): with a floor,
 *   creates that end within a few milliseconds (a zero-latency cloud, where every sample is
 *   0 or 1 ms and any jitter would look like a doubling) never read as congestion;
 * - with `limit` permits in use and callers waiting, one extra *probe* permit may be granted
 *   (so the probe runs at limit + 1 while the others run at ≤ limit). A probe that comes
 *   back not inflated raises the limit by one (additive increase, one level per round trip)
 *   and the next probe may start at once; an inflated or failed probe leaves the limit and
 *   spaces further probes out: the next needs `limit × min(64, 8^failures)` samples first.
 *   A probe is only granted while at least 4 × limit callers wait (four more rounds of work
 *   to gain from a higher limit): near the end of a batch a slow probe would only stretch
 *   the makespan;
 * - an inflated or failed (ok: false) sample from a permit granted under the current limit
 *   cuts the limit multiplicatively (× `backoff`, at least `min`); samples from permits
 *   granted before that cut do not cut it again.
 *
 * A probe costs at most one slow create, and normal permits never run above the limit, so
 * the price of discovering the ceiling stays small.
 */
import type { Clock } from '../clock/index.js';
import { NubisError } from '../errors/index.js';

export interface LimitOutcome {
  /** From acquire to the end of the operation (for creates: until the node runs). */
  latencyMs: number;
  /** false for overload-type failures (throttling, unavailability, timeouts). */
  ok: boolean;
}

/**
 * Gives the permit back. Pass the outcome to teach an adaptive limiter; pass nothing when the
 * result says nothing about the cloud's load (aborted, rejected input). Calling twice is a no-op.
 */
export type LimitRelease = (outcome?: LimitOutcome) => void;

export interface ConcurrencyLimiter {
  /** Waits for a permit, first come first served. Rejects with ABORTED when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<LimitRelease>;
  /** The current limit (without a probe). */
  limit(): number;
  /** Permits held now (a probe included). */
  inFlight(): number;
  /** Callers waiting for a permit. */
  waiting(): number;
}

export interface AdaptiveLimiterOptions {
  clock: Clock;
  /** Starting limit. Default 2 (most clouds take two creations at once without slowing). */
  initial?: number;
  /** Default 1. */
  min?: number;
  /** Default 64. */
  max?: number;
  /** Latency more than tolerance × baseline counts as congestion. Default 2.5. */
  tolerance?: number;
  /** Multiplicative decrease factor. Default 0.5. */
  backoff?: number;
  /** Samples the baseline is taken over. Default 50. */
  window?: number;
  /** Samples older than this (clock ms) leave the baseline. Default 30 min. */
  windowMs?: number;
  /** The least baseline latency congestion is judged against (ms). Default 0. */
  floorMs?: number;
}

interface Waiter {
  grant: (release: LimitRelease) => void;
  reject: (e: unknown) => void;
}

function abortedError(): NubisError {
  return new NubisError('ABORTED', 'waiting for a concurrency permit was cancelled');
}

/** A FIFO queue of waiters plus the bookkeeping both limiters share. */
function createGate(decide: () => 'normal' | 'probe' | undefined, onRelease: (probe: boolean, epoch: number, outcome?: LimitOutcome) => void, epochNow: () => number) {
  const queue: Waiter[] = [];
  let inFlight = 0;

  const pump = (): void => {
    while (queue.length > 0) {
      const kind = decide();
      if (!kind) return;
      const w = queue.shift()!;
      inFlight++;
      const probe = kind === 'probe';
      const epoch = epochNow();
      let done = false;
      w.grant((outcome) => {
        if (done) return;
        done = true;
        inFlight--;
        onRelease(probe, epoch, outcome);
        pump();
      });
    }
  };

  return {
    inFlight: () => inFlight,
    waiting: () => queue.length,
    pump,
    acquire(signal?: AbortSignal): Promise<LimitRelease> {
      if (signal?.aborted) return Promise.reject(abortedError());
      return new Promise<LimitRelease>((resolve, reject) => {
        const w: Waiter = {
          grant: (r) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(r);
          },
          reject,
        };
        const onAbort = (): void => {
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
          reject(abortedError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(w);
        pump();
      });
    },
  };
}

/** A limiter with a fixed number of permits. Outcomes are ignored. */
export function createFixedLimiter(opts: { limit: number }): ConcurrencyLimiter {
  if (!(opts.limit >= 1)) throw new NubisError('REQUEST_INVALID', `limit must be at least 1, found ${opts.limit}`);
  let gate: ReturnType<typeof createGate>;
  // eslint-disable-next-line prefer-const
  gate = createGate(
    () => (gate.inFlight() < opts.limit ? 'normal' : undefined),
    () => {},
    () => 0,
  );
  return { acquire: (s) => gate.acquire(s), limit: () => opts.limit, inFlight: () => gate.inFlight(), waiting: () => gate.waiting() };
}

/** The adaptive limiter described at the top of this file. */
export function createAdaptiveLimiter(opts: AdaptiveLimiterOptions): ConcurrencyLimiter {
  const min = Math.max(1, opts.min ?? 1);
  const max = Math.max(min, opts.max ?? 64);
  const tolerance = opts.tolerance ?? 2.5;
  const backoff = opts.backoff ?? 0.5;
  const window = opts.window ?? 50;
  const windowMs = opts.windowMs ?? 30 * 60_000;
  const floorMs = Math.max(0, opts.floorMs ?? 0);
  const { clock } = opts;

  let limit = Math.min(max, Math.max(min, Math.round(opts.initial ?? 2)));
  let epoch = 0;
  let probing = false;
  let probeFailures = 0;
  let probeGap = 0;
  let samplesSinceProbe = 0;
  const samples: { at: number; latencyMs: number }[] = [];

  const baseline = (): number => {
    const cutoff = clock.now() - windowMs;
    while (samples.length > 0 && (samples.length > window || samples[0]!.at < cutoff)) samples.shift();
    return samples.reduce((m, s) => Math.min(m, s.latencyMs), Infinity);
  };

  let gate: ReturnType<typeof createGate>;
  // eslint-disable-next-line prefer-const
  gate = createGate(
    () => {
      if (gate.inFlight() < limit) return 'normal';
      // a probe only pays when enough work waits to use a higher limit after it returns
      const worthIt = gate.waiting() >= 4 * limit;
      if (!probing && worthIt && limit < max && samplesSinceProbe >= probeGap && gate.inFlight() === limit) {
        probing = true;
        return 'probe';
      }
      return undefined;
    },
    (probe, grantedIn, outcome) => {
      if (probe) probing = false;
      if (!outcome) return;
      let inflated = !outcome.ok;
      if (outcome.ok) {
        samples.push({ at: clock.now(), latencyMs: outcome.latencyMs });
        inflated = outcome.latencyMs > tolerance * Math.max(floorMs, baseline());
      }
      samplesSinceProbe++;
      if (probe) {
        samplesSinceProbe = 0;
        if (inflated) {
          probeFailures++;
          probeGap = limit * Math.min(64, 8 ** probeFailures);
        } else {
          probeFailures = 0;
          probeGap = 0;
          limit = Math.min(max, limit + 1);
        }
      } else if (inflated && grantedIn === epoch) {
        limit = Math.max(min, Math.floor(limit * backoff));
        epoch++;
        samplesSinceProbe = 0;
        probeGap = Math.max(probeGap, limit * 4);
      }
    },
    () => epoch,
  );

  return { acquire: (s) => gate.acquire(s), limit: () => limit, inFlight: () => gate.inFlight(), waiting: () => gate.waiting() };
}
