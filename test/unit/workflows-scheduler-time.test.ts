/** Time attributes on a virtual clock: time, today, date, day, cron, relative times, repeats over a simulated day. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WfCronSpec, WfTimeSpec } from '../../src/workflows/index.js';
import { DAY0, H, Harness, M, definition, settle, expr, family, hm, is, ref, suite, task } from './workflows-scheduler-helpers.js';

const at = (h: number, m: number, relative = false): WfTimeSpec => ({ relative, start: hm(h, m) });
const series = (a: [number, number], b: [number, number], step: [number, number], relative = false): WfTimeSpec => ({
  relative, start: hm(...a), end: hm(...b), step: hm(...step),
});
const cron = (time: WfTimeSpec, extra: Partial<WfCronSpec> = {}): WfCronSpec => ({ weekDays: [], lastWeekDays: [], monthDays: [], lastDayOfMonth: false, months: [], time, ...extra });

test('time hh:mm waits for its minute; a series runs at each slot; a past single time waits for tomorrow', async () => {
  const h = new Harness(definition(suite('s', [
    task('a', { times: [at(10, 0)] }),
    task('b', { times: [series([10, 0], [12, 0], [1, 0])] }),
  ])), { start: DAY0 + 9 * H + 30 * M });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  assert.deepEqual(h.log(), []);
  assert.match(h.rt.why('/s/a')[0]!.detail, /time 10:00 \(next 10:00, now 09:30\)/);
  await h.clock.advance(3 * H);
  assert.deepEqual(h.log(), ['/s/a@10:00', '/s/b@10:00', '/s/b@11:00', '/s/b@12:00']);
  assert.equal(h.state('/s'), 'complete');

  // begun after the time: a `time` waits for the next day
  const late = new Harness(definition(suite('s', [task('a', { times: [at(10, 0)] })])), { start: DAY0 + 11 * H });
  late.autoComplete();
  late.rt.user({ verb: 'begin' });
  await late.clock.advance(24 * H);
  assert.deepEqual(late.log(), ['/s/a@+1d 10:00']);
  late.rt.close();
  h.rt.close();
});

test('today is free at once when begun after its time; time series begun mid-series waits for its next slot', async () => {
  const h = new Harness(definition(suite('s', [
    task('a', { todays: [at(10, 0)] }),
    task('b', { todays: [at(14, 0)] }),
    task('c', { times: [series([10, 0], [20, 0], [2, 0])] }),
  ])), { start: DAY0 + 11 * H + 5 * M });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(0);
  assert.deepEqual(h.log(), ['/s/a@11:05']);
  await h.clock.advance(10 * H);
  assert.deepEqual(h.log(), ['/s/a@11:05', '/s/c@12:00', '/s/b@14:00', '/s/c@14:00', '/s/c@16:00', '/s/c@18:00', '/s/c@20:00']);
  h.rt.close();
});

test('relative +hh:mm counts from the begin; two time lines OR, time and date AND; day', async () => {
  const h = new Harness(definition(suite('s', [
    task('rel', { times: [at(0, 30, true)] }),
    task('two', { times: [at(9, 0), at(15, 0)] }),
    task('dated', { times: [at(10, 0)], dates: [{ day: 4, month: 12, year: 2026 }] }),
    task('fri', { days: ['friday'] }),
  ])), { start: DAY0 + 8 * H });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(2 * 24 * H);
  assert.deepEqual(h.log(), ['/s/rel@08:30', '/s/two@09:00', '/s/two@15:00', '/s/fri@+1d 00:00', '/s/dated@+1d 10:00']);
  assert.equal(h.state('/s'), 'complete');
  h.rt.close();
});

test('cron over a simulated day: four cycles, runs at once on begin in its slot, never completes; a family complete retires it', async () => {
  const h = new Harness(definition(suite('s', [
    family('f', [
      task('c', { crons: [cron(series([0, 0], [18, 0], [6, 0]))], events: [{ name: 'e', initial: false }] }),
    ], { complete: expr(is('/s/stop', 'complete')) }),
    task('stop', { trigger: expr(is('/s/gate', 'complete')) }),
    task('gate', { defstatus: 'suspended' }),
  ])), { start: DAY0 });
  h.autoComplete((s) => s.path !== '/s/gate');
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(0);
  assert.deepEqual(h.log(), ['/s/f/c@00:00']);
  assert.equal(h.state('/s/f/c'), 'queued', 'a cron requeues at once');
  await h.clock.advance(24 * H);
  assert.deepEqual(h.log(), ['/s/f/c@00:00', '/s/f/c@06:00', '/s/f/c@12:00', '/s/f/c@18:00', '/s/f/c@+1d 00:00']);
  assert.deepEqual(new Set(h.subs.map((s) => s.tryNo)), new Set([1]), 'each cycle is a fresh try 1');
  // retire: the family's complete expression
  h.rt.user({ verb: 'resume', path: '/s/gate' });
  await h.clock.advance(0);
  h.finish('/s/gate');
  await h.clock.advance(0);
  assert.equal(h.state('/s/stop'), 'complete');
  assert.equal(h.state('/s/f'), 'complete');
  assert.equal(h.rt.node('/s/f')!.reason, 'by_rule');
  assert.equal(h.state('/s'), 'complete');
  await h.clock.advance(24 * H);
  assert.equal(h.log().filter((l) => l.startsWith('/s/f/c')).length, 5);
  h.rt.close();
});

test('cron with day restrictions: weekdays and last day of month', async () => {
  const h = new Harness(definition(suite('s', [
    task('sat', { crons: [cron(at(1, 0), { weekDays: [6] })] }),
    task('eom', { crons: [cron(at(2, 0), { lastDayOfMonth: true })] }),
  ])), { start: DAY0 });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(30 * 24 * H);
  // 2026-12-05 and 12 … are Saturdays; 2026-12-31 is the month's last day
  assert.deepEqual(h.log().filter((l) => l.startsWith('/s/sat')), ['/s/sat@+2d 01:00', '/s/sat@+9d 01:00', '/s/sat@+16d 01:00', '/s/sat@+23d 01:00']);
  assert.deepEqual(h.log().filter((l) => l.startsWith('/s/eom')), ['/s/eom@+28d 02:00']);
  h.rt.close();
});

test('a repeat family cycles four times over the day, a relative time counting from each requeue', async () => {
  const h = new Harness(definition(suite('s', [
    family('cycle', [
      task('run', { times: [at(6, 0, true)] }),
      task('post', { trigger: expr(is('run', 'complete')) }),
    ], { repeat: { kind: 'integer', name: 'HH', start: 0, end: 18, step: 6 } }),
    task('after', { trigger: expr(is('cycle', 'complete')) }),
  ])), { start: DAY0 });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(25 * H);
  assert.deepEqual(h.log(), [
    '/s/cycle/run@06:00', '/s/cycle/post@06:00',
    '/s/cycle/run@12:00', '/s/cycle/post@12:00',
    '/s/cycle/run@18:00', '/s/cycle/post@18:00',
    '/s/cycle/run@+1d 00:00', '/s/cycle/post@+1d 00:00',
    '/s/after@+1d 00:00',
  ]);
  assert.deepEqual(h.subs.filter((s) => s.path === '/s/cycle/run').map((s) => s.variables.HH), ['0', '6', '12', '18']);
  assert.equal(h.state('/s'), 'complete');
  h.rt.close();
});

test('repeats: enumerated, string, date with date arithmetic in a trigger, datelist', async () => {
  const h = new Harness(definition(suite('s', [
    family('e', [task('t')], { repeat: { kind: 'enumerated', name: 'E', values: ['a', 'b', 'c'] } }),
    family('d', [task('t')], { repeat: { kind: 'date', name: 'YMD', start: 20261230, end: 20270102, step: 1 } }),
    family('l', [task('t')], { repeat: { kind: 'datelist', name: 'DL', dates: [20260101, 20260301] } }),
    // YMD + 1 is date arithmetic: 20261231 + 1 = 20270101
    task('w', { trigger: expr({ kind: 'compare', op: '==', left: { kind: 'arith', op: '+', left: ref('d', 'YMD'), right: { kind: 'number', value: 1 } }, right: { kind: 'number', value: 20270101 } }) }),
  ])));
  h.autoComplete((s) => s.path !== '/s/w');
  h.rt.user({ verb: 'begin' });
  await settle();
  assert.deepEqual(h.subs.filter((s) => s.path === '/s/e/t').map((s) => s.variables.E), ['a', 'b', 'c']);
  const ds = h.subs.filter((s) => s.path === '/s/d/t');
  assert.deepEqual(ds.map((s) => s.variables.YMD), ['20261230', '20261231', '20270101', '20270102']);
  assert.equal(ds[2]!.variables.YMD_YYYY, '2027');
  assert.deepEqual(h.subs.filter((s) => s.path === '/s/l/t').map((s) => s.variables.DL), ['20260101', '20260301']);
  // w ran when d was at 20261231
  const order = h.submitted();
  assert.ok(order.includes('/s/w'));
  assert.equal(h.state('/s/e'), 'complete');
  h.rt.close();
});

test('restore mid-day: time states come back, a slot passed while down is caught up, timers are re-armed', async () => {
  const d = definition(suite('s', [
    task('c', { crons: [cron(series([0, 0], [18, 0], [6, 0]))] }),
    task('t', { times: [at(9, 0)] }),
  ]));
  const h = new Harness(d, { start: DAY0 });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await settle(); // the 00:00 run completes before the clock moves
  await h.clock.advance(7 * H);
  assert.deepEqual(h.log(), ['/s/c@00:00', '/s/c@06:00']);
  const saved = new Map<string, import('../../src/workflows/index.js').WfNodeRuntime>();
  for (const step of h.steps) for (const n of step) saved.set(n.path, n);
  h.rt.close();
  assert.ok(saved.get('/s/c')!.fired!.length > 0, 'time state is persisted');
  // down from 07:00 to 10:30 (the 09:00 slot passed), then a new runtime on a clock at 10:30
  const h2 = new Harness(d, { start: DAY0 + 10 * H + 30 * M });
  h2.autoComplete();
  h2.rt.restore([...saved.values()]);
  await h2.clock.advance(0);
  assert.deepEqual(h2.log(), ['/s/t@10:30']);
  await h2.clock.advance(14 * H);
  assert.deepEqual(h2.log(), ['/s/t@10:30', '/s/c@12:00', '/s/c@18:00', '/s/c@+1d 00:00']);
  h2.rt.close();
  assert.equal(h2.clock.pending(), 0, 'close cancels the clock wait');
});

test('variables: inherited, server, generated, alter; ECF_JOB/ECF_JOBOUT/ECF_SCRIPT from ECF_HOME; ECF_PASS is the try password', () => {
  const h = new Harness({
    ...definition(suite('s', [family('f', [family('g', [task('t', { variables: [{ name: 'A', value: 'task' }] })], { variables: [{ name: 'B', value: 'g' }] })], {
      variables: [{ name: 'A', value: 'f' }, { name: 'C', value: 'f' }],
    })], { variables: [{ name: 'ECF_HOME', value: '/h' }] })),
    variables: [{ name: 'D', value: 'def' }, { name: 'SERVER_ONLY', value: 'overridden by def' }],
  }, { serverVariables: { SERVER_ONLY: 'server', E: 'server' } });
  h.rt.user({ verb: 'begin' });
  const v = h.sub('/s/f/g/t').variables;
  assert.equal(v.A, 'task');
  assert.equal(v.B, 'g');
  assert.equal(v.C, 'f');
  assert.equal(v.D, 'def');
  assert.equal(v.E, 'server');
  assert.equal(v.SERVER_ONLY, 'overridden by def');
  assert.equal(v.FAMILY, 'f/g');
  assert.equal(v.FAMILY1, 'g');
  assert.equal(v.SUITE, 's');
  assert.equal(v.ECF_PASS, h.sub('/s/f/g/t').password);
  assert.equal(v.ECF_JOB, '/h/s/f/g/t.job1');
  assert.equal(v.ECF_JOBOUT, '/h/s/f/g/t.1');
  assert.equal(v.ECF_SCRIPT, '/h/s/f/g/t.ecf');
  assert.equal(v.ECF_TRIES, '2');
  assert.equal(v.DOW, '4');
  assert.equal(v.DATE, '03.12.2026');
  assert.equal(v.ECF_TIME, '00:00');
  assert.equal(h.rt.user({ verb: 'alter', path: '/s/f/g/t', variable: 'ECF_PASS', value: 'x' }).ok, false);
  h.rt.user({ verb: 'alter', path: '/s/f', variable: 'C', value: 'altered' });
  h.rt.user({ verb: 'kill', path: '/s' });
  h.rt.user({ verb: 'requeue', path: '/s', mode: 'aborted' });
  assert.equal(h.sub('/s/f/g/t').variables.C, 'altered');
  h.rt.close();
});

test('cron -w and -d AND together (ecFlow), -w 5L is the last Friday of the month', async () => {
  const h = new Harness(definition(suite('s', [
    // Thursdays that are also the 10th or the 24th of the month: 2026-12-10 and 2026-12-24
    task('both', { crons: [cron(at(3, 0), { weekDays: [4], monthDays: [10, 24] })] }),
    task('lastfri', { crons: [cron(at(4, 0), { lastWeekDays: [5] })] }),
  ])), { start: DAY0 });
  h.autoComplete();
  h.rt.user({ verb: 'begin' });
  await h.clock.advance(30 * 24 * H);
  assert.deepEqual(h.log().filter((l) => l.startsWith('/s/both')), ['/s/both@+7d 03:00', '/s/both@+21d 03:00']);
  assert.deepEqual(h.log().filter((l) => l.startsWith('/s/lastfri')), ['/s/lastfri@+22d 04:00']);
  h.rt.close();
});
