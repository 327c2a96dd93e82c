/**
 * Limit tokens: which holder (a task, or the `-n` node above it) holds how many tokens of each
 * limit, the tasks waiting for tokens (a heap per limit, lowest definition index first) and the
 * limits that got tokens back in this step. Rules:
 * - a task's needs of one limit are checked together; a holder counts once per limit;
 * - `-s` tokens go back when the task becomes active, the others when it completes or aborts;
 * - a `-n` node takes its token with its first task's submission and gives it back when it is
 *   complete, aborted or requeued (persisted as `limit=<path>:<name>` in its `fired` list);
 * - when a `-n` node takes a token, the tasks below it are evaluated again (they may have
 *   waited for exactly that token).
 */
import type { WfNodeRuntime } from '../model/runtime.js';
import type { Machine } from './machine.js';
import type { LimitRec, RNode } from './tree.js';

export class LimitBook {
  /** Limits that got tokens back in this step. */
  private readonly freed = new Set<LimitRec>();
  /** While serving a limit's waiters: the ones that must wait again (pushed back afterwards). */
  private holdBack: { limit: LimitRec; list: RNode[] } | undefined;

  constructor(private readonly m: Machine) {}

  /** The first limit without enough free tokens for all of the task's needs of it together. */
  blocking(t: RNode): LimitRec | undefined {
    const needs = t.needs;
    for (let i = 0; i < needs.length; i++) {
      const need = needs[i]!;
      const l = need.limit;
      if (l.holders.has(need.holder.path)) continue;
      let want = need.tokens;
      for (let j = 0; j < i; j++) {
        const o = needs[j]!;
        if (o.limit === l && !l.holders.has(o.holder.path)) want += o.tokens;
      }
      if (l.used + want > l.size) return l;
    }
    return undefined;
  }

  /** Per limit the task still lacks tokens of: [limit, tokens it needs]. */
  shortOf(t: RNode): [LimitRec, number][] {
    const wanted = new Map<LimitRec, number>();
    for (const need of t.needs) {
      if (need.limit.holders.has(need.holder.path)) continue;
      wanted.set(need.limit, (wanted.get(need.limit) ?? 0) + need.tokens);
    }
    return [...wanted].filter(([l, want]) => l.used + want > l.size);
  }

  /** Takes every token the task needs (even past the limit's size: `run` does that). */
  acquire(t: RNode): void {
    for (const need of t.needs) {
      const l = need.limit;
      const key = need.holder.path;
      if (l.holders.has(key)) continue;
      l.holders.set(key, need.tokens);
      l.used += need.tokens;
      if (need.holder !== t) {
        (need.holder.heldAsNode ??= new Set()).add(l);
        this.m.touch(need.holder);
        this.m.enqueue(need.holder);
      }
      this.changed(l);
    }
  }

  /** Gives back the tokens the task holds (all, or only its submission-only ones). */
  release(t: RNode, submissionOnly: boolean): void {
    for (const need of t.needs) {
      if (need.holder !== t || (submissionOnly && !need.submissionOnly)) continue;
      this.releaseHolder(need.limit, t.path);
    }
  }

  /** A `-n` node that is done gives its tokens back. */
  releaseAsNode(n: RNode): void {
    if (!n.heldAsNode) return;
    this.m.touch(n);
    for (const l of n.heldAsNode) this.releaseHolder(l, n.path);
    n.heldAsNode = undefined;
  }

  private releaseHolder(l: LimitRec, key: string): void {
    const tokens = l.holders.get(key);
    if (tokens === undefined) return;
    l.holders.delete(key);
    l.used -= tokens;
    this.freed.add(l);
    this.changed(l);
  }

  /** The limit's value (tokens in use) is visible to expressions on its node. */
  private changed(l: LimitRec): void {
    this.m.touch(l.node);
    if (l.referenced) this.m.markDependents(l.node);
  }

  /** The task waits for a token of `l`. */
  wait(t: RNode, l: LimitRec): void {
    if (this.holdBack && this.holdBack.limit === l) {
      t.waitingOn = l;
      this.holdBack.list.push(t);
      return;
    }
    if (t.waitingOn === l) return;
    t.waitingOn = l;
    l.waiters.push(t);
  }

  /** Offers the tokens that came back to their waiters; true when that may have changed something. */
  serveFreed(): boolean {
    if (this.freed.size === 0) return false;
    const limits = [...this.freed].sort((a, b) => a.node.index - b.node.index);
    this.freed.clear();
    for (const l of limits) this.serve(l);
    return this.m.queue.size > 0 || this.freed.size > 0;
  }

  /** Lowest definition index first, while tokens are free. */
  private serve(l: LimitRec): void {
    const back: RNode[] = [];
    this.holdBack = { limit: l, list: back };
    try {
      while (l.used < l.size && l.waiters.size > 0) {
        const w = l.waiters.pop()!;
        if (w.waitingOn !== l) continue;
        w.waitingOn = undefined;
        if (w.dirty) continue; // evaluated anyway this step
        if (this.m.ancestorsOpen(w)) this.m.visit(w);
      }
    } finally {
      this.holdBack = undefined;
    }
    for (const b of back) l.waiters.push(b);
  }

  /** After a restart: tokens from the tries that run, and the `-n` nodes' saved tokens. */
  restore(saved: readonly WfNodeRuntime[]): void {
    const tree = this.m.tree;
    for (const l of tree.limits) {
      l.used = 0;
      l.holders.clear();
      l.waiters.clear();
    }
    for (const n of tree.all) {
      n.heldAsNode = undefined;
      n.waitingOn = undefined;
    }
    const hold = (l: LimitRec, holder: RNode, tokens: number): void => {
      if (l.holders.has(holder.path)) return;
      l.holders.set(holder.path, tokens);
      l.used += tokens;
    };
    for (const n of tree.all) {
      const s = n.rt.state;
      if (n.kind !== 'task' || (s !== 'submitted' && s !== 'active')) continue;
      for (const need of n.needs) {
        if (s === 'active' && need.submissionOnly) continue;
        hold(need.limit, need.holder, need.tokens);
        if (need.holder !== n) (need.holder.heldAsNode ??= new Set()).add(need.limit);
      }
    }
    for (const s of saved) {
      const n = tree.byPath.get(s.path);
      if (!n) continue;
      for (const f of s.fired ?? []) {
        if (!f.startsWith('limit=')) continue;
        const l = tree.limits.find((x) => x.label === f.slice(6));
        if (!l) continue;
        const il = n.def.inlimits.find((x) => x.nodeOnly && tree.findLimit(n, x.name, x.path) === l);
        hold(l, n, il?.tokens ?? 1);
        (n.heldAsNode ??= new Set()).add(l);
      }
    }
  }
}
