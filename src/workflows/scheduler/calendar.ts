/**
 * The suite calendar: UTC days and minutes of the runtime's Clock, yyyymmdd dates and the
 * Julian day numbers ecFlow uses for date arithmetic. Nubis differs from ecFlow here: a suite
 * clock is always the UTC calendar of the runtime's Clock (ecFlow follows the server's local
 * time unless a `clock` attribute says otherwise).
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** Julian day number of 1970-01-01. */
const JULIAN_EPOCH = 2_440_588;

const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] as const;

/** Days since 1970-01-01 (UTC) of a clock instant. */
export function dayNumber(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** Minute of the UTC day, 0…1439. */
export function minuteOfDay(ms: number): number {
  return Math.floor((ms - dayNumber(ms) * DAY_MS) / MINUTE_MS);
}

export interface CalendarDate {
  readonly year: number;
  /** 1…12 */
  readonly month: number;
  /** 1…31 */
  readonly day: number;
  /** 0 = Sunday. */
  readonly dow: number;
}

export function dateOfDay(dayNo: number): CalendarDate {
  const d = new Date(dayNo * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), dow: d.getUTCDay() };
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** yyyymmdd of a day number. */
export function ymdOfDay(dayNo: number): number {
  const c = dateOfDay(dayNo);
  return c.year * 10000 + c.month * 100 + c.day;
}

/** Day number of a yyyymmdd integer (out-of-range parts roll over, as Date.UTC does). */
export function dayOfYmd(ymd: number): number {
  const y = Math.floor(ymd / 10000);
  const m = Math.floor(ymd / 100) % 100;
  const d = ymd % 100;
  return Math.floor(Date.UTC(y, m - 1, d) / DAY_MS);
}

export function julianOfYmd(ymd: number): number {
  return dayOfYmd(ymd) + JULIAN_EPOCH;
}

export function ymdOfJulian(julian: number): number {
  return ymdOfDay(julian - JULIAN_EPOCH);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The generated variables of a suite at calendar instant `ms` (ECF_DATE, YYYY, …, ECF_TIME); a hybrid clock's fixed day for the date. */
export function suiteDateVariables(ms: number, frozenDay?: number): Record<string, string> {
  const dayNo = frozenDay ?? dayNumber(ms);
  const c = dateOfDay(dayNo);
  const min = minuteOfDay(ms);
  const hh = pad(Math.floor(min / 60));
  const mm = pad(min % 60);
  const doy = dayNo - Math.floor(Date.UTC(c.year, 0, 1) / DAY_MS) + 1;
  const dayName = DAY_NAMES[c.dow]!;
  const monthName = MONTH_NAMES[c.month - 1]!;
  return {
    ECF_DATE: `${c.year}${pad(c.month)}${pad(c.day)}`,
    YYYY: String(c.year),
    MM: pad(c.month),
    DD: pad(c.day),
    DOW: String(c.dow),
    DOY: String(doy),
    DATE: `${pad(c.day)}.${pad(c.month)}.${c.year}`,
    DAY: dayName,
    MONTH: monthName,
    ECF_CLOCK: `${dayName}:${monthName}:${c.dow}:${doy}`,
    ECF_TIME: `${hh}:${mm}`,
    TIME: `${hh}${mm}`,
    ECF_JULIAN: String(dayNo + JULIAN_EPOCH),
  };
}

/** `hh:mm` of a minute count (may exceed 24 h for relative times). */
export function hhmm(minutes: number): string {
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

export { DAY_NAMES };
