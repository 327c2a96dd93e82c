/**
 * Runs the metrics benchmarks (each in its own process) and prints a Markdown table.
 * `node dist/bench/metrics.js [--quick]`
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');

function child<T>(file: string): T {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', path.join(here, file), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

interface Ingest {
  samples: number;
  rounds: number;
  listener: string;
  loadAverage: { start: number; end: number; cores: number };
  nubis: { seconds: number; samplesPerSec: number; cpuSeconds: number };
  victoriaMetrics: { seconds: number; samplesPerSec: number; cpuSeconds: number };
  ratio: number;
  cpuEfficiencyRatio: number;
}
interface Store {
  series: number;
  pointsPerSeries: number;
  ingest: { seconds: number; peakRssMB: number; diskMB: number; chunkFiles: number };
  reopen: { openSeconds: number; rssAfterOpenMB: number; queryOneSeriesDayMs: number };
  crash: { ackedPoints: number; walFiles: number; headBytes: number };
  crashReopen: { openSeconds: number; rssAfterOpenMB: number; allAcknowledgedThere: boolean };
}
interface Query {
  nubis: { medianMs: number; results: number };
  victoriaMetrics: { medianMs: number; results: number };
  ratio: number;
  samplesPerSeries: number;
}

const store = child<Store>('metrics-store.js');
const ingest = child<Ingest>('metrics-ingest.js');
const query = child<Query>('metrics-query.js');
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const rows = [
  ['benchmark', 'Nubis (embedded)', 'victoria-metrics', 'ratio', 'target'],
  ['---', '---', '---', '---', '---'],
  [
    `Graphite plaintext ingest, 10,000 series, ${fmt(ingest.samples)} samples, median of ${ingest.rounds} alternating rounds (load ${ingest.loadAverage.start.toFixed(1)} on ${ingest.loadAverage.cores} cores)`,
    `${fmt(ingest.nubis.samplesPerSec)} samples/s (${ingest.nubis.seconds.toFixed(2)} s, ${ingest.nubis.cpuSeconds.toFixed(2)} CPU s)`,
    `${fmt(ingest.victoriaMetrics.samplesPerSec)} samples/s (${ingest.victoriaMetrics.seconds.toFixed(2)} s, ${ingest.victoriaMetrics.cpuSeconds.toFixed(2)} CPU s)`,
    `${ingest.ratio.toFixed(2)}× (per CPU second ${ingest.cpuEfficiencyRatio.toFixed(2)}×)`,
    '≥ 0.5×',
  ],
  [
    `5-min p95 across 10,000 series (quantile_over_time), median latency, both over HTTP`,
    `${query.nubis.medianMs.toFixed(1)} ms`,
    `${query.victoriaMetrics.medianMs.toFixed(1)} ms`,
    `${query.ratio.toFixed(2)}× the time`,
    '≤ 1×',
  ],
];
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
console.log('');
console.log('| embedded store | result | target |');
console.log('| --- | --- | --- |');
console.log(`| ${fmt(store.series)} series × ${fmt(store.pointsPerSeries)} points (1 day at 10 s): ingest | ${store.ingest.seconds.toFixed(0)} s, peak RSS ${fmt(store.ingest.peakRssMB)} MB, ${fmt(store.ingest.diskMB)} MB on disk in ${store.ingest.chunkFiles} chunk files | ≤ 1.5 GB RSS |`);
console.log(`| same, restart (open) after a clean stop | ${store.reopen.openSeconds.toFixed(2)} s, RSS ${fmt(store.reopen.rssAfterOpenMB)} MB after open; one series over the day ${store.reopen.queryOneSeriesDayMs.toFixed(1)} ms | ≤ 10 s |`);
console.log(`| same, restart after SIGKILL mid-ingest (${fmt(store.crash.ackedPoints)} acknowledged points in ${store.crash.walFiles} WAL segments, heads ${fmt(store.crash.headBytes / 2 ** 20)} MiB) | ${store.crashReopen.openSeconds.toFixed(2)} s, RSS ${fmt(store.crashReopen.rssAfterOpenMB)} MB; every acknowledged point back: ${store.crashReopen.allAcknowledgedThere ? 'yes' : 'NO'} | ≤ 10 s |`);
