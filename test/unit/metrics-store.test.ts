/**
 * The embedded metric store: persistence across reopen (WAL and compacted snapshots),
 * retention, downsampling, label matchers, out-of-order appends, memory-only mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmbeddedMetricStore } from '../../src/metrics/store/embedded.js';
import type { LabelMatcher, Sample } from '../../src/metrics/types.js';

const T0 = Date.UTC(2030, 0, 1);
const MIN = 60_000;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-mstore-'));
}

function samples(name: string, labels: Record<string, string>, n: number, stepMs: number, v: (i: number) => number, start = T0): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ name, labels, t: start + i * stepMs, v: v(i) }));
}

test('data survives close and reopen, across many flushes and a compaction', async () => {
  const dir = tmpDir();
  let clock = T0 + 60 * MIN;
  const s1 = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, maxWalFiles: 3, now: () => clock });
  for (let k = 0; k < 7; k++) {
    s1.append(samples('cpu', { instance: 'a' }, 10, 1000, (i) => k * 10 + i, T0 + k * 10_000));
    s1.append(samples('a.b.c', {}, 10, 1000, (i) => -(k * 10 + i), T0 + k * 10_000));
    await s1.flush();
  }
  assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('chunks-')), 'a chunk file was written once WAL files piled up');
  await s1.close();
  clock += MIN;
  const s2 = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => clock });
  const cpu = await s2.select([{ name: '__name__', op: '=', value: 'cpu' }], 0, Infinity);
  assert.equal(cpu.length, 1);
  assert.deepEqual(cpu[0]!.labels, { __name__: 'cpu', instance: 'a' });
  assert.deepEqual(cpu[0]!.points.map((p) => p.v), Array.from({ length: 70 }, (_, i) => i));
  const g = await s2.select([{ name: '__name__', op: '=', value: 'a.b.c' }], T0 + 5000, T0 + 9000);
  assert.deepEqual(g[0]!.points, [5, 6, 7, 8, 9].map((i) => ({ t: T0 + i * 1000, v: -i })));
  assert.equal(s2.stats().points, 140);
  // Appending after reopen continues the same series.
  s2.append([{ name: 'cpu', labels: { instance: 'a' }, t: T0 + 70_000, v: 70 }]);
  await s2.close();
  const s3 = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => clock });
  assert.equal(s3.stats().series, 2);
  assert.equal(s3.stats().points, 141);
  await s3.close();
});

test('unflushed data is not on disk; a leftover temporary file from a crash is ignored', async () => {
  const dir = tmpDir();
  const s1 = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => T0 });
  s1.append(samples('x', {}, 5, 1000, (i) => i));
  await s1.flush();
  s1.append(samples('x', {}, 5, 1000, (i) => i + 5, T0 + 5000));
  // Simulated crash: no flush; a torn write left a temporary file behind.
  fs.writeFileSync(path.join(dir, 'wal-000000000099.bin.tmp'), Buffer.from([1, 2, 3]));
  const s2 = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => T0 });
  assert.equal(s2.stats().points, 5);
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
  await s2.close();
});

test('retention drops points older than retentionMs and series left empty', async () => {
  let clock = T0;
  const s = await createEmbeddedMetricStore({ dir: tmpDir(), flushIntervalMs: 0, retentionMs: 10 * MIN, maintenanceIntervalMs: 0, now: () => clock });
  s.append(samples('old', {}, 5, MIN, (i) => i));
  s.append(samples('new', {}, 30, MIN, (i) => i));
  clock = T0 + 25 * MIN;
  await s.flush();
  assert.deepEqual(await s.series([]), [{ __name__: 'new' }]);
  const pts = (await s.select([{ name: '__name__', op: '=', value: 'new' }], 0, Infinity))[0]!.points;
  assert.equal(pts[0]!.t, T0 + 15 * MIN);
  assert.equal(pts.length, 15);
  await s.close();
});

test('downsampling replaces old raw points by per-step means stamped at the bucket start, and survives reopen', async () => {
  const dir = tmpDir();
  let clock = T0;
  const opts = { dir, flushIntervalMs: 0, maintenanceIntervalMs: 0, downsample: [{ afterMs: 60 * MIN, stepMs: 5 * MIN }], now: () => clock };
  const s = await createEmbeddedMetricStore(opts);
  // One point per 30 s for two hours: value = index.
  s.append(samples('load', { node: 'n1' }, 240, 30_000, (i) => i));
  clock = T0 + 120 * MIN;
  await s.flush();
  const pts = (await s.select([{ name: 'node', op: '=', value: 'n1' }], 0, Infinity))[0]!.points;
  // The first hour (120 raw points) became 12 means of 10 points each.
  const expected: { t: number; v: number }[] = [];
  for (let b = 0; b < 12; b++) expected.push({ t: T0 + b * 5 * MIN, v: b * 10 + 4.5 });
  for (let i = 120; i < 240; i++) expected.push({ t: T0 + i * 30_000, v: i });
  assert.deepEqual(pts, expected);
  // Idempotent: maintaining again changes nothing.
  await s.maintain();
  assert.deepEqual((await s.select([{ name: 'node', op: '=', value: 'n1' }], 0, Infinity))[0]!.points, expected);
  await s.close();
  const again = await createEmbeddedMetricStore(opts);
  assert.deepEqual((await again.select([{ name: 'node', op: '=', value: 'n1' }], 0, Infinity))[0]!.points, expected);
  await again.close();
});

test('label matchers: =, !=, =~, !~ anchored; a missing label is the empty string', async () => {
  const s = await createEmbeddedMetricStore({ dir: null, now: () => T0 });
  s.append([
    { name: 'cpu', labels: { instance: 'web-1', zone: 'a' }, t: T0, v: 1 },
    { name: 'cpu', labels: { instance: 'web-2' }, t: T0, v: 2 },
    { name: 'cpu', labels: { instance: 'db-1', zone: 'b' }, t: T0, v: 3 },
    { name: 'servers.web1.load', labels: {}, t: T0, v: 4 },
  ]);
  const names = async (m: LabelMatcher[]): Promise<number[]> => (await s.select(m, 0, Infinity)).map((d) => d.points[0]!.v).sort();
  const cpu: LabelMatcher = { name: '__name__', op: '=', value: 'cpu' };
  assert.deepEqual(await names([cpu]), [1, 2, 3]);
  assert.deepEqual(await names([cpu, { name: 'instance', op: '!=', value: 'web-1' }]), [2, 3]);
  assert.deepEqual(await names([cpu, { name: 'instance', op: '=~', value: 'web-.' }]), [1, 2]);
  assert.deepEqual(await names([cpu, { name: 'instance', op: '=~', value: 'web' }]), [], 'regex is anchored');
  assert.deepEqual(await names([cpu, { name: 'instance', op: '!~', value: 'web.*' }]), [3]);
  assert.deepEqual(await names([cpu, { name: 'zone', op: '=', value: '' }]), [2], 'missing label matches ""');
  assert.deepEqual(await names([cpu, { name: 'zone', op: '!=', value: 'a' }]), [2, 3]);
  assert.deepEqual(await names([{ name: '__name__', op: '=', value: 'servers.web1.load' }]), [4]);
  assert.deepEqual(await names([{ name: '__name__', op: '=~', value: 'servers\\..*' }]), [4]);
  assert.equal((await s.series([])).length, 4);
  assert.equal((await s.series([], 2)).length, 2);
  assert.deepEqual(await s.series([{ name: 'zone', op: '=', value: 'b' }]), [{ __name__: 'cpu', instance: 'db-1', zone: 'b' }]);
  await assert.rejects(s.select([{ name: 'a', op: '=~', value: '(' }], 0, 1), (e: unknown) => (e as { code: string }).code === 'REQUEST_INVALID');
  await s.close();
});

test('out-of-order appends are returned sorted; the last write of a timestamp wins', async () => {
  const dir = tmpDir();
  const s = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => T0 });
  s.append([
    { name: 'x', labels: {}, t: T0 + 3000, v: 3 },
    { name: 'x', labels: {}, t: T0 + 1000, v: 1 },
    { name: 'x', labels: {}, t: T0 + 2000, v: 2 },
    { name: 'x', labels: {}, t: T0 + 1000, v: 10 },
  ]);
  const want = [
    { t: T0 + 1000, v: 10 },
    { t: T0 + 2000, v: 2 },
    { t: T0 + 3000, v: 3 },
  ];
  assert.deepEqual((await s.select([{ name: '__name__', op: '=', value: 'x' }], 0, Infinity))[0]!.points, want);
  await s.close();
  const r = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => T0 });
  assert.deepEqual((await r.select([{ name: '__name__', op: '=', value: 'x' }], 0, Infinity))[0]!.points, want);
  await r.close();
});

test('many points per series span several chunks and are selected by range exactly', async () => {
  const s = await createEmbeddedMetricStore({ dir: null, now: () => T0 });
  s.append(samples('big', { k: 'v' }, 10_000, 1000, (i) => i));
  const pts = (await s.select([{ name: 'k', op: '=', value: 'v' }], T0 + 2047_000, T0 + 4100_000))[0]!.points;
  assert.equal(pts.length, 4100 - 2047 + 1);
  assert.equal(pts[0]!.v, 2047);
  assert.equal(pts[pts.length - 1]!.v, 4100);
  assert.deepEqual(await s.select([{ name: 'k', op: '=', value: 'v' }], T0 + 20_000_000, T0 + 30_000_000), []);
  await s.close();
});
