/**
 * The Graphite listener's reader thread (started by graphite-thread.ts): the TCP server, the
 * sender → tenant rules, the splitter and one byte parser per tenant, whose "store" here hands
 * out ids of its own (one per path) and collects rows. Rows and counters go to the main thread
 * in reports: at once when a tenant's batch is full, else within `REPORT_MS`. While
 * `MAX_UNACKED` reports wait for the main thread, every socket is paused.
 */
import { createServer, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { HandleSink, Labels } from '../types.js';
import { createGraphiteSplitter, GraphiteSources, type StreamPart } from './graphite.js';
import { GraphiteByteParser } from './graphite-bytes.js';
import { KEEP_EXAMPLES } from './graphite-parse.js';
import type { ReaderCommand, ReaderConfig, ReaderReport, StatsDelta, TenantBatch } from './graphite-thread.js';

const cfg = workerData as ReaderConfig;
const port = parentPort!;
const BATCH_ROWS = 1 << 15;
const REPORT_MS = 2;
const MAX_UNACKED = 8;

let nextId = 0;

/** A tenant's rows since the last report, and the ids its parser handed out. */
class Outbox implements HandleSink<number> {
  readonly handleGeneration = 0;
  readonly parser: GraphiteByteParser<number>;
  names: [number, string, Labels][] = [];
  ids = new Int32Array(BATCH_ROWS);
  t = new Float64Array(BATCH_ROWS);
  v = new Float64Array(BATCH_ROWS);
  n = 0;
  dropBelow: number | undefined;
  private clears = 0;

  constructor(readonly tenant: string | undefined) {
    this.parser = new GraphiteByteParser<number>(this, { ...(cfg.labels ? { labels: cfg.labels } : {}), ...(cfg.maxFutureMs !== undefined ? { maxFutureMs: cfg.maxFutureMs } : {}) });
  }

  resolve(name: string, labels: Labels): number {
    if (this.parser.paths.clears !== this.clears) {
      this.clears = this.parser.paths.clears;
      this.dropBelow = nextId; // the ids before the table started over are not used again
    }
    const id = nextId++;
    this.names.push([id, name, labels]);
    return id;
  }

  appendResolved(handles: readonly number[], t: Float64Array, v: Float64Array, n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.n === BATCH_ROWS) report();
      const k = this.n++;
      this.ids[k] = handles[i]!;
      this.t[k] = t[i]!;
      this.v[k] = v[i]!;
    }
    schedule();
  }

  /** The batch for a report (the arrays are transferred); empty afterwards. */
  take(): TenantBatch | undefined {
    if (this.n === 0 && this.names.length === 0) return undefined;
    const b: TenantBatch = { tenant: this.tenant, names: this.names, n: this.n, ids: this.ids, t: this.t, v: this.v, ...(this.dropBelow !== undefined ? { dropBelow: this.dropBelow } : {}) };
    this.names = [];
    this.ids = new Int32Array(BATCH_ROWS);
    this.t = new Float64Array(BATCH_ROWS);
    this.v = new Float64Array(BATCH_ROWS);
    this.n = 0;
    this.dropBelow = undefined;
    return b;
  }
}

const outboxes = new Map<string | undefined, Outbox>();
const emptyStats = (): StatsDelta => ({ accepted: 0, malformed: 0, future: 0, recent: [], connections: 0, refusedConnections: 0 });
let stats = emptyStats();
let timer: NodeJS.Timeout | undefined;
let unacked = 0;
const sockets = new Set<Socket>();
let paused = false;

function schedule(): void {
  timer ??= setTimeout(report, REPORT_MS);
}

function report(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  const batches: TenantBatch[] = [];
  for (const o of outboxes.values()) {
    const b = o.take();
    if (b !== undefined) batches.push(b);
  }
  const msg: ReaderReport = { type: 'report', batches, stats };
  stats = emptyStats();
  port.postMessage(msg, batches.flatMap((b) => [b.ids.buffer as ArrayBuffer, b.t.buffer as ArrayBuffer, b.v.buffer as ArrayBuffer]));
  if (++unacked >= MAX_UNACKED && !paused) {
    paused = true;
    for (const s of sockets) s.pause();
  }
}

function rejected(malformed: readonly string[], future: number): void {
  stats.future += future;
  stats.malformed += malformed.length - future;
  if (malformed.length > 0) {
    stats.recent.push(...malformed.slice(-KEEP_EXAMPLES));
    if (stats.recent.length > KEEP_EXAMPLES) stats.recent.splice(0, stats.recent.length - KEEP_EXAMPLES);
    schedule();
  }
}

function deliver(o: Outbox, parts: StreamPart[]): void {
  const now = Date.now();
  for (const p of parts) {
    if ('malformed' in p) {
      rejected([p.malformed], 0);
      continue;
    }
    const b = o.parser.parse(p.bytes, now);
    rejected(b.malformed, b.future);
    stats.accepted += b.n + b.refused;
    o.parser.append(b);
  }
}

const sources = cfg.sources === undefined ? undefined : new GraphiteSources(cfg.sources.rules, cfg.sources.loopbackTenant);

const server = createServer((socket) => {
  let tenant: string | undefined;
  if (sources !== undefined) {
    tenant = sources.tenantOf(socket.remoteAddress);
    if (tenant === undefined) {
      stats.refusedConnections++;
      schedule();
      socket.destroy();
      return;
    }
  }
  sockets.add(socket);
  stats.connections++;
  schedule();
  if (paused) socket.pause();
  let o = outboxes.get(tenant);
  if (o === undefined) outboxes.set(tenant, (o = new Outbox(tenant)));
  const box = o;
  const splitter = createGraphiteSplitter(cfg.maxLineBytes);
  socket.on('data', (chunk: Buffer) => deliver(box, splitter.push(chunk)));
  socket.on('end', () => {
    deliver(box, splitter.end());
    socket.end();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => sockets.delete(socket));
});
server.maxConnections = cfg.maxConnections;
server.once('error', (e) => port.postMessage({ type: 'error', message: e.message } satisfies ReaderReport));
server.listen(cfg.port, cfg.host, () => {
  server.on('error', () => {}); // after listen: nothing is fatal
  const addr = server.address();
  port.postMessage({ type: 'listening', port: typeof addr === 'object' && addr !== null ? addr.port : cfg.port } satisfies ReaderReport);
});

port.on('message', (m: ReaderCommand) => {
  if (m.type === 'ack') {
    unacked--;
    if (paused && unacked <= MAX_UNACKED / 2) {
      paused = false;
      for (const s of sockets) s.resume();
    }
    return;
  }
  for (const s of sockets) s.destroy();
  server.close(() => {
    report();
    port.postMessage({ type: 'closed' } satisfies ReaderReport);
  });
});
