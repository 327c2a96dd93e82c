/**
 * The embedded store at size: 100,000 series × 1 day at 10 s (8,640 points each, 864 million
 * points), ingested in time order through `append` in 10-minute windows with a flush after
 * each (the store's clock follows the data), on disk in a temp dir. Half the series are
 * counters (integer increments), half gauges (two decimals). Reports the peak RSS of the
 * ingesting process, bytes on disk, then in a fresh process: the restart (open) time, the RSS
 * after open, and a one-day query of one series. Then the crash row: a second ingest into a
 * fresh dir is SIGKILLed mid-window at 3/4 of the data (`--crash-at W` picks the window), and
 * a fresh process reopens it: the open time, and whether every acknowledged (flushed) point is
 * there.
 *
 * `node dist/bench/metrics-store.js [--quick] [--series N] [--points N] [--crash-at W]`.
 * Prints one JSON line. Phases run alone too: `--phase ingest|reopen --dir D`.
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
 * `killAt`: the crash variant. Ingests up to `killAt` windows, prints how many points were
 * acknowledged (flushed), then SIGKILLs itself mid-ingest (after appending the next window's
 * first half, unflushed): nothing is closed, the next open must replay what the WAL holds.
 */
async function ingest(dir: string, series: number, points: number, killAt = Infinity): Promise<void> {
  let clock = T0;
  const store = await createEmbeddedMetricStore({ dir, flushIntervalMs: 0, now: () => clock });
  const labels = Array.from({ length: series }, (_, i) => ({ instance: `host-${Math.floor(i / 100)}`, metric: `m${i % 100}` }));
  const GROUP = 1000; // series per append call
  const batch: Sample[] = Array.from({ length: GROUP * WINDOW }, () => ({ name: 'bench', labels: {}, t: 0, v: 0 }));
  const counters = new Float64Array(series);
  const t0 = performance.now();
  let flushMs = 0;
  for (let w = 0; w * WINDOW < points; w++) {
    const n = Math.min(WINDOW, points - w * WINDOW);
    if (w === killAt) {
      console.log(JSON.stringify({ phase: 'crash', seconds: (performance.now() - t0) / 1000, peakRssMB: peakMB(), ackedPoints: w * WINDOW * series, ...store.stats() }));
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
  if (phase === 'ingest') return ingest(dir!, series, points, killAt === undefined ? Infinity : Number(killAt));
  if (phase === 'reopen') return reopen(dir!, points);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-mstore-'));
  const self = fileURLToPath(import.meta.url);
  const crashDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-mstore-crash-'));
  const run = (p: string, d: string, extra: string[] = []): Record<string, number> => {
    const r = spawnSync(process.execPath, [self, '--phase', p, '--dir', d, '--series', String(series), '--points', String(points), ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (r.status !== 0 && r.signal !== 'SIGKILL') throw new Error(`bench phase ${p} failed: ${r.status ?? r.signal}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  };
  try {
    const a = run('ingest', tmp);
    const b = run('reopen', tmp);
    // the crash row: killed mid-ingest at the worst point found (heads near their budget), then reopened
    const windows = Math.ceil(points / WINDOW);
    const killAt = Number(arg('--crash-at') ?? Math.min(windows - 1, Math.max(1, Math.round(windows * 0.75))));
    const c = run('ingest', crashDir, ['--kill-at', String(killAt)]);
    const d = run('reopen', crashDir, ['--expect', String(c.ackedPoints)]);
    console.log(JSON.stringify({ series, pointsPerSeries: points, stepMs: STEP_MS, ingest: a, reopen: b, crash: c, crashReopen: d }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(crashDir, { recursive: true, force: true });
  }
}

await main();
