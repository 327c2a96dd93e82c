/**
 * Graphite parsing in worker threads gives what the single-thread parser gives: the same
 * samples (names, labels with the tenant's base labels merged, millisecond and far-future
 * timestamp handling, values), in the same order, and the same rejections (reports, counts),
 * on random lines that include malformed ones. Two levels: the block parser against
 * `parseGraphiteLines`, and a listener with workers against one without, fed the same bytes
 * over TCP in random chunk sizes (over-long lines, invalid UTF-8, lines split across chunks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  columnsToSamples, createPathCache, parseGraphiteBlock, parseGraphiteLines, startGraphiteListener,
  type GraphiteListener, type GraphiteListenerStats,
} from '../../src/metrics/ingest/graphite.js';
import type { Labels, Sample } from '../../src/metrics/types.js';

const NOW = Date.UTC(2026, 11, 3, 10, 0, 0);

function lehmer(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 48271) % 2147483647) / 2147483647;
}

/** A random line, often valid, often not in one of many ways. */
function randomLine(rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const paths = [
    `a.b.c${Math.floor(rnd() * 20)}`, 'servers.web1.cpu', `cpu;host=h${Math.floor(rnd() * 3)};dc=eu`, 'cpu;dc=eu;host=h1',
    'mem;host=base', 'x;=v', 'x;k=', 'x;k=~v', ';a=b', 'x;k!=v', 'x;k', 'ünï.cødé', 'a\u0001b', 'x\ufffdy', '',
  ] as const;
  const sec = Math.floor(NOW / 1000);
  const values = ['1', '12.5', '-3', '1e3', '.5', '5.', 'nan', '-inf', 'Infinity', 'abc', '0x10', '1,5', '+7', '-0'] as const;
  const stamps = [
    String(sec - Math.floor(rnd() * 1000)), `${sec - 10}.25`, String(NOW - 5000), String(NOW * 1000), '-1', '', '-5',
    String(sec + 3600), String(NOW + 3600_000), String(sec + 60), '1e9', 'abc', String(sec) + ' extra',
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

function strip(r: { samples: Sample[]; malformed: string[]; future?: number }): unknown {
  return { samples: r.samples, malformed: r.malformed, future: r.future ?? 0 };
}

test('block parser (the workers\' code) = parseGraphiteLines on random lines: samples, reports, future counts (200 blocks)', () => {
  const rnd = lehmer(42);
  // a cache belongs to one parser, whose base labels are fixed: one per base here
  const caches = [createPathCache(), createPathCache()];
  for (let round = 0; round < 200; round++) {
    const lines = Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => randomLine(rnd));
    const text = lines.join('\n');
    const base: Labels | undefined = round % 3 === 0 ? { host: 'base', env: 'test' } : undefined;
    const opts = { now: NOW, ...(base ? { labels: base } : {}) };
    const want = parseGraphiteLines(text, opts);
    const cols = parseGraphiteBlock(text, NOW, base ? { labels: base } : {}, round % 2 === 0 ? caches[base ? 0 : 1] : createPathCache());
    assert.deepEqual(strip({ samples: columnsToSamples(cols), malformed: cols.malformed, future: cols.future }), strip(want), `round ${round}:\n${text}`);
    assert.ok(cols.names.length <= cols.n || cols.n === 0, 'each distinct series once');
  }
});

/** Random bytes of Graphite text: random lines, some over-long, some with invalid UTF-8. */
function randomStream(rnd: () => number, lines: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < lines; i++) {
    const r = rnd();
    if (r < 0.01) parts.push(Buffer.from('x'.repeat(300 + Math.floor(rnd() * 400)) + ' 1 2'));
    else if (r < 0.02) parts.push(Buffer.concat([Buffer.from('bad.utf8'), Buffer.from([0xff, 0xfe]), Buffer.from(' 1')]));
    else parts.push(Buffer.from(randomLine(rnd)));
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

async function feed(l: GraphiteListener, data: Buffer, rnd: () => number): Promise<void> {
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

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

const seen = (st: GraphiteListenerStats): number => st.accepted + st.malformed + st.future;

test('listener with parse workers = listener without, on the same random byte stream (samples in order, rejections, stats)', { timeout: 120_000 }, async () => {
  for (const seed of [1, 2, 3]) {
    const rnd = lehmer(seed * 7919);
    const data = randomStream(rnd, 4000);
    const base: Labels | undefined = seed === 2 ? { host: 'base' } : undefined;
    const run = async (workers: number, columns: boolean): Promise<{ samples: Sample[]; stats: GraphiteListenerStats }> => {
      const samples: Sample[] = [];
      const l = await startGraphiteListener({
        port: 0, parseWorkers: workers, workerMinBytes: 0, maxLineBytes: 256, now: () => NOW,
        ...(base ? { labels: base } : {}),
        onSamples: (s) => samples.push(...s),
        ...(columns ? { onColumns: (c) => samples.push(...columnsToSamples(c)) } : {}),
      });
      try {
        // the same chunking for each listener: the same seed
        await feed(l, data, lehmer(seed));
        const lines = data.toString('latin1').split('\n').filter((x) => x.trim() !== '').length;
        await until(() => seen(l.stats()) >= lines);
        await new Promise((r) => setTimeout(r, 20));
        return { samples, stats: l.stats() };
      } finally {
        await l.close();
      }
    };
    const single = await run(0, false);
    const pooled = await run(2, false);
    const cols = await run(2, true);
    assert.ok(single.samples.length > 500 && single.stats.malformed > 100 && single.stats.future > 10, `the stream has samples, malformed and far-future lines: ${JSON.stringify({ ...single.stats, samples: single.samples.length })}`);
    assert.deepEqual(pooled.samples, single.samples, `seed ${seed}: samples`);
    assert.deepEqual(cols.samples, single.samples, `seed ${seed}: samples via columns`);
    const { connections: _c1, ...a } = single.stats;
    const { connections: _c2, ...b } = pooled.stats;
    assert.deepEqual(b, a, `seed ${seed}: stats`);
  }
});
