/**
 * Retention and downsampling of one series' points (pure). Downsampling (`{afterMs, stepMs}`
 * tiers) replaces raw points older than `now − afterMs` by one point per step-aligned bucket
 * `[k·step, (k+1)·step)`: the arithmetic mean of the bucket's points, stamped at the bucket
 * START. A coarser tier re-averages the finer tier's averages with equal weight, so `rate()`
 * over downsampled counters is approximate. Applying it twice changes nothing.
 */
import { lowerBound } from './reader.js';

export interface DownsampleTier {
  /** Points older than this (relative to now) are downsampled. */
  afterMs: number;
  /** Bucket width; one averaged point per bucket. */
  stepMs: number;
}

/** Default: 1-minute means after 2 days, 5-minute means after 7 days. */
export const DEFAULT_DOWNSAMPLE: readonly DownsampleTier[] = [
  { afterMs: 2 * 24 * 3600_000, stepMs: 60_000 },
  { afterMs: 7 * 24 * 3600_000, stepMs: 300_000 },
];

/** Tiers coarsest (oldest) first, with their step-aligned cutoffs at `now`. */
export function cutoffs(tiers: readonly DownsampleTier[], now: number): number[] {
  return tiers.map((t) => Math.floor((now - t.afterMs) / t.stepMs) * t.stepMs);
}

/** Sorts tiers coarsest first and checks them. */
export function orderTiers(tiers: readonly DownsampleTier[]): DownsampleTier[] {
  return [...tiers].sort((a, b) => b.afterMs - a.afterMs);
}

/** Drops points before `minT` and downsamples by the tiers (coarsest first, with `cuts`). */
export function applyPolicy(ts: Float64Array, vs: Float64Array, minT: number, tiers: readonly DownsampleTier[], cuts: readonly number[]): { ts: Float64Array; vs: Float64Array } {
  const a = lowerBound(ts, ts.length, minT);
  let out = { ts: ts.subarray(a), vs: vs.subarray(a) };
  for (let k = 0; k < tiers.length; k++) {
    out = averageBuckets(out.ts, out.vs, k === 0 ? -Infinity : cuts[k - 1]!, cuts[k]!, tiers[k]!.stepMs);
  }
  return out;
}

/** Replaces sorted points with t in [lower, upper) by per-bucket means stamped at the bucket start. */
export function averageBuckets(ts: Float64Array, vs: Float64Array, lower: number, upper: number, step: number): { ts: Float64Array; vs: Float64Array } {
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
