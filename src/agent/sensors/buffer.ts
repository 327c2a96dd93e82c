/**
 * A bounded ring buffer of samples with a cursor, from which the control plane pulls.
 *
 * The cursor is the count of samples ever appended since the agent started: `read(after)`
 * returns the samples appended after cursor `after` and the cursor to pass next time.
 * On overflow the oldest samples are overwritten; a reader that fell behind gets what is still
 * there and `dropped`, the number it missed. A cursor beyond the end (the agent restarted and
 * counts from 0 again, under a new `epoch`) reads from the oldest retained sample with `reset`.
 *
 * `waitFor(after, ms)` holds a reader until a sample beyond `after` is appended (or `ms` pass, or
 * its signal aborts): the control plane's held read, so a sample reaches it as it is taken.
 */
import { randomBytes } from 'node:crypto';
import type { Sample } from '../../metrics/types.js';

export interface SampleRead {
  samples: Sample[];
  /** Pass as `after` next time. */
  cursor: number;
  /** Samples overwritten before this reader got them. */
  dropped: number;
  /** More samples are waiting beyond `limit`. */
  more: boolean;
  /** Identifies this buffer's life; it changes when the agent restarts. */
  epoch: string;
  /** The cursor given was from another epoch (or in the future): reading restarted at the oldest. */
  reset: boolean;
}

export interface SampleBuffer {
  readonly capacity: number;
  append(samples: readonly Sample[]): void;
  read(after: number, limit: number): SampleRead;
  /** Cursor of the newest sample (samples appended so far). */
  end(): number;
  /**
   * Resolves once the buffer holds a sample beyond `after` (at once when it already does, or when
   * `after` is from another epoch), or after `ms`, or when `signal` aborts; never rejects.
   */
  waitFor(after: number, ms: number, signal?: AbortSignal): Promise<void>;
}

/** Default capacity: 100,000 samples. */
export const DEFAULT_BUFFER_SAMPLES = 100_000;

export function createSampleBuffer(capacity = DEFAULT_BUFFER_SAMPLES): SampleBuffer {
  const ring: (Sample | undefined)[] = new Array<Sample | undefined>(capacity);
  const epoch = randomBytes(6).toString('hex');
  let total = 0;
  const waiters = new Set<() => void>();
  return {
    capacity,
    append(samples) {
      for (const s of samples) {
        ring[total % capacity] = s;
        total++;
      }
      if (samples.length > 0) for (const w of [...waiters]) w();
    },
    waitFor(after, ms, signal) {
      if (after !== total || ms <= 0 || signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    read(after, limit) {
      const oldest = Math.max(0, total - capacity);
      let start = after;
      let dropped = 0;
      let reset = false;
      if (after > total) {
        start = oldest;
        reset = true;
      } else if (after < oldest) {
        dropped = oldest - after;
        start = oldest;
      }
      const end = Math.min(total, start + Math.max(0, limit));
      const samples: Sample[] = [];
      for (let i = start; i < end; i++) samples.push(ring[i % capacity]!);
      return { samples, cursor: end, dropped, more: end < total, epoch, reset };
    },
    end: () => total,
  };
}
