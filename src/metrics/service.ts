/**
 * The metrics service: a small factory wiring the metric store and query engine with its units —
 * the object catalog (./catalog.ts), metric definitions (./definitions.ts), scrape targets
 * (./scrapes.ts), agent streams (./agent-streams.ts), instance monitors (./monitors.ts) and the
 * control plane's self-metrics (./self-metrics.ts, ./self-report.ts). Scaling rules and
 * schedules live in src/scaling and plug in as a data listener (`onData`) and a self-metrics
 * collector. The server's composition root builds one and hands it to the API.
 *
 * Definitions and scrape targets come from a deployment's spec and from run time (the catalog
 * says how they merge and whose they are). Series carry
 * their tenant's label from ingest on and every query is scoped to the caller's (./tenancy.ts):
 * agent pulls and spec or rule output take the deployment's tenant, pushes the caller's, the
 * server's Graphite listener (no authentication) writes into the default tenant.
 *
 * Failure meaning: every method validates its input and throws a NubisError (REQUEST_INVALID
 * with the JSON path, NOT_FOUND, CONFLICT); evaluation failures never throw — they are events
 * and counters.
 */
import type { Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import type { Engine } from '../engine/index.js';
import type { Caller } from '../engine/views.js';
import { NubisError } from '../errors/index.js';
import type { MetricDefDoc, ScrapeTargetDoc } from '../model/schema.js';
import type { MetricObjectRepo } from '../store/index.js';
import type { AgentMetricsClient } from '../agent/sensors/index.js';
import { parsePrometheusText } from './ingest/prometheus.js';
import { parseGraphiteLines } from './ingest/graphite.js';
import { checkPushJson } from './ingest/push.js';
import { parseQuery } from './query/parser.js';
import type { HandleSink, Labels, MetricStore, QueryResult, Sample, SampleColumns } from './types.js';
import { createTenantSink } from './tenant-sink.js';
import { createSelfMetrics, type SelfMetrics } from './self-metrics.js';
import { createInstanceMonitors, type MonitorView } from './monitors.js';
import { labelTenant, scopeQuery, TENANT_LABEL, tenantMatcher, unscopeResult, withoutTenant } from './tenancy.js';
import { DEFAULT_TENANT } from '../registry/types.js';
import { createAgentStreams, type AgentStreams } from './agent-streams.js';
import { notifyArrivals, type DataListener } from './rule-wake.js';
import { createObjectCatalog, tenantOfCaller, type DeploymentIds, type ObjectCatalog } from './catalog.js';
import { createMetricDefinitions, type MetricDefinitionView } from './definitions.js';
import { createScrapeTargets, type ScrapeTargetView } from './scrapes.js';
import { reportEngineAndStore } from './self-report.js';

export type { DeploymentIds, ObjectSource } from './catalog.js';
export type { MetricDefinitionView } from './definitions.js';
export type { ScrapeTargetView } from './scrapes.js';

/** The query side the service needs (the embedded engine and the VictoriaMetrics one both fit). */
export interface QueryBackend {
  instant(expr: string, timeMs: number): Promise<QueryResult>;
  range(expr: string, startMs: number, endMs: number, stepMs: number): Promise<QueryResult>;
}

export interface MetricsServiceOptions {
  clock: Clock;
  store: MetricStore;
  query: QueryBackend;
  objects: MetricObjectRepo;
  events: EventLog;
  /** The engine whose deployments, nodes and instances the service reads. */
  engine: Pick<Engine, 'deployments' | 'instancesOf' | 'nodes' | 'stats'>;
  /** Agent metrics clients for pulling from nodes; absent: no pulling. */
  agentClient?: (url: string, token: string) => AgentMetricsClient;
  /** Platform of a deployment's cloud; pulling skips `sim`. */
  platformOf?: (deployment: string, cloud: string) => string | undefined;
  /**
   * How a tenant's deployment name maps to the engine's deployment id and back (the id of
   * `acme`'s `web` may be `acme.web`). Default: the id is the name. Series and views carry names.
   */
  deploymentIds?: DeploymentIds;
  /**
   * Longest an idle held read waits on a node's agent before it is asked again (samples are
   * streamed: one arriving on the agent answers the read at once). Default 10 000.
   */
  pullIntervalMs?: number;
  /** Read agents every this many ms instead of holding a read open (see ./agent-streams.ts `pollMs`). */
  agentPollMs?: number;
  /** Store flush period. Default 1 000. */
  flushIntervalMs?: number;
}

export interface PushInput {
  samples?: unknown[];
  graphite?: string;
  prometheus?: string;
  /** Labels added to every sample (they win over pushed ones). */
  labels?: Record<string, string>;
}

export interface PushResult {
  accepted: number;
  malformed: number;
  /** The first malformed lines (cut), for the sender to fix. */
  problems: string[];
}

export interface MetricsService {
  readonly store: MetricStore;
  readonly query: QueryBackend;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Appends samples from a source (counted per source) into a tenant's series. */
  ingest(samples: readonly Sample[], source: string, tenant: string): void;
  /** `ingest` from columns (the Graphite workers' output): the tenant label is set once per distinct series. */
  ingestColumns(columns: SampleColumns, source: string, tenant: string): void;
  /**
   * The Graphite listener's `sink` for a tenant: series resolved once with the tenant's label,
   * samples appended by handle, counted and waking rules as `ingest` does. Undefined when the
   * store takes no handles (VictoriaMetrics): the listener then delivers Samples to `ingest`.
   */
  graphiteSink(tenant: string): HandleSink | undefined;
  /** Ingests into the tenant's series. */
  push(input: PushInput, tenant: string): PushResult;
  /** The tenant's series matching a selector such as `{__name__=~"instance.cpu.*"}` or `app_load{component="app"}`; all when absent. */
  series(match: string | undefined, limit: number, tenant: string): Promise<Labels[]>;
  /** Queries see only the tenant's series. */
  instant(expr: string, timeMs: number, tenant: string): Promise<QueryResult>;
  range(expr: string, startMs: number, endMs: number, stepMs: number, tenant: string): Promise<QueryResult>;

  listDefinitions(tenant: string, deployment?: string): MetricDefinitionView[];
  getDefinition(tenant: string, name: string, deployment?: string): MetricDefinitionView;
  putDefinition(name: string, body: MetricDefDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: MetricDefinitionView }>;
  deleteDefinition(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  listScrapeTargets(tenant: string, deployment?: string): ScrapeTargetView[];
  getScrapeTarget(tenant: string, name: string, deployment?: string): ScrapeTargetView;
  putScrapeTarget(name: string, body: ScrapeTargetDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: ScrapeTargetView }>;
  deleteScrapeTarget(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  /** An instance's monitors, run by its node's agent (./monitors.ts); body: MonitorInput. */
  listMonitors(deployment: string, instance: string, caller: Caller): Promise<{ node: string; monitors: MonitorView[] }>;
  setMonitor(deployment: string, instance: string, id: string, body: unknown, caller: Caller): Promise<{ created: boolean; monitor: MonitorView }>;
  removeMonitor(deployment: string, instance: string, id: string, caller: Caller): Promise<void>;

  /** The catalog metric objects are kept in (the scaling part keeps its rules and schedules there too). */
  readonly catalog: ObjectCatalog;
  /** Told of every ingested batch (by deployment id and metric names), except the rules' and schedules' own series. */
  onData(listener: DataListener): () => void;
  /** Runs before each `selfMetrics()` render, to set a part's gauges. */
  addCollector(collect: (self: SelfMetrics) => void): void;
  /** Makes every appended sample visible to queries. */
  flush(): Promise<void>;
  /** The control plane's own health in Prometheus text format. */
  selfMetrics(): Promise<string>;
  readonly self: SelfMetrics;
}

export async function createMetricsService(o: MetricsServiceOptions): Promise<MetricsService> {
  const { clock, store, query, objects, events, engine } = o;
  const self = createSelfMetrics();
  const ids: DeploymentIds = o.deploymentIds ?? { id: (_t, name) => name, name: (id) => id };
  const catalog = createObjectCatalog({ clock, engine, objects, events, ids });
  const listeners = new Set<DataListener>();
  const collectors: ((self: SelfMetrics) => void)[] = [];

  const ingest = (samples: readonly Sample[], source: string, tenant: string): void => {
    if (samples.length === 0) return;
    store.append(labelTenant(samples, tenant));
    self.inc('nubis_ingest_samples_total', { source }, samples.length);
    // rules that read these series wake now, not on their next interval (their own output does not wake them)
    if (source === 'rules' || source === 'schedules') return;
    for (const l of listeners) notifyArrivals(samples, (name) => ids.id(tenant, name), l);
  };
  const ingestOwn = (samples: Sample[], source: string, tenant: string): void => ingest(samples, source, tenant);
  const ingestColumns = (c: SampleColumns, source: string, tenant: string): void => {
    if (c.n === 0) return;
    const labels = c.labels.map((l) => ({ ...l, [TENANT_LABEL]: tenant }));
    const columnar = store as MetricStore & { appendColumns?(c: SampleColumns): void };
    if (columnar.appendColumns) columnar.appendColumns({ ...c, labels });
    else {
      const samples = new Array<Sample>(c.n);
      for (let i = 0; i < c.n; i++) samples[i] = { name: c.names[c.series[i]!]!, labels: labels[c.series[i]!]!, t: c.t[i]!, v: c.v[i]! };
      store.append(samples);
    }
    self.inc('nubis_ingest_samples_total', { source }, c.n);
    if (source === 'rules' || source === 'schedules' || listeners.size === 0) return;
    // rules wake on the distinct series' names (one pseudo-sample each is enough)
    const distinct = c.names.map((name, k) => ({ name, labels: labels[k]!, t: 0, v: 0 }));
    for (const l of listeners) notifyArrivals(distinct, (name) => ids.id(tenant, name), l);
  };

  const graphiteSink = (tenant: string): HandleSink | undefined =>
    createTenantSink(store, tenant, {
      appended: (n) => self.inc('nubis_ingest_samples_total', { source: 'graphite' }, n),
      wantsArrivals: () => listeners.size > 0,
      arrived: (by) => {
        for (const l of listeners) for (const [d, names] of by) l.dataArrived(ids.id(tenant, d), names);
      },
    });

  const definitions = createMetricDefinitions({ catalog, query, ingest: ingestOwn, self, now: () => clock.now() });
  const scrapes = createScrapeTargets({ clock, catalog, ingest: ingestOwn, self });
  const loadErrors = [...(await definitions.kind.load()), ...(await scrapes.load())];
  if (loadErrors.length > 0) catalog.append('metrics.load', 'metrics', undefined, 'metric_objects', 'error', `could not load: ${loadErrors.join('; ')}`, {});

  // a held read per running node, so samples arrive as they are taken
  const streams: AgentStreams | undefined = o.agentClient
    ? createAgentStreams({
      clock, engine, agentClient: o.agentClient,
      ...(o.platformOf ? { platformOf: o.platformOf } : {}),
      deploymentName: (id) => ids.name(id),
      ingest: (samples, deployment) => ingest(samples, 'agent', catalog.deploymentTenant(deployment) ?? DEFAULT_TENANT),
      onError: () => self.inc('nubis_agent_pull_errors_total', {}),
      ...(o.pullIntervalMs !== undefined ? { holdMs: o.pullIntervalMs } : {}),
      ...(o.agentPollMs !== undefined ? { pollMs: o.agentPollMs } : {}),
    })
    : undefined;

  const monitors = createInstanceMonitors({
    clock, events, engine,
    ...(o.agentClient ? { agentClient: o.agentClient } : {}),
    ...(o.platformOf ? { platformOf: o.platformOf } : {}),
  });

  // ---- loops
  let stopped = true;
  let loops: Promise<void>[] = [];
  let abort = new AbortController();
  async function loop(fn: () => Promise<number | void>, everyMs: number): Promise<void> {
    while (!stopped) {
      let wait = everyMs;
      try {
        const next = await fn();
        if (typeof next === 'number') wait = Math.max(10, next - clock.now());
      } catch {
        // each part reports its own failures
      }
      try {
        await clock.sleep(wait, abort.signal);
      } catch {
        // stopping
      }
    }
  }

  let flushTimer: NodeJS.Timeout | undefined;
  const unsubscribe: (() => void)[] = [];

  return {
    store,
    query,
    self,
    catalog,
    onData(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    addCollector: (c) => collectors.push(c),
    flush: () => store.flush(),
    async start() {
      if (!stopped) return;
      stopped = false;
      abort = new AbortController();
      unsubscribe.push(
        events.subscribe({ kind: 'driver.call' }, (e) => {
          const d = (e.data ?? {}) as { platform?: string; op?: string; latencyMs?: number; errorCode?: string };
          const labels = { platform: String(d.platform ?? ''), op: String(d.op ?? '') };
          self.inc('nubis_driver_calls_total', { ...labels, outcome: String(e.outcome ?? '') });
          if (typeof d.latencyMs === 'number') self.observe('nubis_driver_call_seconds', labels, d.latencyMs / 1000);
          if (d.errorCode) self.inc('nubis_driver_errors_total', { ...labels, code: d.errorCode });
        }),
      );
      // a spec applied or a deployment going away changes the spec's scrape targets
      unsubscribe.push(
        events.subscribe({ kind: 'deployment.*' }, (e) => {
          if (e.kind !== 'deployment.scaled') scrapes.sync(!stopped);
        }),
      );
      scrapes.sync(true);
      loops = [loop(() => definitions.evaluateDue(), 1_000), loop(async () => streams?.sync(), 1_000)];
      flushTimer = setInterval(() => void store.flush().catch(() => undefined), o.flushIntervalMs ?? 1_000);
      flushTimer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      if (flushTimer) clearInterval(flushTimer);
      for (const u of unsubscribe.splice(0)) u();
      await scrapes.stop();
      await Promise.all([streams?.stop(), ...loops]);
      await store.flush().catch(() => undefined);
    },
    ingest,
    ingestColumns,
    graphiteSink,
    push(input, tenant) {
      const labels = input.labels ?? {};
      const now = clock.now();
      let samples: Sample[] = [];
      const problems: string[] = [];
      if (input.samples !== undefined) samples = checkPushJson({ samples: input.samples }, { now, labels });
      if (input.graphite !== undefined) {
        const r = parseGraphiteLines(input.graphite, { now, labels });
        samples.push(...r.samples);
        problems.push(...r.malformed.map((m) => `graphite: ${m}`));
      }
      if (input.prometheus !== undefined) {
        const r = parsePrometheusText(input.prometheus, { now, labels });
        samples.push(...r.samples);
        problems.push(...r.malformed.map((m) => `prometheus: ${m}`));
      }
      ingest(samples, 'push', tenant);
      if (problems.length > 0) self.inc('nubis_ingest_malformed_total', { source: 'push' }, problems.length);
      return { accepted: samples.length, malformed: problems.length, problems: problems.slice(0, 20) };
    },
    async series(match, limit, tenant) {
      let matchers: Parameters<MetricStore['series']>[0] = [];
      if (match !== undefined) {
        const e = parseQuery(match);
        if (e.type !== 'vector') throw new NubisError('REQUEST_INVALID', `match: expected a series selector such as {__name__=~"cpu.*"}, found ${JSON.stringify(match)}`);
        matchers = e.matchers;
      }
      await store.flush();
      return (await store.series([...matchers, tenantMatcher(tenant)], limit)).map(withoutTenant);
    },
    async instant(expr, t, tenant) {
      const scoped = scopeQuery(expr, tenant);
      await store.flush();
      return unscopeResult(await query.instant(scoped, t));
    },
    async range(expr, start, end, step, tenant) {
      const scoped = scopeQuery(expr, tenant);
      await store.flush();
      return unscopeResult(await query.range(scoped, start, end, step));
    },

    listDefinitions: (tenant, deployment) => definitions.list(tenant, deployment),
    getDefinition: (tenant, name, deployment) => definitions.get(tenant, name, deployment),
    putDefinition: (name, body, caller) => definitions.put(name, body, caller),
    deleteDefinition: (name, deployment, caller) => definitions.remove(name, deployment, caller),

    listScrapeTargets: (tenant, deployment) => scrapes.list(tenant, deployment),
    getScrapeTarget: (tenant, name, deployment) => scrapes.get(tenant, name, deployment),
    putScrapeTarget: (name, body, caller) => scrapes.put(name, body, caller),
    deleteScrapeTarget: (name, deployment, caller) => scrapes.remove(name, deployment, caller),

    listMonitors: (d, i, caller) => monitors.list(ids.id(tenantOfCaller(caller), d), i, caller),
    setMonitor: (d, i, id, body, caller) => monitors.set(ids.id(tenantOfCaller(caller), d), i, id, body, caller),
    removeMonitor: (d, i, id, caller) => monitors.remove(ids.id(tenantOfCaller(caller), d), i, id, caller),

    async selfMetrics() {
      self.set('nubis_metric_definitions', {}, definitions.kind.all().length);
      for (const c of collectors) c(self);
      reportEngineAndStore(self, engine, store);
      return self.render();
    },
  };
}
