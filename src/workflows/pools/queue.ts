/**
 * A pool's queue: submissions wait here in arrival order until a node has a free slot, then go
 * to the least-loaded node (./dispatch.ts). It is the one place that counts a pool's running
 * jobs, so no node ever runs more than its slots: every method that frees or adds capacity
 * returns the dispatches that capacity allows, at once (event-driven, no tick).
 *
 * Items are keyed (`key(item)`, e.g. `path#tryNo`); a key is either waiting, running on one
 * node, or unknown. Everything is synchronous and in memory: after a control-plane restart the
 * owner re-registers its nodes and the jobs still running with `occupy`, then resubmits the
 * waiting ones in their order.
 */
import { NubisError } from '../../errors/index.js';
import { choosePoolNode, type PoolNodeLoad } from './dispatch.js';

/** One job handed to one node. */
export interface PoolDispatch<T> {
  readonly item: T;
  readonly node: string;
}

interface NodeSlot {
  id: string;
  slots: number;
  load?: number;
  draining: boolean;
  running: Set<string>;
}

export interface PoolQueueOptions<T> {
  /** Slots of a node added without its own count. Default 1. */
  readonly slots?: number;
  /** Identity of an item (unique among waiting and running ones). */
  readonly key: (item: T) => string;
}

export class PoolQueue<T> {
  private readonly nodeMap = new Map<string, NodeSlot>();
  /** Insertion-ordered: the first key is the oldest waiting submission. */
  private readonly waitingMap = new Map<string, T>();
  private readonly runningMap = new Map<string, PoolDispatch<T>>();
  private readonly defaultSlots: number;
  private readonly keyOf: (item: T) => string;

  constructor(readonly pool: string, opts: PoolQueueOptions<T>) {
    this.defaultSlots = checkSlots(opts.slots ?? 1, pool);
    this.keyOf = opts.key;
  }

  /** A node joins the pool (it is ready to run jobs); waiting jobs may go to it at once. */
  addNode(id: string, opts: { slots?: number; load?: number } = {}): PoolDispatch<T>[] {
    const slots = checkSlots(opts.slots ?? this.defaultSlots, this.pool);
    const had = this.nodeMap.get(id);
    if (had) {
      had.slots = slots;
      if (opts.load !== undefined) had.load = opts.load;
      had.draining = false;
    } else {
      this.nodeMap.set(id, { id, slots, ...(opts.load !== undefined ? { load: opts.load } : {}), draining: false, running: new Set() });
    }
    return this.pump();
  }

  /**
   * A node leaves the pool (scaled in, destroyed, lost). Returns the items that were running on
   * it: their processes are gone with it, so the owner reports them lost.
   */
  removeNode(id: string): T[] {
    const n = this.nodeMap.get(id);
    if (!n) return [];
    this.nodeMap.delete(id);
    const lost: T[] = [];
    for (const k of n.running) {
      const d = this.runningMap.get(k);
      this.runningMap.delete(k);
      if (d) lost.push(d.item);
    }
    return lost;
  }

  /** The agent's latest CPU load of a node; only later choices change. */
  setLoad(id: string, load: number): void {
    const n = this.nodeMap.get(id);
    if (n) n.load = load;
  }

  /** A draining node finishes what it runs and takes nothing new (before a scale-in); undraining may dispatch. */
  drain(id: string, draining = true): PoolDispatch<T>[] {
    const n = this.nodeMap.get(id);
    if (!n) return [];
    n.draining = draining;
    return draining ? [] : this.pump();
  }

  /**
   * Queues a submission behind the ones already waiting; returns what can run now (this one,
   * when a slot is free and nothing waits before it). CONFLICT when its key is already queued
   * or running: one try is dispatched once.
   */
  submit(item: T): PoolDispatch<T>[] {
    const k = this.keyOf(item);
    if (this.waitingMap.has(k) || this.runningMap.has(k)) {
      throw new NubisError('CONFLICT', `pool ${this.pool}: ${k} is already ${this.waitingMap.has(k) ? 'waiting' : 'running'}`);
    }
    this.waitingMap.set(k, item);
    return this.pump();
  }

  /**
   * A job is over (complete, aborted, killed, lost) or a waiting one is withdrawn. Frees its
   * slot and returns the waiting jobs that take it. Unknown keys are ignored (a late report).
   */
  release(key: string): PoolDispatch<T>[] {
    if (this.waitingMap.delete(key)) return [];
    const d = this.runningMap.get(key);
    if (!d) return [];
    this.runningMap.delete(key);
    this.nodeMap.get(d.node)?.running.delete(key);
    return this.pump();
  }

  /**
   * Restores a job known to run on `node` (after a restart), without dispatching it. It takes a
   * slot even when that puts the node over its slots (the job is already there); nothing new
   * goes to the node until it is under again. False when the node is not in the pool.
   */
  occupy(item: T, node: string): boolean {
    const n = this.nodeMap.get(node);
    if (!n) return false;
    const k = this.keyOf(item);
    this.waitingMap.delete(k);
    const prev = this.runningMap.get(k);
    if (prev) this.nodeMap.get(prev.node)?.running.delete(k);
    this.runningMap.set(k, { item, node });
    n.running.add(k);
    return true;
  }

  /** Where a key is: `waiting`, the node it runs on, or undefined. */
  where(key: string): string | undefined {
    if (this.waitingMap.has(key)) return 'waiting';
    return this.runningMap.get(key)?.node;
  }

  /** Waiting items, oldest first. */
  waiting(): T[] {
    return [...this.waitingMap.values()];
  }

  get waitingCount(): number {
    return this.waitingMap.size;
  }

  get runningCount(): number {
    return this.runningMap.size;
  }

  /** Items running on a node. */
  runningOn(node: string): T[] {
    const n = this.nodeMap.get(node);
    return n ? [...n.running].map((k) => this.runningMap.get(k)!.item) : [];
  }

  /** The nodes with their load, in the order they joined. */
  nodes(): PoolNodeLoad[] {
    return [...this.nodeMap.values()].map((n) => ({
      id: n.id, runningJobs: n.running.size, slots: n.slots, ...(n.load !== undefined ? { load: n.load } : {}), ...(n.draining ? { draining: true } : {}),
    }));
  }

  /** One line for status: `compute: 4 nodes, 13 of 16 slots busy, 120 waiting`. */
  describe(): string {
    const ns = [...this.nodeMap.values()];
    const slots = ns.filter((n) => !n.draining).reduce((a, n) => a + n.slots, 0);
    const draining = ns.filter((n) => n.draining).length;
    return `${this.pool}: ${ns.length} node${ns.length === 1 ? '' : 's'}${draining ? ` (${draining} draining)` : ''}, ${this.runningMap.size} of ${slots} slots busy, ${this.waitingMap.size} waiting`;
  }

  /** Hands waiting jobs, oldest first, to the least-loaded free node until one of the two runs out. */
  private pump(): PoolDispatch<T>[] {
    const out: PoolDispatch<T>[] = [];
    if (this.waitingMap.size === 0) return out;
    const view = this.nodes();
    const byId = new Map(view.map((n, i) => [n.id, i]));
    while (this.waitingMap.size > 0) {
      const node = choosePoolNode(view);
      if (node === undefined) break;
      const [k, item] = this.waitingMap.entries().next().value as [string, T];
      this.waitingMap.delete(k);
      const d: PoolDispatch<T> = { item, node };
      this.runningMap.set(k, d);
      this.nodeMap.get(node)!.running.add(k);
      const i = byId.get(node)!;
      view[i] = { ...view[i]!, runningJobs: view[i]!.runningJobs + 1 };
      out.push(d);
    }
    return out;
  }
}

function checkSlots(slots: number, pool: string): number {
  if (!Number.isInteger(slots) || slots < 1) throw new NubisError('REQUEST_INVALID', `pool ${pool}: slots must be an integer ≥ 1, found ${JSON.stringify(slots)}`);
  return slots;
}
