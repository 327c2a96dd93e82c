/**
 * The write-ahead log of the head: each flush appends one segment `wal-<seq>.nbw` with the
 * points appended since the previous flush, compressed as chunks. A segment is deleted once a
 * persisted chunk file covers it (its `walUpTo`). Written with temp + fsync + rename, so a
 * crash leaves a segment whole or absent.
 *
 * Segment layout: `NBW1` (u32), record count (u32), then per record: series id u32, points
 * u32, flags u32, length u32, payload (codec.ts). Little-endian.
 *
 * Also reads the previous store format (`snap-*.bin`, `wal-*.bin`, magic `NBM1`: raw float64
 * records), so a data directory written before chunk files is imported once.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { NubisError } from '../../errors/index.js';
import { decodeChunkInto, type EncodedChunk } from './codec.js';

const MAGIC = 0x3157424e; // 'NBW1'
const LEGACY_MAGIC = 0x314d424e; // 'NBM1'

export function walName(seq: number): string {
  return `wal-${String(seq).padStart(12, '0')}.nbw`;
}

export function encodeSegment(records: readonly { sid: number; c: EncodedChunk }[]): Buffer {
  let size = 8;
  for (const r of records) size += 16 + r.c.bytes.length;
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(records.length, 4);
  let p = 8;
  for (const { sid, c } of records) {
    buf.writeUInt32LE(sid, p);
    buf.writeUInt32LE(c.n, p + 4);
    buf.writeUInt32LE(c.flags, p + 8);
    buf.writeUInt32LE(c.bytes.length, p + 12);
    buf.set(c.bytes, p + 16);
    p += 16 + c.bytes.length;
  }
  return buf;
}

/** Calls `each` for every record of a segment, decoded. Fails with INTERNAL on a damaged one. */
export function readSegment(name: string, buf: Buffer, each: (sid: number, ts: Float64Array, vs: Float64Array) => void): void {
  const bad = (why: string): NubisError => new NubisError('INTERNAL', `metric WAL segment ${name} is damaged: ${why}`);
  if (buf.length < 8) throw bad('too short');
  const magic = buf.readUInt32LE(0);
  const count = buf.readUInt32LE(4);
  if (magic === LEGACY_MAGIC) return readLegacy(name, buf, count, each);
  if (magic !== MAGIC) throw bad('not a Nubis WAL segment');
  let p = 8;
  for (let r = 0; r < count; r++) {
    if (p + 16 > buf.length) throw bad(`truncated at record ${r}`);
    const sid = buf.readUInt32LE(p);
    const n = buf.readUInt32LE(p + 4);
    const flags = buf.readUInt32LE(p + 8);
    const len = buf.readUInt32LE(p + 12);
    if (p + 16 + len > buf.length) throw bad(`truncated at record ${r}`);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    try {
      decodeChunkInto(buf.subarray(p + 16, p + 16 + len), n, flags, ts, vs);
    } catch (e) {
      throw bad(`record ${r}: ${(e as Error).message}`);
    }
    each(sid, ts, vs);
    p += 16 + len;
  }
}

/**
 * Calls `each` for every record of a segment without decoding it (series id, points, flags,
 * payload). Fails with INTERNAL on a damaged or legacy segment.
 */
export function scanSegment(name: string, buf: Buffer, each: (sid: number, n: number, flags: number, payload: Uint8Array) => void): void {
  const bad = (why: string): NubisError => new NubisError('INTERNAL', `metric WAL segment ${name} is damaged: ${why}`);
  if (buf.length < 8) throw bad('too short');
  if (buf.readUInt32LE(0) !== MAGIC) throw bad('not a Nubis WAL segment');
  const count = buf.readUInt32LE(4);
  let p = 8;
  for (let r = 0; r < count; r++) {
    if (p + 16 > buf.length) throw bad(`truncated at record ${r}`);
    const len = buf.readUInt32LE(p + 12);
    if (p + 16 + len > buf.length) throw bad(`truncated at record ${r}`);
    each(buf.readUInt32LE(p), buf.readUInt32LE(p + 4), buf.readUInt32LE(p + 8), buf.subarray(p + 16, p + 16 + len));
    p += 16 + len;
  }
}

/** The previous format: records `[id u32][n u32][t f64 × n][v f64 × n]`. */
function readLegacy(name: string, buf: Buffer, count: number, each: (sid: number, ts: Float64Array, vs: Float64Array) => void): void {
  let p = 8;
  for (let r = 0; r < count; r++) {
    if (p + 8 > buf.length) throw new NubisError('INTERNAL', `metric store file ${name} is truncated at record ${r}`);
    const sid = buf.readUInt32LE(p);
    const n = buf.readUInt32LE(p + 4);
    p += 8;
    if (p + 16 * n > buf.length) throw new NubisError('INTERNAL', `metric store file ${name} is truncated at record ${r}`);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ts[i] = buf.readDoubleLE(p + 8 * i);
      vs[i] = buf.readDoubleLE(p + 8 * n + 8 * i);
    }
    each(sid, ts, vs);
    p += 16 * n;
  }
}

/** Writes a segment (temp + fsync + rename). */
export async function writeSegment(dir: string, seq: number, data: Buffer): Promise<string> {
  const name = walName(seq);
  const file = path.join(dir, name);
  const fh = await fsp.open(file + '.tmp', 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(file + '.tmp', file);
  return name;
}
