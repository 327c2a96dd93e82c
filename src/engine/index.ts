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
import {
  defaultDriverFactories, wrapDriver, createAdaptiveLimiter, createFixedLimiter, createCloudHealth, validateDriverOptions, optionsSchemaOf, type DriverCallEvent, type CloudHealthChange,
} from '../drivers/index.js';
import { createCloudRegistry, cloudKey, type PlacementSource } from './clouds.js';
import { createHandleKeeper } from './handle-keeper.js';
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
  /** Per-cloud backoff after a failing list or discovery (see drivers/cloud-health.ts). Defaults 1 000 and 300 000. */
  cloudBackoff?: { baseMs?: number; maxMs?: number };
  /** How often handles no deployment uses are closed. Default 30 000. */
  retireIntervalMs?: number;
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
  const registry = createRegistry({
    store, clock, events, factories, dataDir: opts.dataDir,
    key: opts.secretKey ?? resolveKey(opts.dataDir, {}),
    ...(opts.discoveryIntervalMs !== undefined ? { refreshIntervalMs: opts.discoveryIntervalMs } : {}),
    health: (spec) => clouds.healthOf(spec),
    onChange: (change) => keeper.changed(change),
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
  /** One event per change of a cloud's health (not one per attempt). */
  const healthChanged = (c: CloudHealthChange): void => {
    void events.append({
      kind: `cloud.${c.to}`,
      actor: 'engine',
      target: c.cloud,
      outcome: c.to,
      reason: c.cause,
      ts: clock.now(),
      data: { from: c.from, ...(c.view.code ? { code: c.view.code } : {}), ...(c.view.retryAt !== undefined ? { retryAt: new Date(c.view.retryAt).toISOString() } : {}) },
    }).catch(() => undefined);
    if (c.to === 'healthy') for (const d of engineRef?.deployments.keys() ?? []) engineRef?.enqueue(d);
  };
  const clouds = createCloudRegistry({
    clock,
    dataDir: opts.dataDir,
    ...(opts.controlUrl ? { controlUrl: opts.controlUrl } : {}),
    factories,
    credentials,
    wrap: (driver, cloud: CloudSpec, health) => wrapDriver(driver, { cloud: cloud.name, clock, onCall, health, ...(opts.retry ? { retry: opts.retry } : {}) }),
    health: (cloud: CloudSpec) => createCloudHealth({ cloud: cloud.name, clock, ...opts.cloudBackoff, onChange: healthChanged }),
    limiter: (cloud: CloudSpec) => (cloud.concurrency ? createFixedLimiter({ limit: cloud.concurrency }) : createAdaptiveLimiter({ clock, initial: 2, max: 64 })),
  });
  const engine = await createEngine({ store, events, clock, clouds, placement, ...opts.engine });
  engineRef = engine;
  const keeper = createHandleKeeper({ engine, clouds, placement, store, clock, ...(opts.retireIntervalMs !== undefined ? { intervalMs: opts.retireIntervalMs } : {}) });
  const facade = createControlPlaneFacade(engine, store, events, clock, {
    check: (c, at) => {
      if (!factories[c.platform]) throw new NubisError('SPEC_INVALID', `${at}: platform ${c.platform} has no driver in this build`);
      validateDriverOptions(optionsSchemaOf(factories[c.platform]), c.options, `${at}.options`);
    },
    health: (d, name) => keeper.healthOf(d, name),
    changed: () => keeper.retireSoon(),
  });
  return {
    ...facade,
    engine,
    registry,
    async start() {
      await registry.start();
      await engine.start();
      keeper.start();
    },
    async stop() {
      await keeper.stop();
      await engine.stop();
      await registry.stop();
      await clouds.closeAll();
    },
    idle: () => engine.idle(),
  };
}

export type { Engine } from './engine.js';
export type * from './views.js';
