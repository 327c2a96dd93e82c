/**
 * The embedded store at size: 100,000 series × 1 day at 10 s (8,640 points each, 864 million
 * points), ingested in time order through `append` in 10-minute windows with a flush after
 * each (the store's clock follows the data), on disk in a temp dir. Half the series are
 * counters (integer increments), half gauges (two decimals). Reports the peak RSS of the
 * ingesting process, bytes on disk, then in a fresh process: the restart (open) time, the RSS
 * after open, and a one-day query of one series.
 *
 * `node dist/bench/metrics-store.js [--quick] [--series N]`. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
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

async function ingest(dir: string, series: number, points: number): Promise<void> {
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
    for (let g = 0; g < series; g += GROUP) {
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
  const out = { phase: 'reopen', openSeconds: openS, rssAfterOpenMB: rssMB(), peakRssMB: peakMB(), series: st.series, points: st.points, queryOneSeriesDayMs: queryMs, queryPoints: got[0]?.ts.length ?? 0 };
  await store.close();
  console.log(JSON.stringify(out));
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const series = Number(arg('--series') ?? (quick ? 10_000 : 100_000));
  const points = Number(arg('--points') ?? (quick ? 8640 / 4 : 8640));
  const phase = arg('--phase');
  const dir = arg('--dir');
  if (phase === 'ingest') return ingest(dir!, series, points);
  if (phase === 'reopen') return reopen(dir!, points);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-mstore-'));
  const self = fileURLToPath(import.meta.url);
  const run = (p: string): Record<string, number> => {
    const out = execFileSync(process.execPath, [self, '--phase', p, '--dir', tmp, '--series', String(series), '--points', String(points)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  };
  try {
    const a = run('ingest');
    const b = run('reopen');
    console.log(JSON.stringify({ series, pointsPerSeries: points, stepMs: STEP_MS, ingest: a, reopen: b }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
