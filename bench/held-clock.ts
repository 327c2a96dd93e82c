/**
 * A benchmark clock: wall time for short sleeps (polls, backoff, steps), while sleeps of at
 * least `holdFromMs` (the engine's periodic loops: sweep, agent observation) are held until the
 * benchmark calls `cycle()`, which moves time forward by `stepMs` and wakes every held sleeper
 * that is then due. So one `cycle()` is one round of the periodic loops, and a benchmark can
 * time exactly that round with the control plane otherwise running as it does in production.
 */
import type { Clock } from '../src/clock/index.js';
import { createRealClock } from '../src/clock/index.js';

interface Held {
  at: number;
  wake: () => void;
}

export interface HeldClock extends Clock {
  /** Moves time by `stepMs` and wakes the held sleepers now due; resolves with how many woke. */
  cycle(stepMs: number): number;
  /** Sleepers held now. */
  held(): number;
}

export function createHeldClock(holdFromMs: number): HeldClock {
  const real = createRealClock();
  let offset = 0;
  const held = new Set<Held>();
  const now = (): number => Date.now() + offset;
  return {
    now,
    sleep(ms, signal) {
      if (ms < holdFromMs) return real.sleep(ms, signal);
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        const h: Held = {
          at: now() + ms,
          wake: () => {
            held.delete(h);
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          held.delete(h);
          reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        held.add(h);
      });
    },
    cycle(stepMs) {
      offset += stepMs;
      const t = now();
      let woke = 0;
      for (const h of [...held]) {
        if (h.at <= t) {
          h.wake();
          woke++;
        }
      }
      return woke;
    },
    held: () => held.size,
  };
}
