/**
 * The embedded store's append by series handle (`resolve` / `appendResolved`, what the Graphite
 * byte parser uses): samples wait in arrival order and are settled into their heads in batches
 * grouped by series (store/pending.ts). Checked: each series keeps its arrival order (also
 * across batches and mixed with `append`), appended points are visible to every reader at
 * once, flushed points survive a reopen, the series cap refuses through `resolve`, a closed
 * store refuses, and a series that retention removes while samples for it wait keeps them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import { PENDING_ROWS, PendingRows } from '../../src/metrics/store/pending.js';
import type { LabelMatcher } from '../../src/metrics/types.js';

const T0 = Date.UTC(2030, 0, 1);
const ALL: LabelMatcher[] = [{ name: '__name__', op: '=~', value: '.+' }];

function lehmer(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 48271) % 2147483647) / 2147483647;
}

test('pending rows: a settle hands each id its rows once, in arrival order (ids past the count table, many batches)', () => {
  const rnd = lehmer(3);
  const p = new PendingRows();
  for (let round = 0; round < 5; round++) {
    const n = 1 + Math.floor(rnd() * 5000);
    const ids = Array.from({ length: n }, () => (rnd() < 0.1 ? 5000 + Math.floor(rnd() * 20_000) : Math.floor(rnd() * 50)));
    const t = Float64Array.from({ length: n }, (_, i) => i);
    const v = Float64Array.from({ length: n }, () => rnd());
    p.add(ids, t, v, 0, n);
    const want = new Map<number, number[]>();
    ids.forEach((id, i) => want.set(id, [...(want.get(id) ?? []), i]));
    const got = new Map<number, number[]>();
    p.settle((id, ts, vs, from, to) => {
      assert.ok(!got.has(id), `id ${id} once`);
      const rows = Array.from(ts.subarray(from, to));
      rows.forEach((i, k) => assert.equal(vs[from + k], v[i]!));
      got.set(id, rows);
    });
    assert.deepEqual(got, want, `round ${round}`);
    assert.equal(p.n, 0);
  }
});

test('store by handle: arrival order per series across batches and mixed with append; visible at once; a reopen has every flushed point', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-mstore-h-'));
  try {
    const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, downsample: [], now: () => T0 });
    const names = Array.from({ length: 300 }, (_, i) => `h.s${i}`);
    const handles = names.map((n) => store.resolve(n, {})!);
    assert.equal(new Set(handles).size, 300);
    assert.equal(store.resolve('h.s7', {}), handles[7], 'the same series, the same handle');
    const want = new Map<string, [number, number][]>();
    const rnd = lehmer(11);
    let sent = 0;
    // more than two batches, equal timestamps (the last appended wins), and out-of-order points
    while (sent < 2 * PENDING_ROWS + 5000) {
      const n = 1 + Math.floor(rnd() * 4000);
      const hs: number[] = [];
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const k = Math.floor(rnd() * names.length);
        hs.push(handles[k]!);
        t[i] = T0 - 3600_000 + Math.floor(rnd() * 100_000) * 10;
        v[i] = sent + i;
        want.set(names[k]!, [...(want.get(names[k]!) ?? []), [t[i]!, v[i]!]]);
      }
      store.appendResolved(hs, t, v, n);
      sent += n;
      if (rnd() < 0.2) {
        const k = Math.floor(rnd() * names.length);
        const p: [number, number] = [T0 - 3600_000 + Math.floor(rnd() * 100_000) * 10, -sent];
        store.append([{ name: names[k]!, labels: {}, t: p[0], v: p[1] }]);
        want.set(names[k]!, [...(want.get(names[k]!) ?? []), p]);
        sent++;
      }
    }
    /** The points of a series as `select` must give them: sorted by time, the last appended of equal times. */
    const expect = (pts: [number, number][]): { t: number; v: number }[] => {
      const last = new Map<number, number>();
      for (const [t, v] of pts) last.set(t, v);
      return [...last].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v }));
    };
    // not flushed, maybe not settled: visible to select, series and stats
    assert.equal(store.stats().points, sent);
    assert.equal((await store.series(ALL)).length, 300);
    const check = async (s: typeof store): Promise<void> => {
      for (const k of [0, 7, 150, 299]) {
        const got = await s.select([{ name: '__name__', op: '=', value: names[k]! }], -Infinity, Infinity);
        assert.deepEqual(got[0]!.points, expect(want.get(names[k]!)!), names[k]);
      }
    };
    await check(store);
    await store.flush();
    await store.close();
    assert.throws(() => store.resolve('h.s1', {}), /closed/);
    assert.throws(() => store.appendResolved([handles[0]!], new Float64Array([T0]), new Float64Array([1]), 1), /closed/);
    const again = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, downsample: [], now: () => T0 });
    assert.equal(again.stats().points, sent);
    await check(again);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('store by handle: the series cap refuses through resolve (counted); series labels by handle', async () => {
  const store = await createEmbeddedMetricStore({ dir: null, maxSeries: 2 });
  const a = store.resolve('a', { host: 'x' });
  const b = store.resolve('b', {});
  assert.equal(store.resolve('c', {}), undefined);
  assert.equal(store.resolve('c', {}), undefined);
  assert.deepEqual(store.refusal(), { series: 1, samples: 2, maxSeries: 2, last: { __name__: 'c' } });
  assert.deepEqual(store.seriesLabels(a!), { __name__: 'a', host: 'x' });
  assert.deepEqual(store.seriesLabels(b!), { __name__: 'b' });
  await store.close();
});

test('store by handle: samples appended while maintenance runs keep their series when retention removes its old chunks', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-mstore-h-'));
  let now = T0;
  /** Set once maintenance has read the clock: it has settled and goes on to its file operations. */
  let armed = false;
  let started = false;
  const clock = (): number => {
    if (armed) started = true;
    return now;
  };
  try {
    const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, downsample: [], retentionMs: 3600_000, now: clock });
    const names = Array.from({ length: 50 }, (_, i) => `r.s${i}`);
    const hs = names.map((n) => store.resolve(n, {})!);
    store.appendResolved(hs, new Float64Array(50).fill(T0 - 60_000), new Float64Array(50).fill(1), 50);
    await store.flush(); // the points go to the WAL; the next maintenance seals them into a chunk file
    now = T0 + 3 * 3600_000; // every old point is past retention
    const gen = store.handleGeneration;
    armed = true;
    const done = store.maintain();
    // new samples for every series while maintenance runs its file operations
    let appended = 0;
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      if (started && appended === 0) {
        store.appendResolved(hs, new Float64Array(50).fill(now), new Float64Array(50).fill(2), 50);
        appended++;
      }
      await new Promise((r) => setImmediate(r));
    }
    await done;
    assert.equal(appended, 1, 'the samples came in during maintenance');
    const got = await store.select([{ name: '__name__', op: '=~', value: 'r\\..*' }], -Infinity, Infinity);
    assert.equal(got.length, 50, `every series is still there (appended ${appended} times; generation ${gen} → ${store.handleGeneration})`);
    for (const s of got) assert.deepEqual(s.points, [{ t: now, v: 2 }], s.labels['__name__']);
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
