/**
 * Retention: which good backups of a policy and instance to keep — the newest `last`, plus the
 * newest of each of the last `daily` days, `weekly` ISO weeks and `monthly` months (calendar in
 * the policy's time zone). Everything else is pruned. Pure.
 */
import { wallTime } from '../../clock/index.js';

export interface RetentionRule {
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
}

/** ISO week of a wall date, as `YYYY-Www`. */
function isoWeek(y: number, m: number, d: number): string {
  const t = Date.UTC(y, m - 1, d);
  const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday 0
  const thursday = new Date(t + (3 - dow) * 86_400_000);
  const wy = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(wy, 0, 1)) / (7 * 86_400_000));
  return `${wy}-W${String(week).padStart(2, '0')}`;
}

/** The ids to prune of `good` (any order; `takenAt` clock ms) under `rule`, calendars in `timeZone`. */
export function toPrune<T extends { id: string; takenAt: number }>(good: readonly T[], rule: RetentionRule, timeZone: string): T[] {
  const newest = [...good].sort((a, b) => b.takenAt - a.takenAt || (a.id < b.id ? 1 : -1));
  const keep = new Set<string>(newest.slice(0, rule.last).map((b) => b.id));
  const bucketed = (n: number, bucket: (b: T) => string): void => {
    if (n <= 0) return;
    const seen = new Set<string>();
    for (const b of newest) {
      const k = bucket(b);
      if (seen.has(k)) continue;
      seen.add(k);
      keep.add(b.id);
      if (seen.size >= n) break;
    }
  };
  const wall = (b: T) => wallTime(b.takenAt, timeZone);
  bucketed(rule.daily, (b) => {
    const w = wall(b);
    return `${w.year}-${w.month}-${w.day}`;
  });
  bucketed(rule.weekly, (b) => {
    const w = wall(b);
    return isoWeek(w.year, w.month, w.day);
  });
  bucketed(rule.monthly, (b) => {
    const w = wall(b);
    return `${w.year}-${w.month}`;
  });
  return newest.filter((b) => !keep.has(b.id));
}
