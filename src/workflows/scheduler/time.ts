/**
 * Time attributes at run time: `time`, `today`, `cron` (each a time series with a next slot, a
 * valid flag and a free flag) and `date`, `day` (free on a matching calendar day). Rules after
 * ecFlow 5.9.2 (TimeSeries, TimeAttr, TodayAttr, CronAttr):
 * - minute resolution; a slot is reached when the suite minute (or, for `+hh:mm`, the minutes
 *   since the node's begin/requeue) is at or past it;
 * - once free, an attribute stays free until the node is requeued;
 * - at begin/requeue (reset) a single `time`/`cron` already past is expired for the day, a
 *   series moves to its next slot at or after now; a single `today` already past is free at once;
 * - after a run (auto requeue) the attribute moves past the current minute: a single slot
 *   expires, a series moves to its next slot;
 * - at midnight absolute attributes become valid again at their first slot;
 * - same kind OR, different kinds AND (see `timeFree`).
 * Nubis differs in one way: a slot reached while the runtime was not running (a control-plane
 * restart) is caught up when it restarts, not missed.
 */
import type { WfCronSpec, WfDateSpec, WfDayName, WfNodeDef, WfTimeSpec } from '../model/types.js';
import { DAY_MS, MINUTE_MS, dateOfDay, dayNumber, dayOfYmd, daysInMonth, hhmm, minuteOfDay, DAY_NAMES } from './calendar.js';

export type SeriesKind = 'time' | 'today' | 'cron';

export interface SeriesAttr {
  readonly kind: SeriesKind;
  readonly spec: WfTimeSpec;
  readonly cron?: WfCronSpec;
  readonly start: number;
  /** Last slot (minutes); equals start for a single slot. */
  readonly end: number;
  /** 0 for a single slot. */
  readonly step: number;
  next: number;
  valid: boolean;
  free: boolean;
  /** Day number the absolute series last reset on (midnight handling). */
  day: number;
}

export interface DayAttr {
  readonly kind: 'date' | 'day';
  readonly date?: WfDateSpec;
  readonly dow?: number;
  /** Day number of the first matching day at or after the last reset. */
  due: number;
}

/** The time state of one node. */
export interface NodeTime {
  readonly series: SeriesAttr[];
  readonly days: DayAttr[];
  /** Clock ms the relative (`+hh:mm`) attributes count from: the begin or requeue. */
  base: number;
  readonly hasTime: boolean;
  readonly hasToday: boolean;
  readonly hasCron: boolean;
  readonly hasDate: boolean;
  readonly hasDay: boolean;
  /** The suite's calendar: a hybrid clock fixes the day date and day attributes see (set by the tree). */
  cal?: { readonly frozenDay: number | undefined };
}

/** The calendar day date, day and cron days match against: the suite's fixed day under a hybrid clock. */
const calDay = (t: NodeTime, now: number): number => t.cal?.frozenDay ?? dayNumber(now);

const toMin = (t: { h: number; m: number }): number => t.h * 60 + t.m;

function makeSeries(kind: SeriesKind, spec: WfTimeSpec, cron?: WfCronSpec): SeriesAttr {
  const start = toMin(spec.start);
  const step = spec.step ? toMin(spec.step) : 0;
  let end = start;
  if (spec.end && step > 0) {
    const fin = toMin(spec.end);
    end = start;
    while (end + step <= fin) end += step;
  }
  return { kind, spec, ...(cron ? { cron } : {}), start, end, step, next: start, valid: true, free: false, day: 0 };
}

/** The time state of a node, or undefined when it has no time attributes. */
export function createNodeTime(def: WfNodeDef): NodeTime | undefined {
  if (def.times.length + def.todays.length + def.crons.length + def.dates.length + def.days.length === 0) return undefined;
  const series: SeriesAttr[] = [];
  for (const t of def.times) series.push(makeSeries('time', t));
  for (const t of def.todays) series.push(makeSeries('today', t));
  for (const c of def.crons) series.push(makeSeries('cron', c.time, c));
  const days: DayAttr[] = [];
  for (const d of def.dates) days.push({ kind: 'date', date: d, due: 0 });
  for (const d of def.days) days.push({ kind: 'day', dow: DAY_NAMES.indexOf(d as WfDayName & (typeof DAY_NAMES)[number]), due: 0 });
  return {
    series, days, base: 0,
    hasTime: def.times.length > 0, hasToday: def.todays.length > 0, hasCron: def.crons.length > 0,
    hasDate: def.dates.length > 0, hasDay: def.days.length > 0,
  };
}

/** The minute an attribute compares its slots with. */
export function currentMinute(a: SeriesAttr, t: NodeTime, now: number): number {
  return a.spec.relative ? Math.floor((now - t.base) / MINUTE_MS) : minuteOfDay(now);
}

/** `-w`, `-d` and `-m` AND together (ecFlow's CronAttr), each list ORs its elements. */
export function cronDayMatches(c: WfCronSpec, dayNo: number): boolean {
  const d = dateOfDay(dayNo);
  if (c.months.length > 0 && !c.months.includes(d.month)) return false;
  const last = daysInMonth(d.year, d.month);
  if (c.weekDays.length > 0 || c.lastWeekDays.length > 0) {
    if (!c.weekDays.includes(d.dow) && !(c.lastWeekDays.includes(d.dow) && last - d.day < 7)) return false;
  }
  if (c.monthDays.length > 0 || c.lastDayOfMonth) {
    if (!c.monthDays.includes(d.day) && !(c.lastDayOfMonth && d.day === last)) return false;
  }
  return true;
}

export function dayAttrMatches(a: DayAttr, dayNo: number): boolean {
  const d = dateOfDay(dayNo);
  if (a.kind === 'day') return d.dow === a.dow;
  const s = a.date!;
  return (s.day === undefined || s.day === d.day) && (s.month === undefined || s.month === d.month) && (s.year === undefined || s.year === d.year);
}

function firstMatchFrom(a: DayAttr, dayNo: number): number {
  if (a.kind === 'day') return dayNo + ((a.dow! - dateOfDay(dayNo).dow + 7) % 7);
  const s = a.date!;
  if (s.day !== undefined && s.month !== undefined && s.year !== undefined) {
    const d = dayOfYmd(s.year * 10000 + s.month * 100 + s.day);
    return d >= dayNo ? d : Number.POSITIVE_INFINITY;
  }
  // wildcards: the next match is within four years (29 February); a past fixed year never matches again
  for (let i = 0; i < 1500; i++) if (dayAttrMatches(a, dayNo + i)) return dayNo + i;
  return Number.POSITIVE_INFINITY;
}

/** Has the attribute reached a slot now? (sets `free` when it has) */
function reach(a: SeriesAttr, t: NodeTime, now: number): boolean {
  if (a.free) return true;
  if (!a.valid) return false;
  if (a.cron && !cronDayMatches(a.cron, calDay(t, now))) return false;
  const cur = currentMinute(a, t, now);
  if (a.kind === 'today' && a.step === 0) {
    if (cur >= a.start) a.free = true;
  } else if (a.next <= a.end && a.next <= cur) {
    a.free = true;
  }
  return a.free;
}

/** Begin or a user requeue: every attribute starts afresh. */
export function resetTime(t: NodeTime, now: number): void {
  t.base = now;
  const today = dayNumber(now);
  for (const a of t.series) {
    a.valid = true;
    a.free = false;
    a.next = a.start;
    a.day = today;
    const cur = currentMinute(a, t, now);
    if (a.step > 0) {
      while (cur > a.next && a.next <= a.end) a.next += a.step;
      if (a.next > a.end) a.valid = false;
    } else if (a.kind !== 'today' && cur > a.start) {
      a.valid = false;
    }
    reach(a, t, now);
  }
  for (const d of t.days) d.due = firstMatchFrom(d, calDay(t, now));
}

/** After a run, before the node is queued again: each series moves past the current minute. */
export function requeueTime(t: NodeTime, now: number, resetRelative: boolean): void {
  if (resetRelative) t.base = now;
  for (const a of t.series) {
    a.free = false;
    if (!a.valid) continue;
    const cur = currentMinute(a, t, now);
    if (a.step === 0) {
      if (cur >= a.start) a.valid = false;
    } else {
      while (cur >= a.next && a.next <= a.end) a.next += a.step;
      if (a.next > a.end) a.valid = false;
    }
  }
}

/**
 * Should a node that has just completed be queued again for a later slot today (ecFlow's
 * checkForRequeue, in the command context)? A cron always requeues.
 */
export function timeRequeues(t: NodeTime, now: number): boolean {
  if (t.hasCron) return true;
  const today = calDay(t, now);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const a of t.series) {
    if (a.kind === 'cron') continue;
    lo = Math.min(lo, a.start);
    hi = Math.max(hi, a.end);
  }
  for (const a of t.series) {
    if (a.kind === 'cron' || !a.valid) continue;
    const cur = currentMinute(a, t, now);
    if (a.step > 0) {
      if (a.next <= a.end && cur < a.end) return true;
    } else if (lo !== hi && cur < hi) {
      return true;
    }
  }
  // under a hybrid clock the day never changes: a date or day never requeues (ecFlow's DayAttr/DateAttr)
  if (t.cal?.frozenDay === undefined) for (const d of t.days) if (d.due > today && Number.isFinite(d.due)) return true;
  return false;
}

/** Under a hybrid clock: the node has date or day attributes and none of a kind matches the fixed day (it can never run). */
export function hybridNeverFree(t: NodeTime): boolean {
  const day = t.cal?.frozenDay;
  if (day === undefined || t.days.length === 0) return false;
  const kinds = new Set(t.days.map((d) => d.kind));
  for (const k of kinds) if (!t.days.some((d) => d.kind === k && dayAttrMatches(d, day))) return true;
  return false;
}

/** Midnight for absolute series: valid again from their first slot. */
function dayChange(t: NodeTime, now: number): boolean {
  const today = dayNumber(now);
  let changed = false;
  for (const a of t.series) {
    if (a.spec.relative || a.day >= today) continue;
    a.day = today;
    a.valid = true;
    a.next = a.start;
    changed = true;
  }
  if (changed && t.days.length > 0) {
    // ecFlow clears a free time at midnight when the node also has a day/date: Tuesday must not run Monday's 10:00
    for (const a of t.series) a.free = false;
  }
  return changed;
}

/** Updates free flags at `now`; true when something changed. */
export function scanTime(t: NodeTime, now: number): boolean {
  let changed = dayChange(t, now);
  for (const a of t.series) {
    const was = a.free;
    if (reach(a, t, now) !== was) changed = true;
  }
  return changed;
}

/** Time attributes of different kinds AND, of one kind OR. */
export function timeFree(t: NodeTime, now: number): boolean {
  const today = calDay(t, now);
  let time = !t.hasTime;
  let todayOk = !t.hasToday;
  let cron = !t.hasCron;
  for (const a of t.series) {
    if (!a.free) continue;
    if (a.kind === 'time') time = true;
    else if (a.kind === 'today') todayOk = true;
    else cron = true;
  }
  if (!(time && todayOk && cron)) return false;
  let date = !t.hasDate;
  let day = !t.hasDay;
  for (const d of t.days) {
    if (!dayAttrMatches(d, today)) continue;
    if (d.kind === 'date') date = true;
    else day = true;
  }
  return date && day;
}

/** The clock instant something could change for this node's time attributes (or +Infinity). */
export function nextWake(t: NodeTime, now: number): number {
  const midnight = (dayNumber(now) + 1) * DAY_MS;
  let at = Number.POSITIVE_INFINITY;
  for (const a of t.series) {
    if (a.free) continue;
    if (a.spec.relative) {
      if (a.valid && a.next <= a.end) at = Math.min(at, t.base + a.next * MINUTE_MS);
      continue;
    }
    if (!a.valid || a.next > a.end || (a.cron && !cronDayMatches(a.cron, calDay(t, now)))) {
      at = Math.min(at, midnight);
      continue;
    }
    const slot = a.kind === 'today' && a.step === 0 ? a.start : a.next;
    at = Math.min(at, dayNumber(now) * DAY_MS + slot * MINUTE_MS);
  }
  if (t.days.length > 0) at = Math.min(at, midnight);
  if (at <= now) at = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
  return at;
}

/** What the node still waits for, one line per kind that is not free. */
export function timeWhy(t: NodeTime, now: number): { kind: string; detail: string }[] {
  const out: { kind: string; detail: string }[] = [];
  const today = calDay(t, now);
  for (const kind of ['time', 'today', 'cron'] as const) {
    const attrs = t.series.filter((a) => a.kind === kind);
    if (attrs.length === 0 || attrs.some((a) => a.free)) continue;
    const parts = attrs.map((a) => {
      const rel = a.spec.relative ? '+' : '';
      const cur = currentMinute(a, t, now);
      const what = a.valid && a.next <= a.end ? `next ${rel}${hhmm(a.next)}` : 'expired for today';
      return `${kind} ${rel}${hhmm(a.start)}${a.step ? ` ${hhmm(a.end)} ${hhmm(a.step)}` : ''} (${what}, now ${rel}${hhmm(Math.max(0, cur))})`;
    });
    out.push({ kind, detail: parts.join(' or ') });
  }
  for (const kind of ['date', 'day'] as const) {
    const attrs = t.days.filter((d) => d.kind === kind);
    if (attrs.length === 0 || attrs.some((d) => dayAttrMatches(d, today))) continue;
    const c = dateOfDay(today);
    out.push({ kind, detail: `${kind} does not match today (${c.day}.${c.month}.${c.year}, ${DAY_NAMES[c.dow]})` });
  }
  return out;
}

/** Persisted form, in WfNodeRuntime.fired. */
export function encodeTime(t: NodeTime): string[] {
  const out = [`base=${t.base}`];
  t.series.forEach((a, i) => out.push(`s${i}=${a.free ? 1 : 0},${a.valid ? 1 : 0},${a.next},${a.day}`));
  t.days.forEach((d, i) => out.push(`d${i}=${Number.isFinite(d.due) ? d.due : -1}`));
  return out;
}

export function decodeTime(t: NodeTime, fired: readonly string[] | undefined): void {
  for (const f of fired ?? []) {
    const [k, v] = f.split('=') as [string, string | undefined];
    if (v === undefined) continue;
    if (k === 'base') t.base = Number(v);
    else if (k.startsWith('s')) {
      const a = t.series[Number(k.slice(1))];
      if (!a) continue;
      const [free, valid, next, day] = v.split(',').map(Number);
      a.free = free === 1;
      a.valid = valid === 1;
      a.next = next ?? a.start;
      a.day = day ?? 0;
    } else if (k.startsWith('d')) {
      const d = t.days[Number(k.slice(1))];
      if (d) d.due = Number(v) < 0 ? Number.POSITIVE_INFINITY : Number(v);
    }
  }
}
