/**
 * The reconcile core: one keyed work queue per registered controller, drained on the event
 * loop, with requeues on the `Clock`. Controllers plug in with `register(controller)`; the
 * core knows nothing of what they reconcile.
 */
import type { Clock } from '../../clock/index.js';
import { toNubisError, type NubisError } from '../../errors/index.js';
import type { Controller, ReconcileResult } from './controller.js';
import { WorkQueue, type TerminalRecord } from './work-queue.js';

export interface ControllerStats {
  /** Drains that reconciled at least one key, their total and last duration (wall ms). */
  drains: number;
  drainMsTotal: number;
  lastDrainMs: number;
  /** Keys reconciled. */
  reconciles: number;
  /** Keys ready or being reconciled now. */
  active: number;
  /** Keys waiting for a delay. */
  waiting: number;
  /** Keys stopped by a terminal error. */
  terminal: number;
}

export interface ReconcileCoreOptions {
  clock: Clock;
  /** Called after every drain and every asynchronous reconcile that settles (for idle checks). */
  onSettle?: () => void;
}

/** One controller with its queue and drain schedule. */
class Runner {
  readonly queue: WorkQueue;
  private scheduled = false;
  private nextAt = 0;
  private stopped = false;
  private readonly running = new Set<Promise<void>>();
  readonly stats = { drains: 0, drainMsTotal: 0, lastDrainMs: 0, reconciles: 0 };

  constructor(
    readonly controller: Controller,
    clock: Clock,
    private readonly signal: AbortSignal,
    private readonly onSettle: () => void,
  ) {
    this.queue = new WorkQueue({
      clock,
      ...(controller.backoffBaseMs !== undefined ? { baseMs: controller.backoffBaseMs } : {}),
      ...(controller.backoffMaxMs !== undefined ? { maxMs: controller.backoffMaxMs } : {}),
      onReady: () => this.schedule(),
    });
  }

  /** True while a drain is scheduled or a key is ready or being reconciled. */
  busy(): boolean {
    return this.scheduled || this.queue.activeCount() > 0;
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    const wait = this.nextAt - performance.now();
    if (wait > 0) setTimeout(() => this.drain(), wait);
    else setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    if (this.stopped) {
      this.queue.clearReady();
      this.onSettle();
      return;
    }
    const batch: string[] = [];
    for (let k = this.queue.next(); k !== undefined; k = this.queue.next()) batch.push(k);
    const t0 = performance.now();
    for (const key of batch) this.run(key);
    const took = performance.now() - t0;
    if (batch.length > 0) this.stats.drains++;
    this.stats.reconciles += batch.length;
    this.stats.drainMsTotal += took;
    this.stats.lastDrainMs = took;
    const spacing = this.controller.pacing === 'adaptive' ? 4 : this.controller.pacing === 'background' ? 9 : 0;
    this.nextAt = spacing > 0 && took > 1 ? performance.now() + spacing * took : 0;
    this.onSettle();
  }

  private run(key: string): void {
    let r: ReconcileResult | Promise<ReconcileResult>;
    try {
      r = this.controller.reconcile(key, this.signal);
    } catch (e) {
      this.settle(key, errorResult(e));
      return;
    }
    if (!(r instanceof Promise)) {
      this.settle(key, r);
      return;
    }
    const p: Promise<void> = r.then(
      (res) => this.settle(key, res),
      (e: unknown) => this.settle(key, errorResult(e)),
    ).finally(() => {
      this.running.delete(p);
      this.onSettle();
    });
    this.running.add(p);
  }

  private settle(key: string, r: ReconcileResult): void {
    const q = this.queue;
    if (this.stopped) {
      q.done(key);
      return;
    }
    switch (r.kind) {
      case 'done':
        q.forget(key);
        break;
      case 'requeue':
        q.forget(key);
        q.addAfter(key, r.afterMs);
        break;
      case 'retry':
        q.addRateLimited(key);
        break;
      case 'terminal':
        q.fail(key, r.error);
        try {
          this.controller.onTerminal?.(key, r.error);
        } catch {
          /* a reporting failure does not stop the core */
        }
        break;
    }
    q.done(key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.close();
    await Promise.allSettled([...this.running]);
  }
}

function errorResult(e: unknown): ReconcileResult {
  const err: NubisError = toNubisError(e);
  return err.retryable ? { kind: 'retry', error: err } : { kind: 'terminal', error: err };
}

export class ReconcileCore {
  private readonly runners = new Map<string, Runner>();
  private readonly unwatch: (() => void)[] = [];
  private readonly abort = new AbortController();
  private started = false;

  constructor(private readonly opts: ReconcileCoreOptions) {}

  /** Adds a controller; registered after start, it starts at once. */
  register(controller: Controller): void {
    if (this.runners.has(controller.name)) throw new Error(`controller ${controller.name} is registered twice`);
    const r = new Runner(controller, this.opts.clock, this.abort.signal, () => this.opts.onSettle?.());
    this.runners.set(controller.name, r);
    if (this.started) this.startOne(r);
  }

  /** Controllers in registration order. */
  names(): string[] {
    return [...this.runners.keys()];
  }

  /** Queues `key` of a controller now. */
  enqueue(controller: string, key: string): void {
    this.runner(controller).queue.add(key);
  }

  /** Queues `key` of a controller after `ms` of clock time. */
  enqueueAfter(controller: string, key: string, ms: number): void {
    this.runner(controller).queue.addAfter(key, ms);
  }

  /** True while the controller has a key ready or being reconciled, or a drain scheduled. */
  busy(controller: string): boolean {
    return this.runner(controller).busy();
  }

  terminal(controller: string): TerminalRecord[] {
    return this.runner(controller).queue.terminal();
  }

  stats(controller: string): ControllerStats {
    const r = this.runner(controller);
    return { ...r.stats, active: r.queue.activeCount(), waiting: r.queue.waitingCount(), terminal: r.queue.terminal().length };
  }

  /** Wakes every controller's watch and queues its initial keys. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const r of this.runners.values()) this.startOne(r);
  }

  private startOne(r: Runner): void {
    const c = r.controller;
    const off = c.watch?.((key) => r.queue.add(key));
    if (off) this.unwatch.push(off);
    for (const k of c.initialKeys?.() ?? []) r.queue.add(k);
  }

  /** Stops every queue and waits for reconciles in flight (their signal is aborted). */
  async stop(reason?: unknown): Promise<void> {
    for (const off of this.unwatch.splice(0)) off();
    this.abort.abort(reason);
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
  }

  private runner(name: string): Runner {
    const r = this.runners.get(name);
    if (!r) throw new Error(`no controller ${name} is registered`);
    return r;
  }
}
