/**
 * PROPERTY: the time rules against a reference model, on random (seeded) suites over the rest of
 * a random day. Each task gets, at random: `time` lines (single slots and series, all absolute or
 * all relative `+hh:mm`), or `cron` lines (single or series, with `-w` or `-d` restrictions);
 * and `day`/`date` lines. Jobs complete at once. The reference, written from ecFlow 5.9.2's
 * TimeSeries rules (a slot matches its minute; a series moves past the minute it ran at, a
 * single slot expires; several attributes of a kind OR, kinds AND; a cron requeues after every
 * run; `+hh:mm` counts from the begin; at begin a slot at the begin minute still counts) says a
 * task runs exactly at each distinct slot minute, from the begin to midnight, of the attributes
 * of its kind, when the day is one its day/date/cron restrictions allow. The runtime must agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WfCronSpec, WfDateSpec, WfDayName, WfTimeSpec } from '../../src/workflows/index.js';
import { DAY0, Harness, M, definition, hm, rng, suite, task } from './workflows-scheduler-helpers.js';

const DAYS: WfDayName[] = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];


interface Case {
  readonly begin: number; // minute of the day the suite begins
  readonly dayNo: number; // days after DAY0
  readonly tasks: { name: string; times: WfTimeSpec[]; crons: WfCronSpec[]; days: WfDayName[]; dates: WfDateSpec[] }[];
}

const toM = (t: { h: number; m: number }): number => t.h * 60 + t.m;
const fromM = (m: number): { h: number; m: number } => hm(Math.floor(m / 60), m % 60);

/** A slot list: a single minute, or start..end by step. */
function slots(spec: WfTimeSpec): number[] {
  const s = toM(spec.start);
  if (!spec.end || !spec.step) return [s];
  const out: number[] = [];
  for (let x = s; x <= toM(spec.end); x += toM(spec.step)) out.push(x);
  return out;
}

function randomSpec(r: () => number, relative: boolean): WfTimeSpec {
  const max = relative ? 600 : 1439;
  const start = 1 + Math.floor(r() * (max - 1));
  if (r() < 0.5) return { relative, start: fromM(start) };
  const step = 1 + Math.floor(r() * 180);
  const end = Math.min(max, start + step * (1 + Math.floor(r() * 6)));
  if (end <= start + step - 1) return { relative, start: fromM(start) };
  return { relative, start: fromM(start), end: fromM(end), step: fromM(step) };
}

function randomCase(r: () => number): Case {
  const tasks: Case['tasks'][number][] = [];
  const n = 1 + Math.floor(r() * 4);
  const dayNo = Math.floor(r() * 60);
  const date = new Date(DAY0 + dayNo * 86_400_000);
  for (let i = 0; i < n; i++) {
    const t: Case['tasks'][number] = { name: `t${i}`, times: [], crons: [], days: [], dates: [] };
    if (r() < 0.7) {
      const relative = r() < 0.3;
      const k = 1 + Math.floor(r() * 3);
      for (let j = 0; j < k; j++) t.times.push(randomSpec(r, relative));
    } else {
      const k = 1 + Math.floor(r() * 2);
      for (let j = 0; j < k; j++) {
        const weekDays = r() < 0.4 ? [Math.floor(r() * 7), Math.floor(r() * 7)] : [];
        const monthDays = r() < 0.3 ? [date.getUTCDate(), 1 + Math.floor(r() * 28)] : [];
        t.crons.push({ weekDays: [...new Set(weekDays)], lastWeekDays: [], monthDays: [...new Set(monthDays)], lastDayOfMonth: false, months: [], time: randomSpec(r, false) });
      }
    }
    if (r() < 0.3) t.days.push(DAYS[Math.floor(r() * 7)]!, ...(r() < 0.5 ? [DAYS[date.getUTCDay()]!] : []));
    if (r() < 0.25) t.dates.push(r() < 0.5 ? { day: date.getUTCDate() } : { day: 1 + Math.floor(r() * 28), month: date.getUTCMonth() + 1 });
    tasks.push(t);
  }
  return { begin: Math.floor(r() * 1380), dayNo, tasks };
}

/** The reference: the minutes of the day (from the begin, before midnight) a task runs at. */
function reference(c: Case, t: Case['tasks'][number]): number[] {
  const d = new Date(DAY0 + c.dayNo * 86_400_000);
  const dow = d.getUTCDay();
  const dom = d.getUTCDate();
  const month = d.getUTCMonth() + 1;
  if (t.days.length > 0 && !t.days.includes(DAYS[dow]!)) return [];
  if (t.dates.length > 0 && !t.dates.some((x) => (x.day === undefined || x.day === dom) && (x.month === undefined || x.month === month) && (x.year === undefined || x.year === d.getUTCFullYear()))) return [];
  const at = new Set<number>();
  for (const spec of t.times) for (const s of slots(spec)) at.add(spec.relative ? c.begin + s : s);
  for (const cr of t.crons) {
    if (cr.weekDays.length > 0 && !cr.weekDays.includes(dow)) continue;
    if (cr.monthDays.length > 0 && !cr.monthDays.includes(dom)) continue;
    for (const s of slots(cr.time)) at.add(s);
  }
  return [...at].filter((m) => m >= c.begin && m < 1440).sort((a, b) => a - b);
}

const text = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

test('PROPERTY: time/cron/day/date on random suites over a day run exactly at the reference model\'s minutes (OR within a kind, AND across kinds, cron requeue, +hh:mm from the begin)', async () => {
  const r = rng(20261206);
  const CASES = 150;
  // what the cases exercised (so the property cannot pass vacuously)
  const seen = { runs: 0, orRuns: 0, cronRuns: 0, relativeRuns: 0, heldByDay: 0, andRuns: 0 };
  for (let k = 0; k < CASES; k++) {
    const c = randomCase(r);
    const start = DAY0 + c.dayNo * 86_400_000 + c.begin * M;
    const h = new Harness(definition(suite('s', c.tasks.map((t) => task(t.name, { times: t.times, crons: t.crons, days: t.days, dates: t.dates })))), { start });
    h.autoComplete();
    h.rt.user({ verb: 'begin' });
    // to 23:59 of the begin day (midnight brings the next day's rules, out of this property)
    await h.clock.advance((1439 - c.begin) * M);
    const dayPrefix = c.dayNo === 0 ? '' : `+${c.dayNo}d `;
    for (const t of c.tasks) {
      const got = h.log().filter((l) => l.startsWith(`/s/${t.name}@`)).map((l) => l.slice(l.indexOf('@') + 1));
      const want = reference(c, t).map((m) => `${dayPrefix}${text(m)}`);
      assert.deepEqual(got, want, `case ${k}: begun ${text(c.begin)} on day ${c.dayNo}, task ${JSON.stringify(t)}`);
      seen.runs += got.length;
      if (t.times.length + t.crons.length > 1 && got.length > 1) seen.orRuns++;
      if (t.crons.length > 0 && got.length > 0) seen.cronRuns++;
      if (t.times.some((x) => x.relative) && got.length > 0) seen.relativeRuns++;
      if (t.days.length + t.dates.length > 0) {
        if (got.length > 0) seen.andRuns++;
        else if (reference({ ...c, tasks: [] }, { ...t, days: [], dates: [] }).length > 0) seen.heldByDay++;
      }
    }
    h.rt.close();
  }
  for (const [k, v] of Object.entries(seen)) assert.ok(v > 0, `no case exercised ${k}: ${JSON.stringify(seen)}`);
});
