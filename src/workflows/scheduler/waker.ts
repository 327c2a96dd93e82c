/**
 * The runtime's one clock wait: asleep until the soonest instant a time attribute of a begun,
 * unfinished node could change (a slot, midnight), a task could become late (./late.ts) or a
 * complete node's autocancel (./autocancel.ts) or a node's autoarchive (./archive.ts) is due, cancelled by an AbortSignal when a sooner one
 * appears or the runtime closes. On waking, every timed node's attributes are scanned and the
 * nodes evaluated. Works on any Clock, the VirtualClock's `advance` included.
 */
import type { Clock } from '../../clock/index.js';
import { dayNumber } from './calendar.js';
import type { Machine } from './machine.js';
import type { RNode } from './tree.js';
import { autoArchiveDue, runAutoArchives } from './archive.js';
import { autoCancelDue, runAutoCancels } from './autocancel.js';
import { checkLate, lateDue } from './late.js';
import { nextWake, scanTime } from './time.js';

/** Sleeps are cut into pieces: timers overflow past 24.8 days, and waking early only rescans. */
const MAX_SLEEP_MS = 6 * 3_600_000;

export class Waker {
  private timer: AbortController | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Each suite's calendar day at the last scan. */
  private readonly lastDays = new Map<RNode, number>();
  private closed = false;

  constructor(private readonly clock: Clock, private readonly m: Machine, private readonly onWake: () => void) {}

  /** Sleeps until the soonest instant, when that changed. */
  arm(): void {
    if (this.closed) return;
    const m = this.m;
    m.timeDirty = false;
    const now = this.clock.now();
    for (const su of m.tree.suites) if (!this.lastDays.has(su)) this.lastDays.set(su, dayNumber(now + su.calShift));
    let at = Number.POSITIVE_INFINITY;
    for (const n of m.tree.timed) {
      const s = n.rt.state;
      if (s === 'unknown' || s === 'complete') continue;
      const shift = n.suite.calShift;
      at = Math.min(at, nextWake(n.time!, now + shift) - shift);
    }
    for (const t of m.tree.lateTasks) at = Math.min(at, lateDue(t, now));
    for (const n of m.tree.autocancels) at = Math.min(at, autoCancelDue(n));
    for (const n of m.tree.autoarchives) at = Math.min(at, autoArchiveDue(n));
    // due already (a late check, an autocancel 0): wake at once, in a step of its own
    if (at < now) at = now;
    if (at === this.timerAt) return;
    this.timer?.abort();
    this.timer = undefined;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    const ctl = new AbortController();
    this.timer = ctl;
    this.clock.sleep(Math.min(Math.max(0, at - now), MAX_SLEEP_MS), ctl.signal).then(
      () => {
        if (this.timer !== ctl || this.closed) return;
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.onWake();
      },
      () => {},
    );
  }

  /** Inside a step: updates every timed node's free flags and evaluates the timed nodes. */
  scan(evaluate: boolean): void {
    const m = this.m;
    m.timeDirty = true;
    for (const su of m.tree.suites) {
      // a suite's calendar variables (YYYY, DATE, …) change at its own midnight (its clock's gain and date)
      const day = dayNumber(m.cal(su));
      const last = this.lastDays.get(su);
      if (last !== undefined && last !== day) m.markDependents(su);
      this.lastDays.set(su, day);
    }
    for (const n of m.tree.timed) {
      const s = n.rt.state;
      if (s === 'unknown' || s === 'complete' || n.removed) continue;
      if (scanTime(n.time!, m.cal(n))) m.touch(n);
      if (evaluate) m.enqueue(n);
    }
    for (const t of m.tree.lateTasks) checkLate(m, t);
    runAutoCancels(m);
    runAutoArchives(m);
  }

  close(): void {
    this.closed = true;
    this.timer?.abort();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}
