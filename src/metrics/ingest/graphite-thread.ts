/**
 * The Graphite listener with its own reader thread (`readerThread` with a `sink`): a worker
 * (graphite-thread-worker.ts) accepts the connections, reads and parses them with the byte
 * parser and names each path by a stable id of its own, announced once with its name and
 * labels. Samples reach this thread as columns of (id, time, value) in transferred typed
 * arrays, about 32,000 at a time; here an id indexes an array of store handles (resolved on
 * first use, again after the store's handles went stale), so this thread only appends. The
 * worker pauses its sockets while this thread is several reports behind. A reader thread that
 * fails is not restarted: the listener stops taking samples (counted once as a delivery error).
 */
import { Worker } from 'node:worker_threads';
import type { HandleSink, Labels, Sample } from '../types.js';

/** What the reader thread is started with. */
export interface ReaderConfig {
  port: number;
  host: string;
  maxLineBytes: number;
  maxConnections: number;
  labels?: Labels;
  maxFutureMs?: number;
  sources?: { rules: { cidr: string; tenant: string }[]; loopbackTenant?: string };
}

/** One tenant's samples of a report: new paths first (id, name, labels), then rows [0, n). */
export interface TenantBatch {
  tenant: string | undefined;
  names: [number, string, Labels][];
  n: number;
  ids: Int32Array;
  t: Float64Array;
  v: Float64Array;
  /** The worker's path table started over: ids below this are not used again. */
  dropBelow?: number;
}

/** Listener counters since the previous report. */
export interface StatsDelta {
  accepted: number;
  malformed: number;
  future: number;
  /** The last few rejected lines' reports, oldest first. */
  recent: string[];
  connections: number;
  refusedConnections: number;
}

export type ReaderReport =
  | { type: 'listening'; port: number }
  | { type: 'error'; message: string }
  | { type: 'report'; batches: TenantBatch[]; stats: StatsDelta }
  | { type: 'closed' };

export type ReaderCommand = { type: 'ack' } | { type: 'close' };

/** Where a report goes on this thread. */
export interface ReaderTarget {
  /** The sink of a tenant (once per tenant); undefined: deliver Samples to `samples`. */
  sinkOf(tenant: string | undefined): HandleSink | undefined;
  samples(s: Sample[], tenant: string | undefined): void;
  stats(d: StatsDelta): void;
  /** A delivery threw (counted, not fatal). */
  failed(): void;
}

/** A tenant's ids as announced by the worker: their series, and their store handles. */
class TenantIds {
  readonly names: ({ name: string; labels: Labels } | undefined)[] = [];
  handles: unknown[] = [];
  private generation: number;
  private readonly out: unknown[] = [];
  private outT = new Float64Array(0);
  private outV = new Float64Array(0);

  constructor(readonly sink: HandleSink | undefined) {
    this.generation = sink?.handleGeneration ?? 0;
  }

  deliver(b: TenantBatch, target: ReaderTarget): void {
    for (const [id, name, labels] of b.names) {
      this.names[id] = { name, labels };
      this.handles[id] = undefined;
    }
    try {
      if (this.sink === undefined) this.samples(b, target);
      else this.append(this.sink, b);
    } catch {
      target.failed();
    }
    if (b.dropBelow !== undefined) {
      this.names.fill(undefined, 0, b.dropBelow);
      this.handles.fill(undefined, 0, Math.min(b.dropBelow, this.handles.length));
    }
  }

  private append(sink: HandleSink, b: TenantBatch): void {
    if (sink.handleGeneration !== this.generation) {
      this.handles = [];
      this.generation = sink.handleGeneration;
    }
    if (this.outT.length < b.n) {
      this.outT = new Float64Array(b.n);
      this.outV = new Float64Array(b.n);
    }
    const { ids, t, v } = b;
    const handles = this.handles;
    const out = this.out;
    const ot = this.outT;
    const ov = this.outV;
    let m = 0;
    for (let i = 0; i < b.n; i++) {
      const id = ids[i]!;
      let h = handles[id];
      if (h === undefined) {
        const e = this.names[id]!;
        h = sink.resolve(e.name, e.labels);
        if (h === undefined) continue; // refused (counted by the store): asked again next time
        handles[id] = h;
      }
      out[m] = h;
      ot[m] = t[i]!;
      ov[m] = v[i]!;
      m++;
    }
    if (m > 0) sink.appendResolved(out, ot, ov, m);
  }

  private samples(b: TenantBatch, target: ReaderTarget): void {
    const out = new Array<Sample>(b.n);
    for (let i = 0; i < b.n; i++) {
      const e = this.names[b.ids[i]!]!;
      out[i] = { name: e.name, labels: { ...e.labels }, t: b.t[i]!, v: b.v[i]! };
    }
    if (out.length > 0) target.samples(out, b.tenant);
  }
}

/**
 * Starts the reader thread; resolves once it listens (with its port), rejects when it cannot
 * bind (the error names host and port).
 */
export async function startReaderThread(cfg: ReaderConfig, target: ReaderTarget): Promise<{ port: number; close(): Promise<void> }> {
  const w = new Worker(new URL('./graphite-thread-worker.js', import.meta.url), { workerData: cfg });
  const tenants = new Map<string | undefined, TenantIds>();
  let closed: (() => void) | undefined;
  let exited = false;
  const port = await new Promise<number>((resolve, reject) => {
    w.on('message', (m: ReaderReport) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'error') reject(new Error(`graphite listener cannot listen on ${cfg.host}:${cfg.port}: ${m.message}`));
      else if (m.type === 'closed') closed?.();
      else {
        for (const b of m.batches) {
          let ti = tenants.get(b.tenant);
          if (ti === undefined) tenants.set(b.tenant, (ti = new TenantIds(target.sinkOf(b.tenant))));
          ti.deliver(b, target);
        }
        target.stats(m.stats);
        w.postMessage({ type: 'ack' } satisfies ReaderCommand);
      }
    });
    w.once('error', (e) => reject(new Error(`graphite listener thread failed: ${e.message}`, { cause: e })));
    w.once('exit', (code) => {
      exited = true;
      reject(new Error(`graphite listener thread exited (${code})`));
      if (closed === undefined) target.failed(); // not restarted: the listener stops taking samples
      closed?.();
    });
  });
  return {
    port,
    close: async () => {
      if (exited) return;
      const done = new Promise<void>((resolve) => (closed = resolve));
      w.postMessage({ type: 'close' } satisfies ReaderCommand);
      await done;
      await w.terminate();
    },
  };
}
