/**
 * A Graphite receiver's memory of the paths it has seen, keyed by the raw bytes of the path
 * (no string is made for a path seen before): an open-addressing hash table whose keys live in
 * one byte arena. Each entry holds the path's series (name and labels, parsed once) and the
 * store's handle for it, or null when the path's tags are malformed.
 */
import type { Labels } from '../types.js';

/** A path's series and, once resolved, the store's handle for it. */
export interface PathEntry<H> {
  name: string;
  labels: Labels;
  /** Undefined: not resolved yet, or refused by the store (asked again on the next sample). */
  handle: H | undefined;
}

/** Most paths kept; past it (or past `MAX_ARENA_BYTES` of path bytes) the table starts over. */
export const MAX_PATHS = 1 << 20;
const MAX_ARENA_BYTES = 64 << 20;

/** FNV-1a (32-bit) start value; a byte is added as `Math.imul(h ^ byte, 0x01000193)`. */
export const FNV_OFFSET = 0x811c9dc5 | 0;

export class PathTable<H> {
  /** Entry index + 1 per slot (0: empty); the capacity is a power of two, at most half full. */
  private slots = new Int32Array(1024);
  private hashes = new Int32Array(256);
  private offs = new Int32Array(256);
  private lens = new Int32Array(256);
  private arena = new Uint8Array(16 * 1024);
  private used = 0;
  private readonly entries: (PathEntry<H> | null)[] = [];
  /** The store's handle generation the handles were resolved in. */
  generation = 0;
  /** Counts the times the table started over (full). */
  clears = 0;

  /** `maxPaths`: past it the table starts over (default MAX_PATHS). */
  constructor(private readonly maxPaths: number = MAX_PATHS) {}

  get size(): number {
    return this.entries.length;
  }

  /** The entry of the path `buf[start, end)` with hash `h`; undefined when not seen. */
  find(buf: Uint8Array, start: number, end: number, h: number): PathEntry<H> | null | undefined {
    const mask = this.slots.length - 1;
    const len = end - start;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = this.slots[i]!;
      if (e === 0) return undefined;
      const k = e - 1;
      if (this.hashes[k] !== h || this.lens[k] !== len) continue;
      const off = this.offs[k]!;
      let j = 0;
      while (j < len && this.arena[off + j] === buf[start + j]) j++;
      if (j === len) return this.entries[k]!;
    }
  }

  /** Adds the path `buf[start, end)` (not in the table) with hash `h`. */
  add(buf: Uint8Array, start: number, end: number, h: number, entry: PathEntry<H> | null): void {
    const len = end - start;
    if (this.entries.length >= this.maxPaths || this.used + len > MAX_ARENA_BYTES) this.clear();
    const k = this.entries.length;
    if (k === this.hashes.length) {
      this.hashes = grow(this.hashes);
      this.offs = grow(this.offs);
      this.lens = grow(this.lens);
    }
    if (this.used + len > this.arena.length) {
      let cap = this.arena.length * 2;
      while (cap < this.used + len) cap *= 2;
      const a = new Uint8Array(cap);
      a.set(this.arena.subarray(0, this.used));
      this.arena = a;
    }
    this.arena.set(buf.subarray(start, end), this.used);
    this.hashes[k] = h;
    this.offs[k] = this.used;
    this.lens[k] = len;
    this.used += len;
    this.entries.push(entry);
    if ((k + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(k);
  }

  /** Forgets every store handle (kept: the paths and their parsed series). */
  dropHandles(generation: number): void {
    for (const e of this.entries) if (e !== null) e.handle = undefined;
    this.generation = generation;
  }

  /** Forgets everything. */
  clear(): void {
    this.clears++;
    this.slots = new Int32Array(1024);
    this.entries.length = 0;
    this.used = 0;
  }

  private place(k: number): void {
    const mask = this.slots.length - 1;
    let i = this.hashes[k]! & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = k + 1;
  }

  private rehash(cap: number): void {
    this.slots = new Int32Array(cap);
    for (let k = 0; k < this.entries.length; k++) this.place(k);
  }
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
