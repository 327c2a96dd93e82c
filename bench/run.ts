/**
 * `npm run bench`: runs each benchmark in its own process (so peak RSS is the control
 * plane's alone), repeats, and prints a Markdown table of medians.
 *
 *   node dist/bench/run.js [--quick] [--limit-s=600]   (the limit stops the largest growth runs)
 */
import { child } from './child.js';
import { engineRows } from './engine-rows.js';

const quick = process.argv.includes('--quick');
const limitS = Number(process.argv.find((a) => a.startsWith('--limit-s='))?.slice('--limit-s='.length) ?? 600);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const rows: string[][] = [];

// 1–2. instances to running, the growth curve, the steady cycle (./engine-rows.ts)
rows.push(...engineRows({ quick, limitS }));

// 3. makespan of 64 nodes under the CloudSigma slow-down, virtual clock
const seeds = quick ? [1] : [1, 2, 3];
const makespan = (strategy: string): number => median(seeds.map((s) => child<{ makespanS: number }>('makespan.js', [strategy, '64', String(s)]).makespanS));
const one = makespan('fixed:1');
const all = makespan('fixed:64');
const fixedK: [number, number][] = [];
for (const k of [2, 3, 4, 5, 6, 8]) fixedK.push([k, makespan(`fixed:${k}`)]);
const best = fixedK.reduce((a, b) => (b[1] < a[1] ? b : a));
const adaptive = makespan('adaptive');
// Terraform creates at most 10 resources at once by default (`terraform apply -parallelism=10`).
const terraform = makespan('fixed:10');
rows.push([
  '64 nodes, CloudSigma slow-down (virtual clock): makespan',
  `adaptive ${adaptive.toFixed(0)} s; best fixed (${best[0]} at once) ${best[1].toFixed(0)} s; one-at-a-time ${one.toFixed(0)} s; all-at-once ${all.toFixed(0)} s; 10 at once (Terraform's default -parallelism) ${terraform.toFixed(0)} s`,
  'within 10 % of the best batch size',
  `adaptive / best = ${(adaptive / best[1]).toFixed(2)}; Terraform-style 10 / adaptive = ${(terraform / adaptive).toFixed(2)}; fixed k: ${fixedK.map(([k, v]) => `${k}→${v.toFixed(0)} s`).join(', ')}`,
]);

console.log('| benchmark | result (median) | target | notes |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
