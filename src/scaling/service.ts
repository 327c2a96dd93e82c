/**
 * Scaling: the policies that act on the engine — rules (./rules) and schedules (./schedule) —
 * from a deployment's spec and from run time (API/CLI), kept in the metrics catalog. Rules read
 * the metric query side and wake when new data for a series they read is ingested (the metrics
 * service's data listener); both scale through the control plane's `scale` with actor
 * `rule:<name>` / `schedule:<name>` and the deployment's tenant.
 *
 * Failure meaning: every method validates its input and throws a NubisError (REQUEST_INVALID
 * with the JSON path, NOT_FOUND, CONFLICT); evaluation and firing failures never throw — they
 * are events (`rule.failed`, `schedule.fired` with outcome error) and counters.
 */
import type { Clock } from '../clock/index.js';
import type { EventLog } from '../events/index.js';
import type { Engine } from '../engine/index.js';
import type { Caller } from '../engine/index.js';
import { desiredCount } from '../engine/index.js';
import type { RuleSpec, ScheduleSpec } from '../model/index.js';
import type { RuleDoc, ScheduleDoc } from '../model/index.js';
import { normaliseRule, normaliseSchedule, ruleProblems, scheduleProblems } from '../model/index.js';
import { DEFAULT_TENANT } from '../registry/index.js';
import {
  checkExpr, invalid, iso, scopeQuery, tenantOfCaller,
  type CatalogKind, type CatalogObject, type ObjectCatalog, type ObjectSource, type QueryResult, type Sample, type SelfMetrics,
} from '../metrics/index.js';
import { createRuleEvaluator, type ComponentSnapshot, type RuleEvaluator, type RuleReport, type RuleState } from './rules/index.js';
import { createScheduler, type ScheduleEvent, type Scheduler } from './schedule/index.js';

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

export interface ScalingServiceOptions {
  clock: Clock;
  /** The metrics catalog the rules and schedules are kept in (metrics.catalog). */
  catalog: ObjectCatalog;
  events: EventLog;
  engine: Pick<Engine, 'deployments' | 'instancesOf'>;
  /** The metric query side (instant queries of the rules). */
  query: { instant(expr: string, timeMs: number): Promise<QueryResult> };
  /** Makes appended samples visible to queries (runs before each rule evaluation). */
  flush: () => Promise<void>;
  /** Stores the rules' and schedules' own series (nubis.rule.*, nubis.schedule.*). */
  ingest: (samples: Sample[], source: string, tenant: string) => void;
  self: SelfMetrics;
  /** The control plane's scale of a deployment (by id); the caller carries the deployment's tenant. */
  scale: (deployment: string, component: string, count: number, caller: Caller) => Promise<unknown>;
  /** The control plane's record of a rule capped at a bound (`scale.refused`, a line on status). */
  refused?: (deployment: string, component: string, cap: { wanted: number; applied?: number; bound: 'max' | 'min'; limit: number; limitOf: string }, caller: Caller) => Promise<unknown>;
  /** Least time between two evaluations of a rule woken by data. Default 100. */
  minDataGapMs?: number;
}

export interface ScalingService {
  start(): void;
  stop(): Promise<void>;
  /** New samples of these metric names for a deployment (id): wakes the rules that read them. */
  dataArrived(deployment: string, names: Iterable<string>): void;
  /** The spec's rules or schedules may have changed (a deployment applied or removed). */
  reload(): void;

  listRules(tenant: string, deployment?: string): RuleView[];
  getRule(tenant: string, name: string, deployment?: string): RuleView;
  putRule(name: string, body: RuleDoc & { deployment: string }, caller: Caller): Promise<{ created: boolean; view: RuleView }>;
  deleteRule(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  listSchedules(tenant: string, deployment?: string): ScheduleView[];
  getSchedule(tenant: string, name: string, deployment?: string): ScheduleView;
  putSchedule(name: string, body: ScheduleDoc & { deployment: string }, caller: Caller): Promise<{ created: boolean; view: ScheduleView }>;
  deleteSchedule(name: string, deployment: string | undefined, caller: Caller): Promise<void>;

  /** Evaluates every rule now (for tests and `nubis rules eval`). */
  evaluateRules(): Promise<void>;
  /** Sets the nubis_rules and nubis_schedules gauges. */
  collect(self: SelfMetrics): void;
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

class Scaling implements ScalingService {
  private readonly rules: CatalogKind<RuleSpec>;
  private readonly schedules: CatalogKind<ScheduleSpec>;
  private readonly evaluator: RuleEvaluator;
  private readonly scheduler: Scheduler;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: ScalingServiceOptions) {
    this.rules = o.catalog.kind('rule', 'rules', 'rule', normaliseRule);
    this.schedules = o.catalog.kind('schedule', 'schedules', 'schedule', normaliseSchedule);
    const tenantOf = (deployment: string): string => o.catalog.deploymentTenant(deployment) ?? DEFAULT_TENANT;
    const ids = o.catalog.o.ids;
    const self = o.self;
    this.evaluator = createRuleEvaluator({
      clock: o.clock,
      beforeEvaluate: o.flush,
      ...(o.minDataGapMs !== undefined ? { minDataGapMs: o.minDataGapMs } : {}),
      query: (expr, t, deployment) => o.query.instant(scopeQuery(expr, tenantOf(deployment)), t),
      rules: () => this.rules.all().map((r) => ({ deployment: r.deployment, label: ids.name(r.deployment), rule: r.spec })),
      component: (d, c) => this.component(d, c),
      scale: async (deployment, component, count, _reason, rule) => {
        self.inc('nubis_scale_requests_total', { source: 'rule' });
        await o.scale(deployment, component, count, { actor: `rule:${rule}`, tenant: tenantOf(deployment), correlationId: `rule-${rule}-${o.clock.now()}` });
      },
      capped: async (deployment, component, cap, rule) => {
        await o.refused?.(deployment, component, cap, { actor: `rule:${rule}`, tenant: tenantOf(deployment) });
      },
      report: (r: RuleReport) => {
        const outcome = r.kind === 'rule.fired' ? 'ok' : r.kind === 'rule.suppressed' ? 'suppressed' : r.kind === 'rule.nodata' ? 'unknown' : 'error';
        if (r.kind === 'rule.fired') self.inc('nubis_rule_firings_total', {});
        if (r.kind === 'rule.failed') self.inc('nubis_rule_failures_total', {});
        o.catalog.append(r.kind, `rule:${r.rule}`, r.deployment, `${r.deployment}/${r.component}`, outcome, r.reason, { rule: r.rule, component: r.component, ...r.data });
      },
      record: (samples) => {
        for (const s of samples) if (s.name === 'nubis.rule.suppressed') self.inc('nubis_rule_suppressions_total', { reason: s.labels['reason'] ?? '' });
        for (const s of samples) {
          const id = s.labels['deployment'] ?? '';
          o.ingest([{ ...s, labels: { ...s.labels, deployment: ids.name(id) } }], 'rules', tenantOf(id));
        }
      },
      onEvaluation: (_rule, ms, truth) => {
        self.inc('nubis_rule_evaluations_total', { result: String(truth) });
        self.observe('nubis_rule_evaluation_seconds', {}, ms / 1000);
      },
    });
    this.scheduler = createScheduler({
      clock: o.clock,
      schedules: () => this.schedules.all().map((s) => ({ deployment: s.deployment, schedule: s.spec })),
      scale: async (deployment, component, count, _reason, schedule) => {
        self.inc('nubis_scale_requests_total', { source: 'schedule' });
        await o.scale(deployment, component, count, { actor: `schedule:${schedule}`, tenant: tenantOf(deployment) });
      },
      emit: (e: ScheduleEvent) => {
        self.inc('nubis_schedule_firings_total', { outcome: e.outcome });
        o.catalog.append(e.kind, `schedule:${e.schedule}`, e.deployment, `${e.deployment}/${e.component}`, e.outcome, e.reason ?? `schedule ${e.schedule}: set ${e.component} to ${e.count}`, {
          schedule: e.schedule, component: e.component, count: e.count, at: new Date(e.at).toISOString(),
        });
        o.ingest([{ name: 'nubis.schedule.fired', labels: { deployment: ids.name(e.deployment), component: e.component, schedule: e.schedule, outcome: e.outcome }, t: o.clock.now(), v: e.count }], 'schedules', tenantOf(e.deployment));
      },
    });
  }

  /** Reads the persisted run-time rules and schedules; returns the rows that did not load. */
  async load(): Promise<string[]> {
    return [...(await this.rules.load()), ...(await this.schedules.load())];
  }

  private component(deployment: string, component: string): ComponentSnapshot | undefined {
    const d = this.o.engine.deployments.get(deployment);
    const c = d?.spec.components[component];
    if (!d || !c) return undefined;
    const instances = this.o.engine
      .instancesOf(deployment)
      .filter((i) => i.component === component)
      .map((i) => ({ name: i.name, ready: i.desired && i.phase === 'running' }));
    return { desired: desiredCount(d, c), min: c.min, max: c.max, instances };
  }

  start(): void {
    // a spec applied or a deployment going away changes the spec's rules and schedules
    this.unsubscribe ??= this.o.events.subscribe({ kind: 'deployment.*' }, (e) => {
      if (e.kind !== 'deployment.scaled') this.reload();
    });
    this.evaluator.start();
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.all([this.evaluator.stop(), this.scheduler.stop()]);
  }

  dataArrived(deployment: string, names: Iterable<string>): void {
    this.evaluator.dataArrived(deployment, names);
  }

  reload(): void {
    this.evaluator.reload();
    this.scheduler.reload();
  }

  private ruleView(r: CatalogObject<RuleSpec>, states: RuleState[]): RuleView {
    const s = states.find((x) => x.deployment === r.deployment && x.rule === r.name);
    return {
      name: r.name,
      deployment: this.o.catalog.o.ids.name(r.deployment),
      source: r.source,
      spec: r.spec,
      state: {
        truth: s ? String(s.truth) : 'never',
        ...(s?.holdingSince !== undefined ? { holdingSince: iso(s.holdingSince)! } : {}),
        ...(s?.lastEvaluation !== undefined ? { lastEvaluation: iso(s.lastEvaluation)! } : {}),
        missing: s?.missing ?? [],
      },
    };
  }

  private scheduleView(s: CatalogObject<ScheduleSpec>): ScheduleView {
    const next = this.scheduler.upcoming().find((u) => u.deployment === s.deployment && u.schedule === s.name);
    return { name: s.name, deployment: this.o.catalog.o.ids.name(s.deployment), source: s.source, spec: s.spec, ...(next ? { nextFire: iso(next.at)! } : {}) };
  }

  listRules(tenant: string, deployment?: string): RuleView[] {
    const states = this.evaluator.states();
    return this.rules.list(tenant, deployment).map((r) => this.ruleView(r, states));
  }

  getRule(tenant: string, name: string, deployment?: string): RuleView {
    return this.ruleView(this.rules.lookup(tenant, name, deployment), this.evaluator.states());
  }

  async putRule(name: string, body: RuleDoc & { deployment: string }, caller: Caller): Promise<{ created: boolean; view: RuleView }> {
    const tenant = tenantOfCaller(caller);
    const { deployment: named, ...doc } = body;
    const { id: deployment, spec } = this.o.catalog.mustDeployment(named, tenant);
    const problems = ruleProblems(doc as Record<string, unknown>, [], spec.components as Record<string, unknown>);
    if (problems.length) throw invalid(problems);
    const exprs: { path: (string | number)[]; expr: string }[] = [];
    conditionExprs(doc.when, ['when'], exprs);
    for (const x of exprs) checkExpr(x.expr, x.path);
    const { created, obj } = await this.rules.put(tenant, deployment, name, doc);
    this.evaluator.reload();
    this.o.catalog.append('rule.defined', caller.actor, deployment, `${deployment}/${doc.component}`, 'ok', `rule ${name} ${created ? 'added' : 'changed'}`, { rule: name });
    return { created, view: this.ruleView(obj, this.evaluator.states()) };
  }

  async deleteRule(name: string, deployment: string | undefined, caller: Caller): Promise<void> {
    await this.rules.remove(name, deployment, caller);
    this.evaluator.reload();
  }

  listSchedules(tenant: string, deployment?: string): ScheduleView[] {
    return this.schedules.list(tenant, deployment).map((s) => this.scheduleView(s));
  }

  getSchedule(tenant: string, name: string, deployment?: string): ScheduleView {
    return this.scheduleView(this.schedules.lookup(tenant, name, deployment));
  }

  async putSchedule(name: string, body: ScheduleDoc & { deployment: string }, caller: Caller): Promise<{ created: boolean; view: ScheduleView }> {
    const tenant = tenantOfCaller(caller);
    const { deployment: named, ...doc } = body;
    const { id: deployment, spec } = this.o.catalog.mustDeployment(named, tenant);
    const problems = scheduleProblems(doc as Record<string, unknown>, [], spec.components as Record<string, unknown>);
    if (problems.length) throw invalid(problems);
    const { created, obj } = await this.schedules.put(tenant, deployment, name, doc);
    this.scheduler.reload();
    this.o.catalog.append('schedule.defined', caller.actor, deployment, `${deployment}/${doc.component}`, 'ok', `schedule ${name} ${created ? 'added' : 'changed'}`, { schedule: name });
    return { created, view: this.scheduleView(obj) };
  }

  async deleteSchedule(name: string, deployment: string | undefined, caller: Caller): Promise<void> {
    await this.schedules.remove(name, deployment, caller);
    this.scheduler.reload();
  }

  evaluateRules(): Promise<void> {
    return this.evaluator.evaluateNow();
  }

  collect(self: SelfMetrics): void {
    self.set('nubis_rules', {}, this.rules.all().length);
    self.set('nubis_schedules', {}, this.schedules.all().length);
  }
}

/**
 * The scaling service over the metrics catalog, with its persisted rules and schedules loaded.
 * Rows that no longer load are reported as a `metrics.load` event.
 */
export async function createScalingService(o: ScalingServiceOptions): Promise<ScalingService> {
  const s = new Scaling(o);
  const errors = await s.load();
  if (errors.length > 0) o.catalog.append('metrics.load', 'scaling', undefined, 'metric_objects', 'error', `could not load: ${errors.join('; ')}`, {});
  return s;
}
