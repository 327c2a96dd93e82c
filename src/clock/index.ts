/**
 * Time as a dependency. Controllers, drivers and the sim cloud take a Clock so tests and
 * benchmarks can run hours of cloud time in seconds.
 */
export interface Clock {
  /** Milliseconds since the epoch, in this clock's time. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

/** The wall clock. */
export function createRealClock(): Clock {
  return {
    now: () => Date.now(),
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortError(signal));
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, Math.max(0, ms));
        const onAbort = (): void => {
          clearTimeout(t);
          reject(abortError(signal!));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

/** Wall time running `factor` times faster, from `start` (default: now). Works across processes. */
export function createScaledClock(factor: number, start = Date.now()): Clock {
  const real = createRealClock();
  const origin = Date.now();
  return {
    now: () => start + (Date.now() - origin) * factor,
    sleep: (ms, signal) => real.sleep(ms / factor, signal),
  };
}

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
}

export interface VirtualClock extends Clock {
  /** Moves time forward by `ms`, waking sleepers in order. */
  advance(ms: number): Promise<void>;
  /** Number of pending sleepers. */
  pending(): number;
  /**
   * Starts advancing automatically: whenever the process has no other work queued
   * (a setImmediate turn passes with sleepers pending), time jumps to the earliest sleeper.
   * Returns a function that stops it.
   */
  autoAdvance(): () => void;
}

/**
 * A discrete-event clock: time moves only when told to, or when everything is waiting on it
 * (autoAdvance). Use it for in-process simulations; it cannot span processes.
 */
export function createVirtualClock(start = 0): VirtualClock {
  let now = start;
  let seq = 0;
  const sleepers: Sleeper[] = [];

  const insert = (s: Sleeper): void => {
    // keep sorted by (at, seq); binary search insert
    let lo = 0;
    let hi = sleepers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = sleepers[mid]!;
      if (m.at < s.at || (m.at === s.at && m.seq < s.seq)) lo = mid + 1;
      else hi = mid;
    }
    sleepers.splice(lo, 0, s);
  };

  const wakeDue = (): void => {
    while (sleepers.length > 0 && sleepers[0]!.at <= now) sleepers.shift()!.resolve();
  };

  const clock: VirtualClock = {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortError(signal));
        const s: Sleeper = { at: now + Math.max(0, ms), seq: seq++, resolve: () => {} };
        const onAbort = (): void => {
          const i = sleepers.indexOf(s);
          if (i >= 0) sleepers.splice(i, 1);
          reject(abortError(signal!));
        };
        s.resolve = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        insert(s);
      });
    },
    async advance(ms) {
      const target = now + ms;
      while (sleepers.length > 0 && sleepers[0]!.at <= target) {
        now = Math.max(now, sleepers[0]!.at);
        wakeDue();
        // let woken tasks run and possibly schedule new sleepers
        await new Promise<void>((r) => setImmediate(r));
      }
      now = target;
    },
    pending: () => sleepers.length,
    autoAdvance() {
      let stopped = false;
      let idleTurns = 0;
      const tick = (): void => {
        if (stopped) return;
        if (sleepers.length > 0) {
          // two quiet turns in a row: everything runnable has run
          idleTurns++;
          if (idleTurns >= 2) {
            idleTurns = 0;
            now = Math.max(now, sleepers[0]!.at);
            wakeDue();
          }
        } else idleTurns = 0;
        setImmediate(tick);
      };
      setImmediate(tick);
      return () => {
        stopped = true;
      };
    },
  };
  return clock;
}

/**
 * A signal that aborts after `ms` of wall time (reason: a `TimeoutError` DOMException) or when
 * any of `signals` aborts. Use instead of `AbortSignal.any([AbortSignal.timeout(ms), …])`:
 * on Node 20 the composite holds its sources weakly, so a collected timeout signal never fires.
 * Call `clear()` when the operation ends.
 */
export function abortAfter(ms: number, ...signals: (AbortSignal | undefined)[]): { signal: AbortSignal; clear(): void } {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms);
  const unlink: (() => void)[] = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      ctl.abort(s.reason);
      break;
    }
    const on = (): void => ctl.abort(s.reason);
    s.addEventListener('abort', on, { once: true });
    unlink.push(() => s.removeEventListener('abort', on));
  }
  const clear = (): void => {
    clearTimeout(timer);
    for (const u of unlink) u();
  };
  ctl.signal.addEventListener('abort', clear, { once: true });
  return { signal: ctl.signal, clear };
}
export { parseCron, nextFire, isTimeZone, wallTime, wallToInstant, type CronSpec, type WallTime } from './cron.js';
export { createWakeLoop, type WakeLoop, type WakeLoopOptions } from './wake-loop.js';
