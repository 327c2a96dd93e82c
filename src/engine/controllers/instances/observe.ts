/**
 * Observation of running instances: every `observeIntervalMs` each running instance's agent
 * is asked for its process and health; a change is recorded and queues a pass.
 */
import { requeueAfter, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';
import { deadlineRound } from '../../reachability.js';
import { toNubisError } from '../../../errors/index.js';
import type { Driver } from '../../../drivers/index.js';

export const OBSERVE_KEY = 'agents';

export class ObserveController implements Controller {
  readonly name = 'observe';
  constructor(private readonly ctx: EngineContext) {}

  async reconcile(): Promise<ReconcileResult> {
    try {
      await this.observeAgents();
    } catch {
      /* observation never stops */
    }
    return requeueAfter(this.ctx.settings.observeMs);
  }

  async observeAgents(): Promise<void> {
    const { ctx } = this;
    const byNode: Promise<void>[] = [];
    // one deadline for the round: every call starts now
    const round = deadlineRound(ctx.clock, ctx.settings.observeTimeoutMs, ctx.signal);
    // the driver of each deployment's cloud, looked up once per round
    const drivers = new Map<string, Driver>();
    for (const inst of ctx.instances.values()) {
      if (!inst.desired || inst.phase !== 'running' || ctx.busy.has(inst.key)) continue;
      const d = ctx.deployments.get(inst.deployment);
      const n = ctx.nodes.get(inst.key);
      if (!d || n?.status !== 'running' || !n.observed) continue;
      byNode.push(
        (async () => {
          try {
            const dk = `${d.name}\0${n.cloud}`;
            let driver = drivers.get(dk);
            if (!driver) drivers.set(dk, (driver = ctx.cloudFor(d, n.cloud).driver));
            const st = await driver.agent(n.observed!).status(round.signal());
            const back = ctx.reach.agentAnswered(n.key);
            if (back) await ctx.applyReachability(back);
            const s = st.instances.find((x) => x.instance === inst.name);
            const comp = d.spec.components[inst.component];
            // `none`: the agent has no process for a started instance (the node lost it, e.g. a
            // reboot from the cloud's console): not alive. `exited` with 0: a start that daemonised.
            const alive = s ? s.process === 'running' || (s.process === 'exited' && s.exitCode === 0) : false;
            const health = s?.health ?? 'unknown';
            const changed = alive !== (inst.processAlive ?? true) || health !== inst.health;
            inst.processAlive = comp?.handlers.start ? alive : undefined;
            inst.health = health;
            ctx.observed({ key: inst.key, at: ctx.clock.now(), answered: true, alive, health, ...(s?.probes ? { probes: s.probes } : {}), ...(s?.healthDetail ? { detail: s.healthDetail } : {}) });
            if (changed) {
              await ctx.emit({ deployment: d.name, kind: 'instance.health', target: inst.key, outcome: health, data: { process: s?.process ?? 'none', detail: s?.healthDetail } });
              ctx.changed(inst.key, d.name);
            }
          } catch (e) {
            // a few misses in a row make the node unreachable (../../reachability.ts); the sweep judges it too
            if (ctx.signal.aborted) return;
            const why = toNubisError(e).message;
            ctx.observed({ key: inst.key, at: ctx.clock.now(), answered: false, detail: why });
            await ctx.applyReachability(ctx.reach.agentMissed(n.key, why));
          }
        })(),
      );
    }
    try {
      await Promise.all(byNode);
    } finally {
      round.done();
    }
  }
}
