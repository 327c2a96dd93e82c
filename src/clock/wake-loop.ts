/**
 * A loop that runs one pass whenever it is woken or when the clock reaches the time the last
 * pass asked for: the shape of every policy that acts at computed instants (scaling rules,
 * schedules). One sleep at a time, on the Clock, so virtual time drives it in tests.
 */
import type { Clock } from './index.js';

export interface WakeLoop {
  /** Starts the loop (a no-op when running). */
  start(): void;
  /** Stops it and waits for the pass in progress. */
  stop(): Promise<void>;
  /** Cuts the current sleep short: the next pass runs now. */
  wake(): void;
  readonly running: boolean;
}

export interface WakeLoopOptions {
  clock: Clock;
  /**
   * One pass at `now`; returns the clock time it wants the next pass at (at or before `now`:
   * at once), or undefined to wait for `wake()` or `maxSleepMs`. A pass that throws is treated
   * as one that returned undefined: the loop never dies of it.
   */
  pass(now: number): Promise<number | undefined> | number | undefined;
  /** Longest sleep between passes. */
  maxSleepMs: number;
  /** Shortest sleep when a pass asks for a time in the future. Default 0. */
  minSleepMs?: number;
}

export function createWakeLoop(o: WakeLoopOptions): WakeLoop {
  let stopped = true;
  let abort: AbortController | undefined;
  let loop: Promise<void> | undefined;

  async function run(): Promise<void> {
    while (!stopped) {
      const now = o.clock.now();
      let next: number | undefined;
      try {
        next = await o.pass(now);
      } catch {
        next = undefined;
      }
      if (stopped) break;
      const after = o.clock.now();
      if (next !== undefined && next <= after) continue;
      const until = Math.min(next ?? Infinity, after + o.maxSleepMs);
      abort = new AbortController();
      try {
        await o.clock.sleep(Math.max(o.minSleepMs ?? 0, until - after), abort.signal);
      } catch {
        // woken by wake() or stop()
      }
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    async stop() {
      stopped = true;
      abort?.abort();
      await loop;
    },
    wake() {
      abort?.abort();
    },
    get running() {
      return !stopped;
    },
  };
}
