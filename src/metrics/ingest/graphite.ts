/**
 * Graphite plaintext protocol (carbon's line receiver): one sample per line,
 *
 *   <path> <value> [<timestamp>]\n                       plain:  servers.web1.cpu 12.5 1718000000
 *   <name>;<tag>=<value>[;<tag>=<value>…] <value> [<ts>]   tagged: cpu;host=web1;dc=eu 12.5 1718000000
 *
 * Fields are separated by spaces or tabs. The timestamp is in seconds since the epoch and may be
 * fractional; absent or `-1` means "now" (the receiver's clock). Values are decimal numbers
 * (`nan`, `inf`, `-inf` accepted, as carbon's float() does). A plain path becomes the sample's
 * name whole (`{__name__="a.b.c"}`); tags become labels.
 *
 * Malformed lines (bad number, empty name, control characters or invalid UTF-8, a tag without
 * `=`, a line longer than `maxLineBytes`) are counted and returned, never thrown: one bad sender
 * cannot stop ingest.
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Labels, Sample } from '../types.js';

/** Longest accepted line by default (bytes, newline excluded). */
export const GRAPHITE_MAX_LINE_BYTES = 64 * 1024;
/** How many malformed examples are kept for reporting. */
const KEEP_EXAMPLES = 5;
/** Malformed examples are cut to this many characters. */
const EXAMPLE_CHARS = 200;

export interface ParseResult {
  samples: Sample[];
  /** Each malformed line (cut to 200 characters), in input order. */
  malformed: string[];
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a number as carbon would: decimal or exponent form, or nan/inf; undefined when not a number. */
export function parseGraphiteNumber(s: string): number | undefined {
  if (NUMBER_RE.test(s)) return Number(s);
  switch (s.toLowerCase()) {
    case 'nan':
    case '+nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    default:
      return undefined;
  }
}

/** Shortens and makes a malformed line printable for reports. */
export function describeMalformed(line: string): string {
  const cut = line.length > EXAMPLE_CHARS ? `${line.slice(0, EXAMPLE_CHARS)}…(${line.length} chars)` : line;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\x00-\x08\x0a-\x1f\x7f\ufffd]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Merges `base` into `tags`: base labels win; a tag that collides with a base label is kept as
 * `exported_<name>` (as Prometheus does with honor_labels off).
 */
function mergeLabels(base: Labels | undefined, tags: Labels | undefined): Labels {
  if (!tags) return base ? { ...base } : {};
  if (!base) return tags;
  const out: Labels = { ...tags };
  for (const [k, v] of Object.entries(base)) {
    const had = out[k];
    if (had !== undefined && had !== v) out[`exported_${k}`] = had;
    out[k] = v;
  }
  return out;
}

/**
 * Parses one line (no newline; a trailing `\r` is allowed). Returns the sample, or undefined
 * when the line is malformed. Blank lines are the caller's to skip.
 */
export function parseGraphiteLine(raw: string, now: number, base?: Labels): Sample | undefined {
  // one pass: split on spaces/tabs into at most 3 fields, rejecting control characters
  const fields: string[] = [];
  let start = -1;
  const n = raw.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? raw.charCodeAt(i) : 0x20;
    if (c === 0x20 || c === 0x09 || (c === 0x0d && i === n - 1)) {
      if (start >= 0) {
        if (fields.length === 3) return undefined;
        fields.push(raw.slice(start, i));
        start = -1;
      }
    } else if (c < 0x20 || c === 0x7f || c === 0xfffd) {
      return undefined;
    } else if (start < 0) start = i;
  }
  if (fields.length < 2) return undefined;
  const [path, valueText, tsText] = fields as [string, string, string | undefined];
  const v = parseGraphiteNumber(valueText);
  if (v === undefined) return undefined;
  let t = now;
  if (tsText !== undefined && tsText !== '-1') {
    const ts = Number(tsText);
    if (!NUMBER_RE.test(tsText) || !Number.isFinite(ts) || ts < 0) return undefined;
    t = Math.round(ts * 1000);
  }
  const semi = path.indexOf(';');
  if (semi < 0) return { name: path, labels: mergeLabels(base, undefined), t, v };
  const name = path.slice(0, semi);
  if (name === '') return undefined;
  const tags: Labels = {};
  for (const part of path.slice(semi + 1).split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    // graphite: tag names must not contain ! ^ = ; values must be non-empty and not start with ~
    if (/[!^=]/.test(key) || value === '' || value.startsWith('~')) return undefined;
    tags[key] = value;
  }
  return { name, labels: mergeLabels(base, tags), t, v };
}

/**
 * Parses a block of Graphite plaintext (pure; for HTTP push bodies and files). Blank lines are
 * skipped; a final line without a newline counts. `now` (ms) stamps lines without a timestamp.
 */
export function parseGraphiteLines(text: string, opts: { now?: number; labels?: Labels } = {}): ParseResult {
  const now = opts.now ?? Date.now();
  const samples: Sample[] = [];
  const malformed: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const s = parseGraphiteLine(line, now, opts.labels);
    if (s) samples.push(s);
    else malformed.push(describeMalformed(line));
  }
  return { samples, malformed };
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

export function createGraphiteStreamParser(opts: { labels?: Labels; maxLineBytes?: number } = {}): GraphiteStreamParser {
  const max = opts.maxLineBytes ?? GRAPHITE_MAX_LINE_BYTES;
  let carry: Buffer | undefined;
  /** Inside an over-long line: skip bytes until the next newline. */
  let skipping = false;

  const parseText = (text: string, now: number, out: ParseResult): void => {
    let start = 0;
    while (start <= text.length) {
      let nl = text.indexOf('\n', start);
      if (nl < 0) nl = text.length;
      if (nl > start) {
        const line = text.slice(start, nl);
        if (line.trim() !== '') {
          const s = parseGraphiteLine(line, now, opts.labels);
          if (s) out.samples.push(s);
          else out.malformed.push(describeMalformed(line));
        }
      }
      start = nl + 1;
    }
  };

  return {
    push(chunk, now) {
      const out: ParseResult = { samples: [], malformed: [] };
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
          out.malformed.push(tooLong(pending.subarray(0, EXAMPLE_CHARS), max));
          carry = undefined;
          skipping = true;
        } else carry = Buffer.from(pending);
        return out;
      }
      const head = carry ? Buffer.concat([carry, buf.subarray(0, last)]) : buf.subarray(0, last);
      carry = undefined;
      // very long complete lines: report each once instead of parsing megabytes
      if (head.length > max) {
        let s = 0;
        while (s < head.length) {
          let e = head.indexOf(0x0a, s);
          if (e < 0) e = head.length;
          if (e - s > max) out.malformed.push(tooLong(head.subarray(s, s + EXAMPLE_CHARS), max));
          else parseText(head.toString('utf8', s, e), now, out);
          s = e + 1;
        }
      } else parseText(head.toString('utf8'), now, out);
      const rest = buf.subarray(last + 1);
      if (rest.length > max) {
        out.malformed.push(tooLong(rest.subarray(0, EXAMPLE_CHARS), max));
        skipping = true;
      } else if (rest.length > 0) carry = Buffer.from(rest);
      return out;
    },
    end(now) {
      const out: ParseResult = { samples: [], malformed: [] };
      if (carry && !skipping) parseText(carry.toString('utf8'), now, out);
      carry = undefined;
      skipping = false;
      return out;
    },
  };
}

export interface GraphiteListenerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Receives the samples of each received chunk at once (one call per chunk, never per line).
   * An exception thrown here is counted in `stats().deliveryErrors` and otherwise ignored.
   */
  onSamples(samples: Sample[]): void;
  /** Added to every sample; they win over a tag of the same name (kept as `exported_<name>`). */
  labels?: Labels;
  /** Default 64 KiB. */
  maxLineBytes?: number;
  /** Stamps lines without a timestamp. Default Date.now. */
  now?: () => number;
  /** Most simultaneous connections; more are refused. Default 1024. */
  maxConnections?: number;
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
  const now = opts.now ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const st: GraphiteListenerStats = { accepted: 0, malformed: 0, recentMalformed: [], connections: 0, deliveryErrors: 0 };

  const record = (r: ParseResult): void => {
    if (r.malformed.length > 0) {
      st.malformed += r.malformed.length;
      st.recentMalformed.push(...r.malformed.slice(-KEEP_EXAMPLES));
      if (st.recentMalformed.length > KEEP_EXAMPLES) st.recentMalformed.splice(0, st.recentMalformed.length - KEEP_EXAMPLES);
      st.lastMalformed = st.recentMalformed[st.recentMalformed.length - 1];
    }
    if (r.samples.length > 0) {
      st.accepted += r.samples.length;
      try {
        opts.onSamples(r.samples);
      } catch {
        st.deliveryErrors++;
      }
    }
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    st.connections++;
    const parser = createGraphiteStreamParser({ ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {}) });
    socket.on('data', (chunk: Buffer) => record(parser.push(chunk, now())));
    socket.on('end', () => {
      record(parser.end(now()));
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
