/**
 * Graphite plaintext ingest: block and stream parsers over the line rules of graphite-parse.ts,
 * the sender → tenant rules, and the TCP listener. With a `sink` the listener parses straight
 * from the received bytes and appends by series handle (graphite-bytes.ts).
 */
import { BlockList, createServer, isIP, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { HandleSink, Labels, Sample, SampleColumns } from '../types.js';
import { GraphiteParsePool } from './graphite-pool.js';
import { GraphiteByteParser } from './graphite-bytes.js';
import { startReaderThread, type StatsDelta } from './graphite-thread.js';
import {
  describeMalformed, EXAMPLE_CHARS, futureReport, GRAPHITE_MAX_FUTURE_MS, GRAPHITE_MAX_LINE_BYTES, KEEP_EXAMPLES, lineFields,
  parseGraphiteLine, pathSeries, tooFarAhead, type ParseResult,
} from './graphite-parse.js';

export { describeMalformed, GRAPHITE_MAX_FUTURE_MS, GRAPHITE_MAX_LINE_BYTES, parseGraphiteLine, parseGraphiteNumber, type ParseResult } from './graphite-parse.js';

/**
 * Samples in columns, as the worker-thread parser hands them over: the distinct series of a
 * block once (`names[k]`, `labels[k]`), then per sample its series index, time and value.
 */
export interface GraphiteColumns extends SampleColumns {
  /** As ParseResult: each rejected line's report, in input order; `future` of them too far ahead. */
  malformed: string[];
  future: number;
}

/** The samples of `c`, as the single-thread parser returns them (each with its own labels object). */
export function columnsToSamples(c: GraphiteColumns): Sample[] {
  const out = new Array<Sample>(c.n);
  for (let i = 0; i < c.n; i++) {
    const k = c.series[i]!;
    out[i] = { name: c.names[k]!, labels: { ...c.labels[k]! }, t: c.t[i]!, v: c.v[i]! };
  }
  return out;
}

/** A parser's memory of paths it has seen (a path's series, or null: malformed tags). */
export interface PathCache {
  map: Map<string, { name: string; labels: Labels; block: number; k: number } | null>;
  block: number;
}

const PATH_CACHE_MAX = 200_000;

export function createPathCache(): PathCache {
  return { map: new Map(), block: 0 };
}

/**
 * Parses complete lines (text without a partial last line) into columns: what
 * `parseGraphiteLines` returns, in columns, with each path's tags parsed once per `cache`.
 */
export function parseGraphiteBlock(text: string, now: number, opts: { labels?: Labels; maxFutureMs?: number }, cache: PathCache = createPathCache()): GraphiteColumns {
  const maxFuture = opts.maxFutureMs ?? GRAPHITE_MAX_FUTURE_MS;
  const lines = text.split('\n');
  const series = new Uint32Array(lines.length);
  const t = new Float64Array(lines.length);
  const v = new Float64Array(lines.length);
  const names: string[] = [];
  const labels: Labels[] = [];
  const malformed: string[] = [];
  let future = 0;
  let n = 0;
  if (cache.map.size > PATH_CACHE_MAX) cache.map.clear();
  const block = ++cache.block;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const f = lineFields(line, now);
    let e = f === undefined ? undefined : cache.map.get(f.path);
    if (f !== undefined && e === undefined) {
      const ps = pathSeries(f.path, opts.labels);
      e = ps === undefined ? null : { name: ps.name, labels: ps.labels, block: 0, k: 0 };
      cache.map.set(f.path, e);
    }
    if (f === undefined || e === null || e === undefined) {
      malformed.push(describeMalformed(line));
      continue;
    }
    if (f.t > now + maxFuture) {
      malformed.push(futureReport(line, maxFuture));
      future++;
      continue;
    }
    if (e.block !== block) {
      e.block = block;
      e.k = names.length;
      names.push(e.name);
      labels.push(e.labels);
    }
    series[n] = e.k;
    t[n] = f.t;
    v[n] = f.v;
    n++;
  }
  return { n, names, labels, series, t, v, malformed, future };
}

/**
 * Parses a block of Graphite plaintext (pure; for HTTP push bodies and files). Blank lines are
 * skipped; a final line without a newline counts. `now` (ms) stamps lines without a timestamp.
 */
export function parseGraphiteLines(text: string, opts: { now?: number; labels?: Labels; maxFutureMs?: number } = {}): ParseResult {
  const now = opts.now ?? Date.now();
  const maxFuture = opts.maxFutureMs ?? GRAPHITE_MAX_FUTURE_MS;
  const out: ParseResult = { samples: [], malformed: [], future: 0 };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const s = parseGraphiteLine(line, now, opts.labels);
    if (s === undefined) out.malformed.push(describeMalformed(line));
    else if (tooFarAhead(s, now, maxFuture)) {
      out.malformed.push(futureReport(line, maxFuture));
      out.future = (out.future ?? 0) + 1;
    } else out.samples.push(s);
  }
  return out;
}

/**
 * Incremental parser for a byte stream (one per connection). `push` parses every complete line
 * in the chunk at once and returns their samples; a partial last line is kept for the next
 * chunk. A line longer than `maxLineBytes` is dropped as malformed (once), and its bytes are
 * skipped up to the next newline without being buffered.
 */
/** Report text for an over-long line: its start, then the reason. */
function tooLong(start: Buffer, max: number): string {
  return `${describeMalformed(start.subarray(0, 80).toString('utf8'))}… (line longer than ${max} bytes)`;
}

export interface GraphiteStreamParser {
  push(chunk: Buffer, now: number): ParseResult;
  /** Parses what is left when the stream ends (a last line without newline). */
  end(now: number): ParseResult;
}

/** A piece of a byte stream: complete lines to parse, or an over-long line (its report). */
export type StreamPart = { bytes: Buffer } | { malformed: string };

export interface GraphiteSplitter {
  push(chunk: Buffer): StreamPart[];
  end(): StreamPart[];
}

/**
 * Cuts a byte stream into blocks of complete lines (a partial last line is kept for the next
 * chunk). A line longer than `max` bytes is reported once, and its bytes are skipped up to the
 * next newline without being buffered.
 */
/** Adds complete lines `head` to `out`: one block, except that each line over `max` bytes is reported instead. */
function completeLines(head: Buffer, max: number, out: StreamPart[]): void {
  if (head.length <= max) {
    out.push({ bytes: head });
    return;
  }
  // very long complete lines: report each once instead of parsing megabytes; runs of lines of
  // an acceptable length stay one block
  let s = 0;
  let run = 0;
  while (s < head.length) {
    let e = head.indexOf(0x0a, s);
    if (e < 0) e = head.length;
    if (e - s > max) {
      if (s > run) out.push({ bytes: head.subarray(run, s - 1) });
      out.push({ malformed: tooLong(head.subarray(s, s + EXAMPLE_CHARS), max) });
      run = e + 1;
    }
    s = e + 1;
  }
  if (head.length > run) out.push({ bytes: head.subarray(run) });
}

export function createGraphiteSplitter(max: number = GRAPHITE_MAX_LINE_BYTES): GraphiteSplitter {
  let carry: Buffer | undefined;
  /** Inside an over-long line: skip bytes until the next newline. */
  let skipping = false;
  return {
    push(chunk) {
      const out: StreamPart[] = [];
      let buf = chunk;
      if (skipping) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return out;
        skipping = false;
        buf = buf.subarray(nl + 1);
      }
      const last = buf.lastIndexOf(0x0a);
      if (last < 0) {
        const pending = carry ? Buffer.concat([carry, buf]) : buf;
        if (pending.length > max) {
          out.push({ malformed: tooLong(pending.subarray(0, EXAMPLE_CHARS), max) });
          carry = undefined;
          skipping = true;
        } else carry = Buffer.from(pending);
        return out;
      }
      if (carry) {
        // the carried start joins the chunk's first line; the rest of the chunk is not copied
        const first = buf.indexOf(0x0a);
        completeLines(Buffer.concat([carry, buf.subarray(0, first)]), max, out);
        carry = undefined;
        if (first < last) completeLines(buf.subarray(first + 1, last), max, out);
      } else completeLines(buf.subarray(0, last), max, out);
      const rest = buf.subarray(last + 1);
      if (rest.length > max) {
        out.push({ malformed: tooLong(rest.subarray(0, EXAMPLE_CHARS), max) });
        skipping = true;
      } else if (rest.length > 0) carry = Buffer.from(rest);
      return out;
    },
    end() {
      const out: StreamPart[] = carry && !skipping ? [{ bytes: carry }] : [];
      carry = undefined;
      skipping = false;
      return out;
    },
  };
}

export function createGraphiteStreamParser(opts: { labels?: Labels; maxLineBytes?: number; maxFutureMs?: number } = {}): GraphiteStreamParser {
  const maxFuture = opts.maxFutureMs ?? GRAPHITE_MAX_FUTURE_MS;
  const splitter = createGraphiteSplitter(opts.maxLineBytes ?? GRAPHITE_MAX_LINE_BYTES);

  const parseText = (text: string, now: number, out: ParseResult): void => {
    let start = 0;
    while (start <= text.length) {
      let nl = text.indexOf('\n', start);
      if (nl < 0) nl = text.length;
      if (nl > start) {
        const line = text.slice(start, nl);
        if (line.trim() !== '') {
          const s = parseGraphiteLine(line, now, opts.labels);
          if (s === undefined) out.malformed.push(describeMalformed(line));
          else if (tooFarAhead(s, now, maxFuture)) {
            out.malformed.push(futureReport(line, maxFuture));
            out.future = (out.future ?? 0) + 1;
          } else out.samples.push(s);
        }
      }
      start = nl + 1;
    }
  };
  const parse = (parts: StreamPart[], now: number): ParseResult => {
    const out: ParseResult = { samples: [], malformed: [], future: 0 };
    for (const p of parts) {
      if ('malformed' in p) out.malformed.push(p.malformed);
      else parseText(p.bytes.toString('utf8'), now, out);
    }
    return out;
  };

  return {
    push: (chunk, now) => parse(splitter.push(chunk), now),
    end: (now) => parse(splitter.end(), now),
  };
}

/** One `--graphite-tenants` entry: senders from this network write into this tenant. */
export interface GraphiteSourceRule {
  /** `10.0.0.0/8`, `192.168.1.7` (a /32), `fd00::/8`. */
  cidr: string;
  tenant: string;
}

/**
 * Maps a sender's address to a tenant: the first rule whose network holds the address wins;
 * loopback senders not matched by a rule go to `loopbackTenant` (when set); others are refused.
 */
export class GraphiteSources {
  private readonly rules: { list: BlockList; tenant: string; cidr: string }[] = [];

  constructor(rules: readonly GraphiteSourceRule[], private readonly loopbackTenant?: string) {
    for (const r of rules) {
      const list = new BlockList();
      const [net, bits] = parseCidr(r.cidr);
      const family = isIP(net) === 6 ? 'ipv6' : 'ipv4';
      list.addSubnet(net, bits, family);
      this.rules.push({ list, tenant: r.tenant, cidr: r.cidr });
    }
  }

  /** The rules it was made from (to make the same mapping in another thread). */
  describe(): { rules: GraphiteSourceRule[]; loopbackTenant?: string } {
    return { rules: this.rules.map((r) => ({ cidr: r.cidr, tenant: r.tenant })), ...(this.loopbackTenant !== undefined ? { loopbackTenant: this.loopbackTenant } : {}) };
  }

  /** The tenant for a sender, or undefined when the sender is refused. */
  tenantOf(address: string | undefined): string | undefined {
    if (address === undefined) return undefined;
    const mapped = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(mapped) === 6 ? 'ipv6' : 'ipv4';
    for (const r of this.rules) if (r.list.check(mapped, family)) return r.tenant;
    if (this.loopbackTenant !== undefined && isLoopback(mapped)) return this.loopbackTenant;
    return undefined;
  }
}

/** `a.b.c.d/n` or `x::/n` (no prefix: a single host). Throws a plain Error naming the text. */
export function parseCidr(cidr: string): [string, number] {
  const slash = cidr.indexOf('/');
  const net = slash < 0 ? cidr : cidr.slice(0, slash);
  const v = isIP(net);
  if (v === 0) throw new Error(`${JSON.stringify(cidr)} is not a network (expected e.g. 10.0.0.0/8)`);
  const max = v === 4 ? 32 : 128;
  const bits = slash < 0 ? max : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > max) throw new Error(`${JSON.stringify(cidr)}: the prefix length must be 0 to ${max}`);
  return [net, bits];
}

/** Parses `10.0.0.0/8=acme,192.168.0.0/16=beta` into rules. Throws a plain Error on bad text. */
export function parseGraphiteTenants(text: string): GraphiteSourceRule[] {
  const out: GraphiteSourceRule[] = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.lastIndexOf('=');
    if (eq <= 0 || eq === p.length - 1) throw new Error(`${JSON.stringify(p)}: expected <network>=<tenant>, e.g. 10.0.0.0/8=acme`);
    const cidr = p.slice(0, eq);
    parseCidr(cidr);
    out.push({ cidr, tenant: p.slice(eq + 1) });
  }
  return out;
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address === 'localhost' || (isIP(address) === 4 && address.startsWith('127.'));
}

export interface GraphiteListenerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Receives the samples of each received chunk at once (one call per chunk, never per line),
   * with the sender's tenant when `sources` is set. An exception thrown here is counted in
   * `stats().deliveryErrors` and otherwise ignored.
   */
  onSamples?(samples: Sample[], tenant?: string): void;
  /**
   * Where samples go by series handle, for a sender's tenant (called once per tenant). The
   * listener then parses the received bytes itself, finds each path's series by its bytes
   * (kept per tenant) and appends by handle: no Sample per line, no lookup by name in the
   * store (graphite-bytes.ts). When it returns undefined (a store that takes no handles), that
   * tenant's connections deliver to `onSamples`/`onColumns` as without it.
   */
  sink?(tenant: string | undefined): HandleSink | undefined;
  /** Maps senders to tenants; a sender it refuses is disconnected at once (counted). */
  sources?: GraphiteSources;
  /** Samples further ahead than this are rejected. Default 10 min. */
  maxFutureMs?: number;
  /** Added to every sample; they win over a tag of the same name (kept as `exported_<name>`). */
  labels?: Labels;
  /** Default 64 KiB. */
  maxLineBytes?: number;
  /** Stamps lines without a timestamp. Default Date.now. */
  now?: () => number;
  /** Most simultaneous connections; more are refused. Default 1024. */
  maxConnections?: number;
  /**
   * Worker threads that parse (graphite-pool.ts), started when a block of at least
   * `workerMinBytes` arrives; `defaultParseWorkers()` gives one per CPU, at most 4. Default 0:
   * parse on the main thread. Measured on a loaded 2-core machine the workers did not raise
   * throughput (the main thread still looks up each sample's series and pays ~0.5 ms per
   * 64 KiB message), and cost 1.3× the CPU; see the README's metrics section.
   * Samples reach `onSamples`/`onColumns` in the order their bytes arrived, as without workers.
   * Connections with a `sink` do not use them (the byte parser on this thread costs less than
   * a block's round trip to a worker; `readerThread` moves all of the reading instead).
   */
  parseWorkers?: number;
  /** Blocks smaller than this are parsed on the main thread. Default 16 KiB. */
  workerMinBytes?: number;
  /**
   * Receives each block's samples in columns instead of `onSamples` (no per-sample objects:
   * for a store that appends columns).
   */
  onColumns?(columns: GraphiteColumns, tenant?: string): void;
  /**
   * With a `sink`: accept, read and parse in a thread of the listener's own
   * (graphite-thread.ts), so this thread only appends; the reader stamps lines without a
   * timestamp with its own clock (`now` is not used). A tenant without a sink gets Samples in
   * `onSamples`. Default false: measured on a loaded 2-core machine (load 16–19), about the
   * same throughput as parsing on this thread (1.27× against 1.20× VictoriaMetrics's) for 5 %
   * more CPU, and a reader thread that fails is not restarted (graphite-thread.ts).
   */
  readerThread?: boolean;
}

export interface GraphiteListenerStats {
  accepted: number;
  malformed: number;
  /** The most recent malformed line (printable, cut to 200 characters). */
  lastMalformed?: string;
  /** The last few malformed lines, oldest first. */
  recentMalformed: string[];
  connections: number;
  deliveryErrors: number;
  /** Samples rejected as more than `maxFutureMs` ahead. */
  future: number;
  /** Connections refused because `sources` maps their sender to no tenant. */
  refusedConnections: number;
}

export interface GraphiteListener {
  readonly port: number;
  stats(): GraphiteListenerStats;
  /** Stops listening and drops open connections (their partial last lines are lost). */
  close(): Promise<void>;
}

/**
 * Starts a Graphite plaintext TCP listener. Rejects when the port cannot be bound (the error
 * names host and port). Once listening, nothing a client sends can make it fail.
 */
export async function startGraphiteListener(opts: GraphiteListenerOptions): Promise<GraphiteListener> {
  if (opts.readerThread && opts.sink !== undefined) return startThreadedListener(opts, opts.sink);
  const now = opts.now ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const st: GraphiteListenerStats = { accepted: 0, malformed: 0, recentMalformed: [], connections: 0, deliveryErrors: 0, future: 0, refusedConnections: 0 };

  const rejected = (malformed: readonly string[], future: number): void => {
    st.future += future;
    if (malformed.length > 0) {
      st.malformed += malformed.length - future;
      st.recentMalformed.push(...malformed.slice(-KEEP_EXAMPLES));
      if (st.recentMalformed.length > KEEP_EXAMPLES) st.recentMalformed.splice(0, st.recentMalformed.length - KEEP_EXAMPLES);
      st.lastMalformed = st.recentMalformed[st.recentMalformed.length - 1];
    }
  };
  const record = (r: ParseResult, tenant: string | undefined): void => {
    rejected(r.malformed, r.future ?? 0);
    if (r.samples.length > 0) {
      st.accepted += r.samples.length;
      try {
        opts.onSamples?.(r.samples, tenant);
      } catch {
        st.deliveryErrors++;
      }
    }
  };
  const recordColumns = (c: GraphiteColumns, tenant: string | undefined): void => {
    rejected(c.malformed, c.future);
    if (c.n > 0) {
      st.accepted += c.n;
      try {
        if (opts.onColumns) opts.onColumns(c, tenant);
        else opts.onSamples?.(columnsToSamples(c), tenant);
      } catch {
        st.deliveryErrors++;
      }
    }
  };
  const parseOpts = { ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.maxFutureMs !== undefined ? { maxFutureMs: opts.maxFutureMs } : {}) };
  // with a sink: one byte parser per tenant (its paths and handles), shared by its connections
  const parsers = new Map<string | undefined, GraphiteByteParser<unknown> | undefined>();
  const parserOf = (tenant: string | undefined): GraphiteByteParser<unknown> | undefined => {
    if (opts.sink === undefined) return undefined;
    if (!parsers.has(tenant)) {
      const sink = opts.sink(tenant);
      parsers.set(tenant, sink === undefined ? undefined : new GraphiteByteParser(sink, parseOpts));
    }
    return parsers.get(tenant);
  };
  const deliver = (parser: GraphiteByteParser<unknown>, parts: StreamPart[], t: number): void => {
    for (const p of parts) {
      if ('malformed' in p) {
        rejected([p.malformed], 0);
        continue;
      }
      try {
        const b = parser.parse(p.bytes, t);
        rejected(b.malformed, b.future);
        st.accepted += b.n + b.refused;
        parser.append(b);
      } catch {
        st.deliveryErrors++;
      }
    }
  };
  const workers = opts.parseWorkers ?? 0;
  const pool = workers > 0 ? new GraphiteParsePool(workers, parseOpts) : undefined;
  const minBytes = opts.workerMinBytes ?? 16 * 1024;
  const mainCache = createPathCache();
  /** Blocks in the workers above which the sending connection is paused (all resume at half). */
  const highWater = 2 * Math.max(1, workers) + 2;
  // one queue for all connections: blocks are delivered in the order they arrived
  type Queued = { cols?: GraphiteColumns; malformed?: string; tenant: string | undefined };
  const queue: Queued[] = [];
  let inFlight = 0;
  const paused = new Set<Socket>();
  const drain = (): void => {
    while (queue.length > 0 && (queue[0]!.cols !== undefined || queue[0]!.malformed !== undefined)) {
      const e = queue.shift()!;
      if (e.cols !== undefined) recordColumns(e.cols, e.tenant);
      else rejected([e.malformed!], 0);
    }
    if (paused.size > 0 && inFlight <= highWater / 2) {
      for (const s of paused) s.resume();
      paused.clear();
    }
  };

  const server = createServer((socket) => {
    let tenant: string | undefined;
    if (opts.sources !== undefined) {
      tenant = opts.sources.tenantOf(socket.remoteAddress);
      if (tenant === undefined) {
        st.refusedConnections++;
        socket.destroy();
        return;
      }
    }
    sockets.add(socket);
    st.connections++;
    const parser = parserOf(tenant);
    if (parser !== undefined) {
      const splitter = createGraphiteSplitter(opts.maxLineBytes || GRAPHITE_MAX_LINE_BYTES);
      socket.on('data', (chunk: Buffer) => deliver(parser, splitter.push(chunk), now()));
      socket.on('end', () => {
        deliver(parser, splitter.end(), now());
        socket.end();
      });
    } else if (pool === undefined) {
      const parser = createGraphiteStreamParser({
        ...(opts.labels ? { labels: opts.labels } : {}),
        ...(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {}),
        ...(opts.maxFutureMs !== undefined ? { maxFutureMs: opts.maxFutureMs } : {}),
      });
      socket.on('data', (chunk: Buffer) => record(parser.push(chunk, now()), tenant));
      socket.on('end', () => {
        record(parser.end(now()), tenant);
        socket.end();
      });
    } else {
      // blocks go to the workers (small ones are parsed here) and are delivered in arrival order
      const splitter = createGraphiteSplitter(opts.maxLineBytes || GRAPHITE_MAX_LINE_BYTES);
      const enqueue = (parts: StreamPart[], t: number): void => {
        for (const p of parts) {
          if ('malformed' in p) {
            queue.push({ malformed: p.malformed, tenant });
            continue;
          }
          if (p.bytes.length < minBytes || !pool.usable) {
            queue.push({ cols: parseGraphiteBlock(p.bytes.toString('utf8'), t, parseOpts, mainCache), tenant });
            continue;
          }
          const e: Queued = { tenant };
          queue.push(e);
          inFlight++;
          const bytes = p.bytes;
          pool.parse(bytes, t).then(
            (c) => {
              e.cols = c;
            },
            () => {
              e.cols = parseGraphiteBlock(bytes.toString('utf8'), t, parseOpts, mainCache); // the worker failed: parse here
            },
          ).finally(() => {
            inFlight--;
            drain();
          });
        }
        drain();
        if (inFlight >= highWater && !paused.has(socket)) {
          paused.add(socket);
          socket.pause();
        }
      };
      socket.on('data', (chunk: Buffer) => enqueue(splitter.push(chunk), now()));
      socket.on('end', () => {
        enqueue(splitter.end(), now());
        socket.end();
      });
    }
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      paused.delete(socket);
    });
  });
  server.maxConnections = opts.maxConnections ?? 1024;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new Error(`graphite listener cannot listen on ${host}:${opts.port}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen(opts.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', () => {}); // after listen: nothing is fatal

  return {
    port: (server.address() as AddressInfo).port,
    stats: () => ({ ...st, recentMalformed: [...st.recentMalformed] }),
    close: async () => {
      await new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      await pool?.close();
    },
  };
}


/** The listener with a reader thread: this thread merges its counters and appends its rows. */
async function startThreadedListener(opts: GraphiteListenerOptions, sinkOf: (tenant: string | undefined) => HandleSink | undefined): Promise<GraphiteListener> {
  const st: GraphiteListenerStats = { accepted: 0, malformed: 0, recentMalformed: [], connections: 0, deliveryErrors: 0, future: 0, refusedConnections: 0 };
  const merge = (d: StatsDelta): void => {
    st.accepted += d.accepted;
    st.malformed += d.malformed;
    st.future += d.future;
    st.connections += d.connections;
    st.refusedConnections += d.refusedConnections;
    if (d.recent.length > 0) {
      st.recentMalformed.push(...d.recent);
      if (st.recentMalformed.length > KEEP_EXAMPLES) st.recentMalformed.splice(0, st.recentMalformed.length - KEEP_EXAMPLES);
      st.lastMalformed = st.recentMalformed[st.recentMalformed.length - 1];
    }
  };
  const host = opts.host ?? '127.0.0.1';
  const reader = await startReaderThread(
    {
      port: opts.port, host, maxLineBytes: opts.maxLineBytes || GRAPHITE_MAX_LINE_BYTES, maxConnections: opts.maxConnections ?? 1024,
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.maxFutureMs !== undefined ? { maxFutureMs: opts.maxFutureMs } : {}),
      ...(opts.sources ? { sources: opts.sources.describe() } : {}),
    },
    {
      sinkOf,
      samples: (s, tenant) => opts.onSamples?.(s, tenant),
      stats: merge,
      failed: () => st.deliveryErrors++,
    },
  );
  return {
    port: reader.port,
    stats: () => ({ ...st, recentMalformed: [...st.recentMalformed] }),
    close: () => reader.close(),
  };
}
