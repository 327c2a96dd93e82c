/**
 * `autocancel` at run time: a node that stays complete for its delay (`+hh:mm`), until a time
 * of day (`hh:mm`, suite calendar) or for N days is removed from the workflow, as
 * `ecflow_client --delete` would (checked on ecflow_server: a family with `autocancel +00:01`
 * was gone a minute after it completed, and `trigger ../f2 == unknown` then held). Never in the
 * step that completed it: the waker removes it on its next wake, at the earliest at once after.
 * A removed node leaves the tree's indexes (paths, its parent's children); expressions naming
 * it see it as unknown; its WfNodeRuntime keeps `removed: true`, so a restart removes it again.
 */
import type { WfAutoCancel } from '../model/types.js';
import { STATE_SIGNIFICANCE } from '../model/types.js';
import { minuteOfDay } from './calendar.js';
import type { Machine } from './machine.js';
import { propagate } from './transitions.js';
import type { RNode } from './tree.js';

/** How long after completion a node is removed, given the suite's minute of day at completion. */
export function autoCancelDelayMs(a: WfAutoCancel, minuteOfDayAtCompletion: number): number {
  if (a.kind === 'days') return a.days * 86_400_000;
  const m = a.time.h * 60 + a.time.m;
  if (a.kind === 'relative') return m * 60_000;
  // at that time of day: today when still ahead, else tomorrow
  const wait = m - minuteOfDayAtCompletion;
  return (wait > 0 ? wait : wait + 1440) * 60_000;
}

/** When the node is removed if it stays complete (Clock ms), or +Infinity. */
export function autoCancelDue(n: RNode): number {
  const a = n.def.autocancel;
  if (!a || n.removed || n.rt.state !== 'complete') return Number.POSITIVE_INFINITY;
  return n.rt.changedAt + autoCancelDelayMs(a, minuteOfDay(n.rt.changedAt + n.suite.calShift));
}

/** Removes `n` and its subtree. */
export function removeNode(m: Machine, n: RNode): void {
  const mark = (x: RNode): void => {
    x.rt.removed = true;
    m.touch(x);
    m.markDependents(x);
    for (const c of x.children) mark(c);
  };
  mark(n);
  const parent = n.parent;
  m.tree.detach(n);
  if (parent) {
    parent.counts[STATE_SIGNIFICANCE[n.rt.state]]!--;
    propagate(m, parent);
  }
  m.timeDirty = true;
}

/** Removes every node whose autocancel is due. */
export function runAutoCancels(m: Machine): void {
  for (const n of m.tree.autocancels) {
    if (!n.removed && autoCancelDue(n) <= m.now) removeNode(m, n);
  }
}
