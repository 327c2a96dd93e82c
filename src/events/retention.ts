/**
 * Event retention: on a timer, deletes events older than `maxAgeMs` and, per tenant, all but
 * the newest `maxPerTenant`. Each pass deletes in batches until nothing is left to delete, so
 * a large backlog is cut down without holding the store's writer for long at a time.
 */
import type { Clock } from '../clock/index.js';
import type { Store } from '../store/index.js';

export interface EventRetentionOptions {
  store: Pick<Store, 'pruneEvents'>;
  clock: Clock;
  /** Events older than this are deleted. Default 30 days. */
  maxAgeMs?: number;
  /** Each tenant keeps at most this many events (its newest). Default 1,000,000. */
  maxPerTenant?: number;
  /** Time between passes. Default 10 minutes; the first pass runs at start. */
  intervalMs?: number;
  /** Rows per delete. Default 5,000. */
  batch?: number;
  log?: (message: string) => void;
}

export const EVENT_RETENTION_DEFAULTS = { maxAgeMs: 30 * 86_400_000, maxPerTenant: 1_000_000, intervalMs: 600_000, batch: 5_000 } as const;

export interface EventRetention {
  /** One pass: resolves with how many events it deleted by age and by count. */
  prune(): Promise<{ byAge: number; byCount: number }>;
  /** Starts the timer (a pass now, then every interval). */
  start(): void;
  /** Stops the timer; resolves once a running pass has finished. */
  stop(): Promise<void>;
}

class TimedEventRetention implements EventRetention {
  private readonly o: Required<Omit<EventRetentionOptions, 'log'>> & Pick<EventRetentionOptions, 'log'>;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(opts: EventRetentionOptions) {
    this.o = { ...EVENT_RETENTION_DEFAULTS, ...opts };
    for (const k of ['maxAgeMs', 'maxPerTenant', 'intervalMs', 'batch'] as const) {
      if (!Number.isInteger(this.o[k]) || this.o[k] < 1) throw new RangeError(`event retention: ${k} must be a positive integer, found ${this.o[k]}`);
    }
    Object.freeze(this.o);
  }

  async prune(): Promise<{ byAge: number; byCount: number }> {
    const total = { byAge: 0, byCount: 0 };
    for (;;) {
      const r = await this.o.store.pruneEvents({ olderThan: this.o.clock.now() - this.o.maxAgeMs, maxPerTenant: this.o.maxPerTenant, batch: this.o.batch });
      total.byAge += r.byAge;
      total.byCount += r.byCount;
      if (r.byAge < this.o.batch && r.byCount < this.o.batch) return total;
    }
  }

  start(): void {
    if (this.abort) return;
    const abort = (this.abort = new AbortController());
    this.loop = (async () => {
      while (!abort.signal.aborted) {
        try {
          const r = await this.prune();
          if (r.byAge + r.byCount > 0) this.o.log?.(`nubis: event retention deleted ${r.byAge} event(s) past ${this.o.maxAgeMs} ms and ${r.byCount} beyond ${this.o.maxPerTenant} per tenant`);
        } catch (e) {
          this.o.log?.(`nubis: event retention failed (next pass in ${this.o.intervalMs} ms): ${e instanceof Error ? e.message : String(e)}`);
        }
        await this.o.clock.sleep(this.o.intervalMs, abort.signal).catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.abort = undefined;
    await this.loop;
    this.loop = undefined;
  }
}

/** An event retention over the store; call `start()` to run it on the clock. */
export function createEventRetention(opts: EventRetentionOptions): EventRetention {
  return new TimedEventRetention(opts);
}
