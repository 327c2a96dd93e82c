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
import {
  columnsToSamples, createPathCache, parseGraphiteBlock, parseGraphiteLines, startGraphiteListener, type GraphiteListenerStats,
} from '../../src/metrics/ingest/graphite.js';
import type { Labels, Sample } from '../../src/metrics/types.js';
import { feed, lehmer, NOW, randomLine, randomStream, until } from './metrics-graphite-random.js';

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
