/**
 * Placement of 1,000 nodes over 200 hosts (issue 11 target: under 100 ms), one row per policy:
 * the time `placeNodes` takes to decide every node of the batch (the hosts start a quarter
 * full, with varied capacity, cores and load; one component per 10 nodes, anti-affinity in a
 * row of its own). Median and p90 over the rounds, after warm-up. One command, a table:
 *
 *   npm run build && node dist/bench/placement.js [--rounds 21]
 */
import { performance } from 'node:perf_hooks';
import { createPrng } from '../src/drivers/sim/index.js';
import { placeNodes, DEFAULT_LOAD_QUERY, type PlacementHost, type PlacementPolicy, type PlacementRequest } from '../src/policy/index.js';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] ?? 21) || 21;
const HOSTS = 200;
const NODES = 1000;

function hosts(seed: number): PlacementHost[] {
  const r = createPrng(seed);
  return Array.from({ length: HOSTS }, (_, i) => {
    const nodes = 8 + Math.floor(r.next() * 8);
    const used = Math.floor(nodes / 4);
    return {
      name: `h${i}`,
      capacity: { nodes, cores: 32, memoryMiB: 131072 },
      used: { nodes: used, cores: used * 2, memoryMiB: used * 4096 },
      groups: new Map(),
      load: r.next() * 100,
      attributes: { rack: `r${i % 10}`, zone: i % 2 === 0 ? 'a' : 'b' },
    };
  });
}

const requests: PlacementRequest[] = Array.from({ length: NODES }, (_, i) => ({ key: `d/n-${i}`, group: `d/c${i % 100}`, instance: `c${i % 100}-${Math.floor(i / 100) + 1}`, cores: 2, memoryMiB: 4096 }));

const ROWS: { name: string; policy: PlacementPolicy }[] = [
  { name: 'packing', policy: { policy: 'packing', antiAffinity: false, loadQuery: DEFAULT_LOAD_QUERY } },
  { name: 'striping', policy: { policy: 'striping', antiAffinity: false, loadQuery: DEFAULT_LOAD_QUERY } },
  { name: 'load-aware', policy: { policy: 'load-aware', antiAffinity: false, loadQuery: DEFAULT_LOAD_QUERY } },
  { name: 'custom (free_cores * 2 - load / 10 + (zone == \'a\' ? 5 : 0))', policy: { policy: 'custom', rank: "free_cores * 2 - load / 10 + (zone == 'a' ? 5 : 0)", antiAffinity: false, loadQuery: DEFAULT_LOAD_QUERY } },
  { name: 'striping + anti-affinity', policy: { policy: 'striping', antiAffinity: true, loadQuery: DEFAULT_LOAD_QUERY } },
];

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

const lines = ['| policy | nodes × hosts | median | p90 | target |', '|---|---|---|---|---|'];
for (const row of ROWS) {
  const times: number[] = [];
  for (let i = 0; i < rounds + 3; i++) {
    const h = hosts(i + 1);
    const t0 = performance.now();
    const out = placeNodes(h, requests, row.policy);
    const ms = performance.now() - t0;
    if (out.length !== NODES) throw new Error(`${row.name}: placed ${out.length}`);
    if (i >= 3) times.push(ms);
  }
  lines.push(`| ${row.name} | ${NODES} × ${HOSTS} | ${pct(times, 0.5).toFixed(1)} ms | ${pct(times, 0.9).toFixed(1)} ms | < 100 ms |`);
}
console.log(lines.join('\n'));
