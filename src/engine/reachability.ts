/**
 * Reachability: whether a running node answers. Two sources judge it — the cloud (a sweep's
 * list says the node is broken or stopped) and the node's agent (it missed `missLimit`
 * observations in a row). A node is unreachable while either source says so, and reachable
 * again once both agree it answers.
 *
 * An instance on an unreachable node is not running for anyone else: wiring (./wiring.ts)
 * leaves it out of its consumers' channels, so they get an `update` without it (the lb stops
 * sending it traffic), and the planner plans nothing for it until its node answers again. The
 * status view shows it with health `unreachable` and a `!` line.
 *
 * `NodeReachability` holds the judgement (pure state, no I/O); `applyReachability` enacts one
 * change on the engine's records and events.
 */
import type { Clock } from '../clock/index.js';
import type { EventInput } from '../events/index.js';
import { NubisError } from '../errors/index.js';
import type { InstanceRec, NodeRec } from './state.js';

export type ReachSource = 'cloud' | 'agent';

/** A node's overall reachability flipped. */
export interface ReachChange {
  key: string;
  down: boolean;
  /** Why it is down (the first source that said so), or why it is back. */
  reason: string;
  source: ReachSource;
}

/** Default: consecutive missed agent observations before a node is unreachable. */
export const DEFAULT_MISSES_TO_UNREACHABLE = 3;

export class NodeReachability {
  readonly #missLimit: number;
  readonly #misses = new Map<string, number>();
  /** key → source → reason, for the sources that say the node is down. */
  readonly #down = new Map<string, Map<ReachSource, string>>();

  constructor(missLimit: number = DEFAULT_MISSES_TO_UNREACHABLE) {
    if (!Number.isInteger(missLimit) || missLimit < 1) throw new RangeError(`missLimit must be a positive integer, got ${missLimit}`);
    this.#missLimit = missLimit;
  }

  /** The agent answered an observation. */
  agentAnswered(key: string): ReachChange | undefined {
    this.#misses.delete(key);
    return this.#set(key, 'agent', undefined, 'its agent answers again');
  }

  /** The agent did not answer an observation (`why`: the error). */
  agentMissed(key: string, why: string): ReachChange | undefined {
    const m = (this.#misses.get(key) ?? 0) + 1;
    this.#misses.set(key, m);
    if (m < this.#missLimit) return undefined;
    return this.#set(key, 'agent', `its agent missed ${m} observations in a row (${why})`, '');
  }

  /** A sweep's list reported the node broken or stopped (`down`), or running. */
  cloudReported(key: string, down: boolean, reason: string): ReachChange | undefined {
    return this.#set(key, 'cloud', down ? reason : undefined, reason);
  }

  isUnreachable(key: string): boolean {
    return this.#down.has(key);
  }

  /** Consecutive misses counted now (for tests and views). */
  misses(key: string): number {
    return this.#misses.get(key) ?? 0;
  }

  /** The node is gone: drop what is known of it. */
  forget(key: string): void {
    this.#misses.delete(key);
    this.#down.delete(key);
  }

  #set(key: string, source: ReachSource, downReason: string | undefined, upReason: string): ReachChange | undefined {
    const before = this.#down.get(key);
    const wasDown = before !== undefined;
    if (downReason !== undefined) {
      if (before?.has(source)) return undefined;
      const m = before ?? new Map<ReachSource, string>();
      m.set(source, downReason);
      this.#down.set(key, m);
      return wasDown ? undefined : { key, down: true, reason: downReason, source };
    }
    if (!before?.has(source)) return undefined;
    before.delete(source);
    if (before.size > 0) return undefined;
    this.#down.delete(key);
    return { key, down: false, reason: upReason, source };
  }
}

/** The status view's `!` line for an instance on an unreachable node. */
export function unreachableLine(n: NodeRec, now: number): string {
  const since = n.unreachableSince !== undefined ? ` for ${Math.max(0, Math.round((now - n.unreachableSince) / 1000))} s` : '';
  return `node unreachable${since}: ${n.unreachableReason ?? 'it does not answer'}; out of its consumers' wiring until it answers`;
}

/** What `applyReachability` needs of the engine. */
export interface ReachabilityContext {
  nodes: ReadonlyMap<string, NodeRec>;
  instances: ReadonlyMap<string, InstanceRec>;
  now(): number;
  /** Appends an engine event (the engine fills in actor, time and correlation id). */
  emit(e: Omit<EventInput, 'actor'>): Promise<void>;
  /** Queues a pass over the deployment (its consumers' wiring changed). */
  enqueue(deployment: string): void;
}

/**
 * Enacts one change: the node record's flag and reason, `node.unreachable` / `node.reachable`
 * and `instance.unreachable` / `instance.reachable` events, and a pass over the deployment so
 * consumers are rewired. `data` is added to the node event.
 */
export async function applyReachability(ctx: ReachabilityContext, change: ReachChange | undefined, data: Record<string, unknown> = {}, outcome?: string): Promise<void> {
  if (!change) return;
  const n = ctx.nodes.get(change.key);
  if (!n) return;
  n.unreachable = change.down;
  n.unreachableReason = change.down ? change.reason : undefined;
  n.unreachableSince = change.down ? ctx.now() : undefined;
  const evs: Promise<void>[] = [ctx.emit({
    deployment: n.deployment, kind: change.down ? 'node.unreachable' : 'node.reachable', target: n.key,
    outcome: outcome ?? (change.down ? 'unreachable' : 'running'), reason: change.reason, data: { source: change.source, ...data },
  })];
  const inst = ctx.instances.get(change.key);
  if (inst?.desired) {
    // what the agent said before it went silent is no longer known
    if (change.down) {
      inst.health = 'unknown';
      inst.processAlive = undefined;
    }
    evs.push(ctx.emit({
      deployment: inst.deployment, kind: change.down ? 'instance.unreachable' : 'instance.reachable', target: inst.key,
      outcome: change.down ? 'unreachable' : inst.phase,
      reason: change.down ? `its node is unreachable: ${change.reason}; dropped from its consumers' wiring` : `its node answers again; restored to its consumers' wiring`,
      data: { phase: inst.phase },
    }));
  }
  await Promise.all(evs);
  ctx.enqueue(n.deployment);
}

/** Calls of a round that share one signal. */
const GROUP = 32;

/** The reason a deadline's timer is cancelled with (an Error made once: aborting without a reason builds a DOMException each time). */
const SETTLED = new Error('settled');

/**
 * A deadline shared by many calls that start together (an observation round): after `ms` of
 * the clock's time (AGENT_UNREACHABLE), or when `parent` aborts, every call's signal aborts.
 * One timer and one listener on `parent` serve the whole round; calls share a signal in
 * groups of `GROUP` (many listeners on one signal make each new one cost a walk of the others,
 * and a signal per call costs its construction).
 */
export function deadlineRound(clock: Clock, ms: number, parent: AbortSignal): { signal(): AbortSignal; done(): void } {
  const timer = new AbortController();
  const calls: AbortController[] = [];
  let current: AbortSignal | undefined;
  let uses = 0;
  let reason: unknown;
  const abortAll = (why: unknown): void => {
    if (reason !== undefined) return;
    reason = why;
    for (const c of calls) c.abort(why);
  };
  const onParent = (): void => abortAll(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  void clock.sleep(ms, timer.signal).then(
    () => abortAll(new NubisError('AGENT_UNREACHABLE', `the agent did not answer within ${ms} ms`)),
    () => undefined,
  );
  return {
    signal() {
      if (uses === 0 || uses >= GROUP || reason !== undefined) {
        const c = new AbortController();
        if (reason !== undefined) c.abort(reason);
        else calls.push(c);
        current = c.signal;
        uses = 0;
      }
      uses++;
      return current!;
    },
    done() {
      timer.abort(SETTLED);
      parent.removeEventListener('abort', onParent);
      calls.length = 0;
    },
  };
}

/**
 * Runs `fn` with a signal that aborts when `parent` does or after `ms` of the clock's time
 * (AGENT_UNREACHABLE), so one silent agent cannot hold an observation round for the agent
 * client's whole request timeout.
 */
export async function withDeadline<T>(clock: Clock, ms: number, parent: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const d = deadlineRound(clock, ms, parent);
  try {
    return await fn(d.signal());
  } finally {
    d.done();
  }
}
