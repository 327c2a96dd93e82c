/**
 * The embedded store at size: 100,000 series × 1 day at 10 s (8,640 points each, 864 million
 * points), ingested in time order through `append` in 10-minute windows with a flush after
 * each (the store's clock follows the data), on disk in a temp dir. Half the series are
 * counters (integer increments), half gauges (two decimals). Reports the peak RSS of the
 * ingesting process, bytes on disk, then in a fresh process: the restart (open) time, the RSS
 * after open, and a one-day query of one series. Then the crash row: the next day's ingest
 * starts on the same store and is SIGKILLed mid-window after two acknowledged windows (heads
 * near their 256 MiB budget: the longest WAL tail this load leaves), and a fresh process
 * reopens it: the open time, and whether every acknowledged (flushed) point is there.
 *
 * `node dist/bench/metrics-store.js [--quick] [--series N] [--points N]`. Prints one JSON
 * line. Phases run alone too: `--phase ingest|reopen --dir D [--from W] [--kill-at W]`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbeddedMetricStore } from '../src/metrics/store/embedded.js';
import type { Sample } from '../src/metrics/types.js';

const STEP_MS = 10_000;
const WINDOW = 60; // points per series per append window (10 minutes)
const T0 = Date.UTC(2030, 0, 1);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const rssMB = (): number => process.memoryUsage().rss / 2 ** 20;
const peakMB = (): number => process.resourceUsage().maxRSS / 1024;

/**
 * `killAt`: the crash variant. Ingests up to window `killAt`, prints how many points were
 * acknowledged (flushed), then SIGKILLs itself mid-ingest (after appending that window's
 * first half, unflushed): nothing is closed, the next open must replay what the WAL holds.
 * `from`: the first window (a store that holds windows before it already continues).
 */
async function ingest(dir: string, series: number, points: number, killAt = Infinity, from = 0): Promise<void> {
  let clock = T0 + from * WINDOW * STEP_MS;
  const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => clock });
  const labels = Array.from({ length: series }, (_, i) => ({ instance: `host-${Math.floor(i / 100)}`, metric: `m${i % 100}` }));
  const GROUP = 1000; // series per append call
  const batch: Sample[] = Array.from({ length: GROUP * WINDOW }, () => ({ name: 'bench', labels: {}, t: 0, v: 0 }));
  const counters = new Float64Array(series);
  const t0 = performance.now();
  let flushMs = 0;
  for (let w = from; w * WINDOW < points; w++) {
    const n = Math.min(WINDOW, points - w * WINDOW);
    if (w === killAt) {
      console.log(JSON.stringify({ phase: 'crash', seconds: (performance.now() - t0) / 1000, peakRssMB: peakMB(), ackedPoints: (w - from) * WINDOW * series, ...store.stats() }));
    }
    for (let g = 0; g < series; g += GROUP) {
      if (w === killAt && g >= series / 2) process.kill(process.pid, 'SIGKILL');
      let k = 0;
      for (let i = g; i < Math.min(series, g + GROUP); i++) {
        const l = labels[i]!;
        for (let j = 0; j < n; j++) {
          const s = batch[k++]!;
          s.labels = l;
          s.t = T0 + (w * WINDOW + j) * STEP_MS;
          if (i % 2 === 0) s.v = counters[i] = counters[i]! + ((i * 31 + j * 7) % 13);
          else s.v = Math.round(5000 + 4000 * Math.sin((w * WINDOW + j + i) / 500)) / 100;
        }
      }
      store.append(k === batch.length ? batch : batch.slice(0, k));
    }
    clock = T0 + (w * WINDOW + n) * STEP_MS;
    const f0 = performance.now();
    await store.flush();
    flushMs += performance.now() - f0;
  }
  const ingestS = (performance.now() - t0) / 1000;
  const st = store.stats();
  await store.close();
  let disk = 0;
  for (const f of fs.readdirSync(dir)) disk += fs.statSync(path.join(dir, f)).size;
  console.log(JSON.stringify({ phase: 'ingest', seconds: ingestS, flushSeconds: flushMs / 1000, peakRssMB: peakMB(), points: st.points, chunkFiles: st.chunkFiles, diskMB: disk / 2 ** 20 }));
}

async function reopen(dir: string, points: number): Promise<void> {
  const t0 = performance.now();
  const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => T0 + points * STEP_MS });
  const openS = (performance.now() - t0) / 1000;
  const q0 = performance.now();
  const got = store.selectColumns([{ name: 'instance', op: '=', value: 'host-7' }, { name: 'metric', op: '=', value: 'm3' }], T0, T0 + points * STEP_MS);
  const queryMs = performance.now() - q0;
  const st = store.stats();
  const expect = arg('--expect');
  const out = { phase: 'reopen', openSeconds: openS, ...(expect === undefined ? {} : { expectedAtLeast: Number(expect), allAcknowledgedThere: st.points >= Number(expect) }), rssAfterOpenMB: rssMB(), peakRssMB: peakMB(), series: st.series, points: st.points, queryOneSeriesDayMs: queryMs, queryPoints: got[0]?.ts.length ?? 0 };
  await store.close();
  console.log(JSON.stringify(out));
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const series = Number(arg('--series') ?? (quick ? 10_000 : 100_000));
  const points = Number(arg('--points') ?? (quick ? 8640 / 4 : 8640));
  const phase = arg('--phase');
  const dir = arg('--dir');
  const killAt = arg('--kill-at');
  if (phase === 'ingest') return ingest(dir!, series, points, killAt === undefined ? Infinity : Number(killAt), Number(arg('--from') ?? 0));
  if (phase === 'reopen') return reopen(dir!, points);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-mstore-'));
  const self = fileURLToPath(import.meta.url);
  const run = (p: string, d: string, extra: string[] = [], pts = points): Record<string, number> => {
    const r = spawnSync(process.execPath, [self, '--phase', p, '--dir', d, '--series', String(series), '--points', String(pts), ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (r.status !== 0 && r.signal !== 'SIGKILL') throw new Error(`bench phase ${p} failed: ${r.status ?? r.signal}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  };
  try {
    const a = run('ingest', tmp);
    const b = run('reopen', tmp);
    // the crash row: the next day starts on the same store, which is SIGKILLed mid-window once
    // two windows are acknowledged after the open (the heads near their budget: the most WAL to
    // replay this load makes), then reopened in a fresh process
    const windows = Math.ceil(points / WINDOW);
    const killAt = windows + 2;
    const more = (killAt + 1) * WINDOW;
    const c = run('ingest', tmp, ['--from', String(windows), '--kill-at', String(killAt)], more);
    const d = run('reopen', tmp, ['--expect', String(b.points! + c.ackedPoints!)], more);
    console.log(JSON.stringify({ series, pointsPerSeries: points, stepMs: STEP_MS, ingest: a, reopen: b, crash: c, crashReopen: d }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
