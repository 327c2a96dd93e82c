/**
 * The sweep controller: lists each cloud by this control plane's owner tag and carries out
 * what ../../sweep.ts decides from those tags and the store alone (adopt found nodes, delete
 * confirmed extra copies and unknown nodes, create again intents that never reached the cloud
 * and nodes the cloud lost). One sweep at a time per cloud handle.
 *
 * Its keys: `all` lists every cloud every `sweepIntervalMs`; `unsynced` retries clouds whose
 * sweep failed (nothing is created on a cloud before its first sweep).
 */
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../../../drivers/index.js';
import { toNubisError } from '../../../errors/index.js';
import { decideSweep, emptyHistory, DEFAULT_TENANT_TAG, type SweepHistory, type SweepIntent } from '../../sweep.js';
import { applySweepDecision, type SweepContext } from '../../sweep-actions.js';
import type { CloudHandle } from '../../clouds.js';
import type { NodeRec } from '../../state.js';
import { done, requeueAfter, type Controller, type ReconcileResult } from '../../core/index.js';
import type { EngineContext } from '../../context.js';

export const SWEEP_ALL = 'all';
export const SWEEP_UNSYNCED = 'unsynced';

export class SweepController implements Controller {
  readonly name = 'sweep';
  /** Per cloud handle: what its earlier lists showed; the sweep running now; a quick re-list scheduled. */
  private readonly history = new Map<string, SweepHistory>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly soon = new Set<string>();
  /** The sweep's view of each node record (see `intents`). */
  private readonly intentOf = new WeakMap<NodeRec, SweepIntent>();
  private sweeps = 0;
  private readonly context: SweepContext;

  constructor(private readonly ctx: EngineContext) {
    const { nodes, deployments } = ctx;
    this.context = {
      owner: ctx.owner,
      nodes,
      instances: ctx.instances,
      signal: ctx.signal,
      now: () => ctx.clock.now(),
      setNode: (n, status, reason, extra, data) => ctx.setNode(n, status, reason, extra, data),
      setPhase: (i, phase, reason) => ctx.setPhase(i, phase, reason),
      emit: (e) => ctx.emit(e),
      cloudReported(n, down, reason, data, outcome) {
        const change = ctx.reach.cloudReported(n.key, down, reason);
        return change ? ctx.applyReachability(change, data(), outcome) : undefined;
      },
      run(key, deployment, fn) {
        const p = fn();
        ctx.track(key, deployment ?? '', p);
        return p.catch(() => undefined);
      },
      hasIntent(cn) {
        const n = nodes.get(cn.tags[TAG_KEY] ?? '');
        const d = n ? deployments.get(n.deployment) : undefined;
        return !!d && n!.deployment === cn.tags[TAG_DEPLOYMENT] && d.tenant === (cn.tags[TAG_TENANT] ?? DEFAULT_TENANT_TAG);
      },
    };
  }

  /** Cloud lists judged so far. */
  count(): number {
    return this.sweeps;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { ctx } = this;
    const { sweepMs } = ctx.settings;
    if (key === SWEEP_ALL) {
      await Promise.all(ctx.clouds.all().map((c) => this.sweep(c).catch(() => undefined)));
      return requeueAfter(sweepMs);
    }
    if (key === SWEEP_UNSYNCED) {
      const pending = ctx.clouds.all().filter((c) => !c.synced);
      for (const c of pending) await this.sweep(c).catch(() => undefined);
      for (const d of ctx.deployments.keys()) if (pending.length) ctx.enqueue(d);
      return requeueAfter(Math.min(sweepMs, 5000));
    }
    return done;
  }

  /** Lists a cloud by owner tag and carries out what ../../sweep.ts decides; one at a time per handle. */
  sweep(cloud: CloudHandle): Promise<void> {
    const running = this.running.get(cloud.key);
    if (running) return running;
    const p = this.sweepOnce(cloud).finally(() => this.running.delete(cloud.key));
    this.running.set(cloud.key, p);
    return p;
  }

  /** Sweeps a cloud whose handle is new, then queues the deployments. */
  kick(h: CloudHandle): void {
    const { ctx } = this;
    if (ctx.stopped) return;
    // after a failed sweep nothing is queued: the unsynced-cloud key tries again (a broken cloud must not spin the passes)
    void this.sweep(h).then(() => {
      for (const name of ctx.deployments.keys()) ctx.enqueue(name);
    }, () => undefined);
  }

  /** Sweeps every cloud in use (at start), reporting failures, then queues every deployment. */
  async sweepAll(): Promise<void> {
    const { ctx } = this;
    for (const d of ctx.deployments.values()) for (const c of Object.keys(d.spec.clouds)) {
      try {
        ctx.cloudFor(d, c);
      } catch {
        /* reported at apply time */
      }
    }
    // registered clouds that nodes were placed on
    for (const n of ctx.nodes.values()) {
      const d = ctx.deployments.get(n.deployment);
      if (d) ctx.handleKey(d, n.cloud);
    }
    await Promise.all(
      ctx.clouds.all().map(async (c) => {
        try {
          await this.sweep(c);
        } catch (e) {
          await ctx.emit({ kind: 'cloud.sweep-failed', target: c.key, outcome: 'error', reason: toNubisError(e).message });
        }
      }),
    );
    for (const d of ctx.deployments.keys()) ctx.enqueue(d);
  }

  private async sweepOnce(cloud: CloudHandle): Promise<void> {
    const { ctx } = this;
    const listFrom = ctx.nextTouch();
    const found = await cloud.driver.list({ [TAG_OWNER]: ctx.owner }, ctx.signal);
    // judged at once, against the state as of the moment the list returned
    const { decisions, history, suspects } = decideSweep({
      found, owner: ctx.owner, intents: this.intents(cloud, listFrom), history: this.history.get(cloud.key) ?? emptyHistory(), now: ctx.clock.now(),
    });
    this.history.set(cloud.key, history);
    this.sweeps++;
    const writes: Promise<void>[] = [];
    for (const dec of decisions) {
      const w = applySweepDecision(this.context, cloud.driver, dec);
      if (w) writes.push(w);
    }
    await Promise.all(writes);
    cloud.synced = true;
    if (suspects > 0 && !this.soon.has(cloud.key) && !ctx.stopped) {
      // a node missed once is listed again soon, so a lost one is re-created promptly
      this.soon.add(cloud.key);
      const again = (): void => void this.soon.delete(cloud.key);
      ctx.clock.sleep(Math.min(ctx.settings.sweepMs, 1000), ctx.signal).then(() => (again(), this.sweep(cloud)), again).catch(() => undefined);
    }
  }

  /** Every node intent as the sweep of `cloud` sees it; `changed` when touched after the list began. */
  private intents(cloud: CloudHandle, listFrom: number): Map<string, SweepIntent> {
    const { ctx } = this;
    const out = new Map<string, SweepIntent>();
    const own = new Map<string, string | undefined>();
    for (const n of ctx.nodes.values()) {
      const d = ctx.deployments.get(n.deployment);
      if (!d) continue;
      const ck = `${n.deployment}\0${n.cloud}`;
      if (!own.has(ck)) own.set(ck, ctx.handleKey(d, n.cloud));
      const own1 = own.get(ck) === cloud.key;
      const changed = ctx.busy.has(n.key) || (n.touch ?? 0) > listFrom;
      const graceUntil = (n.visibleSince ?? 0) + ctx.settings.consistencyMs;
      // one record per node, refreshed in place: it is read only while the list is judged, synchronously
      let i = this.intentOf.get(n);
      if (!i) this.intentOf.set(n, (i = { key: n.key, deployment: n.deployment, tenant: d.tenant, status: n.status, token: n.token, own: own1, changed, graceUntil }));
      else {
        i.deployment = n.deployment;
        i.tenant = d.tenant;
        i.status = n.status;
        i.token = n.token;
        i.own = own1;
        i.changed = changed;
        i.graceUntil = graceUntil;
      }
      if (n.providerId) i.providerId = n.providerId;
      else delete i.providerId;
      out.set(n.key, i);
    }
    return out;
  }
}
