/**
 * Engine actions: what an action task (`edit NUBIS_ACTION '<verb> <args>'`) asks of the control
 * plane, and the wait until it is done. `runAction` resolves with one line saying what was done
 * (the controller completes the task) or rejects with a NubisError whose message says why (the
 * controller aborts the task with it, and ECF_TRIES may retry it).
 *
 * Waiting is event-driven: after asking for a count, the action subscribes to the deployment's
 * events (node and instance state changes) and looks at the deployment again on each one, so it
 * finishes on the event that makes it true. Only `waitMetric` and the optional timeout use the
 * Clock (virtual in tests).
 *
 * Meanings in Nubis (a node template runs as a component's instances):
 * - `start`: scale the component to its spec count (or 1 when the spec says 0: a component that
 *   only a workflow starts) and wait until that many instances run;
 * - `stop`: scale it to 0 and wait until its instances are gone (nothing left that bills);
 * - `scale N`: scale to N and wait until exactly N run (clone N); with a ready-by time
 *   (`NUBIS_READY_BY` on the task: hh:mm or ISO) it first waits on the Clock until the moment
 *   the measured provisioning times say it must start (../pools/ready-by.ts), and reports that
 *   plan through `onProgress` (the task's label);
 * - `destroyPool`: scale the pool's component to 0 and wait until its instances are gone;
 * - `waitMetric`: query until `value op threshold` holds;
 * - `backup`: backs the component up now under each of its backup policies (src/operations/backups), failing with the failed runs; UNAVAILABLE without backups;
 * - `operation`: runs a component's custom operation on its running instances and waits for
 *   every one; the task completes when all succeeded and aborts (HANDLER_FAILED, naming each
 *   failed instance) otherwise. Bad parameter values are refused before anything runs.
 */
import type { Clock } from '../../clock/index.js';
import { NubisError, isNubisError, toNubisError } from '../../errors/index.js';
import type { DeploymentView, OperationRunView } from '../../engine/index.js';
import type { CompareOp, WfAction } from '../model/types.js';
import { readyByInstant, readyByPlan, type ProvisioningStats } from '../pools/index.js';

/** What an action needs of the control plane; the workflows controller builds it per workflow. */
export interface ActionPorts {
  readonly clock: Clock;
  /** ControlPlane.getDeployment for a name as the workflow writes it (NOT_FOUND when absent). */
  getDeployment(deployment: string): Promise<DeploymentView>;
  /** ControlPlane.scale with the workflow's caller (SCALE_OUT_OF_BOUNDS, CONFLICT, NOT_FOUND pass through). */
  scale(deployment: string, component: string, count: number): Promise<DeploymentView>;
  /**
   * Calls `fn` on every committed event of the deployment (EventLog.subscribe with its id);
   * returns the unsubscribe.
   */
  watch(deployment: string, fn: () => void): () => void;
  /** The count the component's spec gives (`instances.count`); absent: 1 is started. */
  specCount?(deployment: string, component: string): Promise<number>;
  /** A pool of the workflow by name, or undefined. */
  pool(name: string): { readonly deployment: string; readonly component: string } | undefined;
  /** The query's value now (a scalar, or a single-element vector); undefined: no data yet. Absent: no metrics. */
  queryMetric?(query: string): Promise<number | undefined>;
  /**
   * Runs a custom operation on the component's running instances and resolves once each has
   * ended (ControlPlane.runOperation with the workflow's caller). Absent: operations refused.
   */
  operation?(deployment: string, component: string, operation: string, params: Readonly<Record<string, string>>): Promise<OperationRunView>;
  /** Backs up a component now (every backup policy of it). Absent: refused. */
  backup?(deployment: string, component: string): Promise<string>;
  /** What the component's cloud has taken to provision (../pools/measure.ts); absent: ready-by plans assume the default. */
  provisioning?(deployment: string, component: string): Promise<ProvisioningStats>;
}

export interface RunActionOptions {
  /** Aborts the wait (the task was killed): rejects with ABORTED. */
  readonly signal?: AbortSignal;
  /** Gives up after this long on the Clock (CLOUD_TIMEOUT for counts, UNAVAILABLE for metrics). Default: no limit. */
  readonly timeoutMs?: number;
  /** How often `waitMetric` queries, on the Clock. Default 15 s. */
  readonly metricIntervalMs?: number;
  /** `scale` only: the nodes must run by this clock instant; provisioning starts as late as the measured times allow. */
  readonly readyBy?: number;
  /** Progress worth showing (the ready-by plan); the controller sets it as the task's label. */
  readonly onProgress?: (text: string) => void;
}

export interface ActionResult {
  /** What was done, for the task's label and the audit log. */
  readonly detail: string;
}

const COMPARE: Record<CompareOp, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b, '!=': (a, b) => a !== b, '<': (a, b) => a < b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '>=': (a, b) => a >= b,
};

/**
 * The options a task's variables give its action: `NUBIS_ACTION_TIMEOUT` (see actionTimeout)
 * and `NUBIS_READY_BY` (hh:mm on the suite's clock, its next occurrence with a 1-hour grace,
 * or ISO). REQUEST_INVALID when one does not parse.
 */
export function actionOptions(variables: Readonly<Record<string, string>>, now: number): Pick<RunActionOptions, 'timeoutMs' | 'readyBy'> {
  const timeoutMs = actionTimeout(variables);
  const rb = variables['NUBIS_READY_BY'];
  return { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(rb ? { readyBy: readyByInstant(rb, now, 3_600_000) } : {}) };
}

/** `NUBIS_ACTION_TIMEOUT` as `90s`, `30m`, `2h` (or plain ms) → ms; undefined when absent or 0. REQUEST_INVALID when it does not parse. */
export function actionTimeout(variables: Readonly<Record<string, string>>): number | undefined {
  const t = variables['NUBIS_ACTION_TIMEOUT'];
  if (t === undefined || t === '' || t === '0') return undefined;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(t.trim());
  if (!m) throw new NubisError('REQUEST_INVALID', `NUBIS_ACTION_TIMEOUT: expected a duration such as 90s, 30m or 2h, found ${JSON.stringify(t)}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
}

/** Why a component cannot reach its count, or undefined while it still may: a failed instance or node. */
function failureOf(v: DeploymentView, component: string): string | undefined {
  for (const i of v.instances) {
    if (i.component !== component || !i.desired) continue;
    if (i.phase === 'failed' || i.node.state === 'failed') return `${i.name} ${i.phase === 'failed' ? 'failed' : 'node failed'}${i.lastError ? `: ${i.lastError}` : ''}`;
  }
  return undefined;
}

/** Whether exactly `count` instances of the component run and no other is left. */
function reached(v: DeploymentView, component: string, count: number): boolean {
  const c = v.components.find((x) => x.name === component);
  if (!c) return false;
  const mine = v.instances.filter((i) => i.component === component);
  return c.desired === count && mine.length === count && mine.every((i) => i.desired && i.phase === 'running' && i.node.state === 'running');
}

function abortedError(what: string): NubisError {
  return new NubisError('ABORTED', `${what}: killed while waiting`);
}

/**
 * Resolves when `check` (run now and after every event of the deployment) returns a result,
 * rejects when it throws, the signal aborts or the timeout passes.
 */
function waitFor<T>(ports: ActionPorts, deployment: string, what: string, check: () => Promise<T | undefined>, opts: RunActionOptions, timeoutError: () => NubisError): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let running = false;
    let again = false;
    const timer = new AbortController();
    const finish = (f: () => void): void => {
      if (done) return;
      done = true;
      unsubscribe();
      timer.abort();
      opts.signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = (): void => finish(() => reject(abortedError(what)));
    // one look at a time; events during a look ask for one more
    const look = (): void => {
      if (done) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      check().then(
        (r) => {
          running = false;
          if (r !== undefined) finish(() => resolve(r));
          else if (again) {
            again = false;
            look();
          }
        },
        (e: unknown) => {
          running = false;
          finish(() => reject(e));
        },
      );
    };
    const unsubscribe = ports.watch(deployment, look);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs !== undefined) {
      ports.clock.sleep(opts.timeoutMs, timer.signal).then(() => finish(() => reject(timeoutError())), () => undefined);
    }
    look();
  });
}

/** Scales and waits until exactly `count` instances run (or, for 0, until none is left). */
async function scaleAndWait(ports: ActionPorts, deployment: string, component: string, count: number, opts: RunActionOptions, what: string): Promise<ActionResult> {
  const started = ports.clock.now();
  const before = await ports.getDeployment(deployment);
  const from = before.components.find((c) => c.name === component)?.desired;
  if (from === undefined) {
    throw new NubisError('NOT_FOUND', `${what}: deployment ${deployment} has no component ${JSON.stringify(component)}; it has ${before.components.map((c) => c.name).join(', ')}`);
  }
  if (before.state === 'destroying') throw new NubisError('CONFLICT', `${what}: deployment ${deployment} is being destroyed`);
  if (opts.readyBy !== undefined && count > from) await waitUntilStart(ports, deployment, component, count - from, opts, what);
  if (from !== count) await ports.scale(deployment, component, count);
  await waitFor(
    ports,
    deployment,
    what,
    async () => {
      const v = await ports.getDeployment(deployment);
      if (reached(v, component, count)) return true;
      if (v.state === 'destroying') throw new NubisError('CONFLICT', `${what}: deployment ${deployment} is being destroyed`);
      const failed = failureOf(v, component);
      if (failed) throw new NubisError('HANDLER_FAILED', `${what}: ${failed}`, { retryable: true });
      const c = v.components.find((x) => x.name === component);
      if (c && c.desired !== count) throw new NubisError('CONFLICT', `${what}: ${component} was scaled to ${c.desired} meanwhile (by a rule, a schedule or a person)`);
      return undefined;
    },
    opts,
    () => new NubisError('CLOUD_TIMEOUT', `${what}: ${component} not at ${count} running after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`),
  );
  const took = Math.round((ports.clock.now() - started) / 1000);
  return { detail: `${deployment}/${component} ${from === count ? 'already at ' : `scaled ${from} → `}${count}${count === 0 ? ' (none left)' : ' running'} in ${took} s` };
}

/** Sleeps on the Clock until provisioning `adding` nodes must start to be ready by `opts.readyBy`. */
async function waitUntilStart(ports: ActionPorts, deployment: string, component: string, adding: number, opts: RunActionOptions, what: string): Promise<void> {
  const stats: ProvisioningStats = ports.provisioning
    ? await ports.provisioning(deployment, component)
    : { cloud: `of ${deployment}/${component}`, samples: 0, medianMs: 0, p90Ms: 0, concurrency: 2, slowdown: 1 };
  const plan = readyByPlan({ readyBy: opts.readyBy!, count: adding, now: ports.clock.now(), stats });
  opts.onProgress?.(plan.reason);
  const wait = plan.startAt - ports.clock.now();
  if (wait <= 0) return;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  if (opts.signal?.aborted) throw abortedError(what);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await ports.clock.sleep(wait, stop.signal);
  } catch {
    throw abortedError(what);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

async function waitMetric(ports: ActionPorts, query: string, op: CompareOp, threshold: number, opts: RunActionOptions): Promise<ActionResult> {
  const what = `waitMetric ${query} ${op} ${threshold}`;
  const q = ports.queryMetric;
  if (!q) throw new NubisError('UNAVAILABLE', `${what}: this control plane has no metrics to query`);
  const interval = opts.metricIntervalMs ?? 15_000;
  const started = ports.clock.now();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let last: number | undefined;
    for (;;) {
      if (opts.signal?.aborted) throw abortedError(what);
      last = await q(query);
      if (last !== undefined && Number.isFinite(last) && COMPARE[op](last, threshold)) {
        return { detail: `${query} = ${last} (${op} ${threshold}) after ${Math.round((ports.clock.now() - started) / 1000)} s` };
      }
      if (opts.timeoutMs !== undefined && ports.clock.now() + interval > started + opts.timeoutMs) {
        throw new NubisError('UNAVAILABLE', `${what}: not true after ${Math.round(opts.timeoutMs / 1000)} s (last value ${last === undefined ? 'none' : last})`);
      }
      try {
        await ports.clock.sleep(interval, stop.signal);
      } catch {
        throw abortedError(what);
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

async function runOperationAction(ports: ActionPorts, a: Extract<WfAction, { verb: 'operation' }>): Promise<ActionResult> {
  const what = `operation ${a.operation} on ${a.deployment}/${a.component}`;
  if (!ports.operation) throw new NubisError('UNAVAILABLE', `${what}: this control plane runs no operations`, { retryable: false });
  const run = await ports.operation(a.deployment, a.component, a.operation, a.params);
  const ran = run.instances.filter((i) => i.state !== 'skipped');
  const ok = ran.filter((i) => i.state === 'succeeded');
  if (run.state === 'succeeded') return { detail: `${what}: ${ok.length} of ${ran.length} succeeded (run ${run.id})` };
  const bad = run.instances.filter((i) => i.state !== 'succeeded').map((i) => `${i.instance} ${i.state}${i.exitCode !== null ? ` (exit ${i.exitCode})` : ''}${i.detail ? `: ${i.detail}` : ''}`);
  throw new NubisError('HANDLER_FAILED', `${what}: ${ok.length} of ${run.instances.length} succeeded (run ${run.id}); ${bad.join('; ')}`);
}

/** Runs one engine action (see the top of this file). */
export async function runAction(action: WfAction, ports: ActionPorts, opts: RunActionOptions = {}): Promise<ActionResult> {
  try {
    switch (action.verb) {
      case 'start': {
        const spec = ports.specCount ? await ports.specCount(action.deployment, action.component) : 1;
        return await scaleAndWait(ports, action.deployment, action.component, spec > 0 ? spec : 1, opts, `start ${action.deployment}/${action.component}`);
      }
      case 'stop':
        return await scaleAndWait(ports, action.deployment, action.component, 0, opts, `stop ${action.deployment}/${action.component}`);
      case 'scale':
        if (!Number.isInteger(action.count) || action.count < 0) throw new NubisError('REQUEST_INVALID', `scale ${action.deployment}/${action.component}: count must be an integer ≥ 0, found ${action.count}`);
        return await scaleAndWait(ports, action.deployment, action.component, action.count, opts, `scale ${action.deployment}/${action.component} ${action.count}`);
      case 'destroyPool': {
        const p = ports.pool(action.pool);
        if (!p) throw new NubisError('NOT_FOUND', `destroyPool ${action.pool}: the workflow has no pool ${JSON.stringify(action.pool)}`);
        return await scaleAndWait(ports, p.deployment, p.component, 0, opts, `destroyPool ${action.pool}`);
      }
      case 'waitMetric':
        return await waitMetric(ports, action.query, action.op, action.threshold, opts);
      case 'backup': {
        if (!ports.backup) throw new NubisError('UNAVAILABLE', `backup ${action.deployment}/${action.component}: this control plane runs no backups`, { retryable: false });
        return { detail: await ports.backup(action.deployment, action.component) };
      }
      case 'operation':
        return await runOperationAction(ports, action);
    }
  } catch (e) {
    if (isNubisError(e)) throw e;
    throw toNubisError(e);
  }
}
