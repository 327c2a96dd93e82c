/**
 * What the engine lends a recovery controller (src/operations/recovery): the agent
 * observations of running instances as the observe controller makes them (no second health
 * loop), a claim on the instances it decides for (the planner then plans no restart of its own
 * for them), the cloud's view of a node, and the three acting steps of a ladder — restart the
 * component, reboot the node, recreate the node — each run as an action on the instance's
 * key (busy meanwhile, a pass over it after), each writing its intent before the call.
 *
 * A step's promise resolves once the step was carried out (the instance is then on its way
 * back: configure/start or a new node); it rejects with the driver's or agent's error when the
 * step could not be carried out, with nothing half-applied: a failed reboot leaves the node
 * running as it was, a recreate whose delete failed still makes the new node (the sweep
 * removes the old one, by tag, once the cloud answers).
 */
import crypto from 'node:crypto';
import { NubisError, toNubisError } from '../errors/index.js';
import type { EngineContext } from './context.js';
import type { InstanceRec } from './state.js';
import type { InstancesController } from './controllers/index.js';

/** One agent observation of a running instance (the observe controller's round). */
export interface InstanceObservation {
  key: string;
  /** Clock time. */
  at: number;
  /** The agent answered; false: the call failed or timed out (`detail` says why). */
  answered: boolean;
  /** Its start process runs (or exited 0: a start that daemonised). */
  alive?: boolean;
  health?: 'unknown' | 'healthy' | 'unhealthy';
  /** The agent's probe counters since the process was launched. */
  probes?: { passed: number; failed: number };
  detail?: string;
}

/** What the cloud says of an instance's node: `gone` when it has no such node. */
export type NodeView = 'running' | 'provisioning' | 'stopped' | 'error' | 'gone' | 'unknown';

export interface RecoveryPort {
  /** Calls `fn` with every observation; returns the unsubscribe. */
  onObservation(fn: (o: InstanceObservation) => void): () => void;
  /** Recovery decides for the instances `owns` is true of (one claimant; a second call replaces it). */
  claim(owns: (inst: InstanceRec) => boolean): void;
  /** An action (lifecycle step, node change) is in flight on the key. */
  busy(key: string): boolean;
  /** The cloud's view of the node (driver get): `unknown` when the call failed or the node has no id yet. */
  nodeView(key: string, signal: AbortSignal): Promise<NodeView>;
  /** Stops the component and starts it again (configure/start), without the planner's restart backoff. */
  restart(key: string, reason: string): Promise<void>;
  /** Reboots the node through its driver, then starts the instance again on it. */
  reboot(key: string, reason: string): Promise<void>;
  /**
   * Deletes the node (best effort) and makes a new one for the instance, which then runs every
   * step from install; `image`: boot the new node from this image (a backup's).
   */
  recreate(key: string, reason: string, opts?: { image?: string }): Promise<void>;
}

/** The port over the engine's context and its instances controller. */
export function createRecoveryPort(ctx: EngineContext, instances: InstancesController): RecoveryPort {
  const parts = (key: string) => {
    const inst = ctx.instances.get(key);
    const n = ctx.nodes.get(key);
    const d = inst ? ctx.deployments.get(inst.deployment) : undefined;
    if (!inst || !n || !d) throw new NubisError('NOT_FOUND', `no instance ${key}`);
    return { inst, n, d };
  };
  /** Runs `fn` as an action on the key; refused while another runs (the caller looks again later). */
  const act = (key: string, fn: () => Promise<void>): Promise<void> => {
    if (ctx.busy.has(key)) return Promise.reject(new NubisError('CONFLICT', `an action is in flight on ${key}`, { retryable: true }));
    const { d } = parts(key);
    const p = fn();
    ctx.track(key, d.name, p.catch(() => undefined));
    return p;
  };
  return {
    onObservation: (fn) => ctx.onObservation(fn),
    claim(owns) {
      ctx.recoveryOwns = owns;
    },
    busy: (key) => ctx.busy.has(key),
    async nodeView(key, signal) {
      const { n, d } = parts(key);
      if (!n.providerId || !n.cloud) return 'unknown';
      try {
        const cn = await ctx.driverOf(d, n.cloud).get(n.providerId, signal);
        return cn ? cn.status : 'gone';
      } catch {
        return 'unknown';
      }
    },
    restart(key, reason) {
      const { inst, n } = parts(key);
      if (n.status !== 'running' || !n.observed) return Promise.reject(new NubisError('CONFLICT', `the node of ${key} is not running`));
      return act(key, async () => {
        const before = inst.restarts;
        await instances.restart(inst, reason, false);
        // the instances controller reports a failed stop as a retry event, not a throw
        if (inst.restarts === before) throw new NubisError('AGENT_UNREACHABLE', `the agent of ${key} did not stop the instance`);
      });
    },
    reboot(key, reason) {
      const { inst, n, d } = parts(key);
      if (!n.providerId || !n.cloud) return Promise.reject(new NubisError('CONFLICT', `the node of ${key} has no cloud id yet`));
      const driver = ctx.driverOf(d, n.cloud);
      const id = n.providerId;
      return act(key, async () => {
        const child = ctx.childSignal();
        try {
          await ctx.setNode(n, 'provisioning', `rebooting: ${reason}`);
          try {
            await driver.reboot(id, child.signal);
          } catch (e) {
            // nothing changed: the node is as it was (the ladder goes on)
            await ctx.setNode(n, 'running', `reboot failed: ${toNubisError(e).message}`);
            throw e;
          }
          const cn = await driver.get(id, child.signal).catch(() => undefined);
          await ctx.setNode(n, 'running', 'rebooted', cn ? { observed: cn } : {});
          inst.attempts = 0;
          inst.inflightRun = undefined;
          inst.health = 'unknown';
          inst.processAlive = undefined;
          inst.notBefore = undefined;
          if (inst.phase === 'running' || inst.phase === 'failed' || inst.phase === 'started') await ctx.setPhase(inst, 'configured', `its node was rebooted: ${reason}`);
        } finally {
          child.done();
        }
      });
    },
    recreate(key, reason, opts = {}) {
      const { inst, n, d } = parts(key);
      return act(key, async () => {
        const old = n.providerId;
        let deleteError: string | undefined;
        if (old && n.cloud) {
          const child = ctx.childSignal();
          try {
            await ctx.driverOf(d, n.cloud).delete(old, child.signal);
          } catch (e) {
            // the old node carries the key's tags with the old attempt: the sweep deletes it as a duplicate once the cloud answers
            deleteError = toNubisError(e).message;
          } finally {
            child.done();
          }
        }
        const placement = opts.image ? { ...(n.placement ?? { cloud: n.cloud }), image: opts.image } : n.placement;
        await ctx.setNode(
          n, 'pending', `recreate: ${reason}`,
          { providerId: undefined, observed: undefined, token: crypto.randomUUID(), attempts: 0, notBefore: undefined, lastError: undefined, ...(placement ? { placement } : {}) },
          { ...(old ? { id: old } : {}), ...(deleteError ? { deleteError } : {}), ...(opts.image ? { image: opts.image } : {}) },
        );
        inst.inflightRun = undefined;
        inst.attempts = 0;
        inst.health = 'unknown';
        inst.processAlive = undefined;
        inst.notBefore = undefined;
        await ctx.setPhase(inst, 'pending', `its node is recreated: ${reason}`);
      });
    },
  };
}
