/**
 * The nodes controller: creates a node (its intent persisted before the driver is called),
 * polls it until it runs, and deletes it; failures back off per node or, when they would
 * repeat forever, mark the node failed with an explanation for the operator.
 */
import crypto from 'node:crypto';
import type { Driver } from '../../../drivers/index.js';
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../../../drivers/index.js';
import { NubisError, toNubisError } from '../../../errors/index.js';
import type { Deployment, InstanceRec, NodeRec } from '../../state.js';
import type { Placement } from '../../clouds.js';
import { alertData, type EngineContext } from '../../context.js';
import type { Action } from '../../planner.js';
import type { Actuator } from '../actuator.js';
import { awaitAgent } from '../../first-boot.js';
import { HostPlacer } from '../../host-placement.js';

/** The placement as the driver's create request carries it. */
function placementRequest(p: Placement): { offer?: string; image?: string; location?: string; host?: string } {
  return { ...(p.offer ? { offer: p.offer } : {}), ...(p.image ? { image: p.image } : {}), ...(p.location ? { location: p.location } : {}), ...(p.host ? { host: p.host } : {}) };
}

export class NodesController implements Actuator {
  readonly name = 'nodes';
  readonly kinds = ['create-node', 'delete-node'] as const;
  private readonly hosts: HostPlacer;
  constructor(private readonly ctx: EngineContext) {
    this.hosts = new HostPlacer(ctx);
  }

  /** Chooses the node's host (recorded with its create intent); false when it cannot be placed (the node failed, with why). */
  private async placeOnHost(d: Deployment, inst: InstanceRec, n: NodeRec, signal: AbortSignal): Promise<boolean> {
    const { ctx } = this;
    try {
      const plan = await this.hosts.place(d, n.cloud, [{ key: n.key, component: inst.component, instance: inst.name }], signal, true);
      if (plan.kind === 'cloud-decides') return true;
      const choice = plan.decisions[0]!;
      await ctx.setNode(n, 'creating', `placed: ${choice.reason}`, {}, { host: choice.host });
      return true;
    } catch (e) {
      if (signal.aborted) return false;
      const err = toNubisError(e);
      n.lastError = `${err.code}: ${err.message}`;
      if (err.retryable) {
        n.attempts++;
        n.notBefore = ctx.clock.now() + ctx.backoff(n.attempts);
        await ctx.setNode(n, 'pending', 'placement failed, will retry', {}, { code: err.code });
      } else await ctx.setNode(n, 'failed', 'no placement', {}, alertData(err));
      return false;
    }
  }

  execute(d: Deployment, inst: InstanceRec, a: Action): Promise<void> {
    return a.kind === 'create-node' ? this.createNode(d, inst) : this.deleteNode(d, inst);
  }

  async createNode(d: Deployment, inst: InstanceRec): Promise<void> {
    const child = this.ctx.childSignal();
    try {
      await this.createNodeWith(d, inst, child.signal);
    } finally {
      child.done();
    }
  }

  private async createNodeWith(d: Deployment, inst: InstanceRec, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const { clock } = ctx;
    const n = ctx.nodes.get(inst.key)!;
    const comp = d.spec.components[inst.component]!;
    if (!n.cloud) {
      // selection found nothing when the node was added (or the registry changed): try again
      try {
        const { placement, reason } = ctx.placeFor(d, inst.component);
        await ctx.setNode(n, n.status, `placed: ${reason}`, { cloud: placement.cloud, placement });
      } catch (e) {
        const err = toNubisError(e);
        n.lastError = `${err.code}: ${err.message}`;
        await ctx.setNode(n, 'failed', 'no placement', {}, alertData(err));
        return;
      }
      if (!ctx.cloudFor(d, n.cloud).synced) return; // the next pass waits for its sweep
    }
    const cloud = ctx.cloudFor(d, n.cloud);
    const driver = ctx.driverOf(d, n.cloud);
    // [placement] a fresh create is placed on a host by its template's policy; the choice is part of the intent
    if (n.status === 'pending' && !n.providerId && this.hosts.policyOf(d, inst.component)) {
      if (!(await this.placeOnHost(d, inst, n, signal))) return;
    }
    if (n.status === 'pending') await ctx.setNode(n, 'creating', 'intent persisted before create');
    // A node the cloud already has (adopted after a restart, or a retried poll) takes no
    // creation permit: only creates this process sends hold one, and then only until the
    // provisioning deadline, so a node stuck provisioning never blocks the creates of others.
    const release = n.providerId ? undefined : await cloud.limiter.acquire(signal);
    const t0 = clock.now();
    let ok = false;
    try {
      if (!n.providerId) {
        const cn = await driver.create(
          {
            key: n.key,
            tags: { [TAG_OWNER]: ctx.owner, [TAG_TENANT]: d.tenant, [TAG_DEPLOYMENT]: n.deployment, [TAG_KEY]: n.key, [TAG_ATTEMPT]: n.token },
            idempotencyToken: n.token,
            requirements: d.spec.nodeTemplates[comp.nodeTemplate]?.requirements ?? {},
            ...(d.spec.nodeTemplates[comp.nodeTemplate]?.cloudInit ? { cloudInit: d.spec.nodeTemplates[comp.nodeTemplate]!.cloudInit! } : {}),
            ...(n.placement ? { placement: placementRequest(n.placement) } : {}),
          },
          signal,
        );
        n.visibleSince = clock.now();
        await ctx.setNode(n, cn.status === 'running' ? 'running' : 'provisioning', 'created', { providerId: cn.id, observed: cn });
      }
      ok = await this.awaitProvisioned(n, inst, driver, signal);
    } catch (e) {
      if (signal.aborted) return;
      await this.createFailed(n, driver, toNubisError(e));
    } finally {
      release?.({ latencyMs: clock.now() - t0, ok });
    }
    if (!ok) return;
    // contextualizing: no creation permit is held while the agent comes up (../../first-boot.ts)
    try {
      if (await awaitAgent(ctx, d, inst, n, driver, signal)) {
        n.attempts = 0;
        n.notBefore = undefined;
      }
    } catch (e) {
      if (signal.aborted) return;
      await this.createFailed(n, driver, toNubisError(e));
    }
  }

  /**
   * Polls a provisioning node until it runs. Resolves false without error when its instance
   * is no longer wanted (destroy or scale-in: the next pass deletes it). Throws CLOUD_TIMEOUT
   * (the node is deleted and made again) when it is still provisioning after
   * `provisionTimeoutMs`, and the cloud's verdict when it reports the node gone or broken.
   */
  private async awaitProvisioned(n: NodeRec, inst: InstanceRec, driver: Driver, signal: AbortSignal): Promise<boolean> {
    const { ctx } = this;
    const { clock } = ctx;
    const { provisionTimeoutMs, pollMs, consistencyMs } = ctx.settings;
    const deadline = clock.now() + provisionTimeoutMs;
    let notFound = 0;
    while (n.status !== 'running') {
      if (!inst.desired || ctx.deployments.get(n.deployment)?.status === 'destroying') return false;
      if (clock.now() >= deadline) {
        throw new NubisError('CLOUD_TIMEOUT', `node ${n.providerId} still provisioning after ${Math.round(provisionTimeoutMs / 1000)} s; deleting it and creating another`, {
          details: { vanished: false },
        });
      }
      await clock.sleep(pollMs, signal);
      const cn = await driver.get(n.providerId!, signal);
      if (!cn) {
        // NotFound within the provider's consistency window after create is not "gone"
        if (++notFound < 3 || clock.now() < (n.visibleSince ?? 0) + consistencyMs) continue;
        throw new NubisError('CLOUD_NOT_FOUND', `node ${n.providerId} vanished while provisioning`, { retryable: true, details: { vanished: true } });
      }
      notFound = 0;
      if (cn.status === 'error') throw new NubisError('CLOUD_INTERNAL', `node ${cn.id} failed to provision`, { details: { vanished: false } });
      n.observed = cn;
      if (cn.status === 'running') await ctx.setNode(n, 'running', 'provisioned', { observed: cn });
    }
    return true;
  }

  /** Records a failed create or provisioning wait: retry with backoff (a broken node deleted, a new token), or fail. */
  private async createFailed(n: NodeRec, driver: Driver, err: NubisError): Promise<void> {
    const { ctx } = this;
    n.attempts++;
    n.lastError = `${err.code}: ${err.message}`;
    const vanished = (err.details as { vanished?: boolean } | undefined)?.vanished;
    if (vanished !== undefined) {
      // The cloud lost or broke the node: forget it (deleting a broken one) and start over with a new token.
      if (!vanished && n.providerId) await driver.delete(n.providerId, ctx.signal).catch(() => undefined);
      n.providerId = undefined;
      n.observed = undefined;
      n.token = crypto.randomUUID();
    }
    if (err.retryable) {
      n.notBefore = ctx.clock.now() + ctx.backoff(n.attempts);
      await ctx.setNode(n, n.providerId ? n.status : 'pending', 'create failed, will retry', {}, { code: err.code, attempt: n.attempts });
    } else {
      await ctx.setNode(n, 'failed', 'create failed', {}, alertData(err));
    }
  }

  async deleteNode(d: Deployment, inst: InstanceRec): Promise<void> {
    const { ctx } = this;
    const n = ctx.nodes.get(inst.key);
    const finish = async (): Promise<void> => {
      ctx.reach.forget(inst.key);
      ctx.nodes.delete(inst.key);
      ctx.model.unindexInstance(inst.key);
      await Promise.all([
        ctx.store.write(ctx.store.deleteNode(inst.key), ctx.store.deleteInstance(inst.key)),
        ctx.emit({ deployment: d.name, kind: 'instance.deleted', target: inst.key, reason: 'node deleted' }),
      ]);
    };
    if (!n || n.status === 'pending' || !n.cloud) return finish();
    const driver = ctx.driverOf(d, n.cloud);
    try {
      if (n.status !== 'deleting') await ctx.setNode(n, 'deleting', 'intent persisted before delete');
      if (n.providerId) await driver.delete(n.providerId, ctx.signal);
      else {
        // The create may or may not have reached the cloud: find it by tag.
        for (const cn of await driver.list({ [TAG_OWNER]: ctx.owner, [TAG_KEY]: n.key }, ctx.signal)) {
          await driver.delete(cn.id, ctx.signal);
        }
      }
      await ctx.emit({ deployment: d.name, kind: 'node.state', target: n.key, outcome: 'deleted', reason: 'deleted', data: { from: 'deleting', to: 'deleted' } });
      await finish();
    } catch (e) {
      if (ctx.signal.aborted) return;
      await this.deleteFailed(n, toNubisError(e));
    }
  }

  /**
   * A retryable delete failure backs off and tries again; a non-retryable one (forbidden,
   * bad request, …) would fail the same way forever, so the node is marked failed with the
   * reason and no more deletes are sent: the destroy ends there, its status names the node
   * and why, and `destroy --forget` (or fixing the cloud and destroying again) finishes it.
   */
  private async deleteFailed(n: NodeRec, err: NubisError): Promise<void> {
    const { ctx } = this;
    n.attempts++;
    n.lastError = `delete failed: ${err.code}: ${err.message}`;
    if (!err.retryable) {
      n.notBefore = undefined;
      await ctx.setNode(n, 'failed', 'delete failed', {}, alertData(err));
      return;
    }
    n.notBefore = ctx.clock.now() + ctx.backoff(n.attempts);
    await ctx.setNode(n, 'deleting', 'delete failed, will retry', {}, { code: err.code, attempt: n.attempts });
  }
}
