/** Shared by the engine benchmarks: a whole control plane over a temp data dir. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../src/store/index.js';
import { createEventLog } from '../src/events/index.js';
import { createControlPlane, type ControlPlaneOptions, type RunningControlPlane } from '../src/engine/index.js';
import { defaultDriverFactories, type Driver, type DriverFactory } from '../src/drivers/index.js';
import type { Clock } from '../src/clock/index.js';

export interface BenchControlPlane {
  cp: RunningControlPlane;
  store: Store;
  /** Stops everything and removes the data dir. */
  close(): Promise<void>;
}

export async function startBenchControlPlane(
  opts: { clock?: Clock; engine?: ControlPlaneOptions['engine']; drivers?: ControlPlaneOptions['drivers']; retireIntervalMs?: number; discoveryIntervalMs?: number } = {},
): Promise<BenchControlPlane> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-'));
  // NUBIS_BENCH_STORE: a PostgreSQL database to run on instead (bench/replicas.ts gives each run a fresh one)
  const store = await openStore({ path: process.env['NUBIS_BENCH_STORE'] || path.join(dir, 'nubis.db') });
  const clock = opts.clock;
  const events = createEventLog(store, clock ? () => clock.now() : undefined);
  const cp = await createControlPlane({
    dataDir: dir, store, events,
    ...(clock ? { clock } : {}),
    ...(opts.engine ? { engine: opts.engine } : {}),
    ...(opts.drivers ? { drivers: { ...defaultDriverFactories(), ...opts.drivers } } : {}),
    ...(opts.retireIntervalMs !== undefined ? { retireIntervalMs: opts.retireIntervalMs } : {}),
    ...(opts.discoveryIntervalMs !== undefined ? { discoveryIntervalMs: opts.discoveryIntervalMs } : {}),
  });
  await cp.start();
  return {
    cp,
    store,
    async close() {
      await cp.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the deployment is ready, polling between idle points; false when `deadline` (performance.now()) passes first. */
export async function untilReady(cp: RunningControlPlane, name: string, deadline = Infinity): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => {
    if (deadline < Infinity) timer = setTimeout(() => r(false), Math.max(0, deadline - performance.now()));
  });
  try {
    for (;;) {
      if ((await Promise.race([cp.idle().then(() => true), late])) === false) return false;
      if ((await cp.getDeployment(name)).state === 'ready') return true;
      if (performance.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Process CPU (user + system, all threads) in ms since `from`. */
export function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN;
};

/** What the benchmark's sim clouds were asked, counted at the driver (below the engine's retries). */
export interface SimCalls {
  create: number;
  get: number;
  list: number;
  /** Agent status polls (the engine's observation of running instances). */
  status: number;
  runStep: number;
}

/**
 * The default sim driver factory, with every call counted, and the agent clients the engine
 * used kept by node id (a benchmark stops instances through them to make work).
 */
export function countingSim(): { factory: DriverFactory; calls: SimCalls; agents: Map<string, ReturnType<Driver['agent']>> } {
  const base = defaultDriverFactories().sim!;
  const calls: SimCalls = { create: 0, get: 0, list: 0, status: 0, runStep: 0 };
  const agents = new Map<string, ReturnType<Driver['agent']>>();
  const wrapped = new WeakMap<ReturnType<Driver['agent']>, ReturnType<Driver['agent']>>();
  const factory = Object.assign((ctx: Parameters<DriverFactory>[0]): Driver => {
    const d = base(ctx);
    return {
      ...d,
      create: (req, signal) => (calls.create++, d.create(req, signal)),
      get: (id, signal) => (calls.get++, d.get(id, signal)),
      list: (tags, signal) => (calls.list++, d.list(tags, signal)),
      agent(node) {
        const a = d.agent(node);
        // the counting wrapper is made once per client (the engine asks for a node's client on every call)
        let counted = wrapped.get(a);
        if (!counted) {
          counted = {
            ...a,
            status: (signal: AbortSignal) => (calls.status++, a.status(signal)),
            runStep: (req: Parameters<typeof a.runStep>[0], signal: AbortSignal) => (calls.runStep++, a.runStep(req, signal)),
          };
          wrapped.set(a, counted);
        }
        agents.set(node.id, a);
        return counted;
      },
    };
  }, base);
  return { factory, calls, agents };
}
