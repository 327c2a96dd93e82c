/**
 * Random Graphite input for property tests (metrics-graphite-*.test.ts): lines that are often
 * valid and often malformed in one of many ways, byte streams of them (with over-long lines
 * and invalid UTF-8), and a sender that writes a stream to a listener in random chunk sizes.
 */
import net from 'node:net';
import type { GraphiteListener } from '../../src/metrics/ingest/graphite.js';

export const NOW = Date.UTC(2026, 11, 3, 10, 0, 0);

export function lehmer(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 48271) % 2147483647) / 2147483647;
}

/** A random line, often valid, often not in one of many ways; timestamps around `now`. */
export function randomLine(rnd: () => number, now: number = NOW): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const paths = [
    `a.b.c${Math.floor(rnd() * 20)}`, 'servers.web1.cpu', `cpu;host=h${Math.floor(rnd() * 3)};dc=eu`, 'cpu;dc=eu;host=h1',
    'mem;host=base', 'x;=v', 'x;k=', 'x;k=~v', ';a=b', 'x;k!=v', 'x;k', 'ünï.cødé', 'a\u0001b', 'x\ufffdy', '',
  ] as const;
  const sec = Math.floor(now / 1000);
  const values = [
    '1', '12.5', '-3', '1e3', '.5', '5.', 'nan', '-inf', 'Infinity', 'abc', '0x10', '1,5', '+7', '-0',
    // the edges of the byte parser's exact decimal path (at most 15 digits, 10^±22)
    '123456789012345', '1234567890123456', '12345678901234567890', '0.1', '0.30000000000000004', '1e22', '1e23', '1e-22',
    '1e-23', '4.9e-324', '1.7976931348623157e308', '1e999', '000012.500', '-0.0', '.e5', '1e', '1E+5', '1e-05', '2.5e',
    '9007199254740993', '+.5', '--1', '1..2', '1e1234', '0.000000000000000000000001',
  ] as const;
  const stamps = [
    String(sec - Math.floor(rnd() * 1000)), `${sec - 10}.25`, String(now - 5000), String(now * 1000), '-1', '', '-5',
    String(sec + 3600), String(now + 3600_000), String(sec + 60), '1e9', 'abc', String(sec) + ' extra',
    `${sec}.123456`, `+${sec}`, '-0', '99999999999999', '100000000000000', '1e11', `${now}.5`, '-1.0', '-1x', '-1 2', '1e14',
  ] as const;
  const seps = [' ', '\t', '  ', ' \t'] as const;
  const kind = rnd();
  if (kind < 0.05) return '';
  if (kind < 0.08) return pick(['   ', '\t', '\r']);
  const sep = pick(seps);
  const ts = pick(stamps);
  let line = pick(paths) + sep + pick(values) + (ts === '' ? '' : sep + ts);
  if (rnd() < 0.1) line += '\r';
  if (rnd() < 0.05) line = sep + line + sep;
  return line;
}

/** Random bytes of Graphite text: random lines, some over-long, some with invalid UTF-8. */
export function randomStream(rnd: () => number, lines: number, line: (rnd: () => number) => string = randomLine): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < lines; i++) {
    const r = rnd();
    if (r < 0.01) parts.push(Buffer.from('x'.repeat(300 + Math.floor(rnd() * 400)) + ' 1 2'));
    else if (r < 0.02) parts.push(Buffer.concat([Buffer.from('bad.utf8'), Buffer.from([0xff, 0xfe]), Buffer.from(' 1')]));
    else parts.push(Buffer.from(line(rnd)));
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export async function feed(l: GraphiteListener, data: Buffer, rnd: () => number): Promise<void> {
  const sock = net.connect(l.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  for (let p = 0; p < data.length; ) {
    const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 64 : 40_000));
    const ok = sock.write(data.subarray(p, p + n));
    p += n;
    if (!ok) await new Promise((r) => sock.once('drain', r));
  }
  await new Promise<void>((resolve) => sock.end(() => resolve()));
}

export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

