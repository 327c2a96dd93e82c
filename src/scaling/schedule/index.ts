/**
 * Scheduled scaling: policies that set a component's count on a cron recurrence (in an IANA
 * time zone) or once at a start time. The scheduler runs on a `Clock`, so tests drive it with
 * a virtual clock.
 *
 * Contract: each firing calls `scale` once and reports a `schedule.fired` event (outcome `ok`
 * or `error` with the reason). Firings missed while the control plane was not running are
 * not replayed: after a start (or a policy change) the next firing is computed from now. A
 * one-off policy fires once, when the clock reaches `at`, if `at` is still ahead when the
 * policy is (re)loaded.
 */
import { createWakeLoop, type Clock } from '../../clock/index.js';
import { toNubisError } from '../../errors/index.js';
import type { ScheduleSpec } from '../../model/index.js';
import { nextFire, parseCron, type CronSpec } from '../../clock/index.js';

export { parseCron, nextFire, isTimeZone, wallTime, wallToInstant, type CronSpec, type WallTime } from '../../clock/index.js';

export interface ScheduleEntry {
  deployment: string;
  schedule: ScheduleSpec;
}

export interface ScheduleEvent {
  kind: 'schedule.fired';
  deployment: string;
  schedule: string;
  component: string;
  count: number;
  outcome: 'ok' | 'error';
  reason?: string;
  at: number;
}

export interface SchedulerOptions {
  clock: Clock;
  /** The policies in force; read again after `reload()`. */
  schedules: () => ScheduleEntry[];
  /** Sets the count (the control plane's scale with actor `schedule:<name>`). */
  scale: (deployment: string, component: string, count: number, reason: string, schedule: string) => Promise<void>;
  emit?: (e: ScheduleEvent) => void;
  /** Longest sleep between looks at the policy list. Default 60 000. */
  maxSleepMs?: number;
}

export interface Scheduler {
  start(): void;
  stop(): Promise<void>;
  /** Re-reads the policies now (after a change). */
  reload(): void;
  /** Next firing time per `deployment/name`, for views and tests. */
  upcoming(): { deployment: string; schedule: string; at: number }[];
}

/** The next firing of a policy strictly after `afterMs`, or undefined when none is left. */
export function nextScheduleFire(s: ScheduleSpec, afterMs: number, cron?: CronSpec): number | undefined {
  if (!s.enabled) return undefined;
  if (s.at !== undefined) return s.at > afterMs ? s.at : undefined;
  if (s.cron === undefined) return undefined;
  return nextFire(cron ?? parseCron(s.cron), s.timeZone, afterMs);
}

export function createScheduler(o: SchedulerOptions): Scheduler {
  const maxSleep = o.maxSleepMs ?? 60_000;
  /** `deployment/name` → next firing and the policy it was computed for. */
  let plan = new Map<string, { entry: ScheduleEntry; at: number }>();
  let dirty = true;
  let lastCheck = o.clock.now();

  function replan(): void {
    const now = o.clock.now();
    const next = new Map<string, { entry: ScheduleEntry; at: number }>();
    for (const entry of o.schedules()) {
      const key = `${entry.deployment}/${entry.schedule.name}`;
      const old = plan.get(key);
      // keep a computed time when the policy did not change, so a reload never skips a firing
      if (old && JSON.stringify(old.entry.schedule) === JSON.stringify(entry.schedule)) {
        next.set(key, { entry, at: old.at });
        continue;
      }
      let at: number | undefined;
      try {
        at = nextScheduleFire(entry.schedule, Math.max(now, lastCheck) - 1);
      } catch {
        at = undefined; // validated on the way in; a bad stored one is simply inert
      }
      if (at !== undefined) next.set(key, { entry, at });
    }
    plan = next;
    dirty = false;
  }

  async function fire(key: string, entry: ScheduleEntry, at: number): Promise<void> {
    const s = entry.schedule;
    const reason = s.cron !== undefined ? `schedule ${s.name}: cron "${s.cron}" (${s.timeZone})` : `schedule ${s.name}: at ${new Date(at).toISOString()}`;
    try {
      await o.scale(entry.deployment, s.component, s.count, reason, s.name);
      o.emit?.({ kind: 'schedule.fired', deployment: entry.deployment, schedule: s.name, component: s.component, count: s.count, outcome: 'ok', at });
    } catch (e) {
      o.emit?.({
        kind: 'schedule.fired', deployment: entry.deployment, schedule: s.name, component: s.component, count: s.count,
        outcome: 'error', reason: toNubisError(e).message, at,
      });
    }
    let next: number | undefined;
    try {
      next = nextScheduleFire(s, at);
    } catch {
      next = undefined;
    }
    if (next === undefined) plan.delete(key);
    else plan.set(key, { entry, at: next });
  }

  /** One pass: fires what is due, in time order; the next pass is the soonest planned firing. */
  async function pass(now: number): Promise<number | undefined> {
    if (dirty) replan();
    lastCheck = now;
    const due = [...plan.entries()].filter(([, p]) => p.at <= now).sort((a, b) => a[1].at - b[1].at);
    for (const [key, p] of due) await fire(key, p.entry, p.at);
    if (due.length > 0) return now;
    return Math.min(...[...plan.values()].map((p) => p.at), Infinity);
  }
  const loop = createWakeLoop({ clock: o.clock, pass, maxSleepMs: maxSleep });

  return {
    start() {
      if (loop.running) return;
      dirty = true;
      lastCheck = o.clock.now();
      loop.start();
    },
    stop: () => loop.stop(),
    reload() {
      dirty = true;
      loop.wake();
    },
    upcoming() {
      if (dirty) replan();
      return [...plan.entries()].map(([, p]) => ({ deployment: p.entry.deployment, schedule: p.entry.schedule.name, at: p.at }));
    },
  };
}
