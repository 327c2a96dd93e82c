/**
 * Benchmark child: `perComponent` instances of each of 3 components (db ← app ← web, every
 * requirer wired to every provider), so 3 × perComponent instances on as many sim nodes, to
 * running on an in-process `sim` cloud with zero latency, through the whole control plane
 * (store, events, engine, sim driver). Prints one JSON line: wall and CPU time from apply to
 * ready, the process's peak RSS, and what reached running. With `limitS`, a run that is not
 * ready by then stops there and reports how far it got (`finished: false`). Per-instance CPU
 * and wall time and SQL statements show whether the engine's cost grows linearly. `loopIdleMs`
 * is the time the event loop sat waiting (timers, paced drains, sleeps on the clock): wall time
 * above CPU time plus that is the machine's load (other processes holding the cores).
 *
 *   node dist/bench/scale.js <perComponent> [limitS]
 */
import os from 'node:os';
import { performance as perf } from 'node:perf_hooks';
import { countingSim, cpuMsSince, startBenchControlPlane, untilReady } from './common.js';

const per = Number(process.argv[2] ?? 1000);
const limitS = Number(process.argv[3] ?? Infinity);
const instances = 3 * per;
const spec = `name: bench
clouds:
  sim: { platform: sim, options: { path: ":memory:" } }
nodeTemplates:
  t: { cloud: sim }
components:
  db:
    nodeTemplate: t
    instances: { count: ${per}, max: 100000 }
    provides: { sql: {} }
    lifecycle: { install: "i", configure: "c", start: "s" }
  app:
    nodeTemplate: t
    instances: { count: ${per}, max: 100000 }
    provides: { http: {} }
    requires: { db: { component: db, port: sql } }
    lifecycle: { install: "i", configure: "c", start: "s" }
  web:
    nodeTemplate: t
    instances: { count: ${per}, max: 100000 }
    requires: { app: { component: app, port: http, optional: true } }
    lifecycle: { install: "i", configure: "c", start: "s", update: "u" }
`;

const sim = countingSim();
const bench = await startBenchControlPlane({ engine: { stepConcurrency: 256, pollIntervalMs: 1 }, drivers: { sim: sim.factory } });
const { cp } = bench;
const sql0 = bench.store.statementStats();
const cpu0 = process.cpuUsage();
const elu0 = perf.eventLoopUtilization();
const t0 = performance.now();
await cp.apply({ spec }, { actor: 'user:bench' });
const finished = await untilReady(cp, 'bench', t0 + limitS * 1000);
const wallMs = performance.now() - t0;
const cpuMs = cpuMsSince(cpu0);
// time the event loop sat waiting (timers, paced drains, clock sleeps): wall that is neither CPU nor a busy machine
const loopIdleMs = perf.eventLoopUtilization(elu0).idle;
const peakRssMB = process.resourceUsage().maxRSS / 1024;
const view = await cp.getDeployment('bench');
const running = view.instances.filter((i) => i.phase === 'running').length;
const sql1 = bench.store.statementStats();
await bench.close();
const statements = sql1.prepares + sql1.hits - sql0.prepares - sql0.hits;
console.log(JSON.stringify({
  components: 3, instances, running, finished, wallMs, cpuMs, loopIdleMs, peakRssMB,
  // per instance: what linear growth keeps constant
  cpuMsPerInstance: cpuMs / instances, wallMsPerInstance: wallMs / instances,
  creates: sim.calls.create, steps: sim.calls.runStep,
  sql: { statements, compiled: sql1.prepares - sql0.prepares, perInstance: statements / instances },
  // the machine's load while it ran (the benchmark's wall time is only comparable at a similar load)
  loadavg: os.loadavg()[0],
}));
