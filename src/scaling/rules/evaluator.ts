/**
 * The rule evaluator: evaluates each rule on its interval (and exactly at the moment its
 * `for` duration completes), and scales components through a callback. Runs on a `Clock`.
 *
 * Per component it keeps a cooldown (after any rule scaled it, rules wait the acting rule's
 * `cooldown`) and a history of recommendations for scale-down stabilization: every
 * evaluation recommends a count — the highest bounded target of the rules whose conditions
 * hold right now (ignoring `for`), or the current desired count when none holds — and a
 * scale-in goes only down
 * to the highest recommendation in the rule's `stabilization` window (as Kubernetes HPA
 * does). Until the evaluator has watched a component for a whole window, the current count
 * counts as a recommendation, so a fresh start never scales in early.
 *
 * Every firing is a `rule.fired` report and a sample of `nubis.rule.fired`; every suppression
 * (`cooldown`, `bounds`, `stabilization`, `superseded` by another rule of the same component
 * acting in the same evaluation) is a sample of `nubis.rule.suppressed` each time, and a
 * `rule.suppressed` report when the reason first appears (not every evaluation, to keep the
 * audit log readable). Unknown conditions from missing data are a `rule.nodata` report when
 * they begin; a failed scale call is `rule.failed`.
 *
 * Waking on data: besides its interval (and its `for` deadline), a rule is evaluated when new
 * samples of a series it reads arrive (`dataArrived`, called by ingest), at most once per
 * `minDataGapMs` — so a sample reaches the scale call in the time of one store flush and one
 * query, not one interval. A `rule.fired` report carries what made the rule act: the observed
 * values per instance with their thresholds (`observed`), the ready instances (`instances`)
 * and the rule's thresholds (`thresholds`); when data woke the evaluation, `dataArrivedAtMs`
 * says when the latest data before it was ingested.
 */
import { createWakeLoop, type Clock } from '../../clock/index.js';
import { toNubisError } from '../../errors/index.js';
import type { RuleSpec } from '../../model/index.js';
import type { QueryResult, Sample } from '../../metrics/index.js';
import { boundedTarget, capOf, type Cap } from './action.js';
import { evaluateCondition, type Observation, type Truth } from './condition.js';
import { readsAny, ruleReads, type RuleReads } from './reads.js';

export interface RuleEntry {
  deployment: string;
  /** The deployment as its series' `deployment` label names it, when not `deployment`. */
  label?: string;
  rule: RuleSpec;
}

export interface ComponentSnapshot {
  desired: number;
  min: number;
  max: number;
  /** Instances of the component; `ready` means desired and in phase running. */
  instances: { name: string; ready: boolean }[];
}

export type SuppressionReason = 'cooldown' | 'bounds' | 'stabilization' | 'superseded';

export interface RuleReport {
  kind: 'rule.fired' | 'rule.suppressed' | 'rule.nodata' | 'rule.failed';
  deployment: string;
  rule: string;
  component: string;
  at: number;
  reason: string;
  data: Record<string, unknown>;
}

export interface RuleEvaluatorOptions {
  clock: Clock;
  /** An instant query at a time (ms), as the rule's deployment (whose tenant's series it sees). */
  query: (expr: string, tMs: number, deployment: string) => Promise<QueryResult>;
  /** The rules in force; read again after `reload()`. */
  rules: () => RuleEntry[];
  /** The component as the control plane sees it now, or undefined when it does not exist. */
  component: (deployment: string, component: string) => ComponentSnapshot | undefined;
  /** Sets the count (the control plane's scale with actor `rule:<name>`). */
  scale: (deployment: string, component: string, count: number, reason: string, rule: string) => Promise<void>;
  /**
   * The rule asked beyond its range (./action.ts `capOf`): capped at the bound (`applied`, after
   * the scale to it went through) or, when the bound leaves nothing to do, refused (once, when
   * that suppression begins). Failures are ignored.
   */
  capped?: (deployment: string, component: string, cap: Cap & { applied?: number }, rule: string) => Promise<void>;
  report?: (r: RuleReport) => void;
  /** Samples of nubis.rule.* series. */
  record?: (samples: Sample[]) => void;
  /** Called after each rule evaluation, for self-metrics. */
  onEvaluation?: (rule: string, ms: number, truth: Truth) => void;
  /** Longest sleep between looks at the rule list. Default 30 000. */
  maxSleepMs?: number;
  /** Runs before each evaluation (the service flushes the store so new samples are visible). */
  beforeEvaluate?: () => Promise<void>;
  /** Least time between two evaluations of a rule woken by data. Default 100. */
  minDataGapMs?: number;
}

export interface RuleState {
  deployment: string;
  rule: string;
  truth: Truth | 'never';
  holdingSince?: number;
  lastEvaluation?: number;
  missing: string[];
}

export interface RuleEvaluator {
  start(): void;
  stop(): Promise<void>;
  /** Re-reads the rules now. */
  reload(): void;
  /** Evaluates every rule now, whatever its interval; for tests and the API. */
  evaluateNow(): Promise<void>;
  /**
   * New samples arrived for a deployment (the id its rules are kept under) with these metric
   * names: the rules of that deployment that read one of them are evaluated soon.
   */
  dataArrived(deployment: string, names: Iterable<string>): void;
  states(): RuleState[];
}

interface PerRule {
  entry: RuleEntry;
  json: string;
  nextEval: number;
  lastEval?: number;
  holdSince?: number;
  truth: Truth | 'never';
  missing: string[];
  lastSuppression?: string;
  nodataReported: boolean;
  reads: RuleReads;
  /** New data for a series it reads came in since its last evaluation. */
  dataPending: boolean;
  /** When the latest of that data came in. */
  dataAt?: number;
  observed: Observation[];
}

interface PerComponent {
  firstSeen: number;
  lastScaledAt?: number;
  history: { t: number; rec: number }[];
}

const HISTORY_MAX_MS = 24 * 3_600_000;

export function createRuleEvaluator(o: RuleEvaluatorOptions): RuleEvaluator {
  const clock = o.clock;
  const maxSleep = o.maxSleepMs ?? 30_000;
  const minDataGap = o.minDataGapMs ?? 100;
  const rules = new Map<string, PerRule>();
  const comps = new Map<string, PerComponent>();
  let dirty = true;

  const ruleKey = (e: RuleEntry): string => `${e.deployment}/${e.rule.name}`;
  const compKey = (e: RuleEntry): string => `${e.deployment}/${e.rule.component}`;

  function sync(): void {
    const now = clock.now();
    const seen = new Set<string>();
    for (const entry of o.rules()) {
      const key = ruleKey(entry);
      seen.add(key);
      const json = JSON.stringify(entry.rule);
      const old = rules.get(key);
      if (old && old.json === json) {
        old.entry = entry;
        continue;
      }
      // new or changed: its `for` starts over
      rules.set(key, { entry, json, nextEval: now, truth: 'never', missing: [], nodataReported: false, reads: ruleReads(entry.rule.when), dataPending: false, observed: [] });
    }
    for (const key of [...rules.keys()]) if (!seen.has(key)) rules.delete(key);
    dirty = false;
  }

  function comp(key: string, now: number): PerComponent {
    let c = comps.get(key);
    if (!c) comps.set(key, (c = { firstSeen: now, history: [] }));
    return c;
  }

  /** Highest recommendation made within the window (now − window, now]. */
  function windowMax(c: PerComponent, windowMs: number, now: number): number {
    if (windowMs <= 0) return Number.NEGATIVE_INFINITY;
    let best = Number.NEGATIVE_INFINITY;
    for (const h of c.history) if (h.t > now - windowMs) best = Math.max(best, h.rec);
    return best;
  }

  function sample(name: string, labels: Record<string, string>, t: number, v: number): Sample {
    return { name, labels, t, v };
  }

  /** Records a suppression; reports it when the reason is new (returns whether it did). */
  function suppress(r: PerRule, now: number, reason: SuppressionReason, target: number, current: number, out: Sample[], cap?: Cap): boolean {
    const { deployment, rule } = r.entry;
    out.push(sample('nubis.rule.suppressed', { deployment, component: rule.component, rule: rule.name, reason }, now, 1));
    if (r.lastSuppression === reason) return false;
    r.lastSuppression = reason;
    const beyond = cap ? `; it asked for ${cap.wanted}, beyond ${cap.bound} ${cap.limit} (${cap.limitOf})` : '';
    o.report?.({
      kind: 'rule.suppressed', deployment, rule: rule.name, component: rule.component, at: now,
      reason: `${rule.name} wanted ${rule.component} at ${target} (now ${current}); suppressed by ${reason}${beyond}`,
      data: { reason, from: current, to: target, ...(cap ? { wanted: cap.wanted, bound: cap.bound, limit: cap.limit, limitOf: cap.limitOf } : {}) },
    });
    return true;
  }

  async function reportCap(r: PerRule, cap: Cap & { applied?: number }): Promise<void> {
    const { deployment, rule } = r.entry;
    await o.capped?.(deployment, rule.component, cap, rule.name).catch(() => undefined);
  }

  /** Evaluates the given rules at `now` and acts. */
  async function evaluate(due: PerRule[], now: number): Promise<void> {
    const cache = new Map<string, Promise<QueryResult>>();
    const queryFor = (deployment: string) => (expr: string): Promise<QueryResult> => {
      const k = `${deployment}\u0000${expr}`;
      let p = cache.get(k);
      if (!p) cache.set(k, (p = o.query(expr, now, deployment)));
      return p;
    };
    const samples: Sample[] = [];
    const wokenAt = new Map<PerRule, number>();
    for (const r of due) {
      if (r.dataPending && r.dataAt !== undefined) wokenAt.set(r, r.dataAt);
      r.dataPending = false;
      r.dataAt = undefined;
    }
    if (o.beforeEvaluate) await o.beforeEvaluate().catch(() => undefined);
    const byComp = new Map<string, { snap: ComponentSnapshot; ready: string[]; recs: number[]; firing: { r: PerRule; target: number }[] }>();
    for (const r of due) {
      const { deployment, rule } = r.entry;
      r.lastEval = now;
      r.nextEval = now + rule.intervalMs;
      const snap = o.component(deployment, rule.component);
      if (!snap) {
        r.truth = 'unknown';
        r.holdSince = undefined;
        r.missing = [`deployment ${deployment} has no component ${rule.component}`];
        continue;
      }
      const t0 = performance.now();
      const ready = snap.instances.filter((i) => i.ready).map((i) => i.name);
      const { truth, missing, observed } = await evaluateCondition(rule.when, { deployment: r.entry.label ?? deployment, ready, desired: snap.desired, query: queryFor(deployment) });
      o.onEvaluation?.(rule.name, performance.now() - t0, truth);
      r.truth = truth;
      r.missing = truth === 'unknown' ? missing : [];
      r.observed = observed;
      const labels = { deployment, component: rule.component, rule: rule.name };
      if (truth !== 'unknown') samples.push(sample('nubis.rule.condition', labels, now, truth ? 1 : 0));
      if (truth === 'unknown' && !r.nodataReported) {
        r.nodataReported = true;
        o.report?.({
          kind: 'rule.nodata', deployment, rule: rule.name, component: rule.component, at: now,
          reason: `${rule.name}: condition unknown (treated as not holding): ${missing.join('; ') || 'no data'}`,
          data: { missing },
        });
      } else if (truth !== 'unknown') r.nodataReported = false;
      if (truth !== true) {
        r.holdSince = undefined;
        r.lastSuppression = undefined;
      } else r.holdSince ??= now;

      const key = compKey(r.entry);
      let g = byComp.get(key);
      if (!g) byComp.set(key, (g = { snap, ready, recs: [], firing: [] }));
      const target = boundedTarget(rule.action, snap.desired, snap);
      if (truth === true) g.recs.push(target);
      if (truth === true && rule.enabled && now - r.holdSince! >= rule.forMs) g.firing.push({ r, target });
    }

    for (const [key, g] of byComp) {
      const c = comp(key, now);
      const current = g.snap.desired;
      // what the evaluation recommends: the highest target of the rules that hold, else stay
      c.history.push({ t: now, rec: g.recs.length > 0 ? Math.max(...g.recs) : current });
      while (c.history.length > 1 && c.history[1]!.t <= now - HISTORY_MAX_MS) c.history.shift();
      if (c.history.length > 10_000) c.history.splice(0, c.history.length - 10_000);
      g.firing.sort((a, b) => b.target - a.target);
      let acted = false;
      for (const { r, target: wanted } of g.firing) {
        const { deployment, rule } = r.entry;
        if (acted) {
          suppress(r, now, 'superseded', wanted, current, samples);
          continue;
        }
        if (c.lastScaledAt !== undefined && now - c.lastScaledAt < rule.cooldownMs) {
          suppress(r, now, 'cooldown', wanted, current, samples);
          continue;
        }
        const cap = capOf(rule.action, current, g.snap);
        if (wanted === current) {
          if (suppress(r, now, 'bounds', wanted, current, samples, cap) && cap) await reportCap(r, cap);
          continue;
        }
        let target = wanted;
        if (target < current) {
          // before the evaluator has watched a whole window, the current count stands in
          const watched = now - c.firstSeen >= rule.stabilizationMs;
          const highest = watched ? windowMax(c, rule.stabilizationMs, now) : current;
          target = Math.max(target, Math.min(current, highest));
          if (target >= current) {
            suppress(r, now, 'stabilization', wanted, current, samples);
            continue;
          }
        }
        acted = true;
        const reason = `rule ${rule.name}: ${describeAction(rule)} (${current} → ${target})`;
        try {
          await o.scale(deployment, rule.component, target, reason, rule.name);
          c.lastScaledAt = now;
          r.lastSuppression = undefined;
          samples.push(sample('nubis.rule.fired', { deployment, component: rule.component, rule: rule.name }, now, target));
          o.report?.({
            kind: 'rule.fired', deployment, rule: rule.name, component: rule.component, at: now, reason,
            data: {
              from: current, to: target, wanted, holdingSinceMs: r.holdSince, forMs: rule.forMs,
              observed: r.observed, instances: g.ready, thresholds: thresholdsOf(rule.when),
              ...(wokenAt.has(r) ? { dataArrivedAtMs: wokenAt.get(r) } : {}),
              ...(cap ? { capped: { wanted: cap.wanted, bound: cap.bound, limit: cap.limit, limitOf: cap.limitOf } } : {}),
            },
          });
          if (cap && target === cap.limit) await reportCap(r, { ...cap, applied: target });
        } catch (e) {
          const err = toNubisError(e);
          o.report?.({
            kind: 'rule.failed', deployment, rule: rule.name, component: rule.component, at: now,
            reason: `${reason} failed: ${err.message}`, data: { from: current, to: target, code: err.code },
          });
        }
      }
    }
    if (samples.length > 0) o.record?.(samples);
  }

  /** When each rule wants to run next: its interval, or the instant its `for` completes. */
  function wakeAt(r: PerRule): number {
    let at = r.nextEval;
    if (r.dataPending) at = Math.min(at, (r.lastEval ?? 0) + minDataGap);
    if (r.holdSince !== undefined && r.entry.rule.forMs > 0) {
      const deadline = r.holdSince + r.entry.rule.forMs;
      if (r.lastEval === undefined || deadline > r.lastEval) at = Math.min(at, deadline);
    }
    return at;
  }

  /** One pass: the rules that are due are evaluated; the next pass is when the soonest wants to run. */
  async function pass(now: number): Promise<number> {
    if (dirty) sync();
    const due = [...rules.values()].filter((r) => wakeAt(r) <= now);
    if (due.length > 0) {
      try {
        await evaluate(due, now);
      } catch {
        // evaluate reports its own failures; never let the loop die
      }
      return now;
    }
    return Math.min(...[...rules.values()].map(wakeAt), Infinity);
  }
  const loop = createWakeLoop({ clock, pass, maxSleepMs: maxSleep, minSleepMs: 1 });

  return {
    start() {
      if (loop.running) return;
      dirty = true;
      loop.start();
    },
    stop: () => loop.stop(),
    reload() {
      dirty = true;
      loop.wake();
    },
    dataArrived(deployment, names) {
      const arrived = [...names];
      let woke = false;
      for (const r of rules.values()) {
        if (r.entry.deployment !== deployment || !readsAny(r.reads, arrived)) continue;
        r.dataAt = clock.now();
        if (r.dataPending) continue;
        r.dataPending = true;
        woke = true;
      }
      if (woke) loop.wake();
    },
    async evaluateNow() {
      if (dirty) sync();
      await evaluate([...rules.values()], clock.now());
    },
    states() {
      if (dirty) sync();
      return [...rules.values()].map((r) => ({
        deployment: r.entry.deployment,
        rule: r.entry.rule.name,
        truth: r.truth,
        ...(r.holdSince !== undefined ? { holdingSince: r.holdSince } : {}),
        ...(r.lastEval !== undefined ? { lastEvaluation: r.lastEval } : {}),
        missing: r.missing,
      }));
    },
  };
}

/** The bounds every comparison of a condition holds its query to, with the quantifier. */
export function thresholdsOf(c: RuleSpec['when']): { kind: string; expr: string; instances?: number; above?: number; below?: number; atOrAbove?: number; atOrBelow?: number }[] {
  if (c.kind === 'not') return thresholdsOf(c.of).map((t) => ({ ...t, kind: `not ${t.kind}` }));
  if ('of' in c) return c.of.flatMap(thresholdsOf);
  const b = 'cmp' in c ? c.cmp : c.bounds;
  const out: { kind: string; expr: string; instances?: number; above?: number; below?: number; atOrAbove?: number; atOrBelow?: number } = {
    kind: c.kind, expr: 'cmp' in c ? c.cmp.expr : 'count', ...(c.kind === 'atLeast' ? { instances: c.instances } : {}),
  };
  for (const k of ['above', 'below', 'atOrAbove', 'atOrBelow'] as const) if (b[k] !== undefined) out[k] = b[k];
  return [out];
}

export function describeAction(rule: RuleSpec): string {
  const a = rule.action;
  if (a.kind === 'to') return `scale ${rule.component} to ${a.count}`;
  const by = a.by !== undefined ? `${a.by}` : `${a.percent}% (at least ${a.minStep})`;
  return `scale ${rule.component} ${a.kind} by ${by}`;
}
