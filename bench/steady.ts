/**
 * Benchmark child: the steady state of the whole core over N nodes. Brings N nodes (a few kv
 * stores, many application servers, a few balancers, wired) to running on an in-process
 * zero-latency sim cloud, then times cycles of the engine's periodic work: each cycle is one
 * sweep of the cloud (list by owner tag, judged against every node), one observation round
 * (every running instance's agent asked for status), one reconcile pass over the deployment,
 * and every store write those cause, until the control plane is idle again. The periodic loops
 * run on a clock whose long sleeps the benchmark releases (./held-clock.ts), so one cycle is
 * exactly one round of them; the cloud and agent calls are counted at the driver to show it.
 * `upPeakRssMB` is the process's peak RSS when every node is running, before the cycles.
 *
 * The first `cycles` are converged (nothing to do but find that out); the next `cycles` each
 * begin with `churn` of the instances (others each cycle) stopped behind the engine's back, so
 * observation sees their health change and events are written.
 *
 *   node dist/bench/steady.js <nodes> <cycles> [churn=0.01]
 */
import { countingSim, cpuMsSince, median, quantile, startBenchControlPlane, untilReady } from './common.js';
import { createHeldClock } from './held-clock.js';

const nodes = Number(process.argv[2] ?? 10_000);
const cycles = Number(process.argv[3] ?? 10);
const churn = Number(process.argv[4] ?? 0.01);
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
const CYCLE_MS = 60_000;
const clock = createHeldClock(CYCLE_MS);
const sim = countingSim();
const bench = await startBenchControlPlane({
  clock,
  engine: { stepConcurrency: 512, pollIntervalMs: 1, sweepIntervalMs: CYCLE_MS, observeIntervalMs: CYCLE_MS, updateIntervalMs: 0 },
  drivers: { sim: sim.factory },
  // no handle retirement or registry refresh in the middle of a cycle
  retireIntervalMs: 1e12,
  discoveryIntervalMs: 0,
});
const { cp, store } = bench;
const t0 = performance.now();
await cp.apply({ spec }, { actor: 'user:bench' });
await untilReady(cp, 'steady');
const upMs = performance.now() - t0;
// the process's peak RSS so far: what bringing the nodes up took (the cycles come after)
const upPeakRssMB = process.resourceUsage().maxRSS / 1024;

/** Resolves once every loop the cycle woke is asleep again and nothing is in flight or queued. */
async function settled(asleep: number): Promise<void> {
  for (;;) {
    await cp.idle();
    if (clock.held() >= asleep) {
      // one more turn: a loop that just went back to sleep may have queued a pass
      await new Promise((r) => setImmediate(r));
      await cp.idle();
      if (clock.held() >= asleep) return;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface Cycle { cpuMs: number; wallMs: number; lists: number; polls: number; statements: number; stopped: number }
let churnFrom = 0;
async function cycle(stop: number): Promise<Cycle> {
  await settled(clock.held());
  const asleep = clock.held();
  // the processes are stopped before the clock starts: that is the benchmark's work, not the core's
  let stopped = 0;
  if (stop > 0) {
    const agents = [...sim.agents.values()];
    for (let k = 0; k < stop; k++) {
      const a = agents[(churnFrom + k) % agents.length]!;
      const st = await a.status(new AbortController().signal);
      for (const i of st.instances) {
        await a.stopInstance(i.instance, new AbortController().signal);
        stopped++;
      }
    }
    churnFrom += stop;
  }
  const calls0 = { ...sim.calls };
  const sql0 = store.statementStats();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  const woke = clock.cycle(CYCLE_MS);
  for (const name of cp.engine.deployments.keys()) cp.engine.enqueue(name);
  if (woke === 0) throw new Error('no periodic loop was waiting on the clock');
  await settled(asleep);
  const wallMs = performance.now() - w0;
  const cpuMs = cpuMsSince(cpu0);
  const sql1 = store.statementStats();
  return {
    cpuMs, wallMs, stopped,
    lists: sim.calls.list - calls0.list, polls: sim.calls.status - calls0.status,
    statements: sql1.prepares + sql1.hits - sql0.prepares - sql0.hits,
  };
}

// one cycle to warm up (the first sweep after bring-up judges every node as new)
await cycle(0);
const converged: Cycle[] = [];
for (let i = 0; i < cycles; i++) converged.push(await cycle(0));
const churned: Cycle[] = [];
const stop = Math.round(nodes * churn);
for (let i = 0; i < cycles; i++) churned.push(await cycle(stop));
const view = await cp.getDeployment('steady');
const running = view.instances.filter((i) => i.phase === 'running').length;
await bench.close();
const sum = (cs: Cycle[]) => ({
  cpuMedianMs: median(cs.map((c) => c.cpuMs)), cpuP95Ms: quantile(cs.map((c) => c.cpuMs), 0.95), wallMedianMs: median(cs.map((c) => c.wallMs)),
  lists: median(cs.map((c) => c.lists)), polls: median(cs.map((c) => c.polls)), statements: median(cs.map((c) => c.statements)), stopped: median(cs.map((c) => c.stopped)),
});
console.log(JSON.stringify({ nodes, upMs, upPeakRssMB, running, cycles, converged: sum(converged), churn, churned: sum(churned) }));
