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
import { openSecretEnv } from '../model/index.js';
import type { DriverFactory } from '../drivers/driver.js';
import { defaultDriverFactories, wrapDriver, createAdaptiveLimiter, createFixedLimiter, type DriverCallEvent } from '../drivers/index.js';
import { createCloudRegistry, type PlacementSource } from './clouds.js';
import { NubisError, isNubisError } from '../errors/index.js';
import { createRegistry, choosePlacement, resolveKey, DEFAULT_TENANT, type Registry, type SecretKey } from '../registry/index.js';
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
  /**
   * The credential key. Default: `<dataDir>/secret.key`, created when absent (the server's
   * composition root resolves NUBIS_KEY first and passes the result).
   */
  secretKey?: SecretKey;
  /** Discovery refresh interval of the registries; 0 turns it off. Default 6 h. */
  discoveryIntervalMs?: number;
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
  /** Clouds, offers, images, credentials and provider accounting. */
  readonly registry: Registry;
}

export async function createControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const clock = opts.clock ?? createRealClock();
  const { store, events } = opts;
  const factories = opts.drivers ?? defaultDriverFactories();
  let engineRef: Engine | undefined;
  const key = opts.secretKey ?? resolveKey(opts.dataDir, {});
  const registry = createRegistry({
    store, clock, events, factories, dataDir: opts.dataDir,
    key,
    ...(opts.discoveryIntervalMs !== undefined ? { refreshIntervalMs: opts.discoveryIntervalMs } : {}),
    inUse: (_tenant, cloud) => {
      const names = new Set<string>();
      for (const n of engineRef?.nodes.values() ?? []) if (n.cloud === cloud && !engineRef?.deployments.get(n.deployment)?.spec.clouds[cloud]) names.add(n.deployment);
      return [...names];
    },
  });
  // single-tenant for now: deployments and tokens carry no tenant, so the engine uses the default one
  const placement: PlacementSource = {
    cloud: (name) => registry.cloudSpec(DEFAULT_TENANT, name),
    clouds: () => registry.listClouds(DEFAULT_TENANT).map((c) => c.name),
    place(template, existing, what) {
      const c = choosePlacement(registry.catalogue(DEFAULT_TENANT), template.requirements, {
        existing, what, ...(template.spread ? { spread: template.spread } : {}),
      });
      return { placement: c.placement, reason: c.reason };
    },
  };
  const credentials = (name: string): Record<string, string> => {
    try {
      return registry.secrets(DEFAULT_TENANT, name);
    } catch (e) {
      if (isNubisError(e) && e.code === 'NOT_FOUND') throw new NubisError('SPEC_INVALID', `${e.message}; create it with \`nubis credentials set ${name} --from-file <json>\``);
      throw e;
    }
  };
  const onCall = (e: DriverCallEvent): void => {
    registry.accounting.record({ cloud: e.cloud, op: e.op, outcome: e.outcome, latencyMs: e.latencyMs, ...(e.errorCode ? { errorCode: e.errorCode } : {}) });
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
    factories,
    credentials,
    wrap: (driver, cloud: CloudSpec) => wrapDriver(driver, { cloud: cloud.name, clock, onCall, ...(opts.retry ? { retry: opts.retry } : {}) }),
    limiter: (cloud: CloudSpec) => (cloud.concurrency ? createFixedLimiter({ limit: cloud.concurrency }) : createAdaptiveLimiter({ clock, initial: 2, max: 64 })),
  });
  // spec values marked secret: sealed on plan/apply by the facade, opened only for a handler's env
  const engine = await createEngine({ store, events, clock, clouds, placement, openSecrets: (d, c) => openSecretEnv(c, d.spec.name, key), ...opts.engine });
  engineRef = engine;
  const facade = createControlPlaneFacade(engine, store, events, clock, key);
  return {
    ...facade,
    engine,
    registry,
    async start() {
      await registry.start();
      await engine.start();
    },
    async stop() {
      await engine.stop();
      await registry.stop();
      await clouds.closeAll();
    },
    idle: () => engine.idle(),
  };
}

export type { Engine } from './engine.js';
export type * from './views.js';
