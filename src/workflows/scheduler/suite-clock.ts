/**
 * A suite's calendar (ecFlow's `clock real|hybrid [date] [gain]`), on the runtime's Clock: the
 * suite's time is the Clock's time plus a shift fixed at begin (and at a user requeue of the
 * suite). Measured on ecflow_server 5.9.2: a gain moves the suite's time by that many seconds;
 * a date makes the calendar start at 00:00 of that date plus the gain (not at the current time
 * of day). Under `hybrid` the date stays the begin's date: date, day and cron days, and the
 * date variables (ECF_DATE, YYYY, …) see that day while the time of day moves on. Without a
 * clock the shift is 0: the UTC calendar of the Clock.
 *
 * Under hybrid, as ecFlow's markHybridTimeDependentsAsComplete: at begin, a node whose date or
 * day attributes do not match the fixed day can never run and is set complete
 * (`hybrid clock: not this day`, ./user-commands.ts); a date or day never requeues the node.
 */
import { DAY_MS, dayNumber, dayOfYmd } from './calendar.js';
import type { RNode } from './tree.js';

/** Sets a suite's calendar from its clock at `now` (the begin). */
export function startSuiteClock(s: RNode, now: number): void {
  const c = s.def.clock;
  if (!c) return;
  const gain = (c.gainSeconds ?? 0) * 1000;
  s.calShift = c.date ? dayOfYmd(c.date.year * 10000 + c.date.month * 100 + c.date.day) * DAY_MS + gain - now : gain;
  s.frozenDay = c.hybrid ? dayNumber(now + s.calShift) : undefined;
  if (s.time) s.time.cal = s;
}

/** The suite calendar's time of a node at Clock time `now`. */
export function suiteTime(n: RNode, now: number): number {
  return now + n.suite.calShift;
}

/** Persisted form (in the suite's WfNodeRuntime.fired). */
export function encodeSuiteClock(s: RNode): string | undefined {
  if (!s.def.clock) return undefined;
  return `clock=${s.calShift},${s.frozenDay ?? ''}`;
}

export function decodeSuiteClock(s: RNode, fired: readonly string[] | undefined): void {
  for (const f of fired ?? []) {
    if (!f.startsWith('clock=')) continue;
    const [shift, frozen] = f.slice(6).split(',');
    s.calShift = Number(shift) || 0;
    s.frozenDay = frozen === undefined || frozen === '' ? undefined : Number(frozen);
  }
}
