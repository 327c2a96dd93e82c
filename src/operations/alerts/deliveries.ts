/**
 * The delivery queue: every message of an alert to a channel is a persisted row, tried until
 * the channel takes it or its attempts are spent. Retryable failures back off exponentially
 * with full jitter (`random() × min(cap, base × 2^(attempt-1))`); a give-up is an
 * `alert.delivery-failed` event. Runs on a Clock, so tests drive the backoff virtually.
 * A restarted server picks up the pending rows (a message may then arrive twice: receivers
 * drop repeats by its delivery id).
 */
import type { Clock } from '../../clock/index.js';
import type { EventInput } from '../../events/index.js';
import type { AlertDeliveryRow, Store } from '../../store/index.js';
import { DeliveryError } from './channels.js';

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  error?: string;
  /** Set when the failure ended the delivery. */
  final: boolean;
}

export interface DeliveryQueueOptions {
  clock: Clock;
  store: Store;
  append: (...e: EventInput[]) => Promise<void>;
  /** Sends one attempt; throws DeliveryError (or anything: treated as retryable). Resolves to the channel's most attempts. */
  attempt: (row: AlertDeliveryRow, signal: AbortSignal) => Promise<void>;
  /** The channel's most attempts for a row. */
  maxAttempts: (row: AlertDeliveryRow) => number;
  /** Default 1 000. */
  backoffBaseMs?: number;
  /** Default 300 000. */
  backoffCapMs?: number;
  /** Default Math.random. */
  random?: () => number;
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number;
}

/** The wait before attempt `n + 1` after `n` failed ones. */
export function backoffMs(failed: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, failed - 1));
  return Math.floor(random() * ceiling);
}

export class DeliveryQueue {
  private readonly rows = new Map<string, AlertDeliveryRow>();
  private readonly running = new Set<string>();
  private wake = new AbortController();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly base: number;
  private readonly cap: number;
  private readonly random: () => number;
  private readonly limit: number;
  private readonly inflight = new Set<Promise<void>>();
  private asleep = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly o: DeliveryQueueOptions) {
    this.base = o.backoffBaseMs ?? 1_000;
    this.cap = o.backoffCapMs ?? 300_000;
    this.random = o.random ?? Math.random;
    this.limit = o.concurrency ?? 4;
  }

  /** Loads the pending rows and starts sending. */
  async start(): Promise<void> {
    for (const r of await this.o.store.alerts.pendingDeliveries()) this.rows.set(r.id, r);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake.abort();
    await this.loop;
    await Promise.allSettled([...this.inflight]);
  }

  /** Takes rows already committed (pending) and sends them when due. */
  add(rows: AlertDeliveryRow[]): void {
    for (const r of rows) this.rows.set(r.id, r);
    this.asleep = false;
    this.wake.abort();
  }

  /** Resolves once nothing is being sent and the queue waits for its next due row (for tests on a virtual clock). */
  settled(): Promise<void> {
    if (this.asleep && this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Rows not yet delivered or given up. */
  pending(): number {
    return this.rows.size;
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const now = this.o.clock.now();
      let next = Infinity;
      for (const r of [...this.rows.values()].sort((a, b) => a.next_at - b.next_at)) {
        if (this.running.has(r.id)) continue;
        if (r.next_at > now) {
          next = Math.min(next, r.next_at);
          continue;
        }
        if (this.running.size >= this.limit) break;
        this.running.add(r.id);
        const p = this.once(r).finally(() => {
          this.running.delete(r.id);
          this.inflight.delete(p);
          this.asleep = false;
          this.wake.abort();
        });
        this.inflight.add(p);
      }
      this.wake = new AbortController();
      const signal = AbortSignal.any([this.wake.signal, this.stopping.signal]);
      // nothing due: sleep until the next row is, or until a row is added or an attempt ends
      const wait = next === Infinity ? 3_600_000 : Math.max(0, next - this.o.clock.now());
      const sleeping = this.o.clock.sleep(wait, signal).catch(() => undefined);
      this.asleep = true;
      if (this.running.size === 0) for (const w of this.waiters.splice(0)) w();
      await sleeping;
      this.asleep = false;
    }
  }

  private async once(r: AlertDeliveryRow): Promise<void> {
    const row = { ...r, attempts: r.attempts + 1 };
    let error: DeliveryError | undefined;
    try {
      await this.o.attempt(row, this.stopping.signal);
    } catch (e) {
      if (this.stopping.signal.aborted) return;
      error = e instanceof DeliveryError ? e : new DeliveryError(e instanceof Error ? e.message : String(e), true);
    }
    const now = this.o.clock.now();
    row.updated_at = now;
    const base = { tenant: row.tenant, kind: '', actor: 'alerts', target: row.alert, data: { alert: row.alert, channel: row.channel, message: row.message, delivery: row.id, attempts: row.attempts } };
    if (!error) {
      row.state = 'delivered';
      row.last_error = null;
      this.rows.delete(row.id);
      await Promise.all([this.o.store.write(this.o.store.alerts.putDelivery(row)), this.o.append({ ...base, kind: 'alert.delivered', outcome: 'ok', reason: `${row.message} sent through ${row.channel}` })]);
      return;
    }
    row.last_error = error.message;
    if (error.retryable && row.attempts < this.o.maxAttempts(row)) {
      row.next_at = now + backoffMs(row.attempts, this.base, this.cap, this.random);
      this.rows.set(row.id, row);
      await this.o.store.write(this.o.store.alerts.putDelivery(row));
      return;
    }
    row.state = 'failed';
    this.rows.delete(row.id);
    const why = error.retryable ? `gave up after ${row.attempts} attempts: ${error.message}` : `refused: ${error.message}`;
    await Promise.all([
      this.o.store.write(this.o.store.alerts.putDelivery(row)),
      this.o.append({ ...base, kind: 'alert.delivery-failed', outcome: 'error', reason: `${row.message} not delivered through ${row.channel}: ${why}`, data: { ...base.data, error: error.message, retryable: error.retryable } }),
    ]);
  }
}
