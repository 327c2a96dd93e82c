/**
 * Sends import batches to VictoriaMetrics with at most `maxInFlight` requests at once (the
 * rest wait in a queue of at most `maxQueued` batches; past it the oldest waiting batch is
 * dropped and counted, so a dead server cannot eat the control plane's memory). Each request
 * gets a timeout sized to its body (`baseTimeoutMs` + bytes at `minBytesPerSec`), and a
 * retryable failure (timeout, network, 429, 5xx) is retried with exponential backoff.
 * `idle()` resolves when nothing is queued or in flight; the first failure that exhausted
 * its retries (or a drop) is kept for `takeFailure()`.
 */
import { NubisError } from '../../errors/index.js';
import { withRetry, DEFAULT_RETRY, type RetryPolicy, type VmCall } from './http-client.js';

export interface ImportQueueOptions {
  /** Requests in flight at most. Default 4. */
  maxInFlight?: number;
  /** Batches waiting at most. Default 64. */
  maxQueued?: number;
  /** Timeout of an empty request (ms). Default 10000. */
  baseTimeoutMs?: number;
  /** Slowest upload accepted before timing out (bytes/s). Default 1 MiB/s. */
  minBytesPerSec?: number;
  retry?: RetryPolicy;
}

export interface ImportStats {
  batches: number;
  samples: number;
  retries: number;
  failedBatches: number;
  droppedBatches: number;
  droppedSamples: number;
  inFlight: number;
  /** Most requests seen in flight at once. */
  peakInFlight: number;
}

interface Batch {
  body: string;
  samples: number;
}

export class ImportQueue {
  private readonly waiting: Batch[] = [];
  private inFlight = 0;
  private failure: NubisError | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly baseTimeoutMs: number;
  private readonly minBytesPerSec: number;
  private readonly retry: RetryPolicy;
  readonly st: ImportStats = { batches: 0, samples: 0, retries: 0, failedBatches: 0, droppedBatches: 0, droppedSamples: 0, inFlight: 0, peakInFlight: 0 };

  constructor(private readonly call: VmCall, opts: ImportQueueOptions = {}) {
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
    this.maxQueued = Math.max(0, opts.maxQueued ?? 64);
    this.baseTimeoutMs = opts.baseTimeoutMs ?? 10_000;
    this.minBytesPerSec = opts.minBytesPerSec ?? 1024 * 1024;
    this.retry = opts.retry ?? DEFAULT_RETRY;
  }

  /** The timeout for a body of this many bytes. */
  timeoutFor(bytes: number): number {
    return Math.ceil(this.baseTimeoutMs + (bytes / this.minBytesPerSec) * 1000);
  }

  push(body: string, samples: number): void {
    this.waiting.push({ body, samples });
    while (this.waiting.length > this.maxQueued) {
      const old = this.waiting.shift()!;
      this.st.droppedBatches++;
      this.st.droppedSamples += old.samples;
      this.failure ??= new NubisError('UNAVAILABLE', `VictoriaMetrics is not keeping up: ${this.maxInFlight} imports in flight and ${this.maxQueued} waiting; dropped a batch of ${old.samples} samples`);
    }
    this.pump();
  }

  idle(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  takeFailure(): NubisError | undefined {
    const f = this.failure;
    this.failure = undefined;
    return f;
  }

  stats(): ImportStats {
    return { ...this.st, inFlight: this.inFlight };
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const b = this.waiting.shift()!;
      this.inFlight++;
      this.st.peakInFlight = Math.max(this.st.peakInFlight, this.inFlight);
      void this.send(b).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.waiting.length === 0) {
          const ws = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of ws) w();
        }
      });
    }
  }

  private async send(b: Batch): Promise<void> {
    const timeoutMs = this.timeoutFor(Buffer.byteLength(b.body));
    try {
      await withRetry(
        this.retry,
        async () => {
          const r = await this.call('/api/v1/import', { method: 'POST', body: b.body, timeoutMs });
          await r.arrayBuffer();
        },
        () => {
          this.st.retries++;
        },
      );
      this.st.batches++;
      this.st.samples += b.samples;
    } catch (e) {
      this.st.failedBatches++;
      this.failure ??= e instanceof NubisError ? e : new NubisError('UNAVAILABLE', `VictoriaMetrics import failed: ${String(e)}`, { cause: e });
    }
  }
}
