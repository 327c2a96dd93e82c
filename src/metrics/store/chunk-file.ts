/**
 * Chunk files: immutable files of compressed chunks, written once (temp + fsync + rename) and
 * never rewritten; retention deletes whole files, downsampling writes a new file and deletes
 * its inputs.
 *
 * Layout of `chunks-<seq>.nbc`: `NBC1` (u32), then the chunk payloads back to back, then the
 * index (40 bytes per chunk: series id u32, points u32, flags u32, length u32, offset f64,
 * minT f64, maxT f64), then the metadata as JSON, then the footer (metadata length u32,
 * chunk count u32, index offset f64, `NBC1` u32, zero u32). Little-endian. Opening a file
 * reads only its index; payloads are read when a query needs them.
 *
 * A file starts in memory (sealed heads are readable at once) and is persisted by the next
 * flush; in a memory-only store it stays in memory.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NubisError } from '../../errors/index.js';
import type { EncodedChunk } from './codec.js';

const MAGIC = 0x3143424e; // 'NBC1'
const LITTLE_ENDIAN = os.endianness() === 'LE';
const ENTRY = 40;
const FOOTER = 24;
/** Chunks per file at most (a reference packs the entry in 21 bits). */
export const MAX_ENTRIES = 1 << 21;

export interface ChunkFileMeta {
  /** Orders files for "last write wins" (a rewrite keeps the newest order of its inputs). */
  order: number;
  /** WAL segments with a sequence number up to this are covered by this file. */
  walUpTo: number;
  /** Per downsampling tier: points before this time were averaged by that tier. */
  dsUpTo: (number | null)[];
}

export class ChunkFile {
  minT = Infinity;
  maxT = -Infinity;
  bytesOnDisk = 0;
  private fd: number | null = null;

  constructor(
    /** Small process-local number used in references. */
    readonly slot: number,
    readonly seq: number,
    readonly meta: ChunkFileMeta,
    readonly sid: Uint32Array,
    readonly n: Uint32Array,
    readonly flags: Uint32Array,
    readonly len: Uint32Array,
    readonly off: Float64Array,
    readonly cMinT: Float64Array,
    readonly cMaxT: Float64Array,
    /** The whole file while it lives in memory. */
    private buf: Buffer | null,
  ) {
    for (let i = 0; i < sid.length; i++) {
      if (cMinT[i]! < this.minT) this.minT = cMinT[i]!;
      if (cMaxT[i]! > this.maxT) this.maxT = cMaxT[i]!;
    }
  }

  get count(): number {
    return this.sid.length;
  }

  get inMemory(): boolean {
    return this.buf !== null;
  }

  /** Bytes held in memory (0 once persisted). */
  get memoryBytes(): number {
    return this.buf?.length ?? 0;
  }

  static fileName(seq: number): string {
    return `chunks-${String(seq).padStart(12, '0')}.nbc`;
  }

  /** The payload of chunk i. */
  payload(i: number): Uint8Array {
    const off = this.off[i]!;
    const len = this.len[i]!;
    if (this.buf !== null) return this.buf.subarray(off, off + len);
    const out = Buffer.allocUnsafe(len);
    const got = fs.readSync(this.fd!, out, 0, len, off);
    if (got !== len) throw new NubisError('INTERNAL', `metric chunk file ${ChunkFile.fileName(this.seq)}: short read at ${off}`);
    return out;
  }

  chunk(i: number, bytes = this.payload(i)): EncodedChunk {
    return { bytes, n: this.n[i]!, flags: this.flags[i]!, minT: this.cMinT[i]!, maxT: this.cMaxT[i]! };
  }

  /** Writes the in-memory file to `dir` (temp + fsync + rename) and drops the memory copy. */
  async persist(dir: string): Promise<void> {
    if (this.buf === null) return;
    const file = path.join(dir, ChunkFile.fileName(this.seq));
    const fh = await fsp.open(file + '.tmp', 'w');
    try {
      await fh.writeFile(this.buf);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(file + '.tmp', file);
    this.bytesOnDisk = this.buf.length;
    this.fd = fs.openSync(file, 'r');
    this.buf = null;
  }

  /** Opens a persisted file, reading its index only. Fails with INTERNAL on a damaged file. */
  static open(dir: string, name: string, slot: number): ChunkFile {
    const file = path.join(dir, name);
    const seq = Number(name.slice('chunks-'.length, -'.nbc'.length));
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const bad = (why: string): NubisError => new NubisError('INTERNAL', `metric chunk file ${file} is damaged: ${why}`);
      if (size < 4 + FOOTER) throw bad('too short');
      const foot = Buffer.alloc(FOOTER);
      fs.readSync(fd, foot, 0, FOOTER, size - FOOTER);
      const metaLen = foot.readUInt32LE(0);
      const count = foot.readUInt32LE(4);
      const indexOff = foot.readDoubleLE(8);
      if (foot.readUInt32LE(16) !== MAGIC) throw bad('no footer');
      if (indexOff + count * ENTRY + metaLen + FOOTER !== size) throw bad('sizes do not add up');
      const tail = Buffer.alloc(count * ENTRY + metaLen);
      fs.readSync(fd, tail, 0, tail.length, indexOff);
      const meta = JSON.parse(tail.toString('utf8', count * ENTRY)) as ChunkFileMeta;
      const f = ChunkFile.fromIndex(slot, seq, meta, tail, count, null);
      f.fd = fd;
      f.bytesOnDisk = size;
      return f;
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof NubisError) throw e;
      throw new NubisError('INTERNAL', `metric chunk file ${file} is damaged: ${(e as Error).message}`, { cause: e });
    }
  }

  private static fromIndex(slot: number, seq: number, meta: ChunkFileMeta, index: Buffer, count: number, buf: Buffer | null): ChunkFile {
    const sid = new Uint32Array(count);
    const n = new Uint32Array(count);
    const flags = new Uint32Array(count);
    const len = new Uint32Array(count);
    const off = new Float64Array(count);
    const minT = new Float64Array(count);
    const maxT = new Float64Array(count);
    if (LITTLE_ENDIAN) {
      // typed views over the index (copied once to an 8-byte aligned buffer when it is not)
      const aligned = index.byteOffset % 8 === 0 ? index : copyAligned(index);
      const base = aligned.byteOffset;
      const u32 = new Uint32Array(aligned.buffer, base, count * (ENTRY / 4));
      const f64 = new Float64Array(aligned.buffer, base, count * (ENTRY / 8));
      for (let i = 0, p = 0, q = 0; i < count; i++, p += ENTRY / 4, q += ENTRY / 8) {
        sid[i] = u32[p]!;
        n[i] = u32[p + 1]!;
        flags[i] = u32[p + 2]!;
        len[i] = u32[p + 3]!;
        off[i] = f64[q + 2]!;
        minT[i] = f64[q + 3]!;
        maxT[i] = f64[q + 4]!;
      }
    } else {
      for (let i = 0, p = 0; i < count; i++, p += ENTRY) {
        sid[i] = index.readUInt32LE(p);
        n[i] = index.readUInt32LE(p + 4);
        flags[i] = index.readUInt32LE(p + 8);
        len[i] = index.readUInt32LE(p + 12);
        off[i] = index.readDoubleLE(p + 16);
        minT[i] = index.readDoubleLE(p + 24);
        maxT[i] = index.readDoubleLE(p + 32);
      }
    }
    return new ChunkFile(slot, seq, meta, sid, n, flags, len, off, minT, maxT, buf);
  }

  /** Entries sorted by series id (null: the file's entries already are). */
  private bySid: Uint32Array | null | undefined;

  /** Appends `chunkRef`s of the entries of series `id`, in entry order, to `out`. */
  refsOf(id: number, out: number[]): void {
    if (this.bySid === undefined) {
      let sorted = true;
      for (let i = 1; i < this.sid.length && sorted; i++) if (this.sid[i]! < this.sid[i - 1]!) sorted = false;
      this.bySid = sorted ? null : Uint32Array.from(this.sid.keys()).sort((a, b) => this.sid[a]! - this.sid[b]! || a - b);
    }
    const perm = this.bySid;
    const at = (k: number): number => this.sid[perm === null ? k : perm[k]!]!;
    let lo = 0;
    let hi = this.sid.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at(mid) < id) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < this.sid.length && at(k) === id; k++) out.push(chunkRef(this.slot, perm === null ? k : perm[k]!));
  }

  /** Builds an in-memory file from chunks (at most MAX_ENTRIES). */
  static build(slot: number, seq: number, meta: ChunkFileMeta, chunks: readonly { sid: number; c: EncodedChunk }[]): ChunkFile {
    if (chunks.length > MAX_ENTRIES) throw new NubisError('INTERNAL', `metric chunk file: ${chunks.length} chunks, more than ${MAX_ENTRIES}`);
    let payload = 4;
    for (const { c } of chunks) payload += c.bytes.length;
    const metaBuf = Buffer.from(JSON.stringify(meta), 'utf8');
    const size = payload + chunks.length * ENTRY + metaBuf.length + FOOTER;
    const buf = Buffer.allocUnsafe(size);
    buf.writeUInt32LE(MAGIC, 0);
    let p = 4;
    let q = payload;
    for (const { sid, c } of chunks) {
      buf.set(c.bytes, p);
      buf.writeUInt32LE(sid, q);
      buf.writeUInt32LE(c.n, q + 4);
      buf.writeUInt32LE(c.flags, q + 8);
      buf.writeUInt32LE(c.bytes.length, q + 12);
      buf.writeDoubleLE(p, q + 16);
      buf.writeDoubleLE(c.minT, q + 24);
      buf.writeDoubleLE(c.maxT, q + 32);
      p += c.bytes.length;
      q += ENTRY;
    }
    metaBuf.copy(buf, q);
    q += metaBuf.length;
    buf.writeUInt32LE(metaBuf.length, q);
    buf.writeUInt32LE(chunks.length, q + 4);
    buf.writeDoubleLE(payload, q + 8);
    buf.writeUInt32LE(MAGIC, q + 16);
    buf.writeUInt32LE(0, q + 20);
    return ChunkFile.fromIndex(slot, seq, meta, buf.subarray(payload, payload + chunks.length * ENTRY), chunks.length, buf);
  }

  /** Closes the file and, with `dir`, deletes it. */
  async drop(dir: string | null): Promise<void> {
    this.buf = null;
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    if (dir !== null) await fsp.rm(path.join(dir, ChunkFile.fileName(this.seq)), { force: true });
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function copyAligned(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length); // never from the shared pool: offset 0
  b.copy(out);
  return out;
}

/** A reference to chunk `i` of a file. */
export function chunkRef(slot: number, i: number): number {
  return slot * MAX_ENTRIES + i;
}

export function refSlot(ref: number): number {
  return Math.floor(ref / MAX_ENTRIES);
}

export function refEntry(ref: number): number {
  return ref % MAX_ENTRIES;
}
