/** Cron parsing, next-fire computation across time zones and DST, and the scheduler on a virtual clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock } from '../../src/clock/index.js';
import { parseSpec } from '../../src/model/parse.js';
import { createScheduler, nextFire, parseCron, type ScheduleEvent } from '../../src/scaling/index.js';

const at = (s: string): number => Date.parse(s);
const iso = (ms: number | undefined): string => new Date(ms!).toISOString();
const next = (expr: string, tz: string, after: string): string => iso(nextFire(parseCron(expr), tz, at(after)));

test('parses fields: lists, ranges, steps, names, 7 as Sunday', () => {
  const c = parseCron('*/15 9-17/4 1,15 jan-mar mon-fri');
  assert.deepEqual(c.minutes, [0, 15, 30, 45]);
  assert.deepEqual(c.hours, [9, 13, 17]);
  assert.deepEqual([...c.days], [1, 15]);
  assert.deepEqual([...c.months], [1, 2, 3]);
  assert.deepEqual([...c.weekdays], [1, 2, 3, 4, 5]);
  assert.deepEqual([...parseCron('0 0 * * 7').weekdays], [0]);
  assert.deepEqual(parseCron('5/20 * * * *').minutes, [5, 25, 45]);
  for (const [bad, why] of [
    ['* * * *', /expected 5 fields/], ['60 * * * *', /minute: expected a number from 0 to 59, found 60/], ['* 24 * * *', /hour/],
    ['* * 0 * *', /day of month/], ['* * * 13 *', /month/], ['*/0 * * * *', /step/], ['5-1 * * * *', /backwards/], ['1,,2 * * * *', /empty/],
    ['* * * foo *', /month/],
  ] as const) assert.throws(() => parseCron(bad), why, bad);
});

test('next fire in UTC and in other zones', () => {
  assert.equal(next('40 5 * * *', 'UTC', '2030-01-01T00:00:00Z'), '2030-01-01T05:40:00.000Z');
  assert.equal(next('40 5 * * *', 'UTC', '2030-01-01T05:40:00Z'), '2030-01-02T05:40:00.000Z', 'strictly after');
  assert.equal(next('30 7 * * *', 'Europe/Helsinki', '2030-01-01T00:00:00Z'), '2030-01-01T05:30:00.000Z', 'UTC+2 in winter');
  assert.equal(next('30 7 * * *', 'Europe/Helsinki', '2030-07-01T00:00:00Z'), '2030-07-01T04:30:00.000Z', 'UTC+3 in summer');
  assert.equal(next('0 9 * * mon', 'America/New_York', '2030-01-01T00:00:00Z'), '2030-01-07T14:00:00.000Z');
  assert.equal(next('0 0 29 2 *', 'UTC', '2030-01-01T00:00:00Z'), '2032-02-29T00:00:00.000Z', 'leap day');
  assert.equal(next('0 12 13 * fri', 'UTC', '2030-01-01T00:00:00Z'), '2030-01-04T12:00:00.000Z', 'day-of-month OR day-of-week');
  assert.equal(nextFire(parseCron('0 0 31 2 *'), 'UTC', at('2030-01-01T00:00:00Z')), undefined, 'never');
});

test('daylight saving: a skipped time fires once past the gap; a repeated time fires once, at its first occurrence', () => {
  // Europe/Berlin springs forward 2030-03-31 02:00 → 03:00 (01:00 UTC)
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2030-03-30T12:00:00Z'), '2030-03-31T01:30:00.000Z', '02:30 does not exist: 03:30 CEST');
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2030-03-31T01:30:00Z'), '2030-04-01T00:30:00.000Z');
  // falls back 2030-10-27 03:00 → 02:00: 02:30 happens twice (00:30 and 01:30 UTC)
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2030-10-26T12:00:00Z'), '2030-10-27T00:30:00.000Z');
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2030-10-27T00:30:00Z'), '2030-10-28T01:30:00.000Z', 'not again at 01:30 UTC');
  // hourly across the spring gap: 8 firings from 23:00 to 07:00 local minus the missing 02:00 (which maps to 03:00)
  let t = at('2030-03-30T21:30:00Z');
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(iso((t = nextFire(parseCron('0 * * * *'), 'Europe/Berlin', t)!)));
  assert.deepEqual(seen, ['2030-03-30T22:00:00.000Z', '2030-03-30T23:00:00.000Z', '2030-03-31T00:00:00.000Z', '2030-03-31T01:00:00.000Z', '2030-03-31T02:00:00.000Z', '2030-03-31T03:00:00.000Z']);
});

test('the scheduler sets counts on its recurrences and once at a start time, with an event each', async () => {
  const spec = parseSpec(`name: fmi
clouds: { sim: { platform: sim } }
nodeTemplates: { t: { cloud: sim } }
components:
  compute: { nodeTemplate: t, instances: { count: 0, max: 20 } }
schedules:
  morning: { component: compute, cron: "40 5 * * *", timeZone: UTC, count: 8 }
  done: { component: compute, cron: "30 7 * * *", count: 0 }
  once: { component: compute, at: "2030-01-01T12:00:00Z", count: 3 }
`, { file: 's.yaml' });
  const clock = createVirtualClock(at('2030-01-01T00:00:00Z'));
  const calls: string[] = [];
  const events: ScheduleEvent[] = [];
  const s = createScheduler({
    clock,
    schedules: () => Object.values(spec.schedules!).map((schedule) => ({ deployment: 'fmi', schedule })),
    scale: async (_d, c, n) => void calls.push(`${iso(clock.now())} ${c}=${n}`),
    emit: (e) => events.push(e),
  });
  s.start();
  await new Promise((r) => setImmediate(r));
  await clock.advance(48 * 3_600_000);
  await s.stop();
  assert.deepEqual(calls, [
    '2030-01-01T05:40:00.000Z compute=8', '2030-01-01T07:30:00.000Z compute=0', '2030-01-01T12:00:00.000Z compute=3',
    '2030-01-02T05:40:00.000Z compute=8', '2030-01-02T07:30:00.000Z compute=0',
  ]);
  assert.equal(events.length, 5);
  assert.ok(events.every((e) => e.kind === 'schedule.fired' && e.outcome === 'ok'));
});

test('schedule problems are reported with JSON paths', () => {
  assert.throws(() => parseSpec(`name: x
clouds: { sim: { platform: sim } }
nodeTemplates: { t: { cloud: sim } }
components:
  c: { nodeTemplate: t }
schedules:
  a: { component: c, count: 1, cron: "61 * * * *", timeZone: Mars/Olympus }
  b: { component: c, count: 1 }
  d: { component: c, count: 1, at: "tomorrow" }
`, { file: 's.yaml' }), (e: Error) => {
    assert.match(e.message, /\$\.schedules\.a\.cron: expected a valid cron expression/);
    assert.match(e.message, /\$\.schedules\.a\.timeZone: expected an IANA time zone/);
    assert.match(e.message, /\$\.schedules\.b: expected exactly one of cron, at, found neither/);
    assert.match(e.message, /\$\.schedules\.d\.at: expected an ISO 8601 time/);
    return true;
  });
});
