/**
 * `npm run bench`: runs each benchmark in its own process (so peak RSS is the control
 * plane's alone), repeats, and prints a Markdown table of medians.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function child<T>(file: string, args: string[]): T {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', path.join(here, file), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = out.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}

const rows: string[][] = [];
const reps = quick ? 1 : 3;

// 1. 1,000 nodes × 3 components to running
const scale = Array.from({ length: reps }, () => child<{ wallMs: number; peakRssMB: number; running: number; instanceEvents: number }>('scale.js', ['1000']));
rows.push([
  '1,000 nodes × 3 components to running (sim, zero latency)',
  `${(median(scale.map((s) => s.wallMs)) / 1000).toFixed(2)} s wall, ${median(scale.map((s) => s.peakRssMB)).toFixed(0)} MB peak RSS`,
  '≤ 10 s, ≤ 300 MB',
  `${scale[0]!.running} running, ${scale[0]!.instanceEvents} instance events recorded`,
]);
console.error(`scale: ${JSON.stringify(scale)}`);

// 2. steady-state pass over 10,000 nodes
const steady = child<{ passMedianMs: number; passP95Ms: number; upMs: number }>('steady.js', [quick ? '3000' : '10000', '30']);
rows.push([
  `steady-state reconcile pass over ${quick ? '3,000' : '10,000'} nodes`,
  `${steady.passMedianMs.toFixed(1)} ms median (p95 ${steady.passP95Ms.toFixed(1)} ms)`,
  '≤ 200 ms',
  `reached running in ${(steady.upMs / 1000).toFixed(1)} s`,
]);
console.error(`steady: ${JSON.stringify(steady)}`);

// 3. makespan of 64 nodes under the CloudSigma slow-down, virtual clock
const seeds = quick ? [1] : [1, 2, 3];
const makespan = (strategy: string): number => median(seeds.map((s) => child<{ makespanS: number }>('makespan.js', [strategy, '64', String(s)]).makespanS));
const one = makespan('fixed:1');
const all = makespan('fixed:64');
const fixedK: [number, number][] = [];
for (const k of [2, 3, 4, 5, 6, 8]) fixedK.push([k, makespan(`fixed:${k}`)]);
const best = fixedK.reduce((a, b) => (b[1] < a[1] ? b : a));
const adaptive = makespan('adaptive');
rows.push([
  '64 nodes, CloudSigma slow-down (virtual clock): makespan',
  `adaptive ${adaptive.toFixed(0)} s; best fixed (${best[0]} at once) ${best[1].toFixed(0)} s; one-at-a-time ${one.toFixed(0)} s; all-at-once ${all.toFixed(0)} s`,
  'within 10 % of the best batch size',
  `adaptive / best = ${(adaptive / best[1]).toFixed(2)}; fixed k: ${fixedK.map(([k, v]) => `${k}→${v.toFixed(0)} s`).join(', ')}`,
]);

console.log('| benchmark | result (median) | target | notes |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
