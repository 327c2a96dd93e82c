/**
 * A small seeded pseudo-random generator (mulberry32) so sim runs are reproducible: the same
 * seed and the same sequence of calls give the same latencies, failures and ids.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max]. */
  between(min: number, max: number): number;
  /** `n` lowercase hex characters. */
  hex(n: number): string;
}

export function createPrng(seed: number): Prng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    between: (min, max) => min + (max - min) * next(),
    hex(n) {
      let s = '';
      while (s.length < n) s += Math.floor(next() * 0x10000).toString(16).padStart(4, '0');
      return s.slice(0, n);
    },
  };
}
