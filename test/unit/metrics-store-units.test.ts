/**
 * The embedded store's units and bounds: the chunk codec, the series index's cap, the head's
 * memory budget, append-only persistence (chunk files never rewritten by ingest, WAL replay
 * after a crash), whole-file retention, the import of the previous format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import { decodeChunk, encodeChunk, FLAG_RAW_TS, FLAG_SORTED } from '../../src/metrics/store/codec.js';
import { SeriesIndex } from '../../src/metrics/store/series-index.js';
import { mergePieces } from '../../src/metrics/store/reader.js';
import type { Sample } from '../../src/metrics/types.js';

const T0 = Date.UTC(2030, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-mstore-u-'));
}

/** A Lehmer generator: deterministic test data in [0, 1). */
function lehmer(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 48271) % 2147483647) / 2147483647;
}

function roundTrip(ts: number[], vs: number[]): { ts: number[]; vs: number[]; flags: number; bytes: number } {
  const c = encodeChunk(Float64Array.from(ts), Float64Array.from(vs), ts.length);
  const d = decodeChunk(c);
  return { ts: [...d.ts], vs: [...d.vs], flags: c.flags, bytes: c.bytes.length };
}

test('codec: points come back bit for bit (regular, jittered, out of order, fractional, special values)', () => {
  const rnd = lehmer(7);
  const regular = Array.from({ length: 500 }, (_, i) => T0 + i * 10_000);
  const gauge = Array.from({ length: 500 }, () => Math.round(rnd() * 10_000) / 100);
  let r = roundTrip(regular, gauge);
  assert.deepEqual(r.ts, regular);
  assert.deepEqual(r.vs, gauge);
  assert.equal(r.flags & FLAG_SORTED, FLAG_SORTED);
  const constant = roundTrip(regular, regular.map(() => 42));
  assert.ok(constant.bytes <= 16 + 2 * 500, `a regular constant series costs about 2 bytes a point (${constant.bytes})`);

  const jitter = regular.map((t) => t + Math.floor(rnd() * 2000) - 1000);
  jitter.splice(10, 0, T0 - HOUR); // one late point
  const specials = jitter.map((_, i) => [NaN, Infinity, -Infinity, -0, 0, 1e308, -5e-324, 3.5][i % 8]!);
  r = roundTrip(jitter, specials);
  assert.deepEqual(r.ts, jitter);
  assert.ok(r.vs.every((v, i) => Object.is(v, specials[i])), 'NaN, infinities and -0 survive');
  assert.equal(r.flags & FLAG_SORTED, 0);

  const fractional = [T0 + 0.5, T0 + 1.25, T0 + 7];
  r = roundTrip(fractional, [1, 2, 3]);
  assert.deepEqual(r.ts, fractional);
  assert.equal(r.flags & FLAG_RAW_TS, FLAG_RAW_TS);
  assert.deepEqual(roundTrip([T0], [1]).vs, [1]);
  assert.throws(() => decodeChunk({ ...encodeChunk(Float64Array.from(regular), Float64Array.from(gauge), 500), n: 501 }), /ends early/);
});

test('codec: random doubles round-trip bit for bit, with every leading/trailing zero-byte count of the XOR', () => {
  const rnd = lehmer(2024);
  const bits = new DataView(new ArrayBuffer(8));
  const pairs = new Set<string>();
  for (let round = 0; round < 200; round++) {
    const n = 1 + Math.floor(rnd() * 300);
    const ts: number[] = [];
    const vs: number[] = [];
    let t = T0 + Math.floor(rnd() * 1e6);
    for (let i = 0; i < n; i++) {
      t += round % 5 === 0 ? Math.floor(rnd() * 2e9) - 1e9 : 10_000 + (rnd() < 0.1 ? Math.floor(rnd() * 7) : 0);
      ts.push(t);
      const prev = vs[i - 1] ?? 0;
      // change a random run of the previous value's bytes, or pick a special or random value
      const r = rnd();
      let v: number;
      if (r < 0.1) v = prev;
      else if (r < 0.2) v = [NaN, -0, 0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE][Math.floor(rnd() * 7)]!;
      else {
        bits.setFloat64(0, prev);
        const from = Math.floor(rnd() * 8);
        const to = from + Math.floor(rnd() * (8 - from));
        for (let k = from; k <= to; k++) bits.setUint8(k, Math.floor(rnd() * 256));
        v = bits.getFloat64(0);
      }
      vs.push(v);
      if (i > 0) {
        bits.setFloat64(0, prev);
        const a = bits.getBigUint64(0);
        bits.setFloat64(0, v);
        const x = a ^ bits.getBigUint64(0);
        if (x !== 0n) {
          const hex = x.toString(16).padStart(16, '0');
          pairs.add(`${(hex.length - hex.replace(/^(00)+/, '').length) / 2}/${(hex.length - hex.replace(/(00)+$/, '').length) / 2}`);
        }
      }
    }
    const r = roundTrip(ts, vs);
    assert.deepEqual(r.ts, ts, `round ${round}: times`);
    assert.deepEqual(r.vs.map((x) => Object.is(x, -0) ? '-0' : x), vs.map((x) => Object.is(x, -0) ? '-0' : x), `round ${round}: values`);
  }
  assert.ok(pairs.size >= 30, `${pairs.size} leading/trailing zero-byte pairs covered`);
});

test('reader: later pieces win equal timestamps; disjoint sorted pieces are sliced', () => {
  const p = (ts: number[], vs: number[]) => ({ ts: Float64Array.from(ts), vs: Float64Array.from(vs), sorted: true, minT: Math.min(...ts), maxT: Math.max(...ts) });
  const m = mergePieces([p([1, 2, 3], [1, 2, 3]), p([2, 4], [20, 40])], 0, Infinity);
  assert.deepEqual([...m.ts], [1, 2, 3, 4]);
  assert.deepEqual([...m.vs], [1, 20, 3, 40]);
  const d = mergePieces([p([1, 2, 3], [1, 2, 3]), p([5, 6], [5, 6])], 2, 5);
  assert.deepEqual([...d.ts], [2, 3, 5]);
});

test('series index: new series beyond the cap are refused and counted; existing ones still accept', () => {
  const idx = new SeriesIndex(2);
  assert.ok(idx.lookup('a', {}));
  assert.ok(idx.lookup('b', { x: '1' }));
  assert.equal(idx.lookup('c', {}), undefined);
  assert.equal(idx.lookup('c', {}), undefined);
  assert.ok(idx.lookup('a', {}), 'a known series is not new');
  assert.equal(idx.refused.series, 1, 'one distinct series refused');
  assert.deepEqual(idx.refused.last, { __name__: 'c' });
});

test('store: the series cap drops only the new series\' samples and says so', async () => {
  const s = await createEmbeddedMetricStore({ dir: null, maxSeries: 3, now: () => T0 });
  const batch: Sample[] = [];
  for (let i = 0; i < 5; i++) batch.push({ name: 'm', labels: { i: String(i) }, t: T0, v: i });
  s.append(batch);
  s.append([{ name: 'm', labels: { i: '0' }, t: T0 + 1000, v: 10 }]);
  assert.equal(s.stats().series, 3);
  assert.equal(s.stats().refusedSeries, 2);
  assert.equal(s.stats().refusedSamples, 2);
  assert.deepEqual(s.refusal(), { series: 2, samples: 2, maxSeries: 3, last: { __name__: 'm', i: '4' } });
  const pts = (await s.select([{ name: 'i', op: '=', value: '0' }], 0, Infinity))[0]!.points;
  assert.deepEqual(pts.map((p) => p.v), [0, 10]);
  await s.close();
});

test('head budget: past it the heads are sealed into chunk files; queries and a reopen see every point', async () => {
  const dir = tmpDir();
  const opts = { dir, flushIntervalMs: 0, headBudgetBytes: 64 * 1024, downsample: [], now: () => T0 + 2 * HOUR };
  const s = await createEmbeddedMetricStore(opts);
  const series = 50;
  const perSeries = 600;
  for (let i = 0; i < perSeries; i++) {
    const batch: Sample[] = [];
    for (let k = 0; k < series; k++) batch.push({ name: 'g', labels: { k: String(k) }, t: T0 + i * 10_000, v: k * 1000 + i });
    s.append(batch);
    assert.ok(s.stats().headBytes <= 64 * 1024 + series * 16 * 16, `head stays near its budget (${s.stats().headBytes})`);
    if (i % 50 === 49) await s.flush();
  }
  await s.flush();
  const st = s.stats();
  assert.ok(st.chunkFiles >= 2, `sealed into chunk files (${st.chunkFiles})`);
  assert.equal(st.points, series * perSeries);
  const check = async (st2: typeof s): Promise<void> => {
    const got = await st2.select([{ name: 'k', op: '=', value: '7' }], T0 + 100 * 10_000, T0 + 499 * 10_000);
    assert.deepEqual(got[0]!.points.map((p) => p.v), Array.from({ length: 400 }, (_, i) => 7000 + 100 + i));
  };
  await check(s);
  await s.close();
  const r = await createEmbeddedMetricStore(opts);
  assert.equal(r.stats().points, series * perSeries);
  await check(r);
  await r.close();
});

test('persistence appends: flushes never rewrite an existing chunk file; a crash replays the WAL', async () => {
  const dir = tmpDir();
  const opts = { dir, flushIntervalMs: 0, maxWalFiles: 2, downsample: [], now: () => T0 + HOUR };
  const s = await createEmbeddedMetricStore(opts);
  const stamp = (): Map<string, string> => {
    const m = new Map<string, string>();
    for (const f of fs.readdirSync(dir)) if (f.startsWith('chunks-')) m.set(f, `${fs.statSync(path.join(dir, f)).mtimeMs}:${fs.statSync(path.join(dir, f)).size}`);
    return m;
  };
  const seen = new Map<string, string>();
  for (let k = 0; k < 12; k++) {
    s.append([{ name: 'x', labels: {}, t: T0 + k * 1000, v: k }]);
    await s.flush();
    for (const [f, st] of stamp()) {
      if (seen.has(f)) assert.equal(seen.get(f), st, `${f} unchanged once written`);
      seen.set(f, st);
    }
  }
  assert.ok(seen.size >= 3, `several chunk files (${seen.size})`);
  // a crash: points flushed to the WAL but not sealed, no close
  s.append([{ name: 'x', labels: {}, t: T0 + 12_000, v: 12 }]);
  await s.flush();
  const r = await createEmbeddedMetricStore(opts);
  const pts = (await r.select([{ name: '__name__', op: '=', value: 'x' }], 0, Infinity))[0]!.points;
  assert.deepEqual(pts.map((p) => p.v), Array.from({ length: 13 }, (_, i) => i));
  await r.close();
  await s.close().catch(() => undefined);
});

test('retention deletes whole expired chunk files without reading them', async () => {
  const dir = tmpDir();
  let clock = T0;
  const s = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, maintenanceIntervalMs: 0, retentionMs: 24 * HOUR, downsample: [], maxWalFiles: 1, now: () => clock });
  s.append([{ name: 'old', labels: {}, t: T0, v: 1 }]);
  await s.flush();
  await s.flush(); // seals
  const first = fs.readdirSync(dir).filter((f) => f.startsWith('chunks-'));
  assert.equal(first.length, 1);
  clock = T0 + 30 * HOUR;
  s.append([{ name: 'new', labels: {}, t: clock, v: 2 }]);
  await s.flush();
  assert.ok(!fs.existsSync(path.join(dir, first[0]!)), 'the expired file is gone');
  assert.deepEqual(await s.series([]), [{ __name__: 'new' }]);
  await s.close();
});

test('a data directory of the previous format (snap/wal .bin) is imported', async () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'series.log'), JSON.stringify({ id: 1, labels: { __name__: 'legacy', a: 'b' } }) + '\n');
  const file = (records: [number, number[], number[]][]): Buffer => {
    let size = 8;
    for (const [, ts] of records) size += 8 + 16 * ts.length;
    const b = Buffer.alloc(size);
    b.writeUInt32LE(0x314d424e, 0);
    b.writeUInt32LE(records.length, 4);
    let p = 8;
    for (const [id, ts, vs] of records) {
      b.writeUInt32LE(id, p);
      b.writeUInt32LE(ts.length, p + 4);
      p += 8;
      for (const t of ts) (b.writeDoubleLE(t, p), (p += 8));
      for (const v of vs) (b.writeDoubleLE(v, p), (p += 8));
    }
    return b;
  };
  fs.writeFileSync(path.join(dir, 'snap-000000000003.bin'), file([[1, [T0, T0 + 1000], [1, 2]]]));
  fs.writeFileSync(path.join(dir, 'wal-000000000004.bin'), file([[1, [T0 + 2000], [3]]]));
  fs.writeFileSync(path.join(dir, 'wal-000000000002.bin'), file([[1, [T0 - 5000], [99]]])); // superseded by the snapshot
  const s = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, downsample: [], now: () => T0 });
  assert.deepEqual((await s.select([{ name: 'a', op: '=', value: 'b' }], 0, Infinity))[0]!.points.map((p) => p.v), [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.bin')), []);
  await s.close();
  const r = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, downsample: [], now: () => T0 });
  assert.equal(r.stats().points, 3);
  await r.close();
});

test('a reopened store finds each series\' chunks on first use: queries, retention and downsampling rewrites after the open see the same points', async () => {
  const dir = tmpDir();
  let clock = T0;
  const opts = { dir, flushIntervalMs: 0, maintenanceIntervalMs: 0, retentionMs: 48 * HOUR, downsample: [{ afterMs: 24 * HOUR, stepMs: HOUR }], maxWalFiles: 1, now: () => clock };
  const s1 = await createEmbeddedMetricStore(opts);
  // 30 series, one point per 10 min over 40 hours, sealed into a chunk file every 2 hours
  for (let h = 0; h < 40; h++) {
    const batch: Sample[] = [];
    for (let k = 0; k < 30; k++) for (let j = 0; j < 6; j++) batch.push({ name: `m${k % 3}`, labels: { k: String(k) }, t: T0 + h * HOUR + j * 10 * MIN, v: k * 1000 + h * 6 + j });
    s1.append(batch);
    if (h % 2 === 1) await s1.flush();
  }
  await s1.close();
  assert.ok(fs.readdirSync(dir).filter((f) => f.startsWith('chunks-')).length >= 10, 'many chunk files');
  // the reference: the same data in memory, maintained at the same times
  const ref = await createEmbeddedMetricStore({ ...opts, dir: null });
  for (let h = 0; h < 40; h++) {
    const batch: Sample[] = [];
    for (let k = 0; k < 30; k++) for (let j = 0; j < 6; j++) batch.push({ name: `m${k % 3}`, labels: { k: String(k) }, t: T0 + h * HOUR + j * 10 * MIN, v: k * 1000 + h * 6 + j });
    ref.append(batch);
  }
  const s2 = await createEmbeddedMetricStore(opts);
  const all = [{ name: '__name__', op: '=~', value: 'm.*' }] as const;
  const sorted = (xs: { labels: Record<string, string> }[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(sorted(await s2.select([{ name: 'k', op: '=', value: '7' }], 0, Infinity)), sorted(await ref.select([{ name: 'k', op: '=', value: '7' }], 0, Infinity)), 'one series, before any other is read');
  assert.equal(s2.stats().points, ref.stats().points);
  // 60 hours in: the first 12 hours expire, hours up to 36 are downsampled (files rewritten)
  clock = T0 + 60 * HOUR;
  await s2.maintain();
  await ref.maintain();
  assert.deepEqual(sorted(await s2.select([...all], 0, Infinity)), sorted(await ref.select([...all], 0, Infinity)));
  assert.equal(s2.stats().points, ref.stats().points);
  await s2.close();
  const s3 = await createEmbeddedMetricStore(opts);
  assert.deepEqual(sorted(await s3.select([...all], 0, Infinity)), sorted(await ref.select([...all], 0, Infinity)), 'and after another reopen');
  await s3.close();
  await ref.close();
});
