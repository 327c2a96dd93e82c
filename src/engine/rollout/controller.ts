/**
 * The rollout controller: level-based, it reads a deployment's rollout state and its
 * instances on every pass and moves the rollout one step when it can.
 *
 * Per component, a batch starts only when the component is settled (every wanted instance
 * running and not unhealthy, none busy, none on its way out, the count reached). A batch is
 * either up to `maxUnavailable` restarts in place (the node is kept; the steps from the first
 * changed one run again), or, when the node template changed, up to `maxSurge` replacements
 * whose old instances stay until the new ones are healthy plus up to `maxUnavailable` whose
 * old instances go at once. The health gate: the next batch waits until the component is
 * settled again; a batch that is not settled within `healthGate.timeout` fails the rollout,
 * which then starts no more batches (a re-apply or `resume` tries again). A paused rollout
 * lets the running batch finish and starts none.
 */
import type { EventInput } from '../../events/index.js';
import type { WriteOp } from '../../store/index.js';
import type { UpdateStrategySpec } from '../../model/index.js';
import type { InstancePhase } from '../views.js';
import { desiredCount, type ComponentRollout, type Deployment, type InstanceRec, type Revision, type RolloutState } from '../state.js';
import { changeBetween, parseRevision, revisionText } from './revision.js';

export const DEFAULT_STRATEGY: UpdateStrategySpec = { maxUnavailable: 1, maxSurge: 0, healthGateTimeoutMs: 600_000 };

/** What the controller needs of the engine. */
export interface RolloutHost {
  now(): number;
  /** An action is in flight for this key. */
  busy(key: string): boolean;
  /** Commits writes and events as one tracked action under `key` (a pass follows when it ends). */
  commit(key: string, deployment: string, ops: WriteOp[], events: Omit<EventInput, 'actor'>[]): void;
  putDeployment(d: Deployment): WriteOp;
  putInstance(i: InstanceRec): WriteOp;
  /** Stops the instance (stop handler, then its process), then sets `back` so the lifecycle runs again from there. */
  restart(d: Deployment, inst: InstanceRec, back: InstancePhase, reason: string): void;
  /** Queues a pass over the deployment at clock time `at`. */
  wakeAt(deployment: string, at: number): void;
}

export type Event = Omit<EventInput, 'actor'>;

const BACK: Record<'install' | 'configure' | 'start', InstancePhase> = { install: 'pending', configure: 'installed', start: 'configured' };
const STEPS: Record<'install' | 'configure' | 'start', string> = {
  install: 'install, configure and start run again',
  configure: 'configure and start run again',
  start: 'start runs again',
};

/** Instances per batch under a strategy: restarts in place, and replacements (surge plus unavailable); at least 1. */
export function batchSizes(s: UpdateStrategySpec): { restart: number; replace: number } {
  return { restart: Math.max(1, s.maxUnavailable), replace: Math.max(1, s.maxSurge + s.maxUnavailable) };
}

/** The batches `restarts` restarts and `replaces` replacements take under a strategy. */
export function batchesFor(s: UpdateStrategySpec, restarts: number, replaces: number): number {
  const size = batchSizes(s);
  return Math.ceil(restarts / size.restart) + Math.ceil(replaces / size.replace);
}

export const strategyOf = (d: Deployment, component: string): UpdateStrategySpec => d.spec.components[component]?.updateStrategy ?? DEFAULT_STRATEGY;

/** The revision an instance runs; one without a record was created since the last apply, so it runs the current one. */
export function revisionOf(i: InstanceRec, target: Revision): Revision {
  return i.revision ? parseRevision(i.revision) : target;
}

export function isOutdated(i: InstanceRec, target: Revision): boolean {
  return changeBetween(revisionOf(i, target), target).kind !== 'none';
}

export class RolloutController {
  /** Per deployment: the gate deadline a wake-up is scheduled for. */
  private readonly wakes = new Map<string, number>();

  constructor(private readonly host: RolloutHost) {}

  /** One level-based step over a deployment's rollout. Call before the scale decision of a pass. */
  reconcile(d: Deployment, instances: readonly InstanceRec[]): void {
    const r = d.rollout;
    // a failed rollout waits for a re-apply or `resume`
    if (!r || r.status === 'completed' || r.status === 'failed' || d.status === 'destroying') return;
    const lockKey = `rollout:${d.name}`;
    if (this.host.busy(lockKey)) return;
    const now = this.host.now();
    const ops: WriteOp[] = [];
    const evs: Event[] = [];
    let changed = false;
    let pending = false;
    for (const comp of Object.values(d.spec.components)) {
      const target = r.revisions[comp.name];
      if (!target) continue;
      const cr: ComponentRollout = (r.components[comp.name] ??= { batch: 0 });
      const mine = instances.filter((i) => i.component === comp.name);
      const live = mine.filter((i) => i.desired);
      const settled = this.settled(d, comp.name, mine);
      const outdated = live.filter((i) => isOutdated(i, target) && !(cr.retiring ?? []).includes(i.key)).sort((a, b) => a.ordinal - b.ordinal);
      const strategy = strategyOf(d, comp.name);
      if (cr.batchStartedAt !== undefined) {
        if (settled) {
          changed = true;
          delete cr.batchStartedAt;
          if (cr.retiring?.length) {
            // the surge's new instances are healthy: the old ones go, the surge ends
            for (const key of cr.retiring) {
              const i = mine.find((x) => x.key === key);
              if (!i || !i.desired) continue;
              i.desired = false;
              i.updatedAt = now;
              ops.push(this.host.putInstance(i));
              evs.push({ deployment: d.name, kind: 'instance.removed', target: i.key, reason: 'replaced by a rolling update', data: { component: comp.name, batch: cr.batch } });
            }
            delete cr.retiring;
            delete cr.surge;
            pending = true;
            continue;
          }
        } else {
          const deadline = cr.batchStartedAt + strategy.healthGateTimeoutMs;
          // a paused rollout lets its batch finish without a deadline
          if (r.status === 'running' && now >= deadline) {
            const late = this.unsettled(d, comp.name, mine);
            const reason = `health gate timed out on ${late.join(', ') || comp.name}: batch ${cr.batch} of ${comp.name} was not running and healthy within ${Math.round(strategy.healthGateTimeoutMs / 1000)} s`;
            this.finish(d, r, 'failed', reason, evs, now, { component: comp.name, batch: cr.batch, instances: late });
            ops.push(this.host.putDeployment(d));
            this.host.commit(lockKey, d.name, ops, evs);
            return;
          }
          if (this.wakes.get(d.name) !== deadline) {
            this.wakes.set(d.name, deadline);
            this.host.wakeAt(d.name, deadline);
          }
          pending = true;
          continue;
        }
      }
      if (outdated.length === 0 && !cr.surge) continue;
      pending = true;
      if (r.status !== 'running' || !settled || outdated.length === 0) continue;
      this.startBatch(d, cr, outdated, target, strategy, ops, evs, now);
      changed = true;
    }
    if (!pending && r.status === 'running') {
      this.finish(d, r, 'completed', 'every instance runs its component\'s revision', evs, now);
      changed = true;
    }
    if (changed) {
      ops.push(this.host.putDeployment(d));
      this.host.commit(lockKey, d.name, ops, evs);
    }
  }

  private startBatch(d: Deployment, cr: ComponentRollout, outdated: InstanceRec[], target: Revision, s: UpdateStrategySpec, ops: WriteOp[], evs: Event[], now: number): void {
    cr.batch++;
    cr.batchStartedAt = now;
    const restarts = outdated.filter((i) => changeBetween(revisionOf(i, target), target).kind === 'restart');
    if (restarts.length > 0) {
      for (const i of restarts.slice(0, batchSizes(s).restart)) {
        const ch = changeBetween(revisionOf(i, target), target);
        const from = ch.kind === 'restart' ? ch.from : 'install';
        const reason = `rolling update batch ${cr.batch}: restart in place, ${STEPS[from]}`;
        i.revision = revisionText(target);
        evs.push({ deployment: d.name, kind: 'instance.updated', target: i.key, reason, data: { component: i.component, batch: cr.batch, how: 'restart', from } });
        this.host.restart(d, i, BACK[from], reason);
      }
      return;
    }
    // the node template changed: new nodes, then the old ones go
    const surge = outdated.slice(0, s.maxSurge);
    const down = outdated.slice(surge.length, surge.length + s.maxUnavailable);
    if (surge.length > 0) {
      cr.surge = surge.length;
      cr.retiring = surge.map((i) => i.key);
    }
    for (const i of surge) {
      evs.push({ deployment: d.name, kind: 'instance.updated', target: i.key, reason: `rolling update batch ${cr.batch}: replaced; a new node starts first (maxSurge)`, data: { component: i.component, batch: cr.batch, how: 'replace', surge: true } });
    }
    for (const i of down) {
      i.desired = false;
      i.updatedAt = now;
      ops.push(this.host.putInstance(i));
      evs.push({ deployment: d.name, kind: 'instance.updated', target: i.key, reason: `rolling update batch ${cr.batch}: replaced; the old node goes now (maxUnavailable)`, data: { component: i.component, batch: cr.batch, how: 'replace', surge: false } });
    }
  }

  /** Every wanted instance running and not unhealthy, none busy or on its way out, and the count reached. */
  private settled(d: Deployment, component: string, mine: readonly InstanceRec[]): boolean {
    const c = d.spec.components[component]!;
    let live = 0;
    for (const i of mine) {
      if (!i.desired) return false;
      if (this.host.busy(i.key) || i.phase !== 'running' || i.health === 'unhealthy' || i.processAlive === false) return false;
      live++;
    }
    return live === desiredCount(d, c);
  }

  /** Why the component is not settled, per instance (`app-3 (failed)`), or the count still to reach. */
  private unsettled(d: Deployment, component: string, mine: readonly InstanceRec[]): string[] {
    const out: string[] = [];
    let live = 0;
    for (const i of mine) {
      if (!i.desired) {
        out.push(`${i.name} (leaving)`);
        continue;
      }
      live++;
      const why = i.phase !== 'running' ? i.phase : i.health === 'unhealthy' ? 'unhealthy' : i.processAlive === false ? 'its process exited' : this.host.busy(i.key) ? 'busy' : undefined;
      if (why) out.push(`${i.name} (${why})`);
    }
    const want = desiredCount(d, d.spec.components[component]!);
    if (live < want) out.push(`${want - live} of ${want} ${component} instances still to come`);
    return out;
  }

  private finish(d: Deployment, r: RolloutState, status: 'completed' | 'failed', reason: string, evs: Event[], now: number, data: Record<string, unknown> = {}): void {
    r.status = status;
    r.reason = reason;
    r.endedAt = now;
    evs.push({
      deployment: d.name, kind: `rollout.${status}`, target: d.name, outcome: status, reason,
      data: { version: r.version, batches: Object.fromEntries(Object.entries(r.components).map(([c, x]) => [c, x.batch])), ...data },
    });
  }
}
