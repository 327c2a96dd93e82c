/**
 * The composition root of a Nubis server: store, event log, control plane, token, API.
 * Everything is wired here by hand; nothing is global. Used by `serve` and by `up`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openStore, redactStoreUrl, secureDir, secureFiles, type StoreOptions } from '../store/index.js';
import { createEventLog, createEventRetention, type EventLog } from '../events/index.js';
import { createControlPlane, deploymentId, splitDeploymentId, loadsByLabel } from '../engine/index.js';
import { DEFAULT_TENANT, keyFilePath, resolveKey, settleKeyFiles } from '../registry/index.js';
import { createApiServer, ensureToken, tokenFile } from '../api/index.js';
import { createRealClock } from '../clock/index.js';
import { NubisError } from '../errors/index.js';
import { GraphiteSources, startGraphiteListener, type GraphiteSourceRule } from '../metrics/ingest/index.js';
import { createEmbeddedMetricStore } from '../metrics/store/embedded.js';
import { createQueryEngine } from '../metrics/query/engine.js';
import { createVictoriaMetricsQueryEngine, createVictoriaMetricsStore } from '../metrics/vm/index.js';
import { createMetricsService, type MetricsService, type QueryBackend } from '../metrics/index.js';
import { createScalingService, type ScalingService } from '../scaling/index.js';
import { createWorkflows } from '../workflows/index.js';
import { createAlertsService, createRecovery } from '../operations/index.js';
import { createBackups } from '../operations/index.js';
import type { MetricStore } from '../metrics/types.js';
import { createHttpAgentMetricsClient, loadAgentCa } from '../agent/index.js';
import { acquireServeLock } from './serve-lock.js';
import { createOperatorControls } from '../controls/index.js'; // [images]
import type { Deployment } from '../engine/index.js'; // [images]
import { createUserService, type SessionTimes } from '../users/index.js';
import { createCatalog } from '../catalog/index.js';

export interface ServerHandle {
  url: string;
  port: number;
  dataDir: string;
  tokenFile: string;
  /** Set when this start created the token. */
  newToken?: string;
  /** The PostgreSQL store's URL without its password, when the store is not the embedded SQLite. */
  store?: string;
  /** The Graphite plaintext listener's port, when one runs. */
  graphitePort?: number;
  /** The address it listens on. */
  graphiteHost?: string;
  /** Stops the API (ending event streams), then the engine (nodes keep running), then the store. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  dataDir: string;
  /** Browser sessions' idle and absolute expiry (src/users/sessions.ts); default 1 h and 12 h. */
  sessions?: Partial<SessionTimes>;
  /** `--store`: a PostgreSQL URL; absent: SQLite in <data>/nubis.db. */
  store?: string;
  port: number;
  host: string;
  log?: (message: string) => void;
  /** Graphite plaintext listener port (0: any free one); absent: no listener. */
  graphitePort?: number;
  /** When the port cannot be bound, log and run without the listener instead of failing (the default port of `serve`). */
  graphiteOptional?: boolean;
  /** Address of the Graphite listener. Default 127.0.0.1 (not `host`: the listener has no token). */
  graphiteHost?: string;
  /** Senders' networks → tenant; senders matching none are refused (loopback: the default tenant). */
  graphiteTenants?: GraphiteSourceRule[];
  /** Where metrics live. Default embedded (under <data>/metrics). */
  metricsBackend?: 'embedded' | 'victoriametrics';
  /** Base URL of VictoriaMetrics, with metricsBackend victoriametrics. */
  vmUrl?: string;
  /** Longest an idle held read of a node agent's samples waits (ms; samples stream as they are taken). Default 10 000. */
  metricsPullIntervalMs?: number;
  /** Read agents every this many ms instead of streaming (held reads); for comparison. */
  metricsAgentPollMs?: number;
  /** Wake rules when data for a series they read arrives. Default true; false: on their interval only. */
  ruleDataWake?: boolean;
  /** `--allow-local-tenants`: tenants other than `default` may use clouds that reach this host (platform local…). */
  allowLocalTenants?: boolean;
  /** `--allow-script-commands`: workflow tasks' ECF_SCRIPT_CMD / ECF_FETCH may run commands on this host. */
  allowScriptCommands?: boolean;
  /** Event retention (src/events/retention.ts); absent fields take its defaults (30 days, 1,000,000 per tenant). */
  eventRetention?: { maxAgeMs?: number; maxPerTenant?: number };
  /** Where alerts' runbook links point (`serve --runbook-url`); default `docs/runbooks.md`. */
  runbookUrl?: string;
  /** [replicas] The leading replica's store: fenced by its lease, with session limits (./replica/). */
  storeGuard?: Pick<StoreOptions, 'fence' | 'onFenced' | 'sessionLimits'>;
  /** [replicas] The URL agents and jobs reach this control plane at (a replica's advertised URL); default http://host:port. */
  controlUrl?: string;
}

/** Scaling rules and schedules over the metrics catalog, woken by its data, scaling through the control plane. */
async function startScaling(metrics: MetricsService, controlPlane: Awaited<ReturnType<typeof createControlPlane>>, events: EventLog, wake: boolean): Promise<ScalingService> {
  const scaling = await createScalingService({
    clock: createRealClock(), catalog: metrics.catalog, events, engine: controlPlane.engine,
    query: metrics.query, flush: () => metrics.flush(), ingest: (s, source, tenant) => metrics.ingest(s, source, tenant), self: metrics.self,
    scale: (d, c, n, caller) => controlPlane.scale(d, c, n, caller),
    refused: (d, c, cap, caller) => controlPlane.scaleRefused(d, c, cap, caller),
  });
  if (wake) metrics.onData(scaling);
  metrics.addCollector((self) => scaling.collect(self));
  return scaling;
}

/**
 * The metric store and query engine by configuration: embedded (default) or VictoriaMetrics.
 */
async function openMetricsBackend(o: StartServerOptions, dataDir: string): Promise<{ store: MetricStore; query: QueryBackend }> {
  if (o.metricsBackend === 'victoriametrics') {
    if (!o.vmUrl) throw new NubisError('REQUEST_INVALID', '--vm-url is required with --metrics-backend victoriametrics');
    return { store: createVictoriaMetricsStore({ url: o.vmUrl }), query: createVictoriaMetricsQueryEngine({ url: o.vmUrl }) };
  }
  const store = await createEmbeddedMetricStore({ dir: path.join(dataDir, 'metrics') });
  return { store, query: createQueryEngine(store) };
}

/** Starts a server; on failure, whatever was opened is closed again and the error rethrown. */
export async function startServer(o: StartServerOptions): Promise<ServerHandle> {
  const dataDir = path.resolve(o.dataDir);
  // everything under the data directory is the server's alone (DESIGN invariant 4)
  secureDir(dataDir);
  // one control plane per data directory: refused here, before anything is opened
  const lock = await acquireServeLock(dataDir);
  const store = await openStore({ path: o.store ?? path.join(dataDir, 'nubis.db'), ...o.storeGuard }).catch(async (e: unknown) => {
    await lock.release();
    throw e;
  });
  const cleanups: (() => Promise<void>)[] = [() => lock.release(), () => store.close()];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const events = createEventLog(store);
    const newToken = await ensureToken(store, dataDir);
    const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
    // the credential key: NUBIS_KEY, else <data>/secret.key (created now if neither exists)
    await settleKeyFiles(dataDir, store);
    const secretKey = resolveKey(dataDir, process.env);
    secureFiles([tokenFile(dataDir), keyFilePath(dataDir), `${keyFilePath(dataDir)}.new`, `${keyFilePath(dataDir)}.old`]);
    if (secretKey.created) o.log?.(`nubis: created the credential key ${secretKey.file} (mode 0600); back it up separately from the database`);
    const foreign = (await store.registry.credentials()).filter((c) => c.key_id !== secretKey.id).length;
    if (foreign > 0) {
      o.log?.(`nubis: warning: ${foreign} stored credential(s) were sealed with another key than ${secretKey.id}; clouds using them fail with CREDENTIAL_KEY_MISMATCH until the right key is given`);
    }
    // the agent CA: made at the first start on this data directory (see src/agent/tls/ca.ts)
    const agentCa = loadAgentCa(dataDir);
    // [images] operators' controls (src/policy): image policy, quotas, address pools; the control plane checks through them
    let engineRef: { deployments: Map<string, Deployment> } | undefined;
    const controls = createOperatorControls({ store, events, clock: createRealClock(), deployment: (id) => engineRef?.deployments.get(id) });
    const controlPlane = await createControlPlane({
      dataDir, store, events, secretKey, admission: () => controls.admission,
      ...(o.allowLocalTenants ? { allowLocalTenants: true } : {}),
      ...(o.controlUrl ? { controlUrl: o.controlUrl } : o.port !== 0 ? { controlUrl: `http://${hostForUrl}:${o.port}` } : {}),
    });
    const backend = await openMetricsBackend(o, dataDir);
    cleanups.push(() => backend.store.close());
    const metrics = await createMetricsService({
      clock: createRealClock(),
      store: backend.store,
      query: backend.query,
      objects: store.metricObjects,
      events,
      engine: controlPlane.engine,
      // pulls are pinned to the installation CA (the node identity is not known here)
      agentClient: (url, token) => createHttpAgentMetricsClient(url, token, agentCa.clientTls('')),
      platformOf: (d, cloud) => controlPlane.engine.deployments.get(d)?.spec.clouds[cloud]?.platform,
      deploymentIds: { id: deploymentId, name: (id) => splitDeploymentId(id).name },
      ...(o.metricsPullIntervalMs !== undefined ? { pullIntervalMs: o.metricsPullIntervalMs } : {}),
      ...(o.metricsAgentPollMs !== undefined ? { agentPollMs: o.metricsAgentPollMs } : {}),
    });
    const scaling = await startScaling(metrics, controlPlane, events, o.ruleDataWake ?? true);
    // [placement] load-aware placement reads the hosts' CPU load from the metrics
    controlPlane.engine.useLoads(async (expr, tenant) => loadsByLabel(await metrics.instant(expr, Date.now(), tenant)));
    // backups (src/operations/backups): schedules on the reconcile core; recovery recreates from their verified backups, workflows' `backup D C` runs them
    const backups = await createBackups({ engine: controlPlane.engine, store, events, clock: createRealClock(), credential: (t, n) => controlPlane.registry.secrets(t, n) });
    // workflows (src/workflows): registered on the engine's reconcile core, loaded when it starts
    const workflows = createWorkflows({
      controlPlane, store, events, ...(o.controlUrl ? { controlUrl: o.controlUrl } : o.port !== 0 ? { controlUrl: `http://${hostForUrl}:${o.port}` } : {}), ...(o.log ? { log: o.log } : {}),
      ...(o.allowScriptCommands ? { scriptCommands: true } : {}),
      backupNow: (d, c, caller) => backups.backupComponent(d, c, caller),
    });
    // alerts (src/operations/alerts): rules over the event log and the metrics, sent through channels
    const alerts = createAlertsService({
      clock: createRealClock(), store, events, secretKey,
      specOf: (d) => controlPlane.engine.deployments.get(d)?.spec,
      deployments: () => controlPlane.engine.deployments.keys(),
      credential: (tenant, name) => controlPlane.registry.secrets(tenant, name),
      query: metrics.query, flush: () => metrics.flush(),
      ...(o.runbookUrl ? { runbookBase: o.runbookUrl } : {}),
      ...(o.allowLocalTenants ? { allowLocalTenants: true } : {}),
    });
    // recovery ladders (src/operations/recovery): registered on the engine's reconcile core, their state loaded now
    const recovery = await createRecovery({ engine: controlPlane.engine, store, events, clock: createRealClock(), backups: backups.recovery });
    // Parts from parallel work are wired below, each under its own marker:
    // [backups] entries below (helper h/backups; keep them under this line)
    // destroy waits for the final backups a policy asks for (onDestroy); their failure refuses it
    const destroyNow = controlPlane.destroy.bind(controlPlane);
    controlPlane.destroy = async (name, caller) => (await backups.beforeDestroy(name, caller), destroyNow(name, caller));
    cleanups.push(() => backups.stop());

    // [stores] entries below (helper h/stores; keep them under this line)

    // [replicas] entries below (helper h/replicas; keep them under this line)

    // [leaks] entries below (helper h/leaks; keep them under this line)

    // [images] entries below (helper h/images; keep them under this line)
    engineRef = controlPlane.engine;

    // [placement] entries below (helper h/placement; keep them under this line)

    // [users] entries below (helper h/users; keep them under this line)
    const users = createUserService({ store, events, ...(o.sessions ? { sessions: o.sessions } : {}) });
    const catalog = createCatalog({ store, controlPlane, events });

    // [console] entries below (helper h/console; keep them under this line)
    const consoleDeps = { appliedSpec: (id: string) => controlPlane.engine.deployments.get(id) };
    const api = createApiServer({
      controlPlane, store, metrics, scaling, workflows, alerts, recovery, backups,
      policy: controls, // [images]
      users, catalog,
      console: consoleDeps,
      ...(o.log ? { log: o.log } : {}),
    });
    await controlPlane.start();
    cleanups.push(() => controlPlane.stop());
    controls.start(); // [images]
    cleanups.push(() => controls.stop());
    cleanups.push(() => workflows.stop());
    await metrics.start();
    cleanups.push(() => metrics.stop());
    scaling.start();
    cleanups.push(() => scaling.stop());
    await alerts.start();
    cleanups.push(() => alerts.stop());
    const retention = createEventRetention({ store, clock: createRealClock(), ...o.eventRetention, ...(o.log ? { log: o.log } : {}) });
    retention.start();
    cleanups.push(() => retention.stop());
    let graphitePort: number | undefined;
    if (o.graphitePort !== undefined) {
      try {
        // no tokens on Graphite: the sender's network decides the tenant (loopback: default)
        const sources = new GraphiteSources(o.graphiteTenants ?? [], DEFAULT_TENANT);
        const listener = await startGraphiteListener({
          port: o.graphitePort, host: o.graphiteHost ?? '127.0.0.1', sources,
          // parsed from the bytes and appended by series handle where the store takes handles
          sink: (tenant) => metrics.graphiteSink(tenant ?? DEFAULT_TENANT),
          onSamples: (s, tenant) => metrics.ingest(s, 'graphite', tenant ?? DEFAULT_TENANT),
          onColumns: (c, tenant) => metrics.ingestColumns(c, 'graphite', tenant ?? DEFAULT_TENANT), // parsed in worker threads
        });
        cleanups.push(() => listener.close());
        graphitePort = listener.port;
      } catch (e) {
        if (!o.graphiteOptional) throw e;
        o.log?.(`nubis: no Graphite listener (${e instanceof Error ? e.message : String(e)}); choose one with --graphite-port`);
      }
    }
    const { port } = await api.listen(o.port, o.host);
    cleanups.push(() => api.close());
    // lets a user (or script) stop a background server: kill $(cat .nubis/serve.pid)
    const pidFile = path.join(dataDir, 'serve.pid');
    fs.writeFileSync(pidFile, `${process.pid}\n`);
    cleanups.push(async () => fs.rmSync(pidFile, { force: true }));
    const handle: ServerHandle = {
      url: `http://${hostForUrl}:${port}`,
      port,
      dataDir,
      tokenFile: tokenFile(dataDir),
      close: unwind,
    };
    if (newToken) handle.newToken = newToken;
    if (o.store) handle.store = redactStoreUrl(o.store);
    if (graphitePort !== undefined) (handle.graphitePort = graphitePort), (handle.graphiteHost = o.graphiteHost ?? '127.0.0.1');
    return handle;
  } catch (e) {
    await unwind();
    throw e;
  }
}
