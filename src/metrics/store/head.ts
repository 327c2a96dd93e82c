/**
 * The in-memory head: each series' newest points, raw (two growable Float64Arrays), until a
 * seal encodes every head into a chunk. `HeadBudget` sums the heads' allocated bytes so the
 * store seals when they pass the memory budget.
 */
import { encodeChunk, type EncodedChunk } from './codec.js';

const MIN_CAP = 8;

export class HeadChunk {
  ts: Float64Array = EMPTY;
  vs: Float64Array = EMPTY;
  n = 0;
  /** Points [0, walN) are already in a WAL segment. */
  walN = 0;
  minT = Infinity;
  maxT = -Infinity;
  sorted = true;
  /** Counts seals, so a writer can tell its snapshot of the head was sealed meanwhile. */
  gen = 0;

  /** Bytes allocated by this head. */
  get bytes(): number {
    return this.ts.length * 16;
  }

  /** Appends one point; returns the bytes newly allocated. */
  push(t: number, v: number): number {
    let grown = 0;
    if (this.n === this.ts.length) {
      const cap = Math.max(MIN_CAP, this.n * 2);
      const ts = new Float64Array(cap);
      const vs = new Float64Array(cap);
      ts.set(this.ts.subarray(0, this.n));
      vs.set(this.vs.subarray(0, this.n));
      grown = (cap - this.ts.length) * 16;
      this.ts = ts;
      this.vs = vs;
    }
    if (t < this.maxT) this.sorted = false;
    this.ts[this.n] = t;
    this.vs[this.n] = v;
    this.n++;
    if (t < this.minT) this.minT = t;
    if (t > this.maxT) this.maxT = t;
    return grown;
  }

  /** Makes room for `k` more points (one allocation at most); returns the bytes newly allocated. */
  private reserve(k: number): number {
    if (this.n + k <= this.ts.length) return 0;
    let cap = Math.max(MIN_CAP, this.ts.length);
    while (cap < this.n + k) cap *= 2;
    const nts = new Float64Array(cap);
    const nvs = new Float64Array(cap);
    nts.set(this.ts.subarray(0, this.n));
    nvs.set(this.vs.subarray(0, this.n));
    const grown = (cap - this.ts.length) * 16;
    this.ts = nts;
    this.vs = nvs;
    return grown;
  }

  /** Appends points [from, to) of `ts`/`vs`; returns the bytes newly allocated. */
  pushRange(ts: Float64Array, vs: Float64Array, from: number, to: number): number {
    const grown = this.reserve(to - from);
    const hts = this.ts;
    const hvs = this.vs;
    let n = this.n;
    let minT = this.minT;
    let maxT = this.maxT;
    let sorted = this.sorted;
    for (let i = from; i < to; i++, n++) {
      const t = ts[i]!;
      if (t < maxT) sorted = false;
      else maxT = t;
      if (t < minT) minT = t;
      hts[n] = t;
      hvs[n] = vs[i]!;
    }
    this.n = n;
    this.minT = minT;
    this.maxT = maxT;
    this.sorted = sorted;
    return grown;
  }

  /** Appends a run of points (one allocation at most); returns the bytes newly allocated. */
  pushMany(ts: Float64Array, vs: Float64Array): number {
    const k = ts.length;
    if (k === 0) return 0;
    const grown = this.reserve(k);
    this.ts.set(ts, this.n);
    this.vs.set(vs, this.n);
    let prev = this.n > 0 ? this.maxT : -Infinity;
    for (let i = 0; i < k; i++) {
      const t = ts[i]!;
      if (t < prev) this.sorted = false;
      if (t < this.minT) this.minT = t;
      if (t > this.maxT) this.maxT = t;
      prev = Math.max(prev, t);
    }
    this.n += k;
    return grown;
  }

  /**
   * Makes the head use `ts`/`vs` (views of one slab shared by every head at a restart, so the
   * replay allocates once); its points are copied over. Returns the bytes newly allocated.
   */
  adopt(ts: Float64Array, vs: Float64Array): number {
    ts.set(this.ts.subarray(0, this.n));
    vs.set(this.vs.subarray(0, this.n));
    const grown = (ts.length - this.ts.length) * 16;
    this.ts = ts;
    this.vs = vs;
    return grown;
  }

  /** Takes in `k` points written straight into ts/vs at [n, n + k) (by a WAL replay). */
  appended(k: number): void {
    for (let i = this.n; i < this.n + k; i++) {
      const t = this.ts[i]!;
      if (t < this.maxT) this.sorted = false;
      if (t < this.minT) this.minT = t;
      if (t > this.maxT) this.maxT = t;
    }
    this.n += k;
  }

  /** Encodes the head's points into a chunk and empties it; returns the bytes freed. */
  seal(): { chunk: EncodedChunk; freed: number } {
    const chunk = encodeChunk(this.ts, this.vs, this.n);
    const freed = this.bytes;
    this.ts = EMPTY;
    this.vs = EMPTY;
    this.n = 0;
    this.walN = 0;
    this.minT = Infinity;
    this.maxT = -Infinity;
    this.sorted = true;
    this.gen++;
    return { chunk, freed };
  }
}

const EMPTY = new Float64Array(0);

/** Tracks the heads' total allocation against a budget. */
export class HeadBudget {
  bytes = 0;
  constructor(readonly limitBytes: number) {}
  grow(k: number): void {
    this.bytes += k;
  }
  free(k: number): void {
    this.bytes -= k;
  }
  get exceeded(): boolean {
    return this.bytes > this.limitBytes;
  }
}
