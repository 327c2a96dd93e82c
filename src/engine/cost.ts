/**
 * Cost and budgets (issue 11 item 6). Each node's running intervals are recorded (store
 * `node_usage`) from its `node.state` events: one opens when the cloud first says it runs, and
 * closes when it is deleted or the cloud lost it; each carries the price of its offer
 * (registered clouds' offers, `pricePerHour`) in integer micro-units of the cloud's currency per
 * hour, so sums are exact: cost = Σ price × running ms / 3 600 000, rounded once per total.
 * Leaked extras the provider prices (the leak guard's `pricePerHour`) count from their first
 * sighting until deleted or gone.
 *
 * Budgets are monthly (UTC calendar months), per tenant or per deployment: crossing a threshold
 * (default 80 % and 100 %) is a `budget.warning` or `budget.exceeded` event (alerts), once per
 * threshold and month; `budget.ok` when it is back below 100 %. A budget with `hardStop` refuses
 * new nodes while exceeded (BUDGET_EXCEEDED at plan, apply and scale, and for creates the engine
 * would start); running nodes are never stopped by it.
 *
 * Failure meaning: recording and checking never throw into the engine (a failed write is
 * retried by the next check, which re-derives open intervals from the nodes); the API methods
 * throw NubisError (REQUEST_INVALID with the JSON path, NOT_FOUND).
 */
import type { Clock } from '../clock/index.js';
import type { EventLog, NubisEvent } from '../events/index.js';
import { NubisError } from '../errors/index.js';
import { ADMIN_TENANT, deploymentId, splitDeploymentId, type NodeUsageRow, type Store } from '../store/index.js';
import type { Engine } from './engine.js';
import type { Deployment } from './state.js';

export const MICROS = 1_000_000;
const HOUR_MS = 3_600_000n;

export interface Budget {
  /** Per calendar month, in the cloud's currency. */
  amount: number;
  /** Percentages that warn, ascending. Default [80, 100]. */
  thresholds: number[];
  /** Refuse new nodes while the budget is exceeded. Default false. */
  hardStop: boolean;
}

export interface BudgetView extends Budget {
  /** The deployment's bare name; absent for the tenant's budget. */
  deployment?: string;
  month: string;
  spentMicros: number;
  spent: string;
  percent: number;
  exceeded: boolean;
}

export interface CostRow {
  /** The day (`YYYY-MM-DD`, UTC) or the deployment (bare name; `(leaked extras)` for those). */
  key: string;
  micros: number;
  /** Node running time counted, in ms (for extras: their time open). */
  ms: number;
}

export interface CostReport {
  from: string;
  to: string;
  by: 'day' | 'deployment';
  /** Amounts are integer micro-units of the clouds' currency (1 = 0.000001). */
  unit: 'micro';
  totalMicros: number;
  /** The total as a decimal string. */
  total: string;
  rows: CostRow[];
  /** Running time of nodes whose offer has no known price (not counted). */
  unpricedMs: number;
}

export interface CostServiceOptions {
  engine: Engine;
  store: Store;
  events: EventLog;
  clock: Clock;
  /** The price per hour of a registered cloud's offer, in the cloud's currency, when known. */
  price: (tenant: string, cloud: string, offer: string | undefined) => number | undefined;
  /** How often budgets are checked. Default 60 000. */
  checkIntervalMs?: number;
}

/** `123.456789` from micro-units. */
export function formatMicros(m: number): string {
  const sign = m < 0 ? '-' : '';
  const a = Math.abs(m);
  return `${sign}${Math.floor(a / MICROS)}.${String(a % MICROS).padStart(6, '0')}`;
}

const monthOf = (ms: number): string => new Date(ms).toISOString().slice(0, 7);
const monthStart = (ms: number): number => { const d = new Date(ms); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1); };
const DAY_MS = 86_400_000;
/** Rounds Σ price × ms to micro-units (half up). */
const toMicros = (priceMs: bigint): number => Number((priceMs + HOUR_MS / 2n) / HOUR_MS);

/** Validates a budget body; REQUEST_INVALID naming the JSON path. */
export function parseBudget(v: unknown): Budget {
  const bad = (path: string, expected: string, found: unknown): NubisError =>
    new NubisError('REQUEST_INVALID', `$.${path}: expected ${expected}, found ${JSON.stringify(found)}`, { details: { path: `$.${path}` } });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('', 'an object { amount, thresholds?, hardStop? }', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['amount', 'thresholds', 'hardStop'].includes(k)) throw bad(k, 'no such field (amount, thresholds, hardStop)', o[k]);
  const amount = o['amount'];
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0 || amount > 1e12) throw bad('amount', 'a number > 0 (per month)', amount);
  const th = o['thresholds'] ?? [80, 100];
  if (!Array.isArray(th) || th.length === 0 || th.length > 10 || !th.every((t) => Number.isInteger(t) && t > 0 && t <= 1000)) throw bad('thresholds', 'a list of 1–10 integer percentages in 1..1000', th);
  const hardStop = o['hardStop'] ?? false;
  if (typeof hardStop !== 'boolean') throw bad('hardStop', 'a boolean', hardStop);
  return { amount, thresholds: [...new Set(th as number[])].sort((a, b) => a - b), hardStop };
}

export class CostService {
  private chain: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private timer: AbortController | undefined;
  /** Budgets over their amount with a hard stop: `${tenant}\0${deployment id or ''}` → why. */
  private readonly stopped = new Map<string, NubisError>();
  /** Budgets over 100 % now (to say `budget.ok` when they are back). */
  private readonly over = new Set<string>();
  private readonly checkMs: number;

  constructor(private readonly o: CostServiceOptions) {
    this.checkMs = o.checkIntervalMs ?? 60_000;
  }

  /** Subscribes to node state changes, records the intervals of nodes already running, and checks budgets periodically. */
  async start(): Promise<void> {
    this.unsubscribe = this.o.events.subscribe({ kind: 'node.state' }, (e) => this.onNodeState(e));
    await this.reconcile();
    await this.check().catch(() => undefined);
    const t = (this.timer = new AbortController());
    void (async () => {
      while (!t.signal.aborted) {
        await this.o.clock.sleep(this.checkMs, t.signal).catch(() => undefined);
        if (t.signal.aborted) break;
        await this.reconcile().catch(() => undefined);
        await this.check().catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.timer?.abort();
    await this.chain;
  }

  /** Resolves once every recorded change has been written. */
  flush(): Promise<void> {
    return this.chain;
  }

  private queue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch(() => undefined);
  }

  private usageRow(key: string, at: number): NodeUsageRow | undefined {
    const { engine } = this.o;
    const n = engine.nodes.get(key);
    const d = n ? engine.deployments.get(n.deployment) : undefined;
    if (!n || !d) return undefined;
    const offer = n.placement?.offer;
    const price = this.o.price(d.tenant, n.placement?.cloud ?? n.cloud, offer);
    return {
      key, started_at: at, ended_at: null, tenant: d.tenant, deployment: d.name, cloud: n.cloud, offer: offer ?? null,
      price_micros: price === undefined ? null : Math.round(price * MICROS),
    };
  }

  private onNodeState(e: NubisEvent): void {
    const key = e.target;
    if (!key) return;
    const at = Date.parse(e.ts);
    if (e.outcome === 'running') {
      const row = this.usageRow(key, at);
      if (row) this.queue(() => this.o.store.leaks.openUsage(row));
    } else if (e.outcome === 'deleted' || e.outcome === 'pending') {
      this.queue(() => this.o.store.leaks.closeUsage(key, at));
    }
  }

  /** Opens intervals of running nodes that have none (recorded before a restart) and closes those of nodes gone. */
  async reconcile(): Promise<void> {
    const { engine, store, clock } = this.o;
    await this.chain;
    const open = new Map((await store.leaks.openUsageRows()).map((r) => [r.key, r]));
    for (const n of engine.nodes.values()) {
      if (n.runningAt === undefined || open.has(n.key) || !(n.status === 'running' || n.status === 'provisioning' || n.status === 'deleting')) continue;
      const row = this.usageRow(n.key, n.runningAt);
      if (row) await store.leaks.openUsage(row);
    }
    for (const [key] of open) {
      const n = engine.nodes.get(key);
      if (!n || n.status === 'pending') await store.leaks.closeUsage(key, clock.now());
    }
  }

  /** The cost of a tenant (every tenant's for the administrator with `all`) over [from, to). */
  async report(tenant: string | undefined, from: number, to: number, by: 'day' | 'deployment'): Promise<CostReport> {
    await this.chain;
    const now = this.o.clock.now();
    const groups = new Map<string, { priceMs: bigint; ms: number }>();
    const add = (key: string, price: number, ms: number): void => {
      const g = groups.get(key) ?? { priceMs: 0n, ms: 0 };
      g.priceMs += BigInt(price) * BigInt(ms);
      g.ms += ms;
      groups.set(key, g);
    };
    let unpricedMs = 0;
    let total = 0n;
    const spread = (key: string | undefined, price: number, s: number, e: number): void => {
      total += BigInt(price) * BigInt(e - s);
      if (key !== undefined) return add(key, price, e - s);
      for (let t = s; t < e; ) {
        const next = Math.min(e, Math.floor(t / DAY_MS) * DAY_MS + DAY_MS);
        add(new Date(t).toISOString().slice(0, 10), price, next - t);
        t = next;
      }
    };
    const name = (dep: string): string => (tenant === undefined || tenant === ADMIN_TENANT ? dep : splitDeploymentId(dep).name);
    for (const r of await this.o.store.leaks.usage({ ...(tenant !== undefined ? { tenant } : {}), from, to })) {
      const s = Math.max(Number(r.started_at), from);
      const e = Math.min(r.ended_at === null ? now : Number(r.ended_at), to);
      if (e <= s) continue;
      if (r.price_micros === null) {
        unpricedMs += e - s;
        continue;
      }
      spread(by === 'deployment' ? name(r.deployment) : undefined, Number(r.price_micros), s, e);
    }
    for (const l of await this.o.store.leaks.leaks({ ...(tenant !== undefined ? { tenant } : {}), all: true })) {
      const price = (JSON.parse(l.data_json) as { pricePerHour?: number }).pricePerHour;
      if (price === undefined) continue;
      const s = Math.max(Number(l.first_seen), from);
      const e = Math.min(l.ended_at === null ? now : Number(l.ended_at), to);
      if (e > s) spread(by === 'deployment' ? '(leaked extras)' : undefined, Math.round(price * MICROS), s, e);
    }
    const rows = [...groups].map(([key, g]) => ({ key, micros: toMicros(g.priceMs), ms: g.ms })).sort((a, b) => a.key.localeCompare(b.key));
    const totalMicros = toMicros(total);
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), by, unit: 'micro', totalMicros, total: formatMicros(totalMicros), rows, unpricedMs };
  }

  /** Month-to-date spend of a budget's scope, in micro-units. */
  private async spent(tenant: string, deployment: string, now: number): Promise<number> {
    const r = await this.report(tenant, monthStart(now), now, 'deployment');
    if (deployment === '') return r.totalMicros;
    return r.rows.find((x) => x.key === (tenant === ADMIN_TENANT ? deployment : splitDeploymentId(deployment).name))?.micros ?? 0;
  }

  /** Checks every budget: events at thresholds crossed, the hard stops in force. */
  async check(): Promise<void> {
    const { store, clock, events } = this.o;
    const now = clock.now();
    const month = monthOf(now);
    for (const row of await store.leaks.budgets()) {
      const b = JSON.parse(row.budget_json) as Budget;
      const id = `${row.tenant}\0${row.deployment}`;
      const spent = await this.spent(row.tenant, row.deployment, now);
      const budgetMicros = Math.round(b.amount * MICROS);
      const percent = (spent / budgetMicros) * 100;
      const crossed = b.thresholds.filter((t) => percent >= t).pop() ?? 0;
      const mark = await store.leaks.budgetMark(row.tenant, row.deployment, month);
      const scope = row.deployment === '' ? `tenant ${row.tenant}` : `deployment ${splitDeploymentId(row.deployment).name}`;
      const target = `budget:${row.deployment === '' ? row.tenant : row.deployment}`;
      const data = { amount: b.amount, spentMicros: spent, spent: formatMicros(spent), percent: Math.round(percent * 100) / 100, month, hardStop: b.hardStop };
      const base = { actor: 'engine', tenant: row.tenant, target, ts: now, ...(row.deployment ? { deployment: row.deployment } : {}) };
      if (crossed > mark) {
        await store.leaks.setBudgetMark(row.tenant, row.deployment, month, crossed);
        const exceeded = crossed >= 100;
        await events.append({
          ...base, kind: exceeded ? 'budget.exceeded' : 'budget.warning', outcome: exceeded ? 'exceeded' : 'warning',
          reason: `${scope} spent ${formatMicros(spent)} of ${b.amount} this month (${data.percent} %, threshold ${crossed} %)${exceeded && b.hardStop ? '; new nodes are refused (hard stop), running ones keep running' : ''}`,
          data: { ...data, threshold: crossed },
        });
      }
      if (percent >= 100) {
        this.over.add(id);
        if (b.hardStop) {
          this.stopped.set(id, new NubisError('BUDGET_EXCEEDED', `the monthly budget of ${scope} (${b.amount}) is used up: ${formatMicros(spent)} spent in ${month}; no new node is created (running ones keep running) until the month ends or the budget is raised (\`nubis budgets set\`)`, {
            details: { tenant: row.tenant, ...(row.deployment ? { deployment: splitDeploymentId(row.deployment).name } : {}), amount: b.amount, spentMicros: spent, month },
          }));
        } else this.stopped.delete(id);
      } else {
        this.stopped.delete(id);
        if (this.over.delete(id) || (mark >= 100 && crossed < 100)) {
          if (crossed < mark) await store.leaks.setBudgetMark(row.tenant, row.deployment, month, crossed);
          await events.append({ ...base, kind: 'budget.ok', outcome: 'ok', reason: `${scope} is within its budget again (${data.percent} %)`, data });
        }
      }
    }
  }

  /** BUDGET_EXCEEDED when a hard-stopped budget of the deployment or its tenant is used up. */
  gate(d: Pick<Deployment, 'name' | 'tenant'>): NubisError | undefined {
    return this.stopped.get(`${d.tenant}\0${d.name}`) ?? this.stopped.get(`${d.tenant}\0`);
  }

  async budgets(tenant: string): Promise<BudgetView[]> {
    const now = this.o.clock.now();
    const out: BudgetView[] = [];
    for (const row of await this.o.store.leaks.budgets()) {
      if (row.tenant !== tenant) continue;
      const b = JSON.parse(row.budget_json) as Budget;
      const spent = await this.spent(row.tenant, row.deployment, now);
      const percent = Math.round((spent / Math.round(b.amount * MICROS)) * 10000) / 100;
      out.push({ ...b, ...(row.deployment ? { deployment: splitDeploymentId(row.deployment).name } : {}), month: monthOf(now), spentMicros: spent, spent: formatMicros(spent), percent, exceeded: percent >= 100 });
    }
    return out;
  }

  /** Sets the tenant's budget (or its deployment's, by bare name), then checks budgets at once. */
  async setBudget(tenant: string, deployment: string | undefined, body: unknown, actor: string): Promise<BudgetView> {
    const b = parseBudget(body);
    const dep = deployment === undefined ? '' : deploymentId(tenant, deployment);
    await this.o.store.leaks.putBudget({ tenant, deployment: dep, budget_json: JSON.stringify(b), updated_at: this.o.clock.now() });
    // a changed budget warns afresh this month
    await this.o.store.leaks.setBudgetMark(tenant, dep, monthOf(this.o.clock.now()), 0);
    await this.o.events.append({ actor, tenant, kind: 'budget.set', target: `budget:${dep || tenant}`, ts: this.o.clock.now(), ...(dep ? { deployment: dep } : {}), data: { ...b } });
    await this.check();
    return (await this.budgets(tenant)).find((v) => (v.deployment ?? '') === (deployment ?? ''))!;
  }

  async deleteBudget(tenant: string, deployment: string | undefined, actor: string): Promise<void> {
    const dep = deployment === undefined ? '' : deploymentId(tenant, deployment);
    const removed = await this.o.store.leaks.deleteBudget(tenant, dep);
    if (!removed && deployment !== undefined) throw new NubisError('NOT_FOUND', `no budget for deployment ${deployment}`);
    if (!removed) return;
    this.stopped.delete(`${tenant}\0${dep}`);
    this.over.delete(`${tenant}\0${dep}`);
    await this.o.events.append({ actor, tenant, kind: 'budget.removed', target: `budget:${dep || tenant}`, ts: this.o.clock.now(), ...(dep ? { deployment: dep } : {}) });
  }
}
