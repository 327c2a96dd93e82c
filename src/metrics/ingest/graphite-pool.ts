/**
 * Graphite parsing off the main thread: a pool of worker threads (graphite-worker.ts), started
 * on first use. `parse` hands a block of complete lines to the least busy worker and resolves
 * with its columns. If a worker fails, its blocks reject (the caller parses them itself) and the
 * pool stops taking work: ingest goes on, on the main thread.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Labels } from '../types.js';
import type { GraphiteColumns } from './graphite.js';

/** Workers by default: one per CPU the process may use, at most 4. */
export function defaultParseWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

interface Waiting {
  resolve(c: GraphiteColumns): void;
  reject(e: Error): void;
}

interface PoolWorker {
  w: Worker;
  waits: Map<number, Waiting>;
}

export class GraphiteParsePool {
  private workers: PoolWorker[] | undefined;
  private broken: Error | undefined;
  private nextId = 1;

  constructor(
    private readonly size: number,
    private readonly opts: { labels?: Labels; maxFutureMs?: number },
  ) {}

  /** Whether blocks can go to workers (false once one failed or the pool closed). */
  get usable(): boolean {
    return this.broken === undefined;
  }

  /** Parses a block of complete lines in a worker. Rejects when the pool is broken or closed. */
  parse(bytes: Uint8Array, now: number): Promise<GraphiteColumns> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    const ws = (this.workers ??= Array.from({ length: this.size }, () => this.spawn()));
    let pick = ws[0]!;
    for (const w of ws) if (w.waits.size < pick.waits.size) pick = w;
    const id = this.nextId++;
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    return new Promise<GraphiteColumns>((resolve, reject) => {
      pick.waits.set(id, { resolve, reject });
      pick.w.postMessage({ id, bytes: copy, now }, [copy.buffer]);
    });
  }

  private spawn(): PoolWorker {
    const w = new Worker(new URL('./graphite-worker.js', import.meta.url), { workerData: this.opts });
    const pw: PoolWorker = { w, waits: new Map() };
    w.unref();
    w.on('message', (m: { id: number; cols: GraphiteColumns }) => {
      const wait = pw.waits.get(m.id);
      pw.waits.delete(m.id);
      wait?.resolve(m.cols);
    });
    const fail = (e: Error): void => {
      this.broken ??= e;
      for (const wait of pw.waits.values()) wait.reject(e);
      pw.waits.clear();
    };
    w.on('error', (e) => fail(new Error(`graphite parse worker failed: ${e.message}`, { cause: e })));
    w.on('exit', (code) => fail(new Error(`graphite parse worker exited (${code})`)));
    return pw;
  }

  /** Stops the workers; blocks still in them reject. */
  async close(): Promise<void> {
    this.broken ??= new Error('graphite parse pool closed');
    const ws = this.workers ?? [];
    this.workers = undefined;
    await Promise.all(ws.map((pw) => pw.w.terminate()));
  }
}
