/**
 * Benchmark child: N nodes × 3 components to running on an in-process `sim` cloud with zero
 * latency, through the whole control plane (store, events, engine, sim driver). Prints one
 * JSON line: wall time from apply to ready, and the process's peak RSS.
 *
 *   node dist/bench/scale.js <nodes>
 */
import { startBenchControlPlane, untilReady } from './common.js';

const nodes = Number(process.argv[2] ?? 1000);
const per = Math.ceil(nodes / 3);
const counts = [per, per, nodes - 2 * per];
const spec = `name: bench
clouds:
  sim: { platform: sim, options: { path: ":memory:" } }
nodeTemplates:
  t: { cloud: sim }
components:
  db:
    nodeTemplate: t
    instances: { count: ${counts[0]}, max: 100000 }
    provides: { sql: {} }
    lifecycle: { install: "i", configure: "c", start: "s" }
  app:
    nodeTemplate: t
    instances: { count: ${counts[1]}, max: 100000 }
    provides: { http: {} }
    requires: { db: { component: db, port: sql } }
    lifecycle: { install: "i", configure: "c", start: "s" }
  web:
    nodeTemplate: t
    instances: { count: ${counts[2]}, max: 100000 }
    requires: { app: { component: app, port: http, optional: true } }
    lifecycle: { install: "i", configure: "c", start: "s", update: "u" }
`;

const bench = await startBenchControlPlane({ engine: { stepConcurrency: 256, pollIntervalMs: 1 } });
const { cp } = bench;
const t0 = performance.now();
await cp.apply({ spec }, { actor: 'user:bench' });
await untilReady(cp, 'bench');
const wallMs = performance.now() - t0;
const view = await cp.getDeployment('bench');
const running = view.instances.filter((i) => i.phase === 'running').length;
const instanceEvents = (await cp.events.list({ kind: 'instance.*', limit: 1_000_000 })).length;
await bench.close();
console.log(JSON.stringify({ nodes, running, wallMs, peakRssMB: process.resourceUsage().maxRSS / 1024, instanceEvents }));
