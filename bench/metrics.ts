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
  listener: string;
  nubis: { seconds: number; samplesPerSec: number };
  victoriaMetrics: { seconds: number; samplesPerSec: number };
  ratio: number;
}
interface Query {
  nubis: { medianMs: number; results: number };
  victoriaMetrics: { medianMs: number; results: number };
  ratio: number;
  samplesPerSeries: number;
}

const ingest = child<Ingest>('metrics-ingest.js');
const query = child<Query>('metrics-query.js');
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const rows = [
  ['benchmark', 'Nubis (embedded)', 'victoria-metrics', 'ratio', 'target'],
  ['---', '---', '---', '---', '---'],
  [
    `Graphite plaintext ingest, 10,000 series, ${fmt(ingest.samples)} samples (${ingest.listener})`,
    `${fmt(ingest.nubis.samplesPerSec)} samples/s (${ingest.nubis.seconds.toFixed(2)} s)`,
    `${fmt(ingest.victoriaMetrics.samplesPerSec)} samples/s (${ingest.victoriaMetrics.seconds.toFixed(2)} s)`,
    `${ingest.ratio.toFixed(2)}×`,
    '≥ 0.5×',
  ],
  [
    `5-min p95 across 10,000 series (quantile_over_time), median latency`,
    `${query.nubis.medianMs.toFixed(1)} ms`,
    `${query.victoriaMetrics.medianMs.toFixed(1)} ms`,
    `${query.ratio.toFixed(2)}× the time`,
    '≤ 1×',
  ],
];
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
