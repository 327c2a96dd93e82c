/**
 * The embedded metric store: everything in memory for speed, persisted to a directory so it
 * survives a control-plane restart.
 *
 * Memory layout: a series index (canonical label string → series) plus an inverted index
 * (label name → value → series) for `=` matchers; each series holds append-only chunks of
 * two Float64Arrays (timestamps in ms, values). Appends are visible to `select` at once.
 *
 * Disk layout (`dir`), all written with write-to-temp + fsync + rename, so a crash leaves
 * either the old or the new file, never a torn one:
 * - `series.log`: one JSON line per series, `{"id":n,"labels":{…}}` (append-only; rewritten
 *   at compaction to drop series that retention emptied).
 * - `wal-<seq>.bin`: the points appended since the previous flush (one file per flush).
 * - `snap-<seq>.bin`: every point of every series; supersedes all files with a lower seq.
 * Binary files: 8-byte header (`NBM1`, record count), then records `[id u32][n u32]
 * [t f64 × n][v f64 × n]`, little-endian. A flush that fails leaves the store marked so the
 * next flush writes a full snapshot.
 *
 * Retention drops points older than `now − retentionMs`. Downsampling (`{afterMs, stepMs}`
 * tiers) replaces raw points older than `now − afterMs` by one point per step-aligned bucket
 * `[k·step, (k+1)·step)`: the arithmetic mean of the bucket's points, stamped at the bucket
 * START (`k·step`). A coarser tier re-averages the finer tier's averages with equal weight.
 * Counters therefore lose resets inside a bucket: `rate()` over downsampled data is
 * approximate. Both run at most once per `maintenanceIntervalMs` inside `flush()`, or on
 * `maintain()`.
 *
 * Out-of-order samples are accepted; `select` returns points sorted by time, and when two
 * points share a timestamp the one appended last wins.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { NubisError } from '../../errors/index.js';
import type { Labels, LabelMatcher, MetricStore, Sample, SeriesData } from '../types.js';
import { compileMatcher, matchesAll, seriesKey, type CompiledMatcher } from './matchers.js';

export interface DownsampleTier {
  /** Points older than this (relative to now) are downsampled. */
  afterMs: number;
  /** Bucket width; one averaged point per bucket. */
  stepMs: number;
}

export interface EmbeddedMetricStoreOptions {
  /** Directory for persistence; null keeps everything in memory only. */
  dir: string | null;
  /** Points older than this are dropped. Default 15 days. */
  retentionMs?: number;
  downsample?: DownsampleTier[];
  /** Automatic flush period when `dir` is set (0 disables). Default 5000 ms. */
  flushIntervalMs?: number;
  /** How often flush() applies retention and downsampling. Default 60000 ms. */
  maintenanceIntervalMs?: number;
  /** Compact (write a snapshot) once this many WAL files exist. Default 32. */
  maxWalFiles?: number;
  /** The clock for retention and downsampling (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/** Columnar points of one series, sorted by time, for the query engine's fast path. */
export interface SeriesColumns {
  labels: Labels;
  ts: Float64Array;
  vs: Float64Array;
}

export interface EmbeddedMetricStore extends MetricStore {
  readonly kind: 'embedded';
  /** Like `select`, as typed arrays (no per-point objects). */
  selectColumns(matchers: readonly LabelMatcher[], start: number, end: number): SeriesColumns[];
  /** Applies retention and downsampling now (persisted by the next flush). */
  maintain(): Promise<void>;
  stats(): { series: number; points: number; walFiles: number };
}

export const DEFAULT_RETENTION_MS = 15 * 24 * 3600_000;
const MAX_CHUNK = 2048;
const MAGIC = 0x314d424e; // 'NBM1'

interface Chunk {
  ts: Float64Array;
  vs: Float64Array;
  n: number;
  minT: number;
  maxT: number;
  /** Appended in non-decreasing time order. */
  sorted: boolean;
}

interface Series {
  id: number;
  key: string;
  labels: Labels;
  chunks: Chunk[];
  /** Points before this (chunk index, offset) are on disk. */
  pChunk: number;
  pN: number;
  /** Per downsampling tier: points before this time were already averaged by that tier. */
  ds: number[];
}

function newChunk(cap: number): Chunk {
  return { ts: new Float64Array(cap), vs: new Float64Array(cap), n: 0, minT: Infinity, maxT: -Infinity, sorted: true };
}

function hasOwnKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

const EMPTY: Labels = Object.freeze({}) as Labels;

/** Creates (and, with `dir`, restores) an embedded store. Fails with INTERNAL when `dir` holds unreadable data. */
export async function createEmbeddedMetricStore(opts: EmbeddedMetricStoreOptions): Promise<EmbeddedMetricStore> {
  const dir = opts.dir;
  const retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  const tiers = [...(opts.downsample ?? [])].sort((a, b) => b.afterMs - a.afterMs); // coarsest (oldest) first
  for (const t of tiers) {
    if (!(t.afterMs > 0 && t.stepMs > 0)) throw new NubisError('REQUEST_INVALID', `downsample tier ${JSON.stringify(t)}: afterMs and stepMs must be positive`);
  }
  const now = opts.now ?? Date.now;
  const maintenanceIntervalMs = opts.maintenanceIntervalMs ?? 60_000;
  const maxWalFiles = opts.maxWalFiles ?? 32;

  const byKey = new Map<string, Series>();
  const byId = new Map<number, Series>();
  /** label name → label value → series */
  const postings = new Map<string, Map<string, Set<Series>>>();
  let nextId = 1;
  let newSeries: Series[] = [];
  const dirty = new Set<Series>();
  let seq = 0;
  let walFiles: string[] = [];
  let needSnapshot = false;
  let lastMaintenance = -Infinity;
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  function index(s: Series): void {
    byKey.set(s.key, s);
    byId.set(s.id, s);
    for (const [k, v] of Object.entries(s.labels)) {
      let m = postings.get(k);
      if (!m) postings.set(k, (m = new Map()));
      let set = m.get(v);
      if (!set) m.set(v, (set = new Set()));
      set.add(s);
    }
  }

  function unindex(s: Series): void {
    byKey.delete(s.key);
    byId.delete(s.id);
    for (const [k, v] of Object.entries(s.labels)) {
      const m = postings.get(k);
      const set = m?.get(v);
      set?.delete(s);
      if (set && set.size === 0) m!.delete(v);
    }
  }

  function makeSeries(id: number, key: string, labels: Labels): Series {
    const s: Series = { id, key, labels, chunks: [], pChunk: 0, pN: 0, ds: tiers.map(() => -Infinity) };
    index(s);
    return s;
  }

  function push(s: Series, t: number, v: number): void {
    let c = s.chunks[s.chunks.length - 1];
    if (c === undefined || c.n === MAX_CHUNK) {
      c = newChunk(16);
      s.chunks.push(c);
    } else if (c.n === c.ts.length) {
      const cap = Math.min(MAX_CHUNK, c.n * 2);
      const ts = new Float64Array(cap);
      const vs = new Float64Array(cap);
      ts.set(c.ts);
      vs.set(c.vs);
      c.ts = ts;
      c.vs = vs;
    }
    if (t < c.maxT) c.sorted = false;
    c.ts[c.n] = t;
    c.vs[c.n] = v;
    c.n++;
    if (t < c.minT) c.minT = t;
    if (t > c.maxT) c.maxT = t;
  }

  /** Appends n points from flat arrays (restore path): block copies instead of point pushes. */
  function pushMany(s: Series, src: Float64Array, tOff: number, vOff: number, n: number): void {
    let done = 0;
    while (done < n) {
      let c = s.chunks[s.chunks.length - 1];
      if (c === undefined || c.n === MAX_CHUNK) {
        c = newChunk(Math.min(MAX_CHUNK, Math.max(16, n - done)));
        s.chunks.push(c);
      }
      const k = Math.min(n - done, MAX_CHUNK - c.n);
      if (c.n + k > c.ts.length) {
        const ts = new Float64Array(Math.min(MAX_CHUNK, Math.max(c.n + k, c.ts.length * 2)));
        const vs = new Float64Array(ts.length);
        ts.set(c.ts.subarray(0, c.n));
        vs.set(c.vs.subarray(0, c.n));
        c.ts = ts;
        c.vs = vs;
      }
      c.ts.set(src.subarray(tOff + done, tOff + done + k), c.n);
      c.vs.set(src.subarray(vOff + done, vOff + done + k), c.n);
      let prev = c.maxT;
      for (let i = c.n; i < c.n + k; i++) {
        const t = c.ts[i]!;
        if (t < prev) c.sorted = false;
        if (t < c.minT) c.minT = t;
        if (t > c.maxT) c.maxT = t;
        prev = t;
      }
      c.n += k;
      done += k;
    }
  }

  function lookup(name: string, labels: Labels): Series {
    const plain = !hasOwnKeys(labels);
    const key = plain ? name : seriesKey(name, labels);
    let s = byKey.get(key);
    if (s === undefined) {
      const all: Labels = { __name__: name };
      if (!plain) for (const [k, v] of Object.entries(labels)) if (k !== '__name__' && v !== '') all[k] = v;
      s = makeSeries(nextId++, key, all);
      newSeries.push(s);
    }
    return s;
  }

  /**
   * The points of a series within [start, end], sorted, equal timestamps resolved to the last
   * appended. May return views into the chunks: stored points never change in place.
   */
  function points(s: Series, start: number, end: number): { ts: Float64Array; vs: Float64Array } {
    let ordered = true;
    let prevMax = -Infinity;
    const segs: { c: Chunk; lo: number; hi: number }[] = [];
    let n = 0;
    for (const c of s.chunks) {
      if (c.n === 0 || c.maxT < start || c.minT > end) continue;
      if (!c.sorted || c.minT <= prevMax) {
        ordered = false;
        break;
      }
      prevMax = c.maxT;
      const lo = c.minT < start ? lowerBound(c.ts, c.n, start) : 0;
      const hi = c.maxT > end ? upperBound(c.ts, c.n, end) : c.n;
      if (hi > lo) segs.push({ c, lo, hi });
      n += hi - lo;
    }
    if (ordered) {
      if (segs.length === 1) {
        const { c, lo, hi } = segs[0]!;
        return { ts: c.ts.subarray(lo, hi), vs: c.vs.subarray(lo, hi) };
      }
      const ts = new Float64Array(n);
      const vs = new Float64Array(n);
      let k = 0;
      for (const { c, lo, hi } of segs) {
        ts.set(c.ts.subarray(lo, hi), k);
        vs.set(c.vs.subarray(lo, hi), k);
        k += hi - lo;
      }
      return { ts, vs };
    }
    let ts: Float64Array;
    let vs: Float64Array;
    let k: number;
    // General case: gather in append order, stable sort by time, keep the last of equal times.
    const seqT: number[] = [];
    const seqV: number[] = [];
    for (const c of s.chunks) {
      if (c.n === 0 || c.maxT < start || c.minT > end) continue;
      for (let i = 0; i < c.n; i++) {
        const t = c.ts[i]!;
        if (t >= start && t <= end) {
          seqT.push(t);
          seqV.push(c.vs[i]!);
        }
      }
    }
    const order = seqT.map((_, i) => i).sort((a, b) => seqT[a]! - seqT[b]! || a - b);
    ts = new Float64Array(order.length);
    vs = new Float64Array(order.length);
    k = 0;
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!;
      const t = seqT[i]!;
      if (k > 0 && ts[k - 1] === t) {
        vs[k - 1] = seqV[i]!;
      } else {
        ts[k] = t;
        vs[k] = seqV[i]!;
        k++;
      }
    }
    return { ts: ts.subarray(0, k), vs: vs.subarray(0, k) };
  }

  function matching(matchers: readonly LabelMatcher[]): Series[] {
    const compiled: CompiledMatcher[] = matchers.map(compileMatcher);
    // Start from the smallest posting list of an `=` matcher on a non-empty value.
    let candidates: Iterable<Series> | undefined;
    let best = Infinity;
    for (const m of compiled) {
      if (m.op !== '=' || m.value === '') continue;
      const set = postings.get(m.name)?.get(m.value);
      const size = set?.size ?? 0;
      if (size < best) {
        best = size;
        candidates = set ?? [];
      }
    }
    const out: Series[] = [];
    for (const s of candidates ?? byKey.values()) if (matchesAll(s.labels, compiled)) out.push(s);
    return out;
  }

  /** Replaces a series' content by sorted, deduplicated points (used by maintenance and compaction). */
  function rebuild(s: Series, ts: Float64Array, vs: Float64Array): void {
    s.chunks = [];
    for (let i = 0; i < ts.length; i += MAX_CHUNK) {
      const n = Math.min(MAX_CHUNK, ts.length - i);
      const c = newChunk(n);
      c.ts.set(ts.subarray(i, i + n));
      c.vs.set(vs.subarray(i, i + n));
      c.n = n;
      c.minT = c.ts[0]!;
      c.maxT = c.ts[n - 1]!;
      s.chunks.push(c);
    }
  }

  function countPoints(s: Series): number {
    let n = 0;
    for (const c of s.chunks) n += c.n;
    return n;
  }

  function maintainNow(): boolean {
    const t = now();
    lastMaintenance = t;
    const minT = t - retentionMs;
    const cutoffs = tiers.map((tier) => Math.floor((t - tier.afterMs) / tier.stepMs) * tier.stepMs);
    let changed = false;
    for (const s of [...byKey.values()]) {
      const first = s.chunks.find((c) => c.n > 0);
      if (first === undefined) continue;
      const oldest = Math.min(...s.chunks.filter((c) => c.n > 0).map((c) => c.minT));
      let needs = oldest < minT;
      for (let k = 0; k < tiers.length && !needs; k++) {
        const lower = Math.max(k === 0 ? -Infinity : cutoffs[k - 1]!, s.ds[k]!);
        if (oldest < cutoffs[k]! && hasPointsIn(s, lower, cutoffs[k]!)) needs = true;
      }
      if (!needs) continue;
      changed = true;
      let { ts, vs } = points(s, minT, Infinity);
      for (let k = 0; k < tiers.length; k++) {
        const step = tiers[k]!.stepMs;
        const lower = k === 0 ? -Infinity : cutoffs[k - 1]!;
        const upper = cutoffs[k]!;
        ({ ts, vs } = averageBuckets(ts, vs, lower, upper, step));
        s.ds[k] = Math.max(s.ds[k]!, upper);
      }
      if (ts.length === 0) {
        unindex(s);
        dirty.delete(s);
        continue;
      }
      rebuild(s, ts, vs);
    }
    if (changed) needSnapshot = true;
    return changed;
  }

  function hasPointsIn(s: Series, lo: number, hi: number): boolean {
    for (const c of s.chunks) if (c.n > 0 && c.maxT >= lo && c.minT < hi) return true;
    return false;
  }

  // ---- persistence ----

  const seqName = (prefix: string, n: number): string => `${prefix}-${String(n).padStart(12, '0')}.bin`;

  function encode(records: { id: number; ts: Float64Array; vs: Float64Array }[]): Buffer {
    let size = 8;
    for (const r of records) size += 8 + 16 * r.ts.length;
    const ab = new ArrayBuffer(size);
    const u32 = new Uint32Array(ab);
    const f64 = new Float64Array(ab);
    u32[0] = MAGIC;
    u32[1] = records.length;
    let off = 8; // bytes
    for (const r of records) {
      const n = r.ts.length;
      u32[off / 4] = r.id;
      u32[off / 4 + 1] = n;
      off += 8;
      f64.set(r.ts, off / 8);
      off += 8 * n;
      f64.set(r.vs, off / 8);
      off += 8 * n;
    }
    return Buffer.from(ab);
  }

  function decodeInto(file: string, buf: Buffer): void {
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const u32 = new Uint32Array(ab, 0, Math.floor(ab.byteLength / 4));
    const f64 = new Float64Array(ab, 0, Math.floor(ab.byteLength / 8));
    if (ab.byteLength < 8 || u32[0] !== MAGIC) throw new NubisError('INTERNAL', `metric store file ${file} is not a Nubis metric file`);
    const count = u32[1]!;
    let off = 8;
    for (let r = 0; r < count; r++) {
      if (off + 8 > ab.byteLength) throw new NubisError('INTERNAL', `metric store file ${file} is truncated at record ${r}`);
      const id = u32[off / 4]!;
      const n = u32[off / 4 + 1]!;
      off += 8;
      if (off + 16 * n > ab.byteLength) throw new NubisError('INTERNAL', `metric store file ${file} is truncated at record ${r}`);
      const s = byId.get(id);
      if (s !== undefined) {
        pushMany(s, f64, off / 8, off / 8 + n, n);
      }
      off += 16 * n;
    }
  }

  async function writeAtomic(name: string, data: Buffer | string): Promise<void> {
    const file = path.join(dir!, name);
    const fh = await fsp.open(file + '.tmp', 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(file + '.tmp', file);
  }

  async function syncDir(): Promise<void> {
    const fh = await fsp.open(dir!, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  function markPersisted(s: Series): void {
    s.pChunk = Math.max(0, s.chunks.length - 1);
    s.pN = s.chunks[s.pChunk]?.n ?? 0;
  }

  async function load(): Promise<void> {
    await fsp.mkdir(dir!, { recursive: true });
    const names = await fsp.readdir(dir!);
    for (const n of names) if (n.endsWith('.tmp')) await fsp.rm(path.join(dir!, n), { force: true });
    const seriesFile = path.join(dir!, 'series.log');
    if (fs.existsSync(seriesFile)) {
      const text = await fsp.readFile(seriesFile, 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let rec: { id: number; labels: Labels };
        try {
          rec = JSON.parse(line) as { id: number; labels: Labels };
        } catch {
          continue; // a torn last line of an append that did not complete: its WAL was never written
        }
        const { __name__: name = '', ...rest } = rec.labels;
        const key = seriesKey(name, rest);
        const existing = byKey.get(key);
        if (existing === undefined) makeSeries(rec.id, key, rec.labels);
        else byId.set(rec.id, existing); // the same series recorded twice under two ids (after a compaction cut short)
        nextId = Math.max(nextId, rec.id + 1);
      }
    }
    const snaps = names.filter((n) => /^snap-\d+\.bin$/.test(n)).sort();
    const wals = names.filter((n) => /^wal-\d+\.bin$/.test(n)).sort();
    const seqOf = (n: string): number => Number(n.slice(n.indexOf('-') + 1, -4));
    const snap = snaps[snaps.length - 1];
    const snapSeq = snap === undefined ? -1 : seqOf(snap);
    if (snap !== undefined) decodeInto(snap, await fsp.readFile(path.join(dir!, snap)));
    for (const w of wals) {
      if (seqOf(w) <= snapSeq) continue;
      decodeInto(w, await fsp.readFile(path.join(dir!, w)));
      walFiles.push(w);
    }
    for (const n of [...snaps.slice(0, -1), ...wals.filter((w) => seqOf(w) <= snapSeq)]) await fsp.rm(path.join(dir!, n), { force: true });
    seq = Math.max(snapSeq, ...wals.map(seqOf), 0) + 1;
    for (const s of byKey.values()) markPersisted(s);
  }

  async function persist(): Promise<void> {
    if (dir === null) {
      newSeries = [];
      dirty.clear();
      return;
    }
    const added = newSeries;
    newSeries = [];
    if (needSnapshot || walFiles.length >= maxWalFiles) {
      needSnapshot = false;
      dirty.clear();
      const records: { id: number; ts: Float64Array; vs: Float64Array }[] = [];
      let lines = '';
      for (const s of byKey.values()) {
        const p = points(s, -Infinity, Infinity);
        rebuild(s, p.ts, p.vs);
        markPersisted(s);
        records.push({ id: s.id, ts: p.ts, vs: p.vs });
        lines += JSON.stringify({ id: s.id, labels: s.labels }) + '\n';
      }
      const name = seqName('snap', seq++);
      try {
        await writeAtomic(name, encode(records));
        await writeAtomic('series.log', lines);
        await syncDir();
      } catch (e) {
        needSnapshot = true;
        throw new NubisError('INTERNAL', `metric store: writing snapshot ${name} failed: ${(e as Error).message}`, { cause: e });
      }
      const old = walFiles;
      walFiles = [];
      const names = await fsp.readdir(dir);
      for (const n of names) if ((n.startsWith('snap-') && n < name) || old.includes(n)) await fsp.rm(path.join(dir, n), { force: true });
      return;
    }
    const records: { id: number; ts: Float64Array; vs: Float64Array }[] = [];
    for (const s of dirty) {
      let n = 0;
      for (let c = s.pChunk; c < s.chunks.length; c++) n += s.chunks[c]!.n - (c === s.pChunk ? s.pN : 0);
      if (n === 0) continue;
      const ts = new Float64Array(n);
      const vs = new Float64Array(n);
      let k = 0;
      for (let c = s.pChunk; c < s.chunks.length; c++) {
        const ch = s.chunks[c]!;
        const from = c === s.pChunk ? s.pN : 0;
        ts.set(ch.ts.subarray(from, ch.n), k);
        vs.set(ch.vs.subarray(from, ch.n), k);
        k += ch.n - from;
      }
      markPersisted(s);
      records.push({ id: s.id, ts, vs });
    }
    dirty.clear();
    try {
      if (added.length > 0) {
        const fh = await fsp.open(path.join(dir, 'series.log'), 'a');
        try {
          await fh.writeFile(added.map((s) => JSON.stringify({ id: s.id, labels: s.labels }) + '\n').join(''));
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      if (records.length > 0) {
        const name = seqName('wal', seq++);
        await writeAtomic(name, encode(records));
        await syncDir();
        walFiles.push(name);
      }
    } catch (e) {
      needSnapshot = true;
      throw new NubisError('INTERNAL', `metric store: flush to ${dir} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  function serialized(fn: () => Promise<void>): Promise<void> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  }

  if (dir !== null) await load();

  const interval = opts.flushIntervalMs ?? 5000;
  const timer =
    dir !== null && interval > 0
      ? setInterval(() => {
          void store.flush().catch(() => undefined); // the next explicit flush reports the failure
        }, interval)
      : undefined;
  timer?.unref();

  const store: EmbeddedMetricStore = {
    kind: 'embedded',
    append(samples: readonly Sample[]): void {
      if (closed) throw new NubisError('UNAVAILABLE', 'metric store is closed');
      let last: Series | undefined;
      let lastName = '';
      let lastLabels: Labels | undefined;
      for (const smp of samples) {
        let s: Series;
        if (last !== undefined && smp.name === lastName && smp.labels === lastLabels) s = last;
        else {
          s = lookup(smp.name, smp.labels ?? EMPTY);
          last = s;
          lastName = smp.name;
          lastLabels = smp.labels;
        }
        push(s, smp.t, smp.v);
        dirty.add(s);
      }
    },
    flush(): Promise<void> {
      return serialized(async () => {
        if (now() - lastMaintenance >= maintenanceIntervalMs) maintainNow();
        await persist();
      });
    },
    async select(matchers, start, end): Promise<SeriesData[]> {
      return store.selectColumns(matchers, start, end).map((c) => {
        const pts = new Array<{ t: number; v: number }>(c.ts.length);
        for (let i = 0; i < c.ts.length; i++) pts[i] = { t: c.ts[i]!, v: c.vs[i]! };
        return { labels: { ...c.labels }, points: pts };
      });
    },
    selectColumns(matchers, start, end): SeriesColumns[] {
      const out: SeriesColumns[] = [];
      for (const s of matching(matchers)) {
        const p = points(s, start, end);
        if (p.ts.length > 0) out.push({ labels: s.labels, ts: p.ts, vs: p.vs });
      }
      return out;
    },
    async series(matchers, limit = Infinity): Promise<Labels[]> {
      const out: Labels[] = [];
      for (const s of matching(matchers)) {
        if (out.length >= limit) break;
        if (countPoints(s) > 0) out.push({ ...s.labels });
      }
      return out;
    },
    maintain(): Promise<void> {
      return serialized(async () => {
        maintainNow();
      });
    },
    stats() {
      let points = 0;
      for (const s of byKey.values()) points += countPoints(s);
      return { series: byKey.size, points, walFiles: walFiles.length };
    },
    async close(): Promise<void> {
      if (closed) return;
      if (timer) clearInterval(timer);
      await store.flush();
      closed = true;
    },
  };
  return store;
}

/** First index i in ts[0..n) with ts[i] >= x. */
function lowerBound(ts: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i in ts[0..n) with ts[i] > x. */
function upperBound(ts: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Replaces sorted points with t in [lower, upper) by per-bucket means stamped at the bucket start. */
function averageBuckets(ts: Float64Array, vs: Float64Array, lower: number, upper: number, step: number): { ts: Float64Array; vs: Float64Array } {
  const a = lowerBound(ts, ts.length, lower);
  const b = lowerBound(ts, ts.length, upper);
  if (a === b) return { ts, vs };
  const outT: number[] = [];
  const outV: number[] = [];
  let i = a;
  while (i < b) {
    const bucket = Math.floor(ts[i]! / step) * step;
    let sum = 0;
    let n = 0;
    while (i < b && ts[i]! < bucket + step) {
      sum += vs[i]!;
      n++;
      i++;
    }
    outT.push(bucket);
    outV.push(sum / n);
  }
  const len = a + outT.length + (ts.length - b);
  const nt = new Float64Array(len);
  const nv = new Float64Array(len);
  nt.set(ts.subarray(0, a));
  nv.set(vs.subarray(0, a));
  nt.set(outT, a);
  nv.set(outV, a);
  nt.set(ts.subarray(b), a + outT.length);
  nv.set(vs.subarray(b), a + outT.length);
  return { ts: nt, vs: nv };
}
