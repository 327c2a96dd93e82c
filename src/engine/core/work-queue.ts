/**
 * A keyed work queue on a `Clock`. A key is queued at most once (adding a queued key is a
 * no-op); a key being processed is never handed out twice: added again meanwhile, it is queued
 * once more when its processing ends. Keys may be added after a delay (the earliest wins) or
 * rate-limited: each failure of a key doubles its delay, from `baseMs` up to `maxMs`, until the
 * key is forgotten (a success). Keys stopped by a terminal error are recorded with the error.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../../clock/index.js';
import type { NubisError } from '../../errors/index.js';

export interface WorkQueueOptions {
  clock: Clock;
  /** First delay of a rate-limited requeue. Default 1 000. */
  baseMs?: number;
  /** Longest delay of a rate-limited requeue. Default 30 000. */
  maxMs?: number;
  /** Jitter fraction: a delay d becomes d·(1 - jitter/2 … 1). Default 0 (exact delays). */
  jitter?: number;
  /** Called whenever a key becomes ready (for the runner to schedule a drain). */
  onReady?: () => void;
}

export interface TerminalRecord {
  key: string;
  error: NubisError;
  at: number;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly onReady: () => void;
  /** Ready keys in order, and the same as a set (dedupe). */
  private readonly order: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys waiting for a delay: when each is due. */
  private readonly waiting = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly terminals = new Map<string, TerminalRecord>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(opts: WorkQueueOptions) {
    this.clock = opts.clock;
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 30_000;
    this.jitter = opts.jitter ?? 0;
    this.onReady = opts.onReady ?? ((): void => undefined);
    // every delayed key listens on it
    setMaxListeners(0, this.abort.signal);
  }

  /** Queues a key now. A queued key stays queued once; a processing key is queued again after. */
  add(key: string): void {
    if (this.closed || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.terminals.delete(key);
    if (this.processing.has(key)) return;
    this.order.push(key);
    this.onReady();
  }

  /** Queues a key after `ms` of clock time; an earlier pending delay of the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const due = this.clock.now() + ms;
    const prev = this.waiting.get(key);
    if (prev !== undefined && prev <= due) return;
    this.waiting.set(key, due);
    this.clock.sleep(ms, this.abort.signal).then(
      () => {
        if (this.waiting.get(key) !== due) return; // superseded by an earlier delay
        this.waiting.delete(key);
        this.add(key);
      },
      () => undefined,
    );
  }

  /** Queues a key after its next backoff delay; returns that delay. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const ms = this.delayFor(n);
    this.addAfter(key, ms);
    return ms;
  }

  /** The delay after the `n`th consecutive failure (1-based): base·2^(n-1), at most max. */
  delayFor(n: number): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.max(0, n - 1));
    return this.jitter > 0 ? ceiling * (1 - this.jitter / 2 + Math.random() * (this.jitter / 2)) : ceiling;
  }

  /** Consecutive failures of a key since it was last forgotten. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Clears a key's failure count (it succeeded). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Records a key as stopped by a non-retryable error: it is not requeued until added again. */
  fail(key: string, error: NubisError): void {
    this.failures.delete(key);
    this.waiting.delete(key);
    this.terminals.set(key, { key, error, at: this.clock.now() });
  }

  /** Keys stopped by a terminal error, with the error. */
  terminal(): TerminalRecord[] {
    return [...this.terminals.values()];
  }

  /** Takes the next ready key and marks it processing; undefined when none is ready. */
  next(): string | undefined {
    while (this.head < this.order.length) {
      const key = this.order[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.order.length) {
        this.order.splice(0, this.head);
        this.head = 0;
      }
      if (!this.dirty.has(key) || this.processing.has(key)) continue;
      this.dirty.delete(key);
      this.processing.add(key);
      return key;
    }
    return undefined;
  }

  /** Ends processing of a key; if it was added meanwhile it is ready again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.closed) {
      this.order.push(key);
      this.onReady();
    }
  }

  /** Keys ready now (not processing). */
  readyCount(): number {
    let n = 0;
    for (const k of this.dirty) if (!this.processing.has(k)) n++;
    return n;
  }

  /** Ready keys plus those processing: 0 means nothing to do until a delay ends. */
  activeCount(): number {
    return this.readyCount() + this.processing.size;
  }

  /** Keys waiting for a delay. */
  waitingCount(): number {
    return this.waiting.size;
  }

  isQueued(key: string): boolean {
    return this.dirty.has(key);
  }

  /** Drops every queued key and pending delay; later adds are ignored. */
  close(): void {
    this.closed = true;
    this.abort.abort();
    this.dirty.clear();
    this.waiting.clear();
    this.order.length = 0;
    this.head = 0;
  }

  /** Drops ready keys without closing (a stop that lets processing end). */
  clearReady(): void {
    for (const k of [...this.dirty]) if (!this.processing.has(k)) this.dirty.delete(k);
  }
}
