/**
 * `late` at run time (ecFlow 5.9.2's LateAttr; checked on ecflow_server: `-s +00:01` flags a
 * task left submitted for a minute, `-a 00:00` flags a queued task at once). A task is late —
 * the `late` flag is set, nothing else changes — when, in its late spec in force (./tree.ts):
 * - `-s`: it has been submitted that long;
 * - `-a`: it is still queued or submitted at that time of day (suite calendar);
 * - `-c`: it is active and, relative (`+`), has been for that long, or it is that time of day.
 * The flag stays until the task is requeued. Event-driven: the waker sleeps until the soonest
 * instant a late task could become late (`lateDue`), and every state change of a late task
 * checks it at once.
 */
import type { WfClockTime } from '../model/types.js';
import { DAY_MS, MINUTE_MS } from './calendar.js';
import { hasFlag, setFlag } from './flags.js';
import type { Machine } from './machine.js';
import type { RNode } from './tree.js';

const ms = (c: WfClockTime): number => (c.h * 60 + c.m) * MINUTE_MS;

/** The Clock instant the suite's time of day reaches `c` (today's, or `now` when already past). */
function timeOfDayAt(t: RNode, now: number, c: WfClockTime): number {
  const shift = t.suite.calShift;
  const cal = now + shift;
  const at = Math.floor(cal / DAY_MS) * DAY_MS + ms(c);
  return at <= cal ? now : at - shift;
}

/** When the task becomes late if nothing changes (Clock ms), or +Infinity. */
export function lateDue(t: RNode, now: number): number {
  const l = t.late;
  if (!l || t.removed || hasFlag(t, 'late')) return Number.POSITIVE_INFINITY;
  const s = t.rt.state;
  let due = Number.POSITIVE_INFINITY;
  if (s === 'submitted' || s === 'queued') {
    if (s === 'submitted' && l.submitted) due = Math.min(due, t.rt.changedAt + ms(l.submitted));
    if (l.active) due = Math.min(due, timeOfDayAt(t, now, l.active));
  } else if (s === 'active' && l.complete) {
    due = l.completeRelative ? t.rt.changedAt + ms(l.complete) : timeOfDayAt(t, now, l.complete);
  }
  return due;
}

/** Sets the late flag when it is due now. */
export function checkLate(m: Machine, t: RNode): void {
  if (lateDue(t, m.now) <= m.now) setFlag(m, t, 'late');
}
