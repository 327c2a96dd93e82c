/**
 * The series index: canonical label string → series, id → series, and an inverted index
 * (label name → value → series) for `=` matchers. It refuses new series beyond `maxSeries`
 * (counted, never thrown: one runaway sender must not stop the others' samples).
 */
import type { Labels, LabelMatcher } from '../types.js';
import { compileMatcher, matchesAll, seriesKey, type CompiledMatcher } from './matchers.js';
import { HeadChunk } from './head.js';

/**
 * Finds a series' chunks in the files opened at load. A store reads only the chunk files'
 * indexes when it opens, and each series looks its chunks up there the first time its refs
 * are used, so a restart costs no per-chunk work for series nobody reads.
 */
export interface RefSource {
  refsOf(id: number): number[];
}

/** One series and where its points are: chunk files (refs), sealed in-memory chunks, the head. */
export class Series {
  private r: number[] | undefined;
  readonly head = new HeadChunk();
  /** In the store's `DirtySeries` (points not yet in a WAL segment). */
  dirty = false;
  constructor(
    readonly id: number,
    readonly key: string,
    readonly labels: Labels,
    /** Where refs come from on first use (series restored at open); absent: none yet. */
    private source?: RefSource,
  ) {
    if (source === undefined) this.r = [];
  }

  /** Chunk references `fileSlot · 2^21 + entry`, ordered by file order. */
  get refs(): number[] {
    if (this.r === undefined) {
      this.r = this.source!.refsOf(this.id);
      this.source = undefined;
    }
    return this.r;
  }

  set refs(v: number[]) {
    this.r = v;
    this.source = undefined;
  }

  /** Whether refs were looked up already (or the series is new). */
  get refsKnown(): boolean {
    return this.r !== undefined;
  }
}

/**
 * The series with points not yet in a WAL segment: a set that a flag on each series makes
 * cheap to add to once per sample.
 */
export class DirtySeries {
  private readonly set = new Set<Series>();

  add(s: Series): void {
    if (s.dirty) return;
    s.dirty = true;
    this.set.add(s);
  }

  clear(): void {
    for (const s of this.set) s.dirty = false;
    this.set.clear();
  }

  [Symbol.iterator](): IterableIterator<Series> {
    return this.set.values();
  }
}

export interface RefusedSeries {
  /** New series refused because the index was full. */
  series: number;
  /** Their samples, dropped. */
  samples: number;
  /** The last refused series' labels, for the report. */
  last?: Labels;
}

function hasOwnKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

export class SeriesIndex {
  private readonly byKey = new Map<string, Series>();
  /** By id (ids are small and dense: an array, not a map, for the restart's lookups). */
  private readonly byId: (Series | undefined)[] = [];
  private readonly postings = new Map<string, Map<string, Set<Series>>>();
  private nextId = 1;
  /** Series created since the last `takeNew()` (to be written to series.log). */
  private created: Series[] = [];
  readonly refused: RefusedSeries = { series: 0, samples: 0 };
  private readonly refusedKeys = new Set<string>();
  /** Counts removals: a series handle kept from before a removal may name a removed series. */
  removals = 0;

  constructor(readonly maxSeries: number) {}

  get size(): number {
    return this.byKey.size;
  }

  all(): IterableIterator<Series> {
    return this.byKey.values();
  }

  get(id: number): Series | undefined {
    return this.byId[id];
  }

  /** The series of name+labels, created when new; undefined when new and the index is full. */
  lookup(name: string, labels: Labels): Series | undefined {
    const plain = !hasOwnKeys(labels);
    const key = plain ? name : seriesKey(name, labels);
    const s = this.byKey.get(key);
    if (s !== undefined) return s;
    const all: Labels = { __name__: name };
    if (!plain) for (const [k, v] of Object.entries(labels)) if (k !== '__name__' && v !== '') all[k] = v;
    if (this.byKey.size >= this.maxSeries) {
      if (!this.refusedKeys.has(key)) {
        this.refused.series++;
        if (this.refusedKeys.size < 10_000) this.refusedKeys.add(key);
      }
      this.refused.last = all;
      return undefined;
    }
    const made = new Series(this.nextId++, key, all);
    this.add(made);
    this.created.push(made);
    return made;
  }

  /**
   * Restores a series recorded in series.log (not counted against the cap: it already exists);
   * its refs come from `source` when first used.
   */
  restore(id: number, labels: Labels, source?: RefSource): Series {
    const { __name__: name = '', ...rest } = labels;
    const key = seriesKey(name, rest);
    const existing = this.byKey.get(key);
    this.nextId = Math.max(this.nextId, id + 1);
    if (existing !== undefined) {
      this.byId[id] = existing; // the same series recorded twice under two ids
      this.aliases.push([id, existing.id]);
      return existing;
    }
    const s = new Series(id, key, labels, source);
    this.add(s);
    return s;
  }

  takeNew(): Series[] {
    const out = this.created;
    this.created = [];
    return out;
  }

  /** Puts series back at the front of the to-write list (a failed write). */
  giveBack(list: Series[]): void {
    this.created = [...list, ...this.created];
  }

  /** Ids restored as a second id of an existing series: [alias, the series' id]. */
  readonly aliases: [number, number][] = [];

  remove(s: Series): void {
    this.removals++;
    this.byKey.delete(s.key);
    if (this.byId[s.id] === s) this.byId[s.id] = undefined;
    for (const [k, v] of Object.entries(s.labels)) {
      const m = this.postings.get(k);
      const set = m?.get(v);
      set?.delete(s);
      if (set && set.size === 0) m!.delete(v);
    }
  }

  /** Series matching all matchers. Fails with REQUEST_INVALID on a regex that does not compile. */
  matching(matchers: readonly LabelMatcher[]): Series[] {
    const compiled: CompiledMatcher[] = matchers.map(compileMatcher);
    let candidates: Iterable<Series> | undefined;
    let best = Infinity;
    for (const m of compiled) {
      if (m.op !== '=' || m.value === '') continue;
      const set = this.postings.get(m.name)?.get(m.value);
      const size = set?.size ?? 0;
      if (size < best) {
        best = size;
        candidates = set ?? [];
      }
    }
    const out: Series[] = [];
    for (const s of candidates ?? this.byKey.values()) if (matchesAll(s.labels, compiled)) out.push(s);
    return out;
  }

  private add(s: Series): void {
    this.byKey.set(s.key, s);
    this.byId[s.id] = s;
    for (const [k, v] of Object.entries(s.labels)) {
      let m = this.postings.get(k);
      if (!m) this.postings.set(k, (m = new Map()));
      let set = m.get(v);
      if (!set) m.set(v, (set = new Set()));
      set.add(s);
    }
  }
}
