/**
 * Graphite lines parsed straight from the received bytes into a store by series handle: no
 * string, Sample or labels object per line. A path seen before is found by its bytes
 * (graphite-paths.ts) together with the store's handle for its series, so the store does not
 * look the series up either. Plain lines (ASCII path, decimal value with at most 15 significant
 * digits, optional seconds or milliseconds timestamp) take this path; every other line (tags
 * are fine: they are parsed once per path) goes through the string parser of
 * graphite-parse.ts, so both give the same samples and rejections.
 */
import type { HandleSink, Labels } from '../types.js';
import { describeMalformed, futureReport, GRAPHITE_MAX_FUTURE_MS, lineFields, MS_FROM, pathSeries, TOO_LARGE } from './graphite-parse.js';
import { FNV_OFFSET, PathTable, type PathEntry } from './graphite-paths.js';

/** A block's samples by handle, [0, n), and its rejected lines; reused by the next block. */
export interface ResolvedBlock<H> {
  n: number;
  handles: H[];
  t: Float64Array;
  v: Float64Array;
  /** Samples the store refused (the series cap); they are not in [0, n). */
  refused: number;
  /** Each rejected line's report, in input order; `future` of them too far ahead. */
  malformed: string[];
  future: number;
}

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const NL = 0x0a;
/** 10^k, exact as doubles for k ≤ 22. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** Where `fastNumber` stopped (the byte after the number). */
let numEnd = 0;

/**
 * The decimal number at `buf[i…]` when it can be computed exactly here: at most 15
 * significant digits and a power of ten up to 22 (one correctly rounded operation, so the
 * same double as `Number(text)`); NaN otherwise (then the line takes the string parser).
 */
function fastNumber(buf: Uint8Array, i: number, len: number): number {
  let j = i;
  let c = j < len ? buf[j]! : 0;
  let neg = false;
  if (c === 0x2b || c === 0x2d) {
    neg = c === 0x2d;
    c = ++j < len ? buf[j]! : 0;
  }
  let m = 0;
  let digits = 0;
  let scale = 0;
  let any = false;
  while (c >= 0x30 && c <= 0x39) {
    any = true;
    if (m !== 0 || c !== 0x30) {
      if (++digits > 15) return NaN;
      m = m * 10 + (c - 0x30);
    }
    c = ++j < len ? buf[j]! : 0;
  }
  if (c === 0x2e) {
    c = ++j < len ? buf[j]! : 0;
    while (c >= 0x30 && c <= 0x39) {
      any = true;
      if (m !== 0 || c !== 0x30) {
        if (++digits > 15) return NaN;
        m = m * 10 + (c - 0x30);
      }
      scale--;
      c = ++j < len ? buf[j]! : 0;
    }
  }
  if (!any) return NaN;
  if (c === 0x65 || c === 0x45) {
    c = ++j < len ? buf[j]! : 0;
    let eneg = false;
    if (c === 0x2b || c === 0x2d) {
      eneg = c === 0x2d;
      c = ++j < len ? buf[j]! : 0;
    }
    let e = 0;
    let ed = 0;
    while (c >= 0x30 && c <= 0x39) {
      if (++ed > 3) return NaN;
      e = e * 10 + (c - 0x30);
      c = ++j < len ? buf[j]! : 0;
    }
    if (ed === 0) return NaN;
    scale += eneg ? -e : e;
  }
  if (scale > 22 || scale < -22) return NaN;
  numEnd = j;
  const x = scale >= 0 ? m * POW10[scale]! : m / POW10[-scale]!;
  return neg ? -x : x;
}

/**
 * One receiver's parsing state (a listener keeps one per tenant): the paths seen, with their
 * handles in `sink`, and the output arrays reused from block to block.
 */
export class GraphiteByteParser<H> {
  readonly paths: PathTable<H>;
  private readonly out: ResolvedBlock<H> = { n: 0, handles: [], t: new Float64Array(1024), v: new Float64Array(1024), refused: 0, malformed: [], future: 0 };
  private readonly maxFuture: number;

  constructor(
    private readonly sink: HandleSink<H>,
    private readonly opts: { labels?: Labels; maxFutureMs?: number; maxPaths?: number } = {},
  ) {
    this.maxFuture = opts.maxFutureMs ?? GRAPHITE_MAX_FUTURE_MS;
    this.paths = new PathTable<H>(opts.maxPaths);
  }

  /**
   * Parses complete lines (`buf` ends at a line's end; its last line needs no newline) and
   * resolves their series. The result is overwritten by the next call. Throws what the sink's
   * `resolve` throws.
   */
  parse(buf: Buffer, now: number): ResolvedBlock<H> {
    const out = this.out;
    out.n = 0;
    out.refused = 0;
    out.future = 0;
    out.malformed = [];
    const gen = this.sink.handleGeneration;
    if (gen !== this.paths.generation) this.paths.dropHandles(gen);
    const len = buf.length;
    const limit = now + this.maxFuture;
    let s = 0;
    while (s < len) {
      let i = s;
      let c = buf[i]!;
      while (c === SP || c === TAB) c = ++i < len ? buf[i]! : NL;
      if (c === NL) {
        s = i + 1; // blank
        continue;
      }
      // the path: printable ASCII, hashed as it is scanned
      const ps = i;
      let h = FNV_OFFSET;
      while (c > SP && c < 0x7f) {
        h = Math.imul(h ^ c, 0x01000193);
        c = ++i < len ? buf[i]! : NL;
      }
      const pe = i;
      let slow = pe === ps || (c !== SP && c !== TAB);
      let v = 0;
      let t = now;
      if (!slow) {
        while (c === SP || c === TAB) c = ++i < len ? buf[i]! : NL;
        v = fastNumber(buf, i, len);
        if (v !== v) slow = true;
        else {
          i = numEnd;
          c = i < len ? buf[i]! : NL;
          if (c === SP || c === TAB) {
            while (c === SP || c === TAB) c = ++i < len ? buf[i]! : NL;
            if (c !== NL && c !== CR) {
              if (c === 0x2d && i + 1 < len && buf[i + 1] === 0x31 && isEnd(buf, i + 2, len)) {
                i += 2; // -1: now
              } else {
                const ts = c === 0x2d ? NaN : fastNumber(buf, i, len);
                if (ts !== ts || ts >= TOO_LARGE) slow = true;
                else {
                  i = numEnd;
                  t = ts >= MS_FROM ? Math.round(ts) : Math.round(ts * 1000);
                }
              }
              c = i < len ? buf[i]! : NL;
              while (c === SP || c === TAB) c = ++i < len ? buf[i]! : NL;
            }
          }
          if (c === CR) c = ++i < len ? buf[i]! : NL;
          if (c !== NL) slow = true;
        }
      }
      if (slow) {
        let e = i;
        while (e < len && buf[e] !== NL) e++;
        this.slowLine(buf.toString('utf8', s, e), now);
        s = e + 1;
        continue;
      }
      // i is at the newline (or the end)
      let entry = this.paths.find(buf, ps, pe, h);
      if (entry === undefined) {
        const series = pathSeries(buf.toString('latin1', ps, pe), this.opts.labels);
        entry = series === undefined ? null : { name: series.name, labels: series.labels, handle: undefined };
        this.paths.add(buf, ps, pe, h, entry);
      }
      if (entry === null) out.malformed.push(describeMalformed(buf.toString('utf8', s, i)));
      else if (t > limit) {
        out.malformed.push(futureReport(buf.toString('utf8', s, i), this.maxFuture));
        out.future++;
      } else this.put(entry, t, v);
      s = i + 1;
    }
    return out;
  }

  /** Hands a parsed block's samples to the sink. Throws what its `appendResolved` throws. */
  append(b: ResolvedBlock<H>): void {
    if (b.n > 0) this.sink.appendResolved(b.handles, b.t, b.v, b.n);
  }

  /** A line the byte path does not take: the string parser's rules, the series resolved here. */
  private slowLine(line: string, now: number): void {
    if (line.trim() === '') return;
    const out = this.out;
    const f = lineFields(line, now);
    const series = f === undefined ? undefined : pathSeries(f.path, this.opts.labels);
    if (f === undefined || series === undefined) {
      out.malformed.push(describeMalformed(line));
      return;
    }
    if (f.t > now + this.maxFuture) {
      out.malformed.push(futureReport(line, this.maxFuture));
      out.future++;
      return;
    }
    this.put({ name: series.name, labels: series.labels, handle: undefined }, f.t, f.v);
  }

  private put(entry: PathEntry<H>, t: number, v: number): void {
    const out = this.out;
    let handle = entry.handle;
    if (handle === undefined) {
      handle = entry.handle = this.sink.resolve(entry.name, entry.labels);
      if (handle === undefined) {
        out.refused++;
        return;
      }
    }
    const n = out.n;
    if (n === out.t.length) {
      const tt = new Float64Array(n * 2);
      const vv = new Float64Array(n * 2);
      tt.set(out.t);
      vv.set(out.v);
      out.t = tt;
      out.v = vv;
    }
    out.handles[n] = handle;
    out.t[n] = t;
    out.v[n] = v;
    out.n = n + 1;
  }
}

/** Whether `buf[i]` ends a field (space, tab, a line's end or the buffer's). */
function isEnd(buf: Uint8Array, i: number, len: number): boolean {
  if (i >= len) return true;
  const c = buf[i];
  return c === SP || c === TAB || c === NL || c === CR;
}
