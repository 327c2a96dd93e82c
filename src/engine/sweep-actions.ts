/**
 * Carries out the sweep's decisions (./sweep.ts) on one cloud. Every decision that changes
 * the cloud or the store is confirmed first by a direct `get` and re-checked against the
 * intent as it is after that await; a decision whose confirmation fails (not found yet, an
 * error, the intent moved on) does nothing, and the next sweep judges again.
 */
import crypto from 'node:crypto';
import type { EventInput } from '../events/index.js';
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, type CloudNode, type Driver } from '../drivers/driver.js';
import type { InstancePhase, NodeState } from './views.js';
import type { InstanceRec, NodeRec } from './state.js';
import type { SweepDecision } from './sweep.js';

/** What the engine lends the sweep's executor. */
export interface SweepContext {
  owner: string;
  nodes: ReadonlyMap<string, NodeRec>;
  instances: ReadonlyMap<string, InstanceRec>;
  signal: AbortSignal;
  now(): number;
  setNode(n: NodeRec, status: NodeState, reason: string, extra?: Partial<NodeRec>, data?: Record<string, unknown>): Promise<void>;
  setPhase(i: InstanceRec, phase: InstancePhase, reason: string): Promise<void>;
  /** Appends an engine event (the engine fills in actor, time and correlation id). */
  emit(e: Omit<EventInput, 'actor'>): Promise<void>;
  /**
   * The cloud's verdict on a running node's reachability; the engine decides whether it
   * changed, and only then builds the event's `data` and returns the write (else undefined).
   */
  cloudReported(n: NodeRec, down: boolean, reason: string, data: () => Record<string, unknown>, outcome: string): Promise<void> | undefined;
  /** Runs `fn` as an action on `key` (the key is busy meanwhile; the deployment gets a pass after). */
  run(key: string, deployment: string | undefined, fn: () => Promise<void>): Promise<void>;
  /** Whether an intent of this deployment and tenant now holds the key. */
  hasIntent(node: CloudNode): boolean;
}

/** Whether the intent names this copy as its node (providerId, else the attempt tag). */
function names(n: NodeRec, cn: CloudNode): boolean {
  if (n.providerId) return n.providerId === cn.id;
  return (cn.tags[TAG_ATTEMPT] ?? n.token) === n.token;
}

/** Same node, same owner and key tags as listed. */
function confirms(listed: CloudNode, got: CloudNode | undefined, owner: string): got is CloudNode {
  return !!got && got.tags[TAG_OWNER] === owner && got.tags[TAG_KEY] === listed.tags[TAG_KEY] && got.tags[TAG_ATTEMPT] === listed.tags[TAG_ATTEMPT];
}

/**
 * Carries out one decision; undefined when it is done at once (an `observe` that changed
 * nothing: the common case of a sweep over a converged cloud, which then allocates nothing).
 */
export function applySweepDecision(ctx: SweepContext, driver: Driver, dec: SweepDecision): Promise<void> | undefined {
  if (dec.kind === 'observe') {
    const n = ctx.nodes.get(dec.key);
    return n ? observe(ctx, n, dec.node) : undefined;
  }
  return applyChange(ctx, driver, dec);
}

async function applyChange(ctx: SweepContext, driver: Driver, dec: Exclude<SweepDecision, { kind: 'observe' }>): Promise<void> {
  const quietly = (fn: () => Promise<void>) => async (): Promise<void> => {
    try {
      await fn();
    } catch {
      // a failed confirmation or delete is a driver.call event already; the next sweep retries
    }
  };
  const n = ctx.nodes.get(dec.key);
  switch (dec.kind) {
    case 'adopt':
      if (!n) return;
      return ctx.run(dec.key, n.deployment, async () => {
        if (n.status === 'deleting') {
          n.providerId = dec.node.id;
          return;
        }
        n.visibleSince = ctx.now();
        await ctx.setNode(n, dec.node.status === 'running' ? 'running' : 'provisioning', 'adopted by tag', { providerId: dec.node.id, observed: dec.node });
        await observe(ctx, n, dec.node);
      });
    case 'resend-create':
      if (!n) return;
      return ctx.run(dec.key, n.deployment, async () => {
        if (n.status === 'creating') await ctx.setNode(n, 'pending', 'the create never reached the cloud (sent again with the same token)');
      });
    case 'duplicate-delete':
      if (!n) return;
      return ctx.run(dec.key, n.deployment, quietly(async () => {
        const [dup, keep] = await Promise.all([driver.get(dec.node.id, ctx.signal), driver.get(dec.keep.id, ctx.signal)]);
        const now = ctx.nodes.get(dec.key);
        if (!confirms(dec.node, dup, ctx.owner) || !confirms(dec.keep, keep, ctx.owner) || now !== n || !names(n, keep) || names(n, dup)) return;
        await driver.delete(dup.id, ctx.signal);
        await ctx.emit({ deployment: n.deployment, kind: 'node.duplicate-deleted', target: dec.key, reason: `a second node for ${dec.key}; kept ${keep.id}, the one its intent names`, data: { id: dup.id, kept: keep.id } });
      }));
    case 'orphan-delete':
      return ctx.run(dec.key, undefined, quietly(async () => {
        const got = await driver.get(dec.node.id, ctx.signal);
        if (!confirms(dec.node, got, ctx.owner) || ctx.hasIntent(got)) return;
        await driver.delete(got.id, ctx.signal);
        await ctx.emit({ deployment: got.tags[TAG_DEPLOYMENT], kind: 'node.orphan-deleted', target: dec.key, reason: 'no intent in the store for its tenant, deployment and key (seen in two sweeps and confirmed by get)', data: { id: got.id } });
      }));
    case 'confirm-lost':
      if (!n) return;
      return ctx.run(dec.key, n.deployment, quietly(async () => {
        const got = await driver.get(dec.providerId, ctx.signal);
        if (got || ctx.nodes.get(dec.key) !== n || n.providerId !== dec.providerId) return;
        await ctx.setNode(n, 'pending', 'the cloud no longer has this node (missed by 3 lists and not found by get)', { providerId: undefined, observed: undefined, token: crypto.randomUUID() }, { id: dec.providerId });
        const inst = ctx.instances.get(dec.key);
        if (inst && inst.desired && inst.phase !== 'pending') {
          inst.inflightRun = undefined;
          await ctx.setPhase(inst, 'pending', 'its node was lost');
        } else if (inst && !inst.desired) {
          await ctx.setPhase(inst, 'stopped', 'its node was lost');
        }
      }));
  }
}

const RUNNING_AGAIN = 'the cloud reports the node running again';

/** Records the listed node of a running intent; a node the cloud reports broken or stopped is unreachable (./reachability.ts), an event once per change. */
function observe(ctx: SweepContext, n: NodeRec, keep: CloudNode): Promise<void> | undefined {
  // the record is replaced only when the cloud says something new: wiring memos hold while it is the same object
  if (n.status === 'running' && keep.status === 'running' && !sameObservation(n.observed, keep)) n.observed = keep;
  const down = n.status === 'running' && (keep.status === 'error' || keep.status === 'stopped');
  const reason = (keep as CloudNode & { error?: { code?: string; message?: string } }).error;
  return ctx.cloudReported(
    n, down,
    down ? `the cloud reports the node ${keep.status}${reason?.message ? `: ${reason.message}` : ''}` : RUNNING_AGAIN,
    () => ({ id: keep.id, ...(reason?.code ? { code: reason.code } : {}) }),
    keep.status,
  );
}

/** Whether two answers about a node say the same (top-level fields, and one level into objects such as tags and ports). */
export function sameObservation(a: CloudNode | undefined, b: CloudNode): boolean {
  if (a === b) return true;
  if (!a) return false;
  return sameFields(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, 1);
}

function sameFields(a: Record<string, unknown>, b: Record<string, unknown>, depth: number): boolean {
  let n = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    n++;
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (depth === 0 || typeof x !== 'object' || typeof y !== 'object' || x === null || y === null || Array.isArray(x) || Array.isArray(y)) return false;
    if (!sameFields(x as Record<string, unknown>, y as Record<string, unknown>, depth - 1)) return false;
  }
  for (const k in b) if (Object.hasOwn(b, k)) n--;
  return n === 0;
}
