/**
 * State transitions: a node's own state (its parent's child counts kept), the derivation of a
 * parent's state from its children (the most significant), what a completion starts (a repeat's
 * next value, a later time slot, a cron: the node is queued again), requeues of a subtree,
 * submission, completion, abort with automatic retry (ECF_TRIES), completion by rule.
 *
 * Decisions where ecFlow leaves room:
 * - begin and repeat/time requeues apply defstatus; a user `requeue` queues everything (NOTES: a
 *   requeue runs a `defstatus complete` node);
 * - a requeue starts the tries afresh (ecFlow's Submittable::requeue); every try has a new password;
 * - `kill` and `force aborted` never retry; abort, lost and failed-to-start retry per ECF_TRIES.
 */
import type { WfState } from '../model/types.js';
import { STATE_SIGNIFICANCE } from '../model/types.js';
import type { Machine } from './machine.js';
import { repeatValid } from './repeat.js';
import { checkLate } from './late.js';
import { startSuiteClock } from './suite-clock.js';
import { requeueTime, resetTime, timeRequeues } from './time.js';
import { BY_SIGNIFICANCE, resetAttributes, resetLabels, type RNode } from './tree.js';

/** Repeat iterations one step may skip by rule before it stops re-evaluating. */
const MAX_RULE_CYCLES = 1_000;

/** `begin`: afresh with defstatus. `user`: all queued. `cycle`: a repeat's next value or a time slot. */
export type RequeueMode = 'begin' | 'user' | 'cycle';

/** Sets a node's own state and keeps its parent's counts. Does not propagate upwards. */
export function setState(m: Machine, n: RNode, s: WfState, reason?: string): void {
  const old = n.rt.state;
  if (reason !== undefined) n.rt.reason = reason;
  else if (s === 'queued' || s === 'submitted' || s === 'active') delete n.rt.reason;
  if (old !== s) {
    m.keepInterim(n);
    n.rt.state = s;
    n.rt.changedAt = m.now;
    if (n.parent) {
      n.parent.counts[STATE_SIGNIFICANCE[old]]!--;
      n.parent.counts[STATE_SIGNIFICANCE[s]]!++;
    }
    m.markDependents(n);
    if (n.time || n.def.autocancel) m.timeDirty = true;
    if (n.late) {
      m.timeDirty = true;
      checkLate(m, n);
    }
    if (n.heldAsNode && (s === 'complete' || s === 'aborted')) m.limits.releaseAsNode(n);
  }
  m.touch(n);
}

/** A parent's state: its most significant child's (its own when it has no children). */
export function derived(n: RNode): WfState {
  // no children (or every one removed by autocancel): its own state
  if (n.children.length === 0) return n.rt.state;
  for (let i = 5; i >= 0; i--) if (n.counts[i]! > 0) return BY_SIGNIFICANCE[i]!;
  return 'unknown';
}

/** Recomputes the states of `a` and its ancestors from their children. */
export function propagate(m: Machine, a: RNode | undefined): void {
  while (a) {
    const d = derived(a);
    if (d === a.rt.state) return;
    // a derived state has no reason of its own
    delete a.rt.reason;
    setState(m, a, d);
    if (d === 'complete') onComplete(m, a, false);
    else if (d === 'queued' && a.completeExpr) m.enqueue(a);
    a = a.parent;
  }
}

/**
 * A node has just completed (run, rule or force): a repeat moves on and requeues it, or a later
 * time slot (or any cron) requeues it. True when it was requeued.
 */
export function onComplete(m: Machine, n: RNode, byRule: boolean): boolean {
  const r = n.def.repeat;
  if (r) {
    const next = (n.rt.repeatIndex ?? 0) + 1;
    if (repeatValid(r, next)) {
      n.rt.repeatIndex = next;
      m.markDependents(n);
      // a complete expression that stays true skips iterations; a bound keeps an endless repeat from spinning
      requeue(m, n, 'cycle', true, !byRule || m.ruleCycles++ < MAX_RULE_CYCLES);
      return true;
    }
  }
  if (n.time && timeRequeues(n.time, m.cal(n))) {
    requeue(m, n, 'cycle', false, !byRule);
    return true;
  }
  return false;
}

/**
 * Requeues `n` and its subtree. In `cycle` mode `n` keeps its repeat index and moves its time
 * series past now (relative times count again from now after a repeat step); its subtree
 * starts afresh. Updates `n`'s parent's counts; the caller propagates.
 */
export function requeue(m: Machine, n: RNode, mode: RequeueMode, repeatStep: boolean, evaluate: boolean): void {
  const old = n.rt.state;
  const applyDef = mode !== 'user';
  const resetOne = (x: RNode, inherited: WfState | undefined, self: boolean): void => {
    const cycleSelf = self && mode === 'cycle';
    // begin and a user requeue of a suite start its calendar afresh (before its time attributes reset)
    if (x.kind === 'suite' && mode !== 'cycle') startSuiteClock(x, m.now);
    const keepIndex = x.rt.repeatIndex;
    resetAttributes(x, mode !== 'begin' && x.kind === 'task');
    if (cycleSelf && keepIndex !== undefined) x.rt.repeatIndex = keepIndex;
    if (x.time) {
      if (cycleSelf) requeueTime(x.time, m.cal(x), repeatStep);
      else resetTime(x.time, m.cal(x));
      m.timeDirty = true;
    }
    if (mode === 'begin') x.rt.suspended = false;
    let st: WfState = inherited ?? 'queued';
    let childInherited = inherited;
    if (applyDef && !cycleSelf && x.def.defstatus) {
      if (x.def.defstatus === 'suspended') x.rt.suspended = true;
      else if (x.def.defstatus !== 'queued') {
        st = x.def.defstatus;
        childInherited = st;
      }
    }
    if (x.kind === 'task') {
      x.rt.tryNo = 0;
      delete x.rt.password;
      delete x.rt.rid;
      x.retryPending = false;
      x.waitingOn = undefined;
    }
    if (x.heldAsNode) m.limits.releaseAsNode(x);
    delete x.rt.reason;
    x.counts.fill(0);
    for (const c of x.children) {
      resetOne(c, childInherited, false);
      x.counts[STATE_SIGNIFICANCE[c.rt.state]]!++;
    }
    const ns = x.children.length > 0 ? derived(x) : st;
    if (x.rt.state !== ns) {
      x.rt.state = ns;
      x.rt.changedAt = m.now;
    }
    if (x.late) {
      m.timeDirty = true;
      checkLate(m, x);
    }
    if (x.def.autocancel) m.timeDirty = true;
    m.touch(x);
    m.markDependents(x);
  };
  // what completed in this step is seen before it is queued again, children first
  const keep = (x: RNode): void => {
    for (const c of x.children) keep(c);
    m.keepInterim(x);
  };
  keep(n);
  resetOne(n, undefined, true);
  if (n.parent && old !== n.rt.state) {
    n.parent.counts[STATE_SIGNIFICANCE[old]]!--;
    n.parent.counts[STATE_SIGNIFICANCE[n.rt.state]]!++;
  }
  if (evaluate) m.enqueue(n);
}

/** A new try: tokens taken, try number and password new, state submitted. */
export function submit(m: Machine, t: RNode): void {
  m.keepInterim(t); // an abort in this step is seen before its retry
  m.limits.acquire(t);
  t.rt.tryNo += 1;
  t.rt.password = m.password();
  resetLabels(t);
  delete t.rt.rid;
  t.retryPending = false;
  t.waitingOn = undefined;
  setState(m, t, 'submitted');
  m.submits.push(t);
  propagate(m, t.parent);
}

export function completeTask(m: Machine, t: RNode, reason?: string): void {
  m.limits.release(t, false);
  setState(m, t, 'complete', reason);
  onComplete(m, t, reason === 'by_rule');
  propagate(m, t.parent);
}

/** Aborts the try; with `retry` and tries left, the task runs again as soon as it may. */
export function abortTask(m: Machine, t: RNode, reason: string, retry: boolean): void {
  m.limits.release(t, false);
  setState(m, t, 'aborted', reason);
  t.retryPending = retry && t.rt.tryNo < m.tries(t);
  if (t.retryPending) m.enqueue(t);
  propagate(m, t.parent);
}

/** A complete expression held: the node and everything below it are complete (`by_rule`). */
export function completeByRule(m: Machine, n: RNode): void {
  if (n.kind === 'task') {
    completeTask(m, n, 'by_rule');
    return;
  }
  const setAll = (x: RNode): void => {
    x.counts.fill(0);
    for (const c of x.children) setAll(c);
    x.counts[STATE_SIGNIFICANCE.complete] = x.children.length;
    if (x !== n && x.rt.state !== 'complete') {
      x.rt.state = 'complete';
      x.rt.reason = 'by_rule';
      x.rt.changedAt = m.now;
      if (x.def.autocancel) m.timeDirty = true;
      m.touch(x);
      m.markDependents(x);
      if (x.heldAsNode) m.limits.releaseAsNode(x);
    }
  };
  setAll(n);
  setState(m, n, 'complete', 'by_rule');
  onComplete(m, n, true);
  propagate(m, n.parent);
}

/** `force`: every node at or below `n` in `state` (running tries give their tokens back). */
export function forceSubtree(m: Machine, n: RNode, state: 'complete' | 'aborted' | 'queued'): void {
  const reason = state === 'queued' ? undefined : 'forced';
  const setOne = (x: RNode): void => {
    if (x.kind === 'task') {
      if (x.rt.state === 'submitted' || x.rt.state === 'active') m.limits.release(x, false);
      x.retryPending = false;
      if (state === 'queued') delete x.rt.password;
    }
    x.counts.fill(0);
    for (const c of x.children) {
      setOne(c);
      x.counts[STATE_SIGNIFICANCE[c.rt.state]]!++;
    }
    if (x === n) return;
    if (x.rt.state !== state) {
      x.rt.state = state;
      x.rt.changedAt = m.now;
      m.markDependents(x);
      if (x.def.autocancel) m.timeDirty = true;
      if (x.late) {
        m.timeDirty = true;
        checkLate(m, x);
      }
    }
    if (reason) x.rt.reason = reason;
    else delete x.rt.reason;
    if (x.heldAsNode) m.limits.releaseAsNode(x);
    m.touch(x);
  };
  setOne(n);
  setState(m, n, state, reason);
  if (state === 'complete') onComplete(m, n, false);
  if (state === 'queued') m.enqueue(n);
  propagate(m, n.parent);
}
