/**
 * Graphite plaintext protocol (carbon's line receiver): one sample per line,
 *
 *   <path> <value> [<timestamp>]\n                       plain:  servers.web1.cpu 12.5 1718000000
 *   <name>;<tag>=<value>[;<tag>=<value>…] <value> [<ts>]   tagged: cpu;host=web1;dc=eu 12.5 1718000000
 *
 * Fields are separated by spaces or tabs. The timestamp is in seconds since the epoch and may be
 * fractional; absent or `-1` means "now" (the receiver's clock). A timestamp of 10^11 or more
 * (after the year 5138 in seconds) is read as milliseconds, as some senders write them; 10^14
 * or more (microseconds, nanoseconds) is malformed. A sample more than `maxFutureMs` (10 min)
 * ahead of the receiver's clock is rejected and counted (`future`): retention would never
 * remove it. Values are decimal numbers
 * (`nan`, `inf`, `-inf` accepted, as carbon's float() does). A plain path becomes the sample's
 * name whole (`{__name__="a.b.c"}`); tags become labels.
 *
 * Malformed lines (bad number, empty name, control characters or invalid UTF-8, a tag without
 * `=`, a line longer than `maxLineBytes`) are counted and returned, never thrown: one bad sender
 * cannot stop ingest.
 */
import type { Labels, Sample } from '../types.js';

/** Longest accepted line by default (bytes, newline excluded). */
export const GRAPHITE_MAX_LINE_BYTES = 64 * 1024;
/** How many malformed examples are kept for reporting. */
export const KEEP_EXAMPLES = 5;
/** Malformed examples are cut to this many characters. */
export const EXAMPLE_CHARS = 200;

/** Samples further ahead of the receiver's clock are rejected. */
export const GRAPHITE_MAX_FUTURE_MS = 10 * 60_000;
/** Timestamps from here on are milliseconds. */
export const MS_FROM = 1e11;
/** Timestamps from here on are neither seconds nor milliseconds. */
export const TOO_LARGE = 1e14;

export interface ParseResult {
  samples: Sample[];
  /** Each malformed or rejected line (cut to 200 characters, with the reason), in input order. */
  malformed: string[];
  /** How many of `malformed` were rejected as too far in the future (Graphite parsers). */
  future?: number;
}

/** Whether a parsed sample lies too far ahead (then the caller rejects it). */
export function tooFarAhead(s: Sample, now: number, maxFutureMs: number): boolean {
  return s.t > now + maxFutureMs;
}

export function futureReport(line: string, maxFutureMs: number): string {
  return `${describeMalformed(line)} (timestamp more than ${Math.round(maxFutureMs / 60_000)} min ahead of the receiver's clock)`;
}

export const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

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
export function mergeLabels(base: Labels | undefined, tags: Labels | undefined): Labels {
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

/** A line's fields: the path (name and tags, unparsed), time (ms) and value. */
export interface LineFields {
  path: string;
  t: number;
  v: number;
}

/** Splits and checks a line's fields; undefined when malformed (the path is checked by `pathSeries`). */
export function lineFields(raw: string, now: number): LineFields | undefined {
  // one pass: split on spaces/tabs into at most 3 fields, rejecting control characters
  let f0: string | undefined;
  let f1: string | undefined;
  let f2: string | undefined;
  let count = 0;
  let start = -1;
  const n = raw.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? raw.charCodeAt(i) : 0x20;
    if (c === 0x20 || c === 0x09 || (c === 0x0d && i === n - 1)) {
      if (start >= 0) {
        if (count === 3) return undefined;
        const f = raw.slice(start, i);
        if (count === 0) f0 = f;
        else if (count === 1) f1 = f;
        else f2 = f;
        count++;
        start = -1;
      }
    } else if (c < 0x20 || c === 0x7f || c === 0xfffd) {
      return undefined;
    } else if (start < 0) start = i;
  }
  if (count < 2) return undefined;
  const v = parseGraphiteNumber(f1!);
  if (v === undefined) return undefined;
  let t = now;
  if (f2 !== undefined && f2 !== '-1') {
    const ts = Number(f2);
    if (!NUMBER_RE.test(f2) || !Number.isFinite(ts) || ts < 0 || ts >= TOO_LARGE) return undefined;
    t = ts >= MS_FROM ? Math.round(ts) : Math.round(ts * 1000);
  }
  return { path: f0!, t, v };
}

/** The series a path names (tags parsed, `base` merged); undefined when the tags are malformed. */
export function pathSeries(path: string, base: Labels | undefined): { name: string; labels: Labels } | undefined {
  const semi = path.indexOf(';');
  if (semi < 0) return { name: path, labels: mergeLabels(base, undefined) };
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
  return { name, labels: mergeLabels(base, tags) };
}

/**
 * Parses one line (no newline; a trailing `\r` is allowed). Returns the sample, or undefined
 * when the line is malformed. Blank lines are the caller's to skip.
 */
export function parseGraphiteLine(raw: string, now: number, base?: Labels): Sample | undefined {
  const f = lineFields(raw, now);
  if (f === undefined) return undefined;
  const s = pathSeries(f.path, base);
  if (s === undefined) return undefined;
  return { name: s.name, labels: s.labels, t: f.t, v: f.v };
}
