/**
 * The embedded metric store, wired from named units:
 * - `SeriesIndex` (series-index.ts): labels → series, inverted index, the series cap;
 * - the head (head.ts): each series' newest points in memory, under a memory budget;
 * - `ChunkFile` (chunk-file.ts): compressed chunks (codec.ts) in immutable files;
 * - the WAL (wal.ts): each flush appends a segment with the head's new points;
 * - downsample.ts: retention and default downsampling of old data;
 * - reader.ts: merges a series' chunks and head for queries.
 *
 * Life of a point: `append` puts it in its series' head (visible to queries at once); `flush`
 * (every `flushIntervalMs`) appends it to a WAL segment. A seal encodes every head into
 * chunks of a new chunk file, when the heads pass `headBudgetBytes`, the WAL passes
 * `maxWalFiles`/`maxWalBytes`, or the head is `maxHeadAgeMs` old; the next flush persists
 * the file and deletes the WAL segments it covers. Nothing already on disk is rewritten,
 * except by maintenance: retention deletes whole expired files and rewrites a file once its
 * expired part is large; downsampling rewrites the files whose points crossed a tier's age
 * into one new file of averages.
 *
 * Data directory: `series.log` (one JSON line per series, appended), `chunks-<seq>.nbc`,
 * `wal-<seq>.nbw`. A previous version's `snap-*.bin`/`wal-*.bin` are imported at open.
 *
 * Out-of-order samples are accepted; `select` returns points sorted by time, and when two
 * points share a timestamp the one appended last wins.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { NubisError } from '../../errors/index.js';
import type { HandleSink, Labels, LabelMatcher, MetricStore, Sample, SampleColumns, SeriesData } from '../types.js';
import { DirtySeries, SeriesIndex, type RefSource, type Series } from './series-index.js';
import { HeadBudget } from './head.js';
import { PendingRows } from './pending.js';
import { decodeChunk, decodeChunkInto, encodeChunk, FLAG_SORTED, type EncodedChunk } from './codec.js';
import { ChunkFile, chunkRef, refEntry, refSlot, MAX_ENTRIES } from './chunk-file.js';
import { encodeSegment, readSegment, scanSegment, writeSegment } from './wal.js';
import { mergePieces, type Piece } from './reader.js';
import { applyPolicy, cutoffs, DEFAULT_DOWNSAMPLE, orderTiers, type DownsampleTier } from './downsample.js';

export type { DownsampleTier } from './downsample.js';

export interface EmbeddedMetricStoreOptions {
  /** Directory for persistence; null keeps everything in memory only. */
  dir: string | null;
  /** Points older than this are dropped. Default 15 days. */
  retentionMs?: number;
  /** Default DEFAULT_DOWNSAMPLE (1-minute means after 2 days, 5-minute after 7); [] for none. */
  downsample?: DownsampleTier[];
  /** Automatic flush period when `dir` is set (0 disables). Default 5000 ms. */
  flushIntervalMs?: number;
  /** How often flush() applies retention and downsampling. Default 60000 ms. */
  maintenanceIntervalMs?: number;
  /** Seal the head once this many WAL segments exist. Default 720 (an hour of 5 s flushes). */
  maxWalFiles?: number;
  /** Seal the head once the WAL segments hold this many bytes. Default 128 MiB. */
  maxWalBytes?: number;
  /** Seal the head once it holds points this old (by arrival). Default 2 h. */
  maxHeadAgeMs?: number;
  /** Memory for the heads' raw points; above it every head is sealed. Default 256 MiB. */
  headBudgetBytes?: number;
  /** Most series; samples of further new series are refused and counted. Default 1,000,000. */
  maxSeries?: number;
  /** The clock for retention and downsampling (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/** Columnar points of one series, sorted by time, for the query engine's fast path. */
export interface SeriesColumns {
  labels: Labels;
  ts: Float64Array;
  vs: Float64Array;
}

export interface EmbeddedStoreStats {
  series: number;
  points: number;
  walFiles: number;
  chunkFiles: number;
  /** Bytes of raw head points allocated. */
  headBytes: number;
  /** New series refused at the series cap, and their samples. */
  refusedSeries: number;
  refusedSamples: number;
}

/** A series as `resolve` hands it out (its id in this store): for `appendResolved` and `seriesLabels`. */
export type SeriesHandle = number;

export interface EmbeddedMetricStore extends MetricStore, HandleSink<SeriesHandle> {
  readonly kind: 'embedded';
  /** Like `append`, from columns: each distinct series is looked up once. */
  appendColumns(c: SampleColumns): void;
  /** The labels (with `__name__`) of a series `resolve` handed out; undefined once it is removed. */
  seriesLabels(handle: SeriesHandle): Labels | undefined;
  /** Like `select`, as typed arrays (no per-point objects). */
  selectColumns(matchers: readonly LabelMatcher[], start: number, end: number): SeriesColumns[];
  /** Applies retention and downsampling now (persisted at once when `dir` is set). */
  maintain(): Promise<void>;
  stats(): EmbeddedStoreStats;
  /** What the series cap refused (undefined when nothing was). */
  refusal(): { series: number; samples: number; maxSeries: number; last?: Labels } | undefined;
}

export const DEFAULT_RETENTION_MS = 15 * 24 * 3600_000;
export const DEFAULT_MAX_SERIES = 1_000_000;
export const DEFAULT_HEAD_BUDGET_BYTES = 256 * 1024 * 1024;
/** Points per chunk written by a rewrite. */
const REWRITE_CHUNK_POINTS = 2048;

const EMPTY: Labels = Object.freeze({}) as Labels;

class EmbeddedStore implements EmbeddedMetricStore, RefSource {
  readonly kind = 'embedded' as const;
  private readonly index: SeriesIndex;
  private readonly budget: HeadBudget;
  private readonly files = new Map<number, ChunkFile>();
  /** Files opened at load, by file order: series restored then find their chunks here on first use. */
  private opened: ChunkFile[] = [];
  /** Series ids recorded twice (series.log): the series' id → its other ids. */
  private aliases = new Map<number, number[]>();
  private nextSlot = 1;
  private seq = 1;
  /** The newest WAL segment written (0: none). */
  private lastWal = 0;
  private wal: { seq: number; name: string; bytes: number }[] = [];
  private readonly dirty = new DirtySeries();
  /** Samples appended by handle, not yet in their heads: every reader of the heads settles first. */
  private readonly pending = new PendingRows();
  /** Arrival time of the oldest point in the heads (Infinity: heads empty). */
  private headSince = Infinity;
  private lastMaintenance = -Infinity;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly tiers: DownsampleTier[];
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(private readonly dir: string | null, private readonly opts: EmbeddedMetricStoreOptions) {
    this.index = new SeriesIndex(opts.maxSeries ?? DEFAULT_MAX_SERIES);
    this.budget = new HeadBudget(opts.headBudgetBytes ?? DEFAULT_HEAD_BUDGET_BYTES);
    this.tiers = orderTiers(opts.downsample ?? DEFAULT_DOWNSAMPLE);
    for (const t of this.tiers) {
      if (!(t.afterMs > 0 && t.stepMs > 0)) throw new NubisError('REQUEST_INVALID', `downsample tier ${JSON.stringify(t)}: afterMs and stepMs must be positive`);
    }
    this.retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    this.now = opts.now ?? Date.now;
  }

  startTimer(): void {
    const interval = this.opts.flushIntervalMs ?? 5000;
    if (this.dir === null || interval <= 0) return;
    this.timer = setInterval(() => {
      void this.flush().catch(() => undefined); // the next explicit flush reports the failure
    }, interval);
    this.timer.unref();
  }

  append(samples: readonly Sample[]): void {
    if (this.closed) throw new NubisError('UNAVAILABLE', 'metric store is closed');
    this.settle();
    let last: Series | undefined;
    let lastName = '';
    let lastLabels: Labels | undefined;
    let grown = 0;
    if (samples.length > 0 && this.headSince === Infinity) this.headSince = this.now();
    for (const smp of samples) {
      let s: Series | undefined;
      if (last !== undefined && smp.name === lastName && smp.labels === lastLabels) s = last;
      else {
        s = this.index.lookup(smp.name, smp.labels ?? EMPTY);
        if (s === undefined) {
          this.index.refused.samples++;
          continue;
        }
        last = s;
        lastName = smp.name;
        lastLabels = smp.labels;
      }
      grown += s.head.push(smp.t, smp.v);
      this.dirty.add(s);
    }
    this.afterAppend(grown);
  }

  resolve(name: string, labels: Labels): SeriesHandle | undefined {
    if (this.closed) throw new NubisError('UNAVAILABLE', 'metric store is closed');
    const s = this.index.lookup(name, labels);
    if (s === undefined) this.index.refused.samples++;
    return s?.id;
  }

  get handleGeneration(): number {
    return this.index.removals;
  }

  seriesLabels(handle: SeriesHandle): Labels | undefined {
    return this.index.get(handle)?.labels;
  }

  appendResolved(handles: readonly SeriesHandle[], t: Float64Array, v: Float64Array, n: number): void {
    if (this.closed) throw new NubisError('UNAVAILABLE', 'metric store is closed');
    if (n === 0) return;
    if (this.headSince === Infinity) this.headSince = this.now();
    for (let off = 0; off < n; ) {
      const k = Math.min(this.pending.room, n - off);
      this.pending.add(handles, t, v, off, k);
      off += k;
      if (this.pending.room === 0) this.settle();
    }
  }

  /** Moves the pending samples into their heads (grouped by series). */
  private settle(): void {
    if (this.pending.n === 0) return;
    let grown = 0;
    this.pending.settle((id, ts, vs, from, to) => {
      const s = this.index.get(id);
      if (s === undefined) {
        this.index.refused.samples += to - from; // not reached: removals settle first
        return;
      }
      grown += s.head.pushRange(ts, vs, from, to);
      this.dirty.add(s);
    });
    this.afterAppend(grown);
  }

  /** Counts the heads' growth; seals them (and persists soon) past the memory budget. */
  private afterAppend(grown: number): void {
    if (grown > 0) this.budget.grow(grown);
    if (this.budget.exceeded) {
      this.seal();
      if (this.dir !== null) void this.flush().catch(() => undefined); // persist the sealed file soon
    }
  }

  appendColumns(c: SampleColumns): void {
    if (this.closed) throw new NubisError('UNAVAILABLE', 'metric store is closed');
    this.settle();
    if (c.n === 0) return;
    if (this.headSince === Infinity) this.headSince = this.now();
    const series = new Array<Series | undefined>(c.names.length);
    for (let k = 0; k < c.names.length; k++) {
      const s = this.index.lookup(c.names[k]!, c.labels[k] ?? EMPTY);
      series[k] = s;
      if (s !== undefined) this.dirty.add(s);
    }
    let grown = 0;
    for (let i = 0; i < c.n; i++) {
      const s = series[c.series[i]!];
      if (s === undefined) {
        this.index.refused.samples++;
        continue;
      }
      grown += s.head.push(c.t[i]!, c.v[i]!);
    }
    this.afterAppend(grown);
  }

  /** Encodes every head into a new in-memory chunk file (persisted by the next flush). */
  private seal(): void {
    this.settle();
    const chunks: { sid: number; c: EncodedChunk; s: Series }[] = [];
    for (const s of this.index.all()) {
      if (s.head.n === 0) continue;
      const { chunk, freed } = s.head.seal();
      this.budget.free(freed);
      chunks.push({ sid: s.id, c: chunk, s });
    }
    this.dirty.clear();
    this.headSince = Infinity;
    for (let i = 0; i < chunks.length; i += MAX_ENTRIES) {
      const part = chunks.slice(i, i + MAX_ENTRIES);
      const seq = this.seq++;
      const f = ChunkFile.build(this.nextSlot++, seq, { order: seq, walUpTo: this.lastWal, dsUpTo: this.tiers.map(() => null) }, part);
      this.files.set(f.slot, f);
      part.forEach(({ s }, k) => s.refs.push(chunkRef(f.slot, k)));
    }
  }

  flush(): Promise<void> {
    return this.serialized(async () => {
      if (this.now() - this.lastMaintenance >= (this.opts.maintenanceIntervalMs ?? 60_000)) await this.maintainNow();
      if (this.dir !== null) {
        const walBytes = this.wal.reduce((a, w) => a + w.bytes, 0);
        if (this.wal.length >= (this.opts.maxWalFiles ?? 720) || walBytes >= (this.opts.maxWalBytes ?? 128 * 1024 * 1024) || this.now() - this.headSince >= (this.opts.maxHeadAgeMs ?? 2 * 3600_000)) this.seal();
      }
      await this.persist();
    });
  }

  private async persist(): Promise<void> {
    this.settle();
    const dir = this.dir;
    if (dir === null) {
      this.index.takeNew();
      this.dirty.clear();
      return;
    }
    const added = this.index.takeNew();
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
    } catch (e) {
      this.index.giveBack(added);
      throw new NubisError('INTERNAL', `metric store: writing series to ${dir} failed: ${(e as Error).message}`, { cause: e });
    }
    const records: { sid: number; c: EncodedChunk; s: Series; n: number; gen: number }[] = [];
    for (const s of this.dirty) {
      const h = s.head;
      if (h.n <= h.walN) continue;
      records.push({ sid: s.id, c: encodeChunk(h.ts.subarray(h.walN, h.n), h.vs.subarray(h.walN, h.n), h.n - h.walN), s, n: h.n, gen: h.gen });
    }
    this.dirty.clear();
    try {
      if (records.length > 0) {
        const seq = this.seq++;
        const data = encodeSegment(records);
        const name = await writeSegment(dir, seq, data);
        this.wal.push({ seq, name, bytes: data.length });
        this.lastWal = seq;
        // a seal while writing moved those points into a chunk file: that head starts over
        for (const r of records) if (r.s.head.gen === r.gen) r.s.head.walN = r.n;
      }
      let covered = 0;
      for (const f of [...this.files.values()].sort((a, b) => a.seq - b.seq)) {
        if (!f.inMemory) continue;
        await f.persist(dir);
        covered = Math.max(covered, f.meta.walUpTo);
      }
      if (records.length > 0 || covered > 0) await syncDir(dir);
      if (covered > 0) {
        const gone = this.wal.filter((w) => w.seq <= covered);
        this.wal = this.wal.filter((w) => w.seq > covered);
        for (const w of gone) await fsp.rm(path.join(dir, w.name), { force: true });
      }
    } catch (e) {
      for (const r of records) if (r.s.head.gen === r.gen && r.s.head.n > r.s.head.walN) this.dirty.add(r.s);
      throw new NubisError('INTERNAL', `metric store: flush to ${dir} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private serialized(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  maintain(): Promise<void> {
    return this.serialized(async () => {
      await this.maintainNow();
      await this.persist();
    });
  }

  /** Retention and downsampling: seals heads holding old points, drops and rewrites files. */
  private async maintainNow(): Promise<void> {
    this.settle();
    const t = this.now();
    this.lastMaintenance = t;
    const minT = t - this.retentionMs;
    const cuts = cutoffs(this.tiers, t);
    const oldest = Math.max(minT, ...cuts);
    let headOld = false;
    for (const s of this.dirty) if (s.head.n > 0 && s.head.minT < oldest) headOld = true;
    if (!headOld) for (const s of this.index.all()) if (s.head.n > 0 && s.head.minT < oldest) headOld = true;
    if (headOld) this.seal();

    const expired: ChunkFile[] = [];
    const rewrite: ChunkFile[] = [];
    const retentionGranule = Math.max(this.retentionMs / 8, 1);
    for (const f of this.files.values()) {
      if (f.count === 0 || f.maxT < minT) {
        expired.push(f);
        continue;
      }
      let need = f.minT < minT && minT - f.minT >= retentionGranule;
      for (let k = 0; k < this.tiers.length && !need; k++) {
        const done = f.meta.dsUpTo[k] ?? -Infinity;
        const cut = cuts[k]!;
        const granule = Math.max(this.tiers[k]!.stepMs, this.tiers[k]!.afterMs / 8);
        if (f.minT < cut && done < cut && f.maxT >= done && (cut - done >= granule || f.maxT < cut)) need = true;
      }
      if (need) rewrite.push(f);
    }
    if (expired.length === 0 && rewrite.length === 0) return;

    const gone = new Set([...expired, ...rewrite].map((f) => f.slot));
    // the series with a chunk in those files, from the files' own indexes
    const hit = new Set<Series>();
    for (const f of [...expired, ...rewrite]) {
      for (let k = 0; k < f.count; k++) {
        const s = this.index.get(f.sid[k]!);
        if (s !== undefined) hit.add(s);
      }
    }
    const affected = [...hit].filter((s) => s.refs.some((r) => gone.has(refSlot(r))));

    const rewriteSlots = new Set(rewrite.map((f) => f.slot));
    const out: { sid: number; c: EncodedChunk; s: Series }[] = [];
    if (rewrite.length > 0) {
      for (const s of affected) {
        const pieces: Piece[] = [];
        for (const r of s.refs) if (rewriteSlots.has(refSlot(r))) pieces.push(this.piece(r));
        if (pieces.length === 0) continue;
        const merged = mergePieces(pieces, -Infinity, Infinity);
        const kept = applyPolicy(merged.ts, merged.vs, minT, this.tiers, cuts);
        for (let i = 0; i < kept.ts.length; i += REWRITE_CHUNK_POINTS) {
          const n = Math.min(REWRITE_CHUNK_POINTS, kept.ts.length - i);
          out.push({ sid: s.id, c: encodeChunk(kept.ts.subarray(i, i + n), kept.vs.subarray(i, i + n), n), s });
        }
      }
    }
    const order = Math.max(0, ...rewrite.map((f) => f.meta.order));
    const walUpTo = Math.max(0, ...rewrite.map((f) => f.meta.walUpTo));
    const made: ChunkFile[] = [];
    for (let i = 0; i < out.length; i += MAX_ENTRIES) {
      const part = out.slice(i, i + MAX_ENTRIES);
      const f = ChunkFile.build(this.nextSlot++, this.seq++, { order, walUpTo, dsUpTo: cuts }, part);
      if (this.dir !== null) await f.persist(this.dir);
      made.push(f);
    }
    if (this.dir !== null && made.length > 0) await syncDir(this.dir);
    // swap: the new files replace their inputs in one synchronous step
    for (const s of affected) s.refs = s.refs.filter((r) => !gone.has(refSlot(r)));
    for (const f of made) {
      this.files.set(f.slot, f);
      for (let k = 0; k < f.count; k++) this.index.get(f.sid[k]!)?.refs.push(chunkRef(f.slot, k));
    }
    for (const s of affected) this.sortRefs(s);
    if (this.opened.length > 0) this.opened = this.opened.filter((f) => !gone.has(f.slot));
    for (const f of [...expired, ...rewrite]) {
      this.files.delete(f.slot);
      await f.drop(this.dir);
    }
    this.settle(); // samples that arrived meanwhile keep their series
    for (const s of affected) if (s.refs.length === 0 && s.head.n === 0) this.index.remove(s);
  }

  /** RefSource: a restored series' chunks in the files opened at load, in file order. */
  refsOf(id: number): number[] {
    const out: number[] = [];
    for (const f of this.opened) f.refsOf(id, out);
    const more = this.aliases.get(id);
    if (more !== undefined) {
      for (const a of more) for (const f of this.opened) f.refsOf(a, out);
      const key = (r: number): number => this.files.get(refSlot(r))!.meta.order;
      out.sort((a, b) => key(a) - key(b) || refSlot(a) - refSlot(b) || refEntry(a) - refEntry(b));
    }
    return out;
  }

  private sortRefs(s: Series): void {
    const key = (r: number): number => this.files.get(refSlot(r))!.meta.order;
    s.refs.sort((a, b) => key(a) - key(b) || refSlot(a) - refSlot(b) || refEntry(a) - refEntry(b));
  }

  private piece(ref: number): Piece {
    const f = this.files.get(refSlot(ref))!;
    const c = f.chunk(refEntry(ref));
    const { ts, vs } = decodeChunk(c);
    return { ts, vs, sorted: (c.flags & FLAG_SORTED) !== 0, minT: c.minT, maxT: c.maxT };
  }

  private points(s: Series, start: number, end: number): { ts: Float64Array; vs: Float64Array } {
    const pieces: Piece[] = [];
    for (const r of s.refs) {
      const f = this.files.get(refSlot(r))!;
      const i = refEntry(r);
      if (f.cMaxT[i]! < start || f.cMinT[i]! > end) continue;
      pieces.push(this.piece(r));
    }
    const h = s.head;
    if (h.n > 0) pieces.push({ ts: h.ts.subarray(0, h.n), vs: h.vs.subarray(0, h.n), sorted: h.sorted, minT: h.minT, maxT: h.maxT });
    return mergePieces(pieces, start, end);
  }

  async select(matchers: readonly LabelMatcher[], start: number, end: number): Promise<SeriesData[]> {
    return this.selectColumns(matchers, start, end).map((c) => {
      const pts = new Array<{ t: number; v: number }>(c.ts.length);
      for (let i = 0; i < c.ts.length; i++) pts[i] = { t: c.ts[i]!, v: c.vs[i]! };
      return { labels: { ...c.labels }, points: pts };
    });
  }

  selectColumns(matchers: readonly LabelMatcher[], start: number, end: number): SeriesColumns[] {
    this.settle();
    const out: SeriesColumns[] = [];
    for (const s of this.index.matching(matchers)) {
      const p = this.points(s, start, end);
      if (p.ts.length > 0) out.push({ labels: s.labels, ts: p.ts, vs: p.vs });
    }
    return out;
  }

  async series(matchers: readonly LabelMatcher[], limit = Infinity): Promise<Labels[]> {
    this.settle();
    const out: Labels[] = [];
    for (const s of this.index.matching(matchers)) {
      if (out.length >= limit) break;
      if (s.head.n > 0 || s.refs.length > 0) out.push({ ...s.labels });
    }
    return out;
  }

  stats(): EmbeddedStoreStats {
    this.settle();
    let points = 0;
    for (const s of this.index.all()) points += s.head.n;
    // from the files' indexes (each entry is one series' chunk): no series' refs are looked up
    for (const f of this.files.values()) {
      for (let k = 0; k < f.count; k++) if (this.index.get(f.sid[k]!) !== undefined) points += f.n[k]!;
    }
    return {
      series: this.index.size,
      points,
      walFiles: this.wal.length,
      chunkFiles: this.files.size,
      headBytes: this.budget.bytes,
      refusedSeries: this.index.refused.series,
      refusedSamples: this.index.refused.samples,
    };
  }

  refusal(): { series: number; samples: number; maxSeries: number; last?: Labels } | undefined {
    const r = this.index.refused;
    if (r.samples === 0) return undefined;
    return { series: r.series, samples: r.samples, maxSeries: this.index.maxSeries, ...(r.last ? { last: { ...r.last } } : {}) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    // a clean stop seals the heads: the next open reads chunk indexes, no WAL to replay
    if (this.dir !== null && this.budget.bytes > 0) await this.serialized(async () => this.seal());
    await this.flush();
    this.closed = true;
    for (const f of this.files.values()) f.close();
  }

  /** Restores the store from `dir`. */
  async load(): Promise<void> {
    const dir = this.dir!;
    await fsp.mkdir(dir, { recursive: true });
    const names = (await fsp.readdir(dir)).sort();
    for (const n of names) if (n.endsWith('.tmp')) await fsp.rm(path.join(dir, n), { force: true });
    const seriesFile = path.join(dir, 'series.log');
    if (fs.existsSync(seriesFile)) {
      const text = await fsp.readFile(seriesFile, 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let rec: { id: number; labels: Labels };
        try {
          rec = JSON.parse(line) as { id: number; labels: Labels };
        } catch {
          continue; // a torn last line of an append that did not complete: no data refers to it
        }
        this.index.restore(rec.id, rec.labels, this);
      }
      for (const [alias, id] of this.index.aliases) {
        const list = this.aliases.get(id) ?? [];
        list.push(alias);
        this.aliases.set(id, list);
      }
    }
    const seqOf = (n: string): number => Number(n.slice(n.indexOf('-') + 1, n.lastIndexOf('.')));
    let maxSeq = 0;
    let covered = 0;
    // only the files' indexes are read: each series finds its chunks in them on first use (refsOf)
    for (const n of names.filter((x) => /^chunks-\d+\.nbc$/.test(x))) {
      const f = ChunkFile.open(dir, n, this.nextSlot++);
      this.files.set(f.slot, f);
      this.opened.push(f);
      maxSeq = Math.max(maxSeq, f.seq);
      covered = Math.max(covered, f.meta.walUpTo);
    }
    this.opened.sort((a, b) => a.meta.order - b.meta.order || a.slot - b.slot);
    // WAL segments not covered by a chunk file go back into the heads
    const replay = (name: string, buf: Buffer): void =>
      readSegment(name, buf, (sid, ts, vs) => {
        const s = this.index.get(sid);
        if (s === undefined) return;
        this.budget.grow(s.head.pushMany(ts, vs));
        s.head.walN = s.head.n;
      });
    // WAL segments not covered by a chunk file go back into the heads: a first pass counts each
    // series' points, one slab then holds every head, and a second pass decodes in place
    const segs: { seq: number; name: string; buf: Buffer }[] = [];
    for (const n of names.filter((x) => /^wal-\d+\.nbw$/.test(x))) {
      const seq = seqOf(n);
      maxSeq = Math.max(maxSeq, seq);
      if (seq <= covered) {
        await fsp.rm(path.join(dir, n), { force: true });
        continue;
      }
      segs.push({ seq, name: n, buf: await fsp.readFile(path.join(dir, n)) });
    }
    const need = new Map<Series, number>();
    for (const g of segs) {
      scanSegment(g.name, g.buf, (sid, n) => {
        const s = this.index.get(sid);
        if (s !== undefined) need.set(s, (need.get(s) ?? s.head.n) + n);
      });
    }
    let total = 0;
    const caps = new Map<Series, number>();
    for (const [s, k] of need) {
      let cap = 8;
      while (cap < k) cap *= 2;
      caps.set(s, cap);
      total += cap;
    }
    if (total > 0) {
      const tsSlab = new Float64Array(total);
      const vsSlab = new Float64Array(total);
      let off = 0;
      for (const [s, cap] of caps) {
        this.budget.grow(s.head.adopt(tsSlab.subarray(off, off + cap), vsSlab.subarray(off, off + cap)));
        off += cap;
      }
    }
    for (const g of segs) {
      scanSegment(g.name, g.buf, (sid, n, flags, payload) => {
        const s = this.index.get(sid);
        if (s === undefined) return;
        try {
          decodeChunkInto(payload, n, flags, s.head.ts, s.head.vs, s.head.n);
        } catch (e) {
          throw new NubisError('INTERNAL', `metric WAL segment ${g.name} is damaged: ${(e as Error).message}`, { cause: e });
        }
        s.head.appended(n);
        s.head.walN = s.head.n;
      });
      this.wal.push({ seq: g.seq, name: g.name, bytes: g.buf.length });
      this.lastWal = g.seq;
    }
    this.seq = maxSeq + 1;
    // the previous format: the newest snapshot and the WAL files after it, imported once
    const snaps = names.filter((x) => /^snap-\d+\.bin$/.test(x));
    const legacyWal = names.filter((x) => /^wal-\d+\.bin$/.test(x));
    if (snaps.length + legacyWal.length > 0) {
      const snap = snaps[snaps.length - 1];
      const snapSeq = snap === undefined ? -1 : seqOf(snap);
      for (const n of [...(snap ? [snap] : []), ...legacyWal.filter((w) => seqOf(w) > snapSeq)]) replay(n, await fsp.readFile(path.join(dir, n)));
      for (const s of this.index.all()) s.head.walN = 0;
      this.seal();
      await this.persist();
      for (const n of [...snaps, ...legacyWal]) await fsp.rm(path.join(dir, n), { force: true });
    }
    if (this.wal.length > 0) this.headSince = this.now();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates (and, with `dir`, restores) an embedded store. Fails with INTERNAL when `dir` holds unreadable data. */
export async function createEmbeddedMetricStore(opts: EmbeddedMetricStoreOptions): Promise<EmbeddedMetricStore> {
  const store = new EmbeddedStore(opts.dir, opts);
  if (opts.dir !== null) await store.load();
  store.startTimer();
  return store;
}
