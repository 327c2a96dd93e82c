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
import { placeAmongClouds } from './cloud-placement.js';
import { createRealClock, type Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import type { CloudSpec, Platform } from '../model/types.js';
import { openSecretEnv } from '../model/index.js';
import type { DriverFactory } from '../drivers/driver.js';
import {
  defaultDriverFactories, wrapDriver, createAdaptiveLimiter, createFixedLimiter, createCloudHealth, validateDriverOptions, optionsSchemaOf, type DriverCallEvent, type CloudHealthChange,
} from '../drivers/index.js';
import { createCloudRegistry, cloudKey, type PlacementSource } from './clouds.js';
import { createHandleKeeper } from './handle-keeper.js';
import { ProviderIndex } from './provider-index.js';
import { NubisError, isNubisError } from '../errors/index.js';
import { accountedCloud, createRegistry, choosePlacement, resolveKey, type Registry, type SecretKey } from '../registry/index.js';
import { createEngine, type Engine, type EngineOptions } from './engine.js';
import { createControlPlaneFacade } from './control-plane.js';
import type { TenantPolicy } from './tenancy.js';
import type { Deployment } from './state.js';
import type { Caller, ControlPlane } from './views.js';
import type { OperationRunView, RunOperationRequest } from './operations/index.js';

/**
 * The adaptive creation limiter's latency floor: a create (request to running) within 2.5 ×
 * this is never counted as congestion. Without it a zero-latency cloud (the sim) whose creates
 * take 0–2 ms reads any jitter as a slow-down and runs them one at a time.
 */
const CREATE_LATENCY_FLOOR_MS = 1000;

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
  /**
   * Whether tenants other than `default` may use clouds that reach this host (`local`, file
   * paths in options): `nubis serve --allow-local-tenants`. Default false.
   */
  allowLocalTenants?: boolean;
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
  const byProvider = new ProviderIndex();
  const key = opts.secretKey ?? resolveKey(opts.dataDir, {});
  const registry = createRegistry({
    store, clock, events, factories, dataDir: opts.dataDir,
    key,
    ...(opts.discoveryIntervalMs !== undefined ? { refreshIntervalMs: opts.discoveryIntervalMs } : {}),
    health: (spec, tenant) => clouds.healthOf(spec, tenant),
    onChange: (change) => keeper.changed(change),
    inUse: (tenant, cloud) => {
      const names = new Set<string>();
      for (const n of engineRef?.nodes.values() ?? []) {
        const d = engineRef?.deployments.get(n.deployment);
        if (n.cloud === cloud && d?.tenant === tenant && !d.spec.clouds[cloud]) names.add(d.spec.name);
      }
      return [...names];
    },
  });
  // a deployment sees its own tenant's registered clouds, offers and credentials only
  const placement: PlacementSource = {
    cloud: (tenant, name) => registry.cloudSpec(tenant, name),
    clouds: (tenant) => registry.listClouds(tenant).map((c) => c.name),
    place(tenant, template, existing, what) {
      // [placement] a policy places among the fitting clouds (./cloud-placement.ts)
      if (template.placement) return placeAmongClouds(registry.catalogue(tenant), template.requirements, template.placement, existing, what);
      const c = choosePlacement(registry.catalogue(tenant), template.requirements, {
        existing, what, ...(template.spread ? { spread: template.spread } : {}),
      });
      return { placement: c.placement, reason: c.reason };
    },
  };
  // another tenant's credential answers exactly like one that does not exist
  const credentials = (name: string, tenant: string): Record<string, string> => {
    try {
      return registry.secrets(tenant, name);
    } catch (e) {
      if (isNubisError(e) && e.code === 'NOT_FOUND') throw new NubisError('SPEC_INVALID', `${e.message}; create it with \`nubis credentials set ${name} --from-file <json>\``);
      throw e;
    }
  };
  /**
   * The deployment a driver call is about: its target is a node key, a provider id, or the
   * tags of a list (`nubis-owner=…,nubis-key=<key>`); a list of a whole cloud is nobody's.
   */
  const callOwner = (target: string): Deployment | undefined => {
    if (!engineRef) return undefined;
    // a list's target is its tags: only a key tag names a node; other targets are a node key or a provider id
    const isList = target.includes('=');
    const byKey = isList ? /(?:^|,)nubis-key=([^,]+)/.exec(target)?.[1] : undefined;
    const n = isList ? (byKey !== undefined ? engineRef.nodes.get(byKey) : undefined) : (engineRef.nodes.get(target) ?? byProvider.find(engineRef.nodes, target));
    return n ? engineRef.deployments.get(n.deployment) : undefined;
  };
  const onCall = (e: DriverCallEvent, tenant: string): void => {
    const owner = callOwner(e.target);
    registry.accounting.record({ cloud: accountedCloud(tenant, e.cloud), op: e.op, outcome: e.outcome, latencyMs: e.latencyMs, ...(e.errorCode ? { errorCode: e.errorCode } : {}) });
    void events.append({
      kind: 'driver.call',
      actor: 'engine',
      // a call about a node is its tenant's to see; one about a shared handle (a list) the admin's
      ...(owner ? { tenant: owner.tenant } : {}),
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
    wrap: (driver, cloud: CloudSpec, health, tenant) => wrapDriver(driver, { cloud: cloud.name, clock, onCall: (e) => onCall(e, tenant), health, ...(opts.retry ? { retry: opts.retry } : {}) }),
    health: (cloud: CloudSpec) => createCloudHealth({ cloud: cloud.name, clock, ...opts.cloudBackoff, onChange: healthChanged }),
    // creates that end within seconds never read as a cloud slowing down (provisioning slow-downs are tens of seconds)
    limiter: (cloud: CloudSpec) => (cloud.concurrency ? createFixedLimiter({ limit: cloud.concurrency }) : createAdaptiveLimiter({ clock, initial: 2, max: 64, floorMs: CREATE_LATENCY_FLOOR_MS })),
  });
  const tenancy: TenantPolicy = { allowLocalTenants: opts.allowLocalTenants ?? false };
  const engine = await createEngine({
    store, events, clock, clouds, placement, tenancy,
    // spec values marked secret: sealed on plan/apply by the facade, opened only for a handler's env
    openSecrets: (d, c) => openSecretEnv(c, d.spec.name, key),
    ...opts.engine,
  });
  engineRef = engine;
  const keeper = createHandleKeeper({ engine, clouds, placement, store, clock, ...(opts.retireIntervalMs !== undefined ? { intervalMs: opts.retireIntervalMs } : {}) });
  const facade = createControlPlaneFacade(engine, store, events, clock, tenancy, {
    check: (c, at, tenant) => {
      if (!factories[c.platform]) throw new NubisError('SPEC_INVALID', `${at}: platform ${c.platform} has no driver in this build`);
      validateDriverOptions(optionsSchemaOf(factories[c.platform]), c.options, `${at}.options`);
      // the credential must be the tenant's (opening it reads, it changes nothing)
      if (c.credential !== undefined) credentials(c.credential, tenant);
    },
    health: (d, name) => keeper.healthOf(d, name),
    changed: () => keeper.retireSoon(),
  }, key);
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
export type { AccessView, CredentialView } from './access.js';
export { deploymentId, splitDeploymentId, localText, hostAccess, checkHostAccess, ADMIN_TENANT, type TenantPolicy } from './tenancy.js';
export { desiredCount } from './state.js';
export type { OperationRunner, RunOperationRequest, OperationRunView, OperationInstanceView, OperationRunState, OperationInstanceState } from './operations/index.js';

/**
 * Runs a custom operation of a component on its instances (all running ones, or
 * `instances`), for callers inside the control plane (backups, restores, workflows):
 *
 *   const run = await runOperation(cp.engine, { deployment: deploymentId(tenant, 'shop'), component: 'db', operation: 'dump', params: { target: '/backup' } }, { actor: 'backup:nightly' });
 *   if (run.state !== 'succeeded') …   // each instance's state, exit code and output in run.instances
 *
 * Rejects before anything runs with NOT_FOUND (deployment, component, operation or instance),
 * REQUEST_INVALID (a parameter: details.problems with paths such as `params.keep`) or
 * CONFLICT (nothing can run it); a failing instance is not a rejection, it is in the view.
 */
export function runOperation(
  engine: Pick<Engine, 'operations'>,
  input: { deployment: string; component: string; operation: string } & RunOperationRequest,
  caller: Caller,
): Promise<OperationRunView> {
  const { deployment, component, operation, ...req } = input;
  return engine.operations.run(deployment, component, operation, req, caller);
}
export type { RecoveryPort, InstanceObservation, NodeView } from './recovery-port.js';
export type { HandlerPort } from './handler-port.js';
export type { Controller, ReconcileResult } from './core/index.js';
export type { InstanceRec, NodeRec, Deployment } from './state.js';
export { loadsByLabel, type LoadSource, type HostPlan, type NewNode } from './host-placement.js';
