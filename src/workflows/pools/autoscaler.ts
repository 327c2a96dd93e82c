/**
 * The driver of a pool's queue-driven size (./autoscale.ts has the rule): the owner calls
 * `changed()` whenever the pool's queue changes (a job submitted, started or ended, a node
 * joined or left); the autoscaler decides at once, scales when the rule says so, and wakes on
 * the Clock when a cooldown holds a change back. One decision runs at a time; changes during it
 * ask for one more. Nothing polls.
 *
 * Scaling in removes the component's youngest instances (the engine's choice): the rule never
 * goes below what the running jobs need at `jobsPerNode`, and a job on a removed node is
 * reported lost and retried (ECF_TRIES), as for any node that goes away.
 */
import type { Clock } from '../../clock/index.js';
import { toNubisError, type NubisError } from '../../errors/index.js';
import type { WfPool } from '../model/types.js';
import { poolAutoscale, type AutoscaleDecision } from './autoscale.js';

export interface PoolAutoscalerOptions {
  /** A pool with `autoscale` bounds. */
  readonly pool: WfPool;
  readonly clock: Clock;
  /** Jobs waiting for a slot and running on the pool now. */
  load(): { waiting: number; running: number };
  /** The pool component's node count now (its desired count). */
  nodes(): Promise<number>;
  /** Scales the pool's component to `count`; `reason` is the decision's line for the audit log. */
  scale(count: number, reason: string): Promise<void>;
  /** A decision or scale that failed (the next change tries again). */
  onError?(e: NubisError): void;
  /** Every decision made, for status. */
  onDecision?(d: AutoscaleDecision): void;
}

export class PoolAutoscaler {
  private running = false;
  private again = false;
  private closed = false;
  private lastChangeAt: number | undefined;
  private timer: AbortController | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly bounds: NonNullable<WfPool['autoscale']>;

  constructor(private readonly o: PoolAutoscalerOptions) {
    if (!o.pool.autoscale) throw new TypeError(`pool ${o.pool.name} has no autoscale bounds`);
    this.bounds = o.pool.autoscale;
  }

  /** The pool's queue changed: decide now (or right after the decision running). */
  changed(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.decide().finally(() => {
      this.running = false;
      if (this.again && !this.closed) {
        this.again = false;
        this.changed();
      }
    });
  }

  /** Resolves once no decision runs (tests). */
  async idle(): Promise<void> {
    while (this.running) await new Promise<void>((r) => setImmediate(r));
  }

  close(): void {
    this.closed = true;
    this.timer?.abort();
  }

  private async decide(): Promise<void> {
    try {
      const nodes = await this.o.nodes();
      const { waiting, running } = this.o.load();
      const now = this.o.clock.now();
      const d = poolAutoscale({ waiting, running, nodes, ...this.bounds, ...(this.lastChangeAt !== undefined ? { lastChangeAt: this.lastChangeAt } : {}), now });
      this.o.onDecision?.(d);
      if (d.count !== nodes) {
        await this.o.scale(d.count, `pool ${this.o.pool.name}: ${d.reason}`);
        this.lastChangeAt = this.o.clock.now();
      }
      if (d.retryAt !== undefined) this.wakeAt(d.retryAt);
    } catch (e) {
      this.o.onError?.(toNubisError(e));
    }
  }

  /** One Clock wait for the soonest held-back change. */
  private wakeAt(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    this.timer?.abort();
    const t = new AbortController();
    this.timer = t;
    this.timerAt = at;
    this.o.clock.sleep(Math.max(0, at - this.o.clock.now()), t.signal).then(
      () => {
        if (this.timer !== t) return;
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.changed();
      },
      () => undefined,
    );
  }
}
