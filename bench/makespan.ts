/**
 * Benchmark child: makespan of 64 nodes on a sim cloud with the CloudSigma-like slow-down
 * (≤ 4 creations in flight: 15–30 s each; more: 60 s + 15 s per extra), on a virtual clock,
 * through the whole control plane. Prints one JSON line per strategy.
 *
 *   node dist/bench/makespan.js adaptive | fixed:<k>
 */
import { startBenchControlPlane } from './common.js';
import { createVirtualClock } from '../src/clock/index.js';

const strategy = process.argv[2] ?? 'adaptive';
const nodes = Number(process.argv[3] ?? 64);
const seed = Number(process.argv[4] ?? 1);
const fixed = strategy.startsWith('fixed:') ? Number(strategy.slice(6)) : undefined;
const spec = `name: batch
clouds:
  cs:
    platform: sim
    options: { path: ":memory:", slowdown: cloudsigma, seed: ${seed} }
${fixed ? `    concurrency: ${fixed}\n` : ''}nodeTemplates:
  compute: { cloud: cs }
components:
  worker:
    nodeTemplate: compute
    instances: { count: ${nodes}, max: 1000 }
    lifecycle: { start: "run" }
`;

const clock = createVirtualClock(Date.UTC(2026, 0, 1));
const stopAdvance = clock.autoAdvance();
const bench = await startBenchControlPlane({ clock, engine: { pollIntervalMs: 1000, stepConcurrency: 256 } });
const { cp } = bench;
const t0 = clock.now();
await cp.apply({ spec }, { actor: 'user:bench' });
for (;;) {
  const v = await cp.getDeployment('batch');
  if (v.state === 'ready') break;
  await clock.sleep(500);
}
const makespanS = (clock.now() - t0) / 1000;
await bench.close();
stopAdvance();
console.log(JSON.stringify({ strategy, nodes, seed, makespanS }));
