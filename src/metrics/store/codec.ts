/**
 * Chunk compression: a run of (timestamp, value) points as bytes, byte-aligned so it encodes
 * and decodes without bit twiddling.
 *
 * Layout: the first timestamp and value as raw little-endian float64 (16 bytes); then per
 * point, the timestamp as a zigzag varint of the delta-of-delta (integral timestamps; a
 * chunk with any non-integral or unsafe timestamp stores them raw, flag `RAW_TS`) and the
 * value as the XOR of its IEEE-754 bits with the previous value's: one byte `0` when equal,
 * otherwise a control byte `1 + 8·L + T` (L leading and T trailing zero bytes of the XOR,
 * L + T ≤ 7) followed by the 8 − L − T middle bytes, most significant first.
 *
 * Regular scrapes (constant interval) cost one byte per timestamp; constant or slowly
 * changing values one to four bytes per value.
 */

/** The chunk's timestamps are in non-decreasing order. */
export const FLAG_SORTED = 1;
/** Timestamps are stored as raw float64 (some were not safe integers). */
export const FLAG_RAW_TS = 2;

export interface EncodedChunk {
  bytes: Uint8Array;
  n: number;
  flags: number;
  minT: number;
  maxT: number;
}

const scratch = new DataView(new ArrayBuffer(8));

/** A growable byte buffer. */
class Bytes {
  buf: Uint8Array;
  len = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(Math.max(16, cap));
  }
  ensure(k: number): void {
    if (this.len + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + k));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  f64(x: number): void {
    this.ensure(8);
    scratch.setFloat64(0, x, true);
    for (let i = 0; i < 8; i++) this.buf[this.len++] = scratch.getUint8(i);
  }
  /** Unsigned varint of a non-negative safe integer. */
  uvarint(x: number): void {
    this.ensure(8);
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }
}

function zigzag(x: number): number {
  return x >= 0 ? x * 2 : -x * 2 - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Encodes points [0, n) of ts/vs. */
export function encodeChunk(ts: Float64Array, vs: Float64Array, n: number): EncodedChunk {
  let flags = FLAG_SORTED;
  let minT = Infinity;
  let maxT = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    if (!Number.isSafeInteger(t)) flags |= FLAG_RAW_TS;
    if (i > 0 && t < ts[i - 1]!) flags &= ~FLAG_SORTED;
    if (t < minT) minT = t;
    if (t > maxT) maxT = t;
  }
  // deltas of deltas must stay safe integers too
  if ((flags & FLAG_RAW_TS) === 0 && n > 0 && (Math.abs(maxT) > 2 ** 50 || Math.abs(minT) > 2 ** 50)) flags |= FLAG_RAW_TS;
  const out = new Bytes(n * 4 + 16);
  if (n === 0) return { bytes: out.buf.subarray(0, 0), n, flags, minT, maxT };
  const raw = (flags & FLAG_RAW_TS) !== 0;
  out.f64(ts[0]!);
  out.f64(vs[0]!);
  scratch.setFloat64(0, vs[0]!, true);
  let pLo = scratch.getUint32(0, true);
  let pHi = scratch.getUint32(4, true);
  let prevT = ts[0]!;
  let prevD = 0;
  for (let i = 1; i < n; i++) {
    // at most 10 bytes of timestamp (8 raw, or a varint of a delta-of-delta below 2^52) and 9 of value
    out.ensure(19);
    const buf = out.buf;
    const t = ts[i]!;
    if (raw) out.f64(t);
    else {
      const d = t - prevT;
      const z = zigzag(d - prevD);
      if (z < 0x80) buf[out.len++] = z;
      else out.uvarint(z);
      prevD = d;
      prevT = t;
    }
    scratch.setFloat64(0, vs[i]!, true);
    const lo = scratch.getUint32(0, true);
    const hi = scratch.getUint32(4, true);
    const xLo = (lo ^ pLo) >>> 0;
    const xHi = (hi ^ pHi) >>> 0;
    pLo = lo;
    pHi = hi;
    if (xLo === 0 && xHi === 0) {
      buf[out.len++] = 0;
      continue;
    }
    // L leading and T trailing zero bytes of the 64-bit XOR (it has a non-zero byte: L + T ≤ 7)
    const L = xHi !== 0 ? Math.clz32(xHi) >>> 3 : 4 + (Math.clz32(xLo) >>> 3);
    const T = xLo !== 0 ? ctz32(xLo) >>> 3 : 4 + (ctz32(xHi) >>> 3);
    let len = out.len;
    buf[len++] = 1 + 8 * L + T;
    // the middle bytes, most significant first
    const end = 8 - T;
    for (let k = L; k < 4 && k < end; k++) buf[len++] = xHi >>> (24 - 8 * k); // a byte array keeps the low 8 bits
    for (let k = L > 4 ? L : 4; k < end; k++) buf[len++] = xLo >>> (56 - 8 * k);
    out.len = len;
  }
  return { bytes: out.buf.slice(0, out.len), n, flags, minT, maxT };
}

/** Trailing zero bits of a non-zero 32-bit integer. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Decodes n points into ts/vs starting at `at`. Throws on bytes that end early. */
export function decodeChunkInto(bytes: Uint8Array, n: number, flags: number, ts: Float64Array, vs: Float64Array, at = 0): void {
  if (n === 0) return;
  const raw = (flags & FLAG_RAW_TS) !== 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (k: number): void => {
    if (p + k > bytes.length) throw new RangeError(`metric chunk ends early (${bytes.length} bytes, ${n} points)`);
  };
  need(16);
  let t = dv.getFloat64(0, true);
  let v = dv.getFloat64(8, true);
  p = 16;
  ts[at] = t;
  vs[at] = v;
  scratch.setFloat64(0, v, true);
  let lo = scratch.getUint32(0, true);
  let hi = scratch.getUint32(4, true);
  let d = 0;
  for (let i = 1; i < n; i++) {
    if (raw) {
      need(8);
      t = dv.getFloat64(p, true);
      p += 8;
    } else {
      let z = 0;
      let mul = 1;
      for (;;) {
        need(1);
        const c = bytes[p++]!;
        z += (c & 0x7f) * mul;
        if (c < 0x80) break;
        mul *= 0x80;
      }
      d += unzigzag(z);
      t += d;
    }
    need(1);
    const ctl = bytes[p++]!;
    if (ctl !== 0) {
      const L = ((ctl - 1) >> 3) & 7;
      const T = (ctl - 1) & 7;
      need(8 - L - T);
      let xHi = 0;
      let xLo = 0;
      for (let k = L; k < 8 - T; k++) {
        const byte = bytes[p++]!;
        if (k < 4) xHi = (xHi | (byte << (8 * (3 - k)))) >>> 0;
        else xLo = (xLo | (byte << (8 * (7 - k)))) >>> 0;
      }
      lo = (lo ^ xLo) >>> 0;
      hi = (hi ^ xHi) >>> 0;
      scratch.setUint32(0, lo, true);
      scratch.setUint32(4, hi, true);
      v = scratch.getFloat64(0, true);
    }
    ts[at + i] = t;
    vs[at + i] = v;
  }
}

/** Decodes a chunk into new arrays. */
export function decodeChunk(c: EncodedChunk): { ts: Float64Array; vs: Float64Array } {
  const ts = new Float64Array(c.n);
  const vs = new Float64Array(c.n);
  decodeChunkInto(c.bytes, c.n, c.flags, ts, vs);
  return { ts, vs };
}
