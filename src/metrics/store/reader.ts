/**
 * Merging a series' pieces (chunks from files, then the head, in append order) into sorted
 * points within [start, end]; when two points share a timestamp the later piece wins. The
 * fast path (pieces sorted and not overlapping) only slices and concatenates.
 */

export interface Piece {
  ts: Float64Array;
  vs: Float64Array;
  sorted: boolean;
  minT: number;
  maxT: number;
}

export function mergePieces(pieces: readonly Piece[], start: number, end: number): { ts: Float64Array; vs: Float64Array } {
  let ordered = true;
  let prevMax = -Infinity;
  const segs: { p: Piece; lo: number; hi: number }[] = [];
  let n = 0;
  for (const p of pieces) {
    if (p.ts.length === 0 || p.maxT < start || p.minT > end) continue;
    if (!p.sorted || p.minT <= prevMax) {
      ordered = false;
      break;
    }
    prevMax = p.maxT;
    const lo = p.minT < start ? lowerBound(p.ts, p.ts.length, start) : 0;
    const hi = p.maxT > end ? upperBound(p.ts, p.ts.length, end) : p.ts.length;
    if (hi > lo) segs.push({ p, lo, hi });
    n += Math.max(0, hi - lo);
  }
  if (ordered) {
    if (segs.length === 1) {
      const { p, lo, hi } = segs[0]!;
      return { ts: p.ts.subarray(lo, hi), vs: p.vs.subarray(lo, hi) };
    }
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let k = 0;
    for (const { p, lo, hi } of segs) {
      ts.set(p.ts.subarray(lo, hi), k);
      vs.set(p.vs.subarray(lo, hi), k);
      k += hi - lo;
    }
    return { ts, vs };
  }
  // General case: gather in append order, stable sort by time, keep the last of equal times.
  const seqT: number[] = [];
  const seqV: number[] = [];
  for (const p of pieces) {
    if (p.ts.length === 0 || p.maxT < start || p.minT > end) continue;
    for (let i = 0; i < p.ts.length; i++) {
      const t = p.ts[i]!;
      if (t >= start && t <= end) {
        seqT.push(t);
        seqV.push(p.vs[i]!);
      }
    }
  }
  const order = seqT.map((_, i) => i).sort((a, b) => seqT[a]! - seqT[b]! || a - b);
  const ts = new Float64Array(order.length);
  const vs = new Float64Array(order.length);
  let k = 0;
  for (const i of order) {
    const t = seqT[i]!;
    if (k > 0 && ts[k - 1] === t) vs[k - 1] = seqV[i]!;
    else {
      ts[k] = t;
      vs[k] = seqV[i]!;
      k++;
    }
  }
  return { ts: ts.subarray(0, k), vs: vs.subarray(0, k) };
}

/** First index i in ts[0..n) with ts[i] >= x. */
export function lowerBound(ts: Float64Array, n: number, x: number): number {
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
export function upperBound(ts: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
