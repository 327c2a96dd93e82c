/**
 * Benchmark child: a steady-state reconcile pass over N nodes. Brings N nodes (kv stores,
 * application servers and balancers, wired) to running on an in-process zero-latency sim cloud, then times full
 * planning passes over the converged state (nothing to do: every pass must find that out).
 *
 *   node dist/bench/steady.js <nodes> <passes>
 */
import { startBenchControlPlane, untilReady } from './common.js';

const nodes = Number(process.argv[2] ?? 10_000);
const passes = Number(process.argv[3] ?? 30);
// the shape of a large web service: a few key-value stores, many application servers, a few balancers
const kv = Math.max(1, Math.round(nodes / 1000));
const lb = kv;
const app = nodes - kv - lb;
const spec = `name: steady
clouds:
  sim: { platform: sim, options: { path: ":memory:" } }
nodeTemplates:
  t: { cloud: sim }
components:
  db:
    nodeTemplate: t
    instances: { count: ${kv}, max: 100000 }
    provides: { sql: {} }
    lifecycle: { start: "s" }
  app:
    nodeTemplate: t
    instances: { count: ${app}, max: 100000 }
    provides: { http: {} }
    requires: { db: { component: db, port: sql } }
    lifecycle: { start: "s" }
  web:
    nodeTemplate: t
    instances: { count: ${lb}, max: 100000 }
    requires: { app: { component: app, port: http, optional: true } }
    lifecycle: { start: "s", update: "u" }
`;
const bench = await startBenchControlPlane({ engine: { stepConcurrency: 512, pollIntervalMs: 1 } });
const { cp } = bench;
const t0 = performance.now();
await cp.apply({ spec }, { actor: 'user:bench' });
await untilReady(cp, 'steady');
const upMs = performance.now() - t0;
const times: number[] = [];
let actions = 0;
for (let i = 0; i < passes; i++) {
  const s = performance.now();
  actions += cp.engine.dryPass();
  times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
await bench.close();
console.log(JSON.stringify({ nodes, upMs, passMedianMs: times[Math.floor(times.length / 2)], passP95Ms: times[Math.floor(times.length * 0.95)], actions }));
