/**
 * The metrics service: the composition of metric store, query engine, ingest (push, agent
 * pull), aggregated/composite metric definitions, scaling rules, schedules and the control
 * plane's self-metrics. The server's composition root builds one and hands it to the API.
 *
 * Definitions, rules and schedules come from two sources: a deployment's spec (`metrics`,
 * `rules`, `schedules` sections) and run time (API/CLI, persisted in the store). They are
 * identified by deployment and name; a run-time object overrides the spec's object of the
 * same deployment and name until it is removed. Spec objects change only by applying a spec.
 *
 * Tenancy: every object belongs to a tenant (a spec's objects to their deployment's tenant, a
 * run-time one to its creator's) and is seen, changed and removed by that tenant only; a
 * run-time object naming a deployment now owned by another tenant is inert. Series carry
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
import { desiredCount } from '../engine/state.js';
import { NubisError } from '../errors/index.js';
import type { AppSpec, MetricDefSpec, RuleSpec, ScheduleSpec, ScrapeTargetSpec } from '../model/types.js';
import type { MetricDefDoc, RuleDoc, ScheduleDoc, ScrapeTargetDoc } from '../model/schema.js';
import {
  metricProblems, normaliseMetric, normaliseRule, normaliseSchedule, normaliseScrape, ruleProblems, scheduleProblems, scrapeProblems, type PathProblem,
} from '../model/parse.js';
import type { MetricObjectKind, MetricObjectRepo } from '../store/index.js';
import type { AgentMetricsClient } from '../agent/sensors/index.js';
import { parsePrometheusText } from './ingest/prometheus.js';
import { parseGraphiteLines } from './ingest/graphite.js';
import { createScraper, type Scraper, type ScrapeStatus } from './ingest/scraper.js';
import { checkPushJson } from './ingest/push.js';
import { parseQuery } from './query/parser.js';
import type { Labels, MetricStore, QueryResult, Sample } from './types.js';
import { createRuleEvaluator, type ComponentSnapshot, type RuleEvaluator, type RuleReport, type RuleState } from './rules/evaluator.js';
import { createScheduler, type ScheduleEvent, type Scheduler } from './schedule/index.js';
import { createSelfMetrics, type SelfMetrics } from './self-metrics.js';
import { createInstanceMonitors, type MonitorView } from './monitors.js';
import { labelTenant, scopeQuery, tenantMatcher, unscopeResult, withoutTenant } from './tenancy.js';
import { DEFAULT_TENANT } from '../registry/types.js';
import { createAgentStreams, type AgentStreams } from './agent-streams.js';
import { notifyArrivals } from './rule-wake.js';

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
  /** The engine whose deployments, components and instances rules read. */
  engine: Pick<Engine, 'deployments' | 'instancesOf' | 'nodes' | 'stats'>;
  /** The control plane's scale of a deployment (by id; validates min/max, records the change); the caller carries the deployment's tenant. */
  scale: (deployment: string, component: string, count: number, caller: Caller) => Promise<unknown>;
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
  /** Store flush period. Default 1 000. */
  flushIntervalMs?: number;
}

export type ObjectSource = 'spec' | 'api';

export interface DeploymentIds {
  id(tenant: string, name: string): string;
  /** The name its tenant knows a deployment id by. */
  name(id: string): string;
}

export interface MetricDefinitionView {
  name: string;
  deployment?: string;
  source: ObjectSource;
  expr: string;
  intervalMs: number;
  description?: string;
  lastEvaluation?: string;
  lastError?: string;
}

export interface RuleView {
  name: string;
  deployment: string;
  source: ObjectSource;
  spec: RuleSpec;
  state: { truth: string; holdingSince?: string; lastEvaluation?: string; missing: string[] };
}

export interface ScheduleView {
  name: string;
  deployment: string;
  source: ObjectSource;
  spec: ScheduleSpec;
  nextFire?: string;
}

export interface ScrapeTargetView {
  name: string;
  deployment?: string;
  source: ObjectSource;
  url: string;
  intervalMs: number;
  labels: Record<string, string>;
  /** The last scrape, once there has been one. */
  status?: { up: boolean; lastScrape?: string; lastDurationMs?: number; lastError?: string; samples: number; malformed: number };
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

  listRules(tenant: string, deployment?: string): RuleView[];
  getRule(tenant: string, name: string, deployment?: string): RuleView;
  putRule(name: string, body: RuleDoc & { deployment: string }, caller: Caller): Promise<{ created: boolean; view: RuleView }>;
  deleteRule(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  listSchedules(tenant: string, deployment?: string): ScheduleView[];
  getSchedule(tenant: string, name: string, deployment?: string): ScheduleView;
  putSchedule(name: string, body: ScheduleDoc & { deployment: string }, caller: Caller): Promise<{ created: boolean; view: ScheduleView }>;
  deleteSchedule(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  listScrapeTargets(tenant: string, deployment?: string): ScrapeTargetView[];
  getScrapeTarget(tenant: string, name: string, deployment?: string): ScrapeTargetView;
  putScrapeTarget(name: string, body: ScrapeTargetDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: ScrapeTargetView }>;
  deleteScrapeTarget(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  /** An instance's monitors, run by its node's agent (./monitors.ts); body: MonitorInput. */
  listMonitors(deployment: string, instance: string, caller: Caller): Promise<{ node: string; monitors: MonitorView[] }>;
  setMonitor(deployment: string, instance: string, id: string, body: unknown, caller: Caller): Promise<{ created: boolean; monitor: MonitorView }>;
  removeMonitor(deployment: string, instance: string, id: string, caller: Caller): Promise<void>;

  /** Evaluates every rule now (for tests and `nubis rules eval`). */
  evaluateRules(): Promise<void>;
  /** The control plane's own health in Prometheus text format. */
  selfMetrics(): Promise<string>;
  readonly self: SelfMetrics;
}

interface Obj<T> {
  tenant: string;
  deployment: string;
  name: string;
  source: ObjectSource;
  spec: T;
}

const key = (tenant: string, deployment: string, name: string): string => `${tenant}/${deployment}/${name}`;
const tenantOfCaller = (c: Caller): string => c.tenant ?? DEFAULT_TENANT;
/** A deployment's tenant; deployments from before tenancy are the default tenant's. */
const tenantOfDeployment = (d: object): string => (d as { tenant?: string }).tenant ?? DEFAULT_TENANT;

function invalid(problems: PathProblem[]): NubisError {
  const msgs = problems.map((p) => `${jsonPath(p.path)}: expected ${p.expected}, found ${p.found}`);
  return new NubisError('REQUEST_INVALID', `request body is invalid: ${msgs.join('; ')}`, { details: { problems: msgs } });
}

function jsonPath(path: readonly (string | number)[]): string {
  return '$' + path.map((s) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join('');
}

/** Every query expression in a rule condition document, with its JSON path. */
function conditionExprs(c: unknown, path: (string | number)[], out: { path: (string | number)[]; expr: string }[]): void {
  if (c === null || typeof c !== 'object') return;
  for (const [k, v] of Object.entries(c as Record<string, unknown>)) {
    if ((k === 'and' || k === 'or') && Array.isArray(v)) v.forEach((x, i) => conditionExprs(x, [...path, k, i], out));
    else if (k === 'not') conditionExprs(v, [...path, k], out);
    else if (v && typeof v === 'object' && typeof (v as { expr?: unknown }).expr === 'string') out.push({ path: [...path, k, 'expr'], expr: (v as { expr: string }).expr });
  }
}

function checkExpr(expr: string, path: (string | number)[]): void {
  try {
    parseQuery(expr);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new NubisError('REQUEST_INVALID', `${jsonPath(path)}: ${msg}`, { details: { problems: [`${jsonPath(path)}: ${msg}`] } });
  }
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export async function createMetricsService(o: MetricsServiceOptions): Promise<MetricsService> {
  const { clock, store, query, objects, events, engine } = o;
  const self = createSelfMetrics();
  const ids: DeploymentIds = o.deploymentIds ?? { id: (_t, name) => name, name: (id) => id };
  /** Whether an object (of a tenant) matches a `?deployment=` filter given by that tenant. */
  const inDeployment = (x: { tenant: string; deployment: string }, deployment: string | undefined): boolean =>
    deployment === undefined || x.deployment === ids.id(x.tenant, deployment);
  const runtime = {
    metric: new Map<string, Obj<MetricDefSpec>>(),
    rule: new Map<string, Obj<RuleSpec>>(),
    schedule: new Map<string, Obj<ScheduleSpec>>(),
    scrape: new Map<string, Obj<ScrapeTargetSpec>>(),
  };
  /** JSON as submitted, per runtime object, so a restart normalises it again. */
  const loadErrors: string[] = [];

  /** Reads the persisted run-time objects of a kind, normalised again (bad rows are reported, not fatal). */
  async function load<D, T>(kind: MetricObjectKind, into: Map<string, Obj<T>>, normalise: (name: string, doc: D) => T): Promise<void> {
    for (const row of await objects.list(kind)) {
      try {
        const spec = normalise(row.name, JSON.parse(row.body_json) as D);
        into.set(key(row.tenant, row.deployment, row.name), { tenant: row.tenant, deployment: row.deployment, name: row.name, source: 'api', spec });
      } catch (e) {
        loadErrors.push(`${kind} ${row.name}: ${String(e)}`);
      }
    }
  }
  await load('metric', runtime.metric, normaliseMetric);
  await load('rule', runtime.rule, normaliseRule);
  await load('schedule', runtime.schedule, normaliseSchedule);
  await load('scrape', runtime.scrape, normaliseScrape);

  /** The tenant of a deployment that exists, else undefined. */
  function deploymentTenant(name: string): string | undefined {
    const d = engine.deployments.get(name);
    return d ? tenantOfDeployment(d) : undefined;
  }

  /**
   * Spec objects of active deployments merged with run-time ones (run time wins), of one
   * tenant when given. A run-time object whose deployment belongs to another tenant now (its
   * own was destroyed and the name reused) is left out: it never acts on someone else's.
   */
  function merged<T>(section: 'metrics' | 'rules' | 'schedules' | 'scrape', rt: Map<string, Obj<T>>, tenant?: string): Obj<T>[] {
    const out = new Map<string, Obj<T>>();
    for (const d of engine.deployments.values()) {
      if (d.status === 'destroying') continue;
      const owner = tenantOfDeployment(d);
      if (tenant !== undefined && owner !== tenant) continue;
      const sec = (d.spec as AppSpec)[section] as Record<string, T> | undefined;
      for (const [name, spec] of Object.entries(sec ?? {})) out.set(key(owner, d.name, name), { tenant: owner, deployment: d.name, name, source: 'spec', spec });
    }
    for (const [k, v] of rt) {
      if (tenant !== undefined && v.tenant !== tenant) continue;
      const owner = v.deployment ? deploymentTenant(v.deployment) : undefined;
      if (owner !== undefined && owner !== v.tenant) continue;
      out.set(k, v);
    }
    return [...out.values()].sort((a, b) => a.deployment.localeCompare(b.deployment) || a.name.localeCompare(b.name));
  }

  /** The one object of this name in `list` (already narrowed to the `?deployment=` the caller gave, named in messages). */
  function find<T>(list: Obj<T>[], what: string, name: string, deployment: string | undefined): Obj<T> {
    const hits = list.filter((x) => x.name === name);
    if (hits.length === 0) throw new NubisError('NOT_FOUND', `no ${what} named ${JSON.stringify(name)}${deployment !== undefined ? ` in deployment ${deployment}` : ''}`);
    if (hits.length > 1) {
      throw new NubisError('CONFLICT', `${hits.length} ${what}s are named ${JSON.stringify(name)} (deployments ${hits.map((h) => (h.deployment ? ids.name(h.deployment) : '(none)')).join(', ')}); give ?deployment=`);
    }
    return hits[0]!;
  }

  /** The tenant's object of this name (in the `?deployment=` given): NOT_FOUND, or CONFLICT when ambiguous. */
  function lookup<T>(section: 'metrics' | 'rules' | 'schedules' | 'scrape', rt: Map<string, Obj<T>>, tenant: string, what: string, name: string, deployment: string | undefined): Obj<T> {
    return find(merged(section, rt, tenant).filter((x) => inDeployment(x, deployment)), what, name, deployment);
  }

  function componentSnapshot(deployment: string, component: string): ComponentSnapshot | undefined {
    const d = engine.deployments.get(deployment);
    const c = d?.spec.components[component];
    if (!d || !c) return undefined;
    const instances = engine
      .instancesOf(deployment)
      .filter((i) => i.component === component)
      .map((i) => ({ name: i.name, ready: i.desired && i.phase === 'running' }));
    return { desired: desiredCount(d, c), min: c.min, max: c.max, instances };
  }

  /** Records an event; `tenant` says who may see one of no deployment (else the deployment's tenant does). */
  function append(kind: string, actor: string, deployment: string | undefined, target: string, outcome: string, reason: string, data: Record<string, unknown>, tenant?: string): void {
    const who: Record<string, string> = tenant !== undefined && !deployment ? { tenant } : {};
    void events
      .append({ kind, actor, ...(deployment ? { deployment } : {}), target, outcome, reason, data, ts: clock.now(), ...who })
      .catch(() => undefined);
  }

  const ingest = (samples: readonly Sample[], source: string, tenant: string): void => {
    if (samples.length === 0) return;
    store.append(labelTenant(samples, tenant));
    self.inc('nubis_ingest_samples_total', { source }, samples.length);
    // rules that read these series wake now, not on their next interval (their own output does not wake them)
    if (source !== 'rules' && source !== 'schedules') notifyArrivals(samples, (name) => ids.id(tenant, name), evaluator);
  };

  // ---- rules
  const evaluator: RuleEvaluator = createRuleEvaluator({
    clock,
    beforeEvaluate: () => store.flush(),
    query: (expr, t, deployment) => query.instant(scopeQuery(expr, deploymentTenant(deployment) ?? DEFAULT_TENANT), t),
    rules: () => merged('rules', runtime.rule).map((r) => ({ deployment: r.deployment, label: ids.name(r.deployment), rule: r.spec })),
    component: componentSnapshot,
    scale: async (deployment, component, count, reason, rule) => {
      self.inc('nubis_scale_requests_total', { source: 'rule' });
      await o.scale(deployment, component, count, { actor: `rule:${rule}`, tenant: deploymentTenant(deployment) ?? DEFAULT_TENANT, correlationId: `rule-${rule}-${clock.now()}` });
      void reason;
    },
    report: (r: RuleReport) => {
      const outcome = r.kind === 'rule.fired' ? 'ok' : r.kind === 'rule.suppressed' ? 'suppressed' : r.kind === 'rule.nodata' ? 'unknown' : 'error';
      if (r.kind === 'rule.fired') self.inc('nubis_rule_firings_total', {});
      if (r.kind === 'rule.failed') self.inc('nubis_rule_failures_total', {});
      append(r.kind, `rule:${r.rule}`, r.deployment, `${r.deployment}/${r.component}`, outcome, r.reason, { rule: r.rule, component: r.component, ...r.data });
    },
    record: (samples) => {
      for (const s of samples) if (s.name === 'nubis.rule.suppressed') self.inc('nubis_rule_suppressions_total', { reason: s.labels['reason'] ?? '' });
      for (const s of samples) {
        const id = s.labels['deployment'] ?? '';
        ingest([{ ...s, labels: { ...s.labels, deployment: ids.name(id) } }], 'rules', deploymentTenant(id) ?? DEFAULT_TENANT);
      }
    },
    onEvaluation: (_rule, ms, truth) => {
      self.inc('nubis_rule_evaluations_total', { result: String(truth) });
      self.observe('nubis_rule_evaluation_seconds', {}, ms / 1000);
    },
  });

  // ---- schedules
  const scheduler: Scheduler = createScheduler({
    clock,
    schedules: () => merged('schedules', runtime.schedule).map((s) => ({ deployment: s.deployment, schedule: s.spec })),
    scale: async (deployment, component, count, _reason, schedule) => {
      self.inc('nubis_scale_requests_total', { source: 'schedule' });
      await o.scale(deployment, component, count, { actor: `schedule:${schedule}`, tenant: deploymentTenant(deployment) ?? DEFAULT_TENANT });
    },
    emit: (e: ScheduleEvent) => {
      self.inc('nubis_schedule_firings_total', { outcome: e.outcome });
      append(e.kind, `schedule:${e.schedule}`, e.deployment, `${e.deployment}/${e.component}`, e.outcome, e.reason ?? `schedule ${e.schedule}: set ${e.component} to ${e.count}`, {
        schedule: e.schedule, component: e.component, count: e.count, at: new Date(e.at).toISOString(),
      });
      ingest([{ name: 'nubis.schedule.fired', labels: { deployment: ids.name(e.deployment), component: e.component, schedule: e.schedule, outcome: e.outcome }, t: clock.now(), v: e.count }], 'schedules', deploymentTenant(e.deployment) ?? DEFAULT_TENANT);
    },
  });

  // ---- metric definitions: each evaluated on its interval; results stored as series
  const defState = new Map<string, { next: number; last?: number; error?: string }>();
  async function evaluateDefinitions(): Promise<number> {
    const now = clock.now();
    let soonest = now + 1_000;
    const defs = merged('metrics', runtime.metric);
    const live = new Set<string>();
    for (const d of defs) {
      const k = key(d.tenant, d.deployment, d.name);
      live.add(k);
      let st = defState.get(k);
      if (!st) defState.set(k, (st = { next: now }));
      if (st.next <= now) {
        st.next = now + d.spec.intervalMs;
        st.last = now;
        try {
          const r = unscopeResult(await query.instant(scopeQuery(d.spec.expr, d.tenant), now));
          const out: Sample[] = [];
          const withDep = (l: Labels): Labels => (d.deployment && l['deployment'] === undefined ? { ...l, deployment: ids.name(d.deployment) } : l);
          if (r.resultType === 'scalar') out.push({ name: d.name, labels: withDep({}), t: now, v: r.result.v });
          else if (r.resultType === 'vector') {
            for (const e of r.result) {
              const { __name__: _n, ...labels } = e.labels;
              out.push({ name: d.name, labels: withDep(labels), t: now, v: e.v });
            }
          } else throw new NubisError('REQUEST_INVALID', 'a metric definition must give a vector or a scalar, not a range');
          ingest(out, 'definitions', d.tenant);
          self.inc('nubis_metric_evaluations_total', { outcome: 'ok' });
          st.error = undefined;
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          self.inc('nubis_metric_evaluations_total', { outcome: 'error' });
          if (st.error !== msg) append('metric.failed', 'metrics', d.deployment || undefined, d.name, 'error', `metric ${d.name}: ${msg}`, { metric: d.name }, d.tenant);
          st.error = msg;
        }
      }
      soonest = Math.min(soonest, st.next);
    }
    for (const k of [...defState.keys()]) if (!live.has(k)) defState.delete(k);
    return soonest;
  }

  // ---- agent streams: a held read per running node, so samples arrive as they are taken
  const streams: AgentStreams | undefined = o.agentClient
    ? createAgentStreams({
      clock, engine, agentClient: o.agentClient,
      ...(o.platformOf ? { platformOf: o.platformOf } : {}),
      deploymentName: (id) => ids.name(id),
      ingest: (samples, deployment) => ingest(samples, 'agent', deploymentTenant(deployment) ?? DEFAULT_TENANT),
      onError: () => self.inc('nubis_agent_pull_errors_total', {}),
      ...(o.pullIntervalMs !== undefined ? { holdMs: o.pullIntervalMs } : {}),
    })
    : undefined;

  // ---- an instance's monitors (forwarded to its node's agent)
  const monitors = createInstanceMonitors({
    clock, events, engine,
    ...(o.agentClient ? { agentClient: o.agentClient } : {}),
    ...(o.platformOf ? { platformOf: o.platformOf } : {}),
  });

  // ---- scrape targets: one scraper per target (each has its own interval); samples carry the
  // target's labels, then deployment (when the target belongs to one) and instance (host:port)
  const scrapers = new Map<string, { sig: string; scraper: Scraper }>();
  function syncScrapers(): void {
    const want = stopped ? [] : merged('scrape', runtime.scrape);
    const live = new Set<string>();
    for (const t of want) {
      const k = key(t.tenant, t.deployment, t.name);
      live.add(k);
      const labels = { ...t.spec.labels, ...(t.deployment ? { deployment: ids.name(t.deployment) } : {}) };
      const sig = JSON.stringify([t.spec.url, t.spec.intervalMs, labels]);
      const old = scrapers.get(k);
      if (old?.sig === sig) continue;
      if (old) void old.scraper.stop();
      try {
        const scraper = createScraper({
          targets: [{ url: t.spec.url, labels }],
          intervalMs: t.spec.intervalMs,
          clock,
          onSamples: (samples) => {
            ingest(samples, 'scrape', t.tenant);
            const st = scraper.status()[0];
            if (st && st.malformed > 0) self.inc('nubis_ingest_malformed_total', { source: 'scrape' }, st.malformed);
          },
        });
        scrapers.set(k, { sig, scraper });
        scraper.start();
      } catch (e) {
        scrapers.delete(k);
        append('scrape.failed', 'metrics', t.deployment || undefined, t.name, 'error', `scrape target ${t.name}: ${e instanceof Error ? e.message : String(e)}`, { name: t.name }, t.tenant);
      }
    }
    for (const [k, v] of [...scrapers]) {
      if (live.has(k)) continue;
      scrapers.delete(k);
      void v.scraper.stop();
    }
  }
  const scrapeView = (t: Obj<ScrapeTargetSpec>): ScrapeTargetView => {
    const st: ScrapeStatus | undefined = scrapers.get(key(t.tenant, t.deployment, t.name))?.scraper.status()[0];
    return {
      name: t.name,
      ...(t.deployment ? { deployment: ids.name(t.deployment) } : {}),
      source: t.source,
      url: t.spec.url,
      intervalMs: t.spec.intervalMs,
      labels: t.spec.labels,
      ...(st?.lastScrapeMs !== undefined
        ? { status: { up: st.up, lastScrape: iso(st.lastScrapeMs)!, ...(st.lastDurationMs !== undefined ? { lastDurationMs: st.lastDurationMs } : {}), ...(st.lastError !== undefined ? { lastError: st.lastError } : {}), samples: st.samples, malformed: st.malformed } }
        : {}),
    };
  };

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

  if (loadErrors.length > 0) append('metrics.load', 'metrics', undefined, 'metric_objects', 'error', `could not load: ${loadErrors.join('; ')}`, {});

  async function persist(kind: MetricObjectKind, tenant: string, deployment: string, name: string, body: unknown): Promise<void> {
    await objects.put({ kind, tenant, deployment, name, body_json: JSON.stringify(body), updated_at: clock.now() });
  }

  /** The id and spec of a deployment the tenant owns; NOT_FOUND for another tenant's, as for none. */
  function mustDeployment(name: string, tenant: string, path = '$.deployment'): { id: string; spec: AppSpec } {
    const id = ids.id(tenant, name);
    const d = engine.deployments.get(id);
    if (!d || tenantOfDeployment(d) !== tenant) throw new NubisError('NOT_FOUND', `${path}: no deployment named ${JSON.stringify(name)}`);
    return { id, spec: d.spec };
  }

  async function remove<T>(kind: MetricObjectKind, what: string, all: Obj<T>[], rt: Map<string, Obj<T>>, name: string, deployment: string | undefined, caller: Caller): Promise<Obj<T>> {
    const hit = find(all.filter((x) => inDeployment(x, deployment)), what, name, deployment);
    if (hit.source === 'spec') {
      throw new NubisError('CONFLICT', `${what} ${name} is defined in the spec of deployment ${ids.name(hit.deployment)}; remove it there and apply`);
    }
    rt.delete(key(hit.tenant, hit.deployment, hit.name));
    await objects.remove(kind, hit.tenant, hit.deployment, hit.name);
    append(`${kind}.removed`, caller.actor, hit.deployment || undefined, name, 'ok', `${what} ${name} removed`, { name }, hit.tenant);
    return hit;
  }

  const defView = (d: Obj<MetricDefSpec>): MetricDefinitionView => {
    const st = defState.get(key(d.tenant, d.deployment, d.name));
    return {
      name: d.name,
      ...(d.deployment ? { deployment: ids.name(d.deployment) } : {}),
      source: d.source,
      expr: d.spec.expr,
      intervalMs: d.spec.intervalMs,
      ...(d.spec.description !== undefined ? { description: d.spec.description } : {}),
      ...(st?.last !== undefined ? { lastEvaluation: iso(st.last)! } : {}),
      ...(st?.error !== undefined ? { lastError: st.error } : {}),
    };
  };
  const ruleView = (r: Obj<RuleSpec>, states: RuleState[]): RuleView => {
    const s = states.find((x) => x.deployment === r.deployment && x.rule === r.name);
    return {
      name: r.name,
      deployment: ids.name(r.deployment),
      source: r.source,
      spec: r.spec,
      state: {
        truth: s ? String(s.truth) : 'never',
        ...(s?.holdingSince !== undefined ? { holdingSince: iso(s.holdingSince)! } : {}),
        ...(s?.lastEvaluation !== undefined ? { lastEvaluation: iso(s.lastEvaluation)! } : {}),
        missing: s?.missing ?? [],
      },
    };
  };
  const scheduleView = (s: Obj<ScheduleSpec>): ScheduleView => {
    const next = scheduler.upcoming().find((u) => u.deployment === s.deployment && u.schedule === s.name);
    return { name: s.name, deployment: ids.name(s.deployment), source: s.source, spec: s.spec, ...(next ? { nextFire: iso(next.at)! } : {}) };
  };

  let flushTimer: NodeJS.Timeout | undefined;
  const unsubscribe: (() => void)[] = [];

  return {
    store,
    query,
    self,
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
      // a spec applied or a deployment going away changes the spec's rules and schedules
      unsubscribe.push(
        events.subscribe({ kind: 'deployment.*' }, (e) => {
          if (e.kind === 'deployment.scaled') return;
          evaluator.reload();
          scheduler.reload();
          syncScrapers();
        }),
      );
      syncScrapers();
      evaluator.start();
      scheduler.start();
      loops = [loop(evaluateDefinitions, 1_000), loop(async () => streams?.sync(), 1_000)];
      flushTimer = setInterval(() => void store.flush().catch(() => undefined), o.flushIntervalMs ?? 1_000);
      flushTimer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      if (flushTimer) clearInterval(flushTimer);
      for (const u of unsubscribe.splice(0)) u();
      const running = [...scrapers.values()].map((v) => v.scraper.stop());
      scrapers.clear();
      await Promise.all(running);
      await Promise.all([evaluator.stop(), scheduler.stop(), streams?.stop(), ...loops]);
      await store.flush().catch(() => undefined);
    },
    ingest,
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

    listDefinitions: (tenant, deployment) => merged('metrics', runtime.metric, tenant).filter((d) => inDeployment(d, deployment)).map(defView),
    getDefinition: (tenant, name, deployment) => defView(lookup('metrics', runtime.metric, tenant, 'metric definition', name, deployment)),
    async putDefinition(name, body, caller) {
      const tenant = tenantOfCaller(caller);
      const { deployment: named = '', ...doc } = body;
      const deployment = named ? mustDeployment(named, tenant).id : '';
      const problems = metricProblems(doc as Record<string, unknown>, []);
      if (problems.length) throw invalid(problems);
      checkExpr(doc.expr, ['expr']);
      const k = key(tenant, deployment, name);
      const created = !runtime.metric.has(k);
      await persist('metric', tenant, deployment, name, doc);
      runtime.metric.set(k, { tenant, deployment, name, source: 'api', spec: normaliseMetric(name, doc) });
      defState.delete(k);
      append('metric.defined', caller.actor, deployment || undefined, name, 'ok', `metric ${name} ${created ? 'added' : 'changed'}: ${doc.expr}`, { name, expr: doc.expr }, tenant);
      return { created, view: defView(runtime.metric.get(k)!) };
    },
    async deleteDefinition(name, deployment, caller) {
      await remove('metric', 'metric definition', merged('metrics', runtime.metric, tenantOfCaller(caller)), runtime.metric, name, deployment, caller);
    },

    listRules(tenant, deployment) {
      const states = evaluator.states();
      return merged('rules', runtime.rule, tenant).filter((r) => inDeployment(r, deployment)).map((r) => ruleView(r, states));
    },
    getRule: (tenant, name, deployment) => ruleView(lookup('rules', runtime.rule, tenant, 'rule', name, deployment), evaluator.states()),
    async putRule(name, body, caller) {
      const tenant = tenantOfCaller(caller);
      const { deployment: named, ...doc } = body;
      const { id: deployment, spec } = mustDeployment(named, tenant);
      const problems = ruleProblems(doc as Record<string, unknown>, [], spec.components as Record<string, unknown>);
      if (problems.length) throw invalid(problems);
      const exprs: { path: (string | number)[]; expr: string }[] = [];
      conditionExprs(doc.when, ['when'], exprs);
      for (const x of exprs) checkExpr(x.expr, x.path);
      const k = key(tenant, deployment, name);
      const created = !runtime.rule.has(k);
      await persist('rule', tenant, deployment, name, doc);
      runtime.rule.set(k, { tenant, deployment, name, source: 'api', spec: normaliseRule(name, doc) });
      evaluator.reload();
      append('rule.defined', caller.actor, deployment, `${deployment}/${doc.component}`, 'ok', `rule ${name} ${created ? 'added' : 'changed'}`, { rule: name });
      return { created, view: ruleView(runtime.rule.get(k)!, evaluator.states()) };
    },
    async deleteRule(name, deployment, caller) {
      await remove('rule', 'rule', merged('rules', runtime.rule, tenantOfCaller(caller)), runtime.rule, name, deployment, caller);
      evaluator.reload();
    },

    listSchedules: (tenant, deployment) => merged('schedules', runtime.schedule, tenant).filter((s) => inDeployment(s, deployment)).map(scheduleView),
    getSchedule: (tenant, name, deployment) => scheduleView(lookup('schedules', runtime.schedule, tenant, 'schedule', name, deployment)),
    async putSchedule(name, body, caller) {
      const tenant = tenantOfCaller(caller);
      const { deployment: named, ...doc } = body;
      const { id: deployment, spec } = mustDeployment(named, tenant);
      const problems = scheduleProblems(doc as Record<string, unknown>, [], spec.components as Record<string, unknown>);
      if (problems.length) throw invalid(problems);
      const k = key(tenant, deployment, name);
      const created = !runtime.schedule.has(k);
      await persist('schedule', tenant, deployment, name, doc);
      runtime.schedule.set(k, { tenant, deployment, name, source: 'api', spec: normaliseSchedule(name, doc) });
      scheduler.reload();
      append('schedule.defined', caller.actor, deployment, `${deployment}/${doc.component}`, 'ok', `schedule ${name} ${created ? 'added' : 'changed'}`, { schedule: name });
      return { created, view: scheduleView(runtime.schedule.get(k)!) };
    },
    async deleteSchedule(name, deployment, caller) {
      await remove('schedule', 'schedule', merged('schedules', runtime.schedule, tenantOfCaller(caller)), runtime.schedule, name, deployment, caller);
      scheduler.reload();
    },

    listScrapeTargets: (tenant, deployment) => merged('scrape', runtime.scrape, tenant).filter((t) => inDeployment(t, deployment)).map(scrapeView),
    getScrapeTarget: (tenant, name, deployment) => scrapeView(lookup('scrape', runtime.scrape, tenant, 'scrape target', name, deployment)),
    async putScrapeTarget(name, body, caller) {
      const tenant = tenantOfCaller(caller);
      const { deployment: named = '', ...doc } = body;
      const deployment = named ? mustDeployment(named, tenant).id : '';
      const problems = scrapeProblems(doc as Record<string, unknown>, []);
      if (problems.length) throw invalid(problems);
      const k = key(tenant, deployment, name);
      const created = !runtime.scrape.has(k);
      await persist('scrape', tenant, deployment, name, doc);
      runtime.scrape.set(k, { tenant, deployment, name, source: 'api', spec: normaliseScrape(name, doc) });
      syncScrapers();
      append('scrape.defined', caller.actor, deployment || undefined, name, 'ok', `scrape target ${name} ${created ? 'added' : 'changed'}: ${doc.url}`, { name, url: doc.url }, tenant);
      return { created, view: scrapeView(runtime.scrape.get(k)!) };
    },
    async deleteScrapeTarget(name, deployment, caller) {
      await remove('scrape', 'scrape target', merged('scrape', runtime.scrape, tenantOfCaller(caller)), runtime.scrape, name, deployment, caller);
      syncScrapers();
    },

    listMonitors: (d, i, caller) => monitors.list(ids.id(tenantOfCaller(caller), d), i, caller),
    setMonitor: (d, i, id, body, caller) => monitors.set(ids.id(tenantOfCaller(caller), d), i, id, body, caller),
    removeMonitor: (d, i, id, caller) => monitors.remove(ids.id(tenantOfCaller(caller), d), i, id, caller),

    evaluateRules: () => evaluator.evaluateNow(),
    async selfMetrics() {
      self.set('nubis_metric_definitions', {}, merged('metrics', runtime.metric).length);
      self.set('nubis_rules', {}, merged('rules', runtime.rule).length);
      self.set('nubis_schedules', {}, merged('schedules', runtime.schedule).length);
      // work the engine has not finished: instances not yet running, or leaving; nodes not yet running
      let pendingInstances = 0;
      for (const d of engine.deployments.keys()) {
        for (const i of engine.instancesOf(d)) if (!i.desired || i.phase !== 'running') pendingInstances++;
      }
      let pendingNodes = 0;
      for (const n of engine.nodes.values()) if (n.status !== 'running') pendingNodes++;
      self.set('nubis_engine_pending_instances', {}, pendingInstances);
      self.set('nubis_engine_pending_nodes', {}, pendingNodes);
      const es = engine.stats();
      self.set('nubis_engine_reconcile_passes_total', {}, es.passes);
      self.set('nubis_engine_reconcile_seconds_total', {}, es.passMsTotal / 1000);
      self.set('nubis_engine_reconcile_last_seconds', {}, es.lastPassMs / 1000);
      self.set('nubis_engine_queue_depth', {}, es.queued);
      self.set('nubis_engine_actions_in_flight', {}, es.inflight);
      const st = (store as { stats?: () => { series: number; points: number } }).stats?.();
      if (st) {
        self.set('nubis_metric_store_series', {}, st.series);
        self.set('nubis_metric_store_points', {}, st.points);
      }
      return self.render();
    },
  };
}
