/**
 * A small 5-field cron (`minute hour day-of-month month day-of-week`) with IANA time zones,
 * computed with `Intl.DateTimeFormat` (no library).
 *
 * Fields accept `*`, `n`, `a-b`, `*\/s`, `a-b/s`, `n/s` (from n to the end) and comma lists;
 * months `jan`–`dec` and days `sun`–`sat` by name; day-of-week 7 is Sunday. As in Vixie cron,
 * when both day-of-month and day-of-week are restricted a day matches if either matches.
 *
 * Daylight-saving time, stated: a wall-clock time that does not exist (inside a spring-forward
 * gap) fires once at the same distance past the gap's start in the new offset — `02:30` in a
 * 02:00→03:00 gap fires at 03:30; a wall-clock time that occurs twice (fall-back) fires once,
 * at its first occurrence.
 */
import { NubisError } from '../errors/index.js';

export interface CronSpec {
  /** The expression as given. */
  source: string;
  minutes: readonly number[];
  hours: readonly number[];
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** True when the field was `*` (or `*\/1`); decides the day-of-month/day-of-week OR rule. */
  anyDay: boolean;
  anyWeekday: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldDef {
  name: string;
  lo: number;
  hi: number;
  names?: readonly string[];
  /** Value of names[0]. */
  nameBase?: number;
}

const FIELDS: readonly FieldDef[] = [
  { name: 'minute', lo: 0, hi: 59 },
  { name: 'hour', lo: 0, hi: 23 },
  { name: 'day of month', lo: 1, hi: 31 },
  { name: 'month', lo: 1, hi: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', lo: 0, hi: 7, names: WEEKDAYS, nameBase: 0 },
];

function bad(source: string, message: string): NubisError {
  return new NubisError('REQUEST_INVALID', `cron ${JSON.stringify(source)}: ${message}`);
}

function atom(source: string, f: FieldDef, text: string): number {
  const lower = text.toLowerCase();
  const byName = f.names?.indexOf(lower) ?? -1;
  if (byName >= 0) return byName + (f.nameBase ?? 0);
  if (!/^\d{1,2}$/.test(text)) throw bad(source, `${f.name}: expected a number from ${f.lo} to ${f.hi}${f.names ? ' or a name' : ''}, found ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < f.lo || n > f.hi) throw bad(source, `${f.name}: expected a number from ${f.lo} to ${f.hi}, found ${n}`);
  return n;
}

/** One field → its sorted values, and whether it was unrestricted. */
function field(source: string, f: FieldDef, text: string): { values: number[]; any: boolean } {
  const out = new Set<number>();
  let any = false;
  for (const part of text.split(',')) {
    if (part === '') throw bad(source, `${f.name}: empty list item`);
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '') throw bad(source, `${f.name}: malformed ${JSON.stringify(part)}`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) === 0) throw bad(source, `${f.name}: expected a step from 1 to 99, found ${JSON.stringify(stepText)}`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      [lo, hi] = [f.lo, f.name === 'day of week' ? 6 : f.hi];
      if (step === 1) any = true;
    } else if (range.includes('-')) {
      const [a, b, more] = range.split('-');
      if (more !== undefined || a === undefined || b === undefined) throw bad(source, `${f.name}: malformed range ${JSON.stringify(range)}`);
      lo = atom(source, f, a);
      hi = atom(source, f, b);
      if (lo > hi) throw bad(source, `${f.name}: range ${JSON.stringify(range)} runs backwards`);
    } else {
      lo = atom(source, f, range);
      hi = stepText !== undefined ? f.hi : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'day of week' && v === 7 ? 0 : v);
  }
  return { values: [...out].sort((a, b) => a - b), any };
}

/** Parses a 5-field cron expression. Throws REQUEST_INVALID naming the bad field. */
export function parseCron(source: string): CronSpec {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5) throw bad(source, `expected 5 fields (minute hour day-of-month month day-of-week), found ${parts.length}`);
  const [mi, h, dom, mon, dow] = parts.map((p, i) => field(source, FIELDS[i]!, p)) as [
    ReturnType<typeof field>, ReturnType<typeof field>, ReturnType<typeof field>, ReturnType<typeof field>, ReturnType<typeof field>,
  ];
  return {
    source,
    minutes: mi.values,
    hours: h.values,
    days: new Set(dom.values),
    months: new Set(mon.values),
    weekdays: new Set(dow.values),
    anyDay: dom.any,
    anyWeekday: dow.any,
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `tz` is an IANA time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

/** The wall-clock time of an instant in a zone (seconds dropped). */
export function wallTime(ms: number, timeZone: string): WallTime {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { year: p['year']!, month: p['month']!, day: p['day']!, hour: p['hour']! % 24, minute: p['minute']! };
}

/** The zone's offset from UTC at an instant, in ms (positive east of Greenwich). */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  return asUtc - Math.floor(ms / 60_000) * 60_000;
}

/**
 * The instant of a wall-clock time in a zone: its first occurrence when it occurs twice; for
 * a time inside a gap, the instant the offset in force before the gap gives (past the gap).
 */
export function wallToInstant(w: WallTime, timeZone: string): number {
  const guess = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  const before = offsetAt(guess - 12 * 3_600_000, timeZone);
  const after = offsetAt(guess + 12 * 3_600_000, timeZone);
  const candidates = [guess - before, guess - after].filter((t) => {
    const x = wallTime(t, timeZone);
    return x.year === w.year && x.month === w.month && x.day === w.day && x.hour === w.hour && x.minute === w.minute;
  });
  return candidates.length > 0 ? Math.min(...candidates) : guess - before;
}

function dayMatches(c: CronSpec, year: number, month: number, day: number): boolean {
  if (!c.months.has(month)) return false;
  const dow = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const domOk = c.days.has(day);
  const dowOk = c.weekdays.has(dow);
  if (c.anyDay && c.anyWeekday) return true;
  if (c.anyDay) return dowOk;
  if (c.anyWeekday) return domOk;
  return domOk || dowOk;
}

/** Days searched before giving up (covers `29 feb` on a given weekday). */
const SEARCH_DAYS = 366 * 30;

/**
 * The first instant strictly after `afterMs` at which the cron fires in `timeZone`, or
 * undefined when it never fires (such as `0 0 31 2 *`).
 */
export function nextFire(c: CronSpec, timeZone: string, afterMs: number): number | undefined {
  const start = wallTime(afterMs, timeZone);
  // walk local calendar days from the day of `afterMs` (the day before too, for offsets)
  let cursor = Date.UTC(start.year, start.month - 1, start.day) - 86_400_000;
  for (let i = 0; i < SEARCH_DAYS; i++, cursor += 86_400_000) {
    const d = new Date(cursor);
    const [year, month, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    if (!dayMatches(c, year, month, day)) continue;
    for (const hour of c.hours) {
      for (const minute of c.minutes) {
        const t = wallToInstant({ year, month, day, hour, minute }, timeZone);
        if (t > afterMs) return t;
      }
    }
  }
  return undefined;
}
