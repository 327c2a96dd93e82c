/**
 * Custom operations (Brooklyn's effectors) run through the nodes' agents like lifecycle steps:
 * the same environment (component env, secrets, wiring, NUBIS_*), the agent's timeout and
 * process-group kill, the step `operation` in the agent's log. The run and each instance's
 * part are persisted before any agent is called (migration 0025), and every instance's start
 * and end is an event (operation.started, operation.succeeded, operation.failed) carrying who
 * asked and why. Values are checked against the declaration first: a bad one runs nothing.
 */
import { randomBytes } from 'node:crypto';
import { maskSecrets, operationEnv, resolveOperationParams, type OperationSpec, type ParamValue } from '../../model/index.js';
import type { StepResult } from '../../agent/index.js';
import { NubisError, toNubisError } from '../../errors/index.js';
import type { OperationInstanceRunRow, OperationRunRow } from '../../store/index.js';
import type { EngineContext } from '../context.js';
import type { Deployment, InstanceRec } from '../state.js';
import { wiringEnv } from '../wiring.js';
import type { WiringController } from '../controllers/wiring/index.js';
import { localText } from '../tenancy.js';
import type { Caller } from '../views.js';
import type { OperationInstanceState, OperationRunView, RunOperationRequest } from './types.js';
import { runStateOf, runView } from './view.js';

/** Most instances a run names, and most at once. */
const MAX_PARALLEL = 1000;
/** Why an instance's outcome is unknown: the control plane stopped while the agent ran it. */
const INTERRUPTED = 'the control plane stopped while it ran; its outcome on the node is unknown (see the agent log of step operation)';
/** Characters of a failed instance's output carried in its event. */
const EVENT_OUTPUT_TAIL = 1000;

export interface OperationRunner {
  /** Runs the operation (see RunOperationRequest); NOT_FOUND, REQUEST_INVALID (details.problems with paths) or CONFLICT before anything runs. */
  run(deployment: string, component: string, operation: string, req: RunOperationRequest, caller: Caller): Promise<OperationRunView>;
  /** A run of the deployment, or NOT_FOUND (also for another deployment's run). */
  get(deployment: string, id: string): Promise<OperationRunView>;
  /** The deployment's newest runs first. */
  list(deployment: string, limit?: number): Promise<OperationRunView[]>;
  /** Marks runs a stopped control plane left unfinished as interrupted (their outcome on the nodes is unknown). */
  recover(): Promise<void>;
  /** Resolves when runs answered early (`wait: false`) have ended. */
  drain(): Promise<void>;
}

interface Target {
  inst: InstanceRec;
  row: OperationInstanceRunRow;
}

export function createOperationRunner(ctx: EngineContext, wiring: WiringController): OperationRunner {
  const background = new Set<Promise<void>>();
  const ops = ctx.store.operations;

  const mustDeployment = (id: string): Deployment => {
    const d = ctx.deployments.get(id);
    if (!d) throw new NubisError('NOT_FOUND', `no deployment ${JSON.stringify(localText(id.split('.')[0] ?? '', id))}`);
    return d;
  };

  const operationOf = (d: Deployment, component: string, operation: string): OperationSpec => {
    const comp = d.spec.components[component];
    if (!comp) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no component ${JSON.stringify(component)}`, { details: { path: 'component' } });
    const op = comp.operations?.[operation];
    if (!op) {
      const names = Object.keys(comp.operations ?? {});
      throw new NubisError('NOT_FOUND', `component ${component} has no operation ${JSON.stringify(operation)} (${names.length ? `it has ${names.join(', ')}` : 'it declares none'})`, { details: { path: 'operation' } });
    }
    return op;
  };

  const isRunning = (inst: InstanceRec): string | undefined => {
    const n = ctx.nodes.get(inst.key);
    if (!inst.desired) return 'it is being removed';
    if (inst.phase !== 'running') return `it is ${inst.phase}, not running`;
    if (n?.status !== 'running' || !n.observed) return `its node is ${n?.status ?? 'missing'}`;
    if (n.unreachable) return 'its node does not answer';
    return undefined;
  };

  /** The instances to run on: those named (each must exist and run) or every one of the component. */
  const targetsOf = (d: Deployment, component: string, named: readonly string[] | undefined): { inst: InstanceRec; skip?: string }[] => {
    const all = ctx.instancesOf(d.name).filter((i) => i.component === component && i.desired).sort((a, b) => a.ordinal - b.ordinal);
    if (named === undefined) return all.map((inst) => ({ inst, ...(isRunning(inst) !== undefined ? { skip: isRunning(inst)! } : {}) }));
    if (named.length === 0) throw new NubisError('REQUEST_INVALID', 'instances: expected at least one instance name, found an empty list', { details: { path: 'instances' } });
    const out: { inst: InstanceRec }[] = [];
    named.forEach((name, i) => {
      const inst = all.find((x) => x.name === name);
      if (!inst) throw new NubisError('NOT_FOUND', `instances[${i}]: component ${component} has no instance ${JSON.stringify(name)} (it has ${all.map((x) => x.name).join(', ') || 'none'})`, { details: { path: `instances[${i}]` } });
      if (out.some((t) => t.inst === inst)) throw new NubisError('REQUEST_INVALID', `instances[${i}]: ${name} is named twice`, { details: { path: `instances[${i}]` } });
      const why = isRunning(inst);
      if (why !== undefined) throw new NubisError('CONFLICT', `instances[${i}]: ${name} cannot run an operation: ${why}`, { details: { path: `instances[${i}]` } });
      out.push({ inst });
    });
    return out;
  };

  const eventBase = (d: Deployment, run: OperationRunRow, inst: InstanceRec, caller: Caller) => ({
    deployment: d.name, actor: caller.actor, target: inst.key, reason: run.reason,
    ...(caller.correlationId ? { correlationId: caller.correlationId } : {}),
  });
  const eventData = (d: Deployment, run: OperationRunRow, inst: InstanceRec, message: string) => ({
    tenant: d.tenant, deployment: d.spec.name, component: run.component, operation: run.operation, instance: inst.name, runId: run.id, message,
  });

  /** Runs it on one instance through its node's agent; the outcome is recorded, never thrown. */
  const runOne = async (d: Deployment, run: OperationRunRow, op: OperationSpec, values: Record<string, ParamValue>, t: Target, caller: Caller): Promise<void> => {
    const { inst, row } = t;
    const comp = d.spec.components[inst.component]!;
    const n = ctx.nodes.get(inst.key);
    const child = ctx.childSignal();
    row.state = 'running';
    row.started_at = ctx.clock.now();
    await ctx.store.write(ops.putInstance({ ...row }));
    const secrets = comp.secretEnv && ctx.opts.openSecrets ? ctx.opts.openSecrets(d, comp) : {};
    let result: StepResult | undefined;
    let detail: string | undefined;
    try {
      if (!n?.observed) throw new NubisError('AGENT_UNREACHABLE', `the node of ${inst.name} is gone`);
      const { wiring: w } = wiring.wiringFor(d, inst);
      const env = wiringEnv({ ...comp, env: { ...comp.env, ...secrets } }, w, n.observed.address ?? '127.0.0.1', n.observed.graphite);
      Object.assign(env, { NUBIS_STEP: 'operation', NUBIS_OPERATION: op.name, NUBIS_OPERATION_RUN: run.id }, operationEnv(values));
      result = await ctx.cloudFor(d, n.cloud).driver.agent(n.observed).runStep(
        { runId: `${run.id}:${inst.name}`, instance: inst.name, step: 'operation', operation: op.name, command: op.run, timeoutMs: op.timeoutMs, env, wiring: undefined },
        child.signal,
      );
    } catch (e) {
      const err = toNubisError(e);
      detail = `${err.code}: ${err.message}`;
    } finally {
      child.done();
    }
    const stopped = result === undefined && ctx.signal.aborted;
    if (stopped) detail = INTERRUPTED;
    const state: OperationInstanceState = stopped ? 'interrupted' : result === undefined ? 'failed' : result.state === 'succeeded' ? 'succeeded' : result.state === 'timed-out' ? 'timed-out' : 'failed';
    const output = result ? (comp.secretEnv ? maskSecrets(result.output, Object.values(secrets)) : result.output) : '';
    if (result?.state === 'timed-out') detail = `timed out after ${op.timeoutMs} ms`;
    Object.assign(row, { state, exit_code: result?.exitCode ?? null, output, detail: detail ?? null, ended_at: result?.endedAt ?? ctx.clock.now() });
    const ok = state === 'succeeded';
    const message = ok ? `${op.name} succeeded on ${inst.name}` : `${op.name} failed on ${inst.name}: ${detail ?? `exit ${result?.exitCode ?? result?.signal ?? '?'}`}`;
    await Promise.all([
      ctx.store.write(ops.putInstance({ ...row })),
      ctx.events.append(ctx.ev({
        ...eventBase(d, run, inst, caller), kind: ok ? 'operation.succeeded' : 'operation.failed', outcome: state,
        data: {
          ...eventData(d, run, inst, message), exitCode: row.exit_code, durationMs: (row.ended_at ?? 0) - (row.started_at ?? 0),
          ...(detail ? { detail } : {}), ...(!ok && output ? { output: output.slice(-EVENT_OUTPUT_TAIL) } : {}),
        },
      })),
    ]);
  };

  const execute = async (d: Deployment, run: OperationRunRow, op: OperationSpec, values: Record<string, ParamValue>, targets: Target[], parallel: number, caller: Caller): Promise<void> => {
    const queue = targets.filter((t) => t.row.state === 'pending');
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t; t = queue.shift()) await runOne(d, run, op, values, t, caller);
    };
    await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
    run.state = runStateOf(targets.map((t) => t.row.state as OperationInstanceState));
    run.ended_at = ctx.clock.now();
    await ctx.store.write(ops.putRun({ ...run }));
  };

  const view = async (run: OperationRunRow): Promise<OperationRunView> => runView(run, await ops.instances([run.id]));

  return {
    async run(deployment, component, operation, req, caller) {
      const d = mustDeployment(deployment);
      if (d.status === 'destroying') throw new NubisError('CONFLICT', `deployment ${d.spec.name} is being destroyed`);
      const op = operationOf(d, component, operation);
      const values = resolveOperationParams(op, req.params ?? {});
      const parallel = req.parallel ?? MAX_PARALLEL;
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL) {
        throw new NubisError('REQUEST_INVALID', `parallel: expected an integer from 1 to ${MAX_PARALLEL}, found ${parallel}`, { details: { path: 'parallel' } });
      }
      const chosen = targetsOf(d, component, req.instances);
      if (!chosen.some((t) => t.skip === undefined)) {
        throw new NubisError('CONFLICT', `no instance of ${component} can run ${operation}: ${chosen.length ? chosen.map((t) => `${t.inst.name} (${t.skip})`).join(', ') : 'it has no instances'}`);
      }
      const now = ctx.clock.now();
      const run: OperationRunRow = {
        id: `op-${randomBytes(6).toString('hex')}`, deployment: d.name, component, operation, params_json: JSON.stringify(values),
        actor: caller.actor, reason: req.reason?.trim() || `operation ${operation} requested`, state: 'running', created_at: now, ended_at: null,
      };
      const targets: Target[] = chosen.map(({ inst, skip }) => ({
        inst,
        row: { run_id: run.id, instance: inst.name, state: skip ? 'skipped' : 'pending', exit_code: null, output: '', detail: skip ?? null, started_at: null, ended_at: null },
      }));
      // intent first: the run, every instance's part and the started events in one commit
      await Promise.all([
        ctx.store.write(ops.putRun({ ...run }), ...targets.map((t) => ops.putInstance({ ...t.row }))),
        ctx.events.append(...targets.filter((t) => t.row.state === 'pending').map((t) => ctx.ev({
          ...eventBase(d, run, t.inst, caller), kind: 'operation.started', outcome: 'running',
          data: { ...eventData(d, run, t.inst, `${operation} started on ${t.inst.name}`), params: Object.keys(values) },
        }))),
      ]);
      const done = execute(d, run, op, values, targets, parallel, caller);
      if (req.wait === false) {
        const tracked = done.catch(() => undefined).finally(() => background.delete(tracked));
        background.add(tracked);
        return view(run);
      }
      await done;
      return view(run);
    },

    async get(deployment, id) {
      const d = mustDeployment(deployment);
      const run = await ops.run(d.name, id);
      if (!run) throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no operation run ${JSON.stringify(id)}`);
      return view(run);
    },

    async list(deployment, limit = 100) {
      const d = mustDeployment(deployment);
      const runs = await ops.runs(d.name, limit);
      const parts = await ops.instances(runs.map((r) => r.id));
      return runs.map((r) => runView(r, parts));
    },

    async recover() {
      const runs = await ops.unfinished();
      if (runs.length === 0) return;
      const parts = await ops.instances(runs.map((r) => r.id));
      const now = ctx.clock.now();
      for (const run of runs) {
        const mine = parts.filter((p) => p.run_id === run.id);
        const cut = mine.filter((p) => p.state === 'pending' || p.state === 'running');
        for (const p of cut) Object.assign(p, { state: 'interrupted', detail: INTERRUPTED, ended_at: now });
        Object.assign(run, { state: 'interrupted', ended_at: now });
        const d = ctx.deployments.get(run.deployment);
        await Promise.all([
          ctx.store.write(ops.putRun(run), ...cut.map((p) => ops.putInstance(p))),
          ...(d ? cut.map((p) => ctx.emit({
            deployment: d.name, kind: 'operation.failed', target: `${d.name}/${p.instance}`, reason: run.reason, outcome: 'interrupted',
            data: { tenant: d.tenant, deployment: d.spec.name, component: run.component, operation: run.operation, instance: p.instance, runId: run.id, message: `${run.operation} on ${p.instance}: ${INTERRUPTED}` },
          })) : []),
        ]);
      }
    },

    async drain() {
      await Promise.allSettled([...background]);
    },
  };
}
