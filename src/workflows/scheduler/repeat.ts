/**
 * Repeat values: the index into a repeat's values, its value in expressions (an integer) and as
 * a variable (a string), and whether an index is still inside the repeat.
 * - integer: start + i·step while not past end; enumerated: the value when it is an integer,
 *   else its index; string: the index; date: yyyymmdd start + i·step days while not past end;
 *   datelist: the i-th date; day: endless (i·step days).
 */
import type { WfRepeat } from '../model/types.js';
import { dateOfDay, dayOfYmd, julianOfYmd, ymdOfDay } from './calendar.js';

export function repeatValid(r: WfRepeat, i: number): boolean {
  switch (r.kind) {
    case 'integer': {
      const v = r.start + i * r.step;
      return r.step >= 0 ? v <= r.end : v >= r.end;
    }
    case 'enumerated':
    case 'string':
      return i < r.values.length;
    case 'date': {
      const v = ymdOfDay(dayOfYmd(r.start) + i * r.step);
      return r.step >= 0 ? v <= r.end : v >= r.end;
    }
    case 'datelist':
      return i < r.dates.length;
    case 'day':
      return true;
  }
}

const asInt = (s: string): number | undefined => (/^[+-]?\d+$/.test(s.trim()) ? Number(s.trim()) : undefined);

export function repeatValue(r: WfRepeat, i: number): number {
  switch (r.kind) {
    case 'integer':
      return r.start + i * r.step;
    case 'enumerated': {
      const s = r.values[Math.min(i, r.values.length - 1)] ?? '';
      return asInt(s) ?? i;
    }
    case 'string':
      return i;
    case 'date':
      return ymdOfDay(dayOfYmd(r.start) + i * r.step);
    case 'datelist':
      return r.dates[Math.min(i, r.dates.length - 1)] ?? 0;
    case 'day':
      return i * r.step;
  }
}

export function repeatName(r: WfRepeat): string | undefined {
  return r.kind === 'day' ? undefined : r.name;
}

export function isDateRepeat(r: WfRepeat): boolean {
  return r.kind === 'date' || r.kind === 'datelist';
}

/** The repeat's generated variables at index i: NAME, and for dates NAME_YYYY, _MM, _DD, _DOW, _JULIAN. */
export function repeatVariables(r: WfRepeat, i: number): Record<string, string> {
  const name = repeatName(r);
  if (name === undefined) return {};
  if (r.kind === 'enumerated' || r.kind === 'string') {
    return { [name]: r.values[Math.min(i, r.values.length - 1)] ?? '' };
  }
  const v = repeatValue(r, i);
  if (!isDateRepeat(r)) return { [name]: String(v) };
  const c = dateOfDay(dayOfYmd(v));
  return {
    [name]: String(v),
    [`${name}_YYYY`]: String(c.year),
    [`${name}_MM`]: String(c.month).padStart(2, '0'),
    [`${name}_DD`]: String(c.day).padStart(2, '0'),
    [`${name}_DOW`]: String(c.dow),
    [`${name}_JULIAN`]: String(julianOfYmd(v)),
  };
}
