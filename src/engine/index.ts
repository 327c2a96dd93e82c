/**
 * engine — controllers that compare desired with observed state and act, and the control
 * plane built on them. `createControlPlane` is the composition the server uses:
 *
 *   const store = await openStore({ path: `${dataDir}/nubis.db` });
 *   const events = createEventLog(store);
 *   const cp = await createControlPlane({ dataDir, store, events });
 *   await cp.start();            // load, sweep clouds by tag, converge
 *   await cp.apply({ spec: yamlText, file: 'app.yaml' }, { actor: 'user:admin' });
 */
import { createRealClock, type Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import type { CloudSpec, Platform } from '../model/types.js';
import type { DriverFactory } from '../drivers/driver.js';
import { defaultDriverFactories, wrapDriver, createAdaptiveLimiter, createFixedLimiter, type DriverCallEvent } from '../drivers/index.js';
import { createCloudRegistry } from './clouds.js';
import { createEngine, type Engine, type EngineOptions } from './engine.js';
import { createControlPlaneFacade } from './control-plane.js';
import type { ControlPlane } from './views.js';

export interface ControlPlaneOptions {
  dataDir: string;
  store: Store;
  events: EventLog;
  /** Default: the wall clock. */
  clock?: Clock;
  /** Base URL of this control plane's API, given to drivers for agents that report. */
  controlUrl?: string;
  /** Driver factories by platform. Default: every driver in this build. */
  drivers?: Partial<Record<Platform, DriverFactory>>;
  /** Engine tuning (intervals, parallelism); see EngineOptions. */
  engine?: Omit<EngineOptions, 'store' | 'events' | 'clock' | 'clouds'>;
  /** Runtime retries for driver calls. Default 5 attempts from 500 ms. */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
}

export interface RunningControlPlane extends ControlPlane {
  /** Loads state, sweeps the clouds in use by tag (adopt, de-duplicate, delete orphans) and converges. */
  start(): Promise<void>;
  /** Stops the engine; nodes keep running. */
  stop(): Promise<void>;
  /** Resolves when nothing is in flight or queued. */
  idle(): Promise<void>;
  /** For tests and benchmarks. */
  readonly engine: Engine;
}

export async function createControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const clock = opts.clock ?? createRealClock();
  const { store, events } = opts;
  const onCall = (e: DriverCallEvent): void => {
    void events.append({
      kind: 'driver.call',
      actor: 'engine',
      target: e.target,
      outcome: e.outcome,
      ...(e.correlationId ? { correlationId: e.correlationId } : {}),
      ts: clock.now(),
      data: {
        cloud: e.cloud, platform: e.platform, op: e.op, latencyMs: e.latencyMs, attempt: e.attempt,
        ...(e.errorCode ? { errorCode: e.errorCode, retryable: e.retryable } : {}),
      },
    });
  };
  const clouds = createCloudRegistry({
    clock,
    dataDir: opts.dataDir,
    ...(opts.controlUrl ? { controlUrl: opts.controlUrl } : {}),
    factories: opts.drivers ?? defaultDriverFactories(),
    wrap: (driver, cloud: CloudSpec) => wrapDriver(driver, { cloud: cloud.name, clock, onCall, ...(opts.retry ? { retry: opts.retry } : {}) }),
    limiter: (cloud: CloudSpec) => (cloud.concurrency ? createFixedLimiter({ limit: cloud.concurrency }) : createAdaptiveLimiter({ clock, initial: 2, max: 64 })),
  });
  const engine = await createEngine({ store, events, clock, clouds, ...opts.engine });
  const facade = createControlPlaneFacade(engine, store, events, clock);
  return {
    ...facade,
    engine,
    start: () => engine.start(),
    async stop() {
      await engine.stop();
      await clouds.closeAll();
    },
    idle: () => engine.idle(),
  };
}

export type { Engine } from './engine.js';
export type * from './views.js';
