/**
 * IPv4 address ranges of a pool: CIDR blocks (`10.0.0.0/28`: every address of the block; a
 * /31 or /32 as given, larger blocks without their network and broadcast addresses) and
 * inclusive ranges (`10.0.1.5-10.0.1.9`). A pool holds at most 65 536 addresses.
 */
import { NubisError } from '../../errors/index.js';

export const MAX_POOL_ADDRESSES = 65_536;

function ipToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export const intToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** One range as [first, last] integers; REQUEST_INVALID naming `at`. */
export function parseRange(text: unknown, at: string): [number, number] {
  const bad = (why: string): NubisError => new NubisError('REQUEST_INVALID', `${at}: expected a CIDR block (10.0.0.0/28) or a range (10.0.1.5-10.0.1.9), found ${JSON.stringify(text)}${why ? ` (${why})` : ''}`);
  if (typeof text !== 'string') throw bad('');
  const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (cidr) {
    const base = ipToInt(cidr[1]!);
    const bits = Number(cidr[2]);
    if (base === undefined || bits > 32) throw bad('');
    const size = 2 ** (32 - bits);
    const first = base - (base % size);
    if (first !== base) throw bad(`${cidr[1]} is not the block's first address; did you mean ${intToIp(first)}/${bits}?`);
    return size <= 2 ? [first, first + size - 1] : [first + 1, first + size - 2];
  }
  const range = /^([\d.]+)-([\d.]+)$/.exec(text);
  if (range) {
    const a = ipToInt(range[1]!);
    const b = ipToInt(range[2]!);
    if (a === undefined || b === undefined) throw bad('');
    if (b < a) throw bad('the end is before the start');
    return [a, b];
  }
  throw bad('');
}

/** Every range checked; REQUEST_INVALID for overlaps and pools over MAX_POOL_ADDRESSES. */
export function parseRanges(list: unknown, at: string): { ranges: string[]; size: number } {
  if (!Array.isArray(list) || list.length === 0 || list.length > 100) throw new NubisError('REQUEST_INVALID', `${at}: expected a list of 1 to 100 CIDR blocks or ranges`);
  const parsed = list.map((t, i) => ({ t: t as string, r: parseRange(t, `${at}[${i}]`) }));
  const sorted = [...parsed].sort((x, y) => x.r[0] - y.r[0]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.r[0] <= sorted[i - 1]!.r[1]) throw new NubisError('REQUEST_INVALID', `${at}: ${sorted[i - 1]!.t} and ${sorted[i]!.t} overlap`);
  }
  const size = parsed.reduce((s, p) => s + p.r[1] - p.r[0] + 1, 0);
  if (size > MAX_POOL_ADDRESSES) throw new NubisError('REQUEST_INVALID', `${at}: ${size} addresses is more than the ${MAX_POOL_ADDRESSES} a pool may hold`);
  return { ranges: parsed.map((p) => p.t), size };
}

/** The first address of the ranges (in their order) not in `taken`. */
export function firstFree(ranges: readonly string[], taken: ReadonlySet<string>): string | undefined {
  for (const t of ranges) {
    const [a, b] = parseRange(t, 'ranges');
    for (let n = a; n <= b; n++) {
      const ip = intToIp(n);
      if (!taken.has(ip)) return ip;
    }
  }
  return undefined;
}

/** Whether an address lies in the ranges. */
export function inRanges(ranges: readonly string[], address: string): boolean {
  const n = ipToInt(address);
  return n !== undefined && ranges.some((t) => {
    const [a, b] = parseRange(t, 'ranges');
    return n >= a && n <= b;
  });
}
