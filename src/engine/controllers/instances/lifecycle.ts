/**
 * The instances controller: lifecycle steps through a node's agent — install, configure,
 * start (waiting for health), update on wiring change, restart, stop. Each records its intent
 * (run id) before the agent is called, and its output and outcome after; failures back off
 * per instance until the handler's retries are spent.
 */
import type { ComponentSpec, HandlerName } from '../../../model/index.js';
import { maskSecrets } from '../../../model/index.js';
import type { CloudNode } from '../../../drivers/index.js';
import type { HealthProbe, InstanceFiles, StepResult } from '../../../agent/index.js';
import { NubisError, toNubisError } from '../../../errors/index.js';
import { instanceToRow, type Deployment, type InstanceRec } from '../../state.js';
import { providedEndpoints, wiringEnv } from '../../wiring.js';
import type { InstancePhase } from '../../views.js';
import type { EngineContext } from '../../context.js';
import type { WiringController } from '../wiring/index.js';
import type { Action } from '../../planner.js';
import type { Actuator } from '../actuator.js';

function resultError(stepName: HandlerName, r: StepResult): NubisError {
  if (r.state === 'timed-out') return new NubisError('HANDLER_TIMEOUT', `${stepName} handler timed out`);
  return new NubisError('HANDLER_FAILED', `${stepName} handler exited with ${r.exitCode ?? r.signal ?? 'an error'}`);
}

export function healthProbe(comp: ComponentSpec, node: CloudNode | undefined): HealthProbe | undefined {
  const h = comp.health;
  if (!h) return undefined;
  const probe: HealthProbe = { kind: h.kind, intervalMs: h.intervalMs, timeoutMs: h.timeoutMs, retries: h.retries };
  if (h.command) probe.command = h.command;
  if (h.path) probe.path = h.path;
  if (h.port) {
    const ep = providedEndpoints(comp, node)[h.port];
    if (ep) {
      probe.port = ep.port;
      probe.host = ep.host;
    }
  }
  return probe;
}

/** At most `limit` agent steps at once, across all nodes. */
class StepPermits {
  private running = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    while (this.running >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.running++;
    return () => {
      this.running--;
      this.waiters.shift()?.();
    };
  }
}

export class InstancesController implements Actuator {
  readonly name = 'instances';
  readonly kinds = ['install', 'configure', 'start', 'update', 'restart', 'stop'] as const;
  private readonly permits: StepPermits;
  private readonly artefactCache = new Map<string, { version: number; files: InstanceFiles[] }>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly wiring: WiringController,
  ) {
    this.permits = new StepPermits(ctx.settings.stepLimit);
  }

  execute(d: Deployment, inst: InstanceRec, a: Action): Promise<void> {
    switch (a.kind) {
      case 'install':
      case 'configure':
        return this.step(d, inst, a.kind);
      case 'start':
        return this.start(d, inst);
      case 'update':
        return this.update(d, inst);
      case 'restart':
        return this.restart(inst, a.reason);
      case 'stop':
        return this.stopInstance(d, inst);
      default:
        return Promise.reject(new NubisError('INTERNAL', `the instances controller does not carry out ${a.kind}`));
    }
  }

  /** Artefacts as sent to agents are cached per deployment version; drops a deployment's. */
  invalidateArtefacts(deployment: string): void {
    this.artefactCache.delete(deployment);
  }

  private async artefactsFor(d: Deployment): Promise<InstanceFiles[]> {
    const c = this.artefactCache.get(d.name);
    if (c && c.version === d.version) return c.files;
    const rows = await this.ctx.store.artefacts(d.name);
    const files = rows.map((r) => ({ path: r.path, base64: Buffer.from(r.content).toString('base64'), mode: r.mode }));
    this.artefactCache.set(d.name, { version: d.version, files });
    return files;
  }

  /**
   * Runs one handler through the agent, recording intent (before the agent is called) and
   * output and outcome. The record is written in the same group commit as what the caller
   * writes next (the phase the outcome leads to): `recorded` resolves once it is committed,
   * and every caller awaits it with its own writes.
   */
  private async runHandler(d: Deployment, inst: InstanceRec, stepName: HandlerName): Promise<{ result: StepResult; hash: string; recorded: Promise<void> }> {
    const { ctx } = this;
    const { clock, store } = ctx;
    const comp = d.spec.components[inst.component]!;
    const n = ctx.nodes.get(inst.key)!;
    const cloud = ctx.cloudFor(d, n.cloud);
    const { wiring, hash } = this.wiring.wiringFor(d, inst);
    const handler = comp.handlers[stepName];
    const runId = inst.inflightRun?.includes(`:${stepName}:`) ? inst.inflightRun : `${inst.key}:${stepName}:${++inst.runSeq}`;
    if (inst.inflightRun !== runId) {
      inst.inflightRun = runId;
      await ctx.saveInstance(inst);
    }
    const secrets = comp.secretEnv && ctx.opts.openSecrets ? ctx.opts.openSecrets(d, comp) : {};
    const env = wiringEnv({ ...comp, env: { ...comp.env, ...secrets } }, wiring, n.observed?.address ?? '127.0.0.1', n.observed?.graphite);
    env.NUBIS_STEP = stepName;
    const release = await this.permits.acquire();
    const startedAt = clock.now();
    const child = ctx.childSignal();
    let result: StepResult;
    try {
      result = await cloud.driver.agent(n.observed!).runStep(
        {
          runId,
          instance: inst.name,
          step: stepName,
          ...(handler ? { command: handler.run } : {}),
          timeoutMs: handler?.timeoutMs ?? 60_000,
          env,
          wiring,
          ...(stepName === 'install' ? { files: await this.artefactsFor(d) } : {}),
          ...(stepName === 'start' ? { health: healthProbe(comp, n.observed) } : {}),
        },
        child.signal,
      );
    } finally {
      child.done();
      release();
    }
    inst.inflightRun = undefined;
    // a handler that prints a secret value: the step log and events show "***"
    if (comp.secretEnv) result = { ...result, output: maskSecrets(result.output, Object.values(secrets)) };
    const recorded = Promise.all([
      store.write(
        store.putStepRun({
          deployment: d.name, instance: inst.name, step: stepName, run_id: runId, state: result.state,
          exit_code: result.exitCode ?? null, output: result.output, started_at: result.startedAt || startedAt, ended_at: result.endedAt ?? clock.now(),
        }),
        store.putInstance(instanceToRow(inst)),
      ),
      ctx.emit({
        deployment: d.name, kind: 'instance.step', target: inst.key, reason: stepName, outcome: result.state,
        data: { step: stepName, runId, exitCode: result.exitCode ?? null, durationMs: (result.endedAt ?? clock.now()) - (result.startedAt || startedAt) },
      }),
    ]).then(() => undefined);
    // handled here too: a path that throws before awaiting it must not leave it unhandled
    recorded.catch(() => undefined);
    return { result, hash, recorded };
  }

  /** Records a failed attempt: back off, or mark the instance failed once retries are spent. */
  private async stepFailed(d: Deployment, inst: InstanceRec, stepName: HandlerName, err: NubisError, output: string, backTo?: InstancePhase): Promise<void> {
    const { ctx } = this;
    if (ctx.signal.aborted) return;
    const handler = d.spec.components[inst.component]?.handlers[stepName];
    const retries = handler?.retries ?? 2;
    inst.attempts++;
    inst.lastError = `${stepName}: ${err.code}: ${err.message}${output ? `\n${output.slice(-2000)}` : ''}`;
    if (err.code === 'AGENT_UNREACHABLE' || inst.attempts <= retries) {
      inst.notBefore = ctx.clock.now() + ctx.backoff(inst.attempts);
      await Promise.all([
        backTo ? ctx.setPhase(inst, backTo, `${stepName} failed, will retry`) : ctx.saveInstance(inst),
        ctx.emit({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: `${stepName} failed`, outcome: 'error', data: { step: stepName, code: err.code, attempt: inst.attempts, of: retries + 1, output: output.slice(-4000) } }),
      ]);
    } else {
      await ctx.setPhase(inst, 'failed', `${stepName} failed after ${inst.attempts} attempts`, { step: stepName, code: err.code, alert: true, output: output.slice(-4000) });
    }
  }

  async step(d: Deployment, inst: InstanceRec, stepName: 'install' | 'configure'): Promise<void> {
    try {
      const { result, hash, recorded } = await this.runHandler(d, inst, stepName);
      if (result.state !== 'succeeded') {
        await Promise.all([recorded, this.stepFailed(d, inst, stepName, resultError(stepName, result), result.output)]);
        return;
      }
      inst.attempts = 0;
      inst.lastError = undefined;
      if (stepName === 'configure') inst.wiringHash = hash;
      await Promise.all([recorded, this.ctx.setPhase(inst, stepName === 'install' ? 'installed' : 'configured', `${stepName} succeeded`)]);
    } catch (e) {
      await this.stepFailed(d, inst, stepName, toNubisError(e), '');
    }
  }

  async start(d: Deployment, inst: InstanceRec): Promise<void> {
    const { ctx } = this;
    const { clock } = ctx;
    const comp = d.spec.components[inst.component]!;
    const n = ctx.nodes.get(inst.key)!;
    const agent = ctx.cloudFor(d, n.cloud).driver.agent(n.observed!);
    const child = ctx.childSignal();
    try {
      const { result, hash, recorded } = await this.runHandler(d, inst, 'start');
      if (result.state !== 'succeeded') {
        await Promise.all([recorded, this.stepFailed(d, inst, 'start', resultError('start', result), result.output)]);
        return;
      }
      inst.wiringHash = hash;
      await Promise.all([recorded, ctx.setPhase(inst, 'started', 'start succeeded')]);
      if (comp.handlers.start || comp.health) {
        const h = comp.health;
        const deadline = clock.now() + (comp.handlers.start?.timeoutMs ?? 60_000) + (h ? h.intervalMs * (h.retries + 1) : 0);
        for (;;) {
          const st = (await agent.status(child.signal)).instances.find((s) => s.instance === inst.name);
          const ok = h ? st?.health === 'healthy' : st?.process === 'running' || (st?.process === 'exited' && st.exitCode === 0);
          if (ok) break;
          if (st?.process === 'exited' && st.exitCode !== 0) throw new NubisError('HEALTH_FAILED', `the start process exited with ${st.exitCode ?? 'a signal'}`);
          if (clock.now() > deadline) throw new NubisError('HEALTH_FAILED', `not healthy within ${Math.round((deadline - clock.now()) / 1000)} s${st?.healthDetail ? `: ${st.healthDetail}` : ''}`);
          await clock.sleep(Math.min(200, h?.intervalMs ?? 200), child.signal);
        }
      }
      inst.attempts = 0;
      inst.lastError = undefined;
      if (Object.keys(comp.requires).length > 0) inst.notBefore = clock.now() + ctx.settings.updateInterval;
      inst.health = comp.health ? 'healthy' : 'unknown';
      inst.processAlive = undefined;
      await ctx.setPhase(inst, 'running', 'healthy');
    } catch (e) {
      const err = toNubisError(e);
      if (err.code === 'HEALTH_FAILED') await agent.stopInstance(inst.name, ctx.signal).catch(() => undefined);
      await this.stepFailed(d, inst, 'start', err, '', 'configured');
    } finally {
      child.done();
    }
  }

  async update(d: Deployment, inst: InstanceRec): Promise<void> {
    const { ctx } = this;
    const comp = d.spec.components[inst.component]!;
    // the change was undone before it reached this instance (its providers are back as they were): nothing to tell it
    if (this.wiring.freshHashOf(d, inst.component) === inst.wiringHash) return;
    if (!comp.handlers.update) return this.restart(inst, 'its channels changed and it has no update handler');
    try {
      const { result, hash, recorded } = await this.runHandler(d, inst, 'update');
      if (result.state !== 'succeeded') {
        await Promise.all([recorded, this.stepFailed(d, inst, 'update', resultError('update', result), result.output)]);
        return;
      }
      inst.wiringHash = hash;
      inst.attempts = 0;
      inst.notBefore = ctx.clock.now() + ctx.settings.updateInterval;
      await Promise.all([
        recorded,
        ctx.saveInstance(inst),
        ctx.emit({ deployment: d.name, kind: 'instance.wiring', target: inst.key, reason: 'update handler ran', data: { hash } }),
      ]);
    } catch (e) {
      await this.stepFailed(d, inst, 'update', toNubisError(e), '');
    }
  }

  /** Stops the instance and sends it back to configure or start; `backoff`: repeated restarts wait longer each time (recovery has limits of its own instead). */
  async restart(inst: InstanceRec, reason: string, backoff = true): Promise<void> {
    const { ctx } = this;
    const d = ctx.deployments.get(inst.deployment)!;
    const n = ctx.nodes.get(inst.key)!;
    try {
      await ctx.cloudFor(d, n.cloud).driver.agent(n.observed!).stopInstance(inst.name, ctx.signal);
    } catch (e) {
      const err = toNubisError(e);
      inst.notBefore = ctx.clock.now() + ctx.backoff(++inst.attempts);
      await ctx.emit({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: 'stop before restart failed', outcome: 'error', data: { code: err.code } });
      return;
    }
    inst.restarts++;
    inst.notBefore = backoff && inst.restarts > 1 ? ctx.clock.now() + ctx.backoff(inst.restarts - 1) : undefined;
    inst.health = 'unknown';
    inst.processAlive = undefined;
    const comp = d.spec.components[inst.component];
    const back: InstancePhase = comp && !comp.handlers.update && reason.includes('channels') ? 'installed' : 'configured';
    await ctx.setPhase(inst, back, `restart: ${reason}`, { restarts: inst.restarts });
  }

  async stopInstance(d: Deployment, inst: InstanceRec): Promise<void> {
    const { ctx } = this;
    const n = ctx.nodes.get(inst.key)!;
    const comp = d.spec.components[inst.component];
    await ctx.setPhase(inst, 'stopping', 'stopping');
    try {
      if (comp?.handlers.stop) {
        const { result, recorded } = await this.runHandler(d, inst, 'stop');
        await recorded;
        if (result.state !== 'succeeded') {
          await ctx.emit({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: 'stop handler failed; stopping the process anyway', outcome: 'error', data: { output: result.output.slice(-2000) } });
        }
      }
      await ctx.cloudFor(d, n.cloud).driver.agent(n.observed!).stopInstance(inst.name, ctx.signal);
    } catch (e) {
      // A node that cannot be reached is deleted anyway; its processes go with it.
      await ctx.emit({ deployment: d.name, kind: 'instance.retry', target: inst.key, reason: 'stop failed; the node will be deleted', outcome: 'error', data: { code: toNubisError(e).code } });
    }
    await ctx.setPhase(inst, 'stopped', 'stopped');
  }
}
