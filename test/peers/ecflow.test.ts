/**
 * The project's own .def fixtures (test/fixtures/ecflow/) run to completion in a real
 * ecflow_server (Debian `ecflow-server`, `ecflow-client`, on a free loopback port) and compared
 * with what each fixture must show: final states, event/meter/label values and histories, and the
 * partial order of task runs (what must precede what, limits never exceeded).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { checkOrder, ECFLOW_FIXTURES, maxConcurrent, runCounts, startEcflow, type EcflowServer, type SuiteRun } from '../helpers/ecflow.js';

let ecf: EcflowServer;

before(async () => {
  ecf = await startEcflow();
});

after(async () => {
  await ecf?.stop();
});

const fixture = (name: string): string => path.join(ECFLOW_FIXTURES, `${name}.def`);

/** Every task ran exactly `n` times (`counts` overrides per task; 0 = never submitted). */
function assertRuns(run: SuiteRun, n: number, counts: Record<string, number> = {}): void {
  const got = runCounts(run);
  for (const [p, kind] of Object.entries(run.kinds)) {
    if (kind !== 'task') continue;
    assert.equal(got[p] ?? 0, counts[p] ?? n, `${p} ran ${got[p] ?? 0} times`);
  }
}

test('ecflow_server listens on loopback only and answers', async () => {
  const r = await ecf.client(['--ping']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(ecf.log(), /Server initial state is HALTED/);
  assert.match(await ecf.must(['--stats']), /RUNNING/);
});

test('limit 2 over a family of six tasks', async () => {
  const run = await ecf.runSuite(fixture('limit'));
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', p);
  assertRuns(run, 1);
  assert.equal(maxConcurrent(run, (p) => p.startsWith('/limit2/work/')), 2);
});

test('a chain of five runs in order', async () => {
  const run = await ecf.runSuite(fixture('chain'));
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', p);
  assertRuns(run, 1);
  checkOrder(run, [['/chain5/c1', '/chain5/c2'], ['/chain5/c2', '/chain5/c3'], ['/chain5/c3', '/chain5/c4'], ['/chain5/c4', '/chain5/c5']]);
  assert.equal(maxConcurrent(run, () => true), 1);
});

test('events, meters and labels: final values, histories, and the triggers they free', async () => {
  const run = await ecf.runSuite(fixture('signals'));
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', p);
  assertRuns(run, 1);
  const p = '/signals/make/producer';
  assert.deepEqual(run.events, { [`${p}:ready`]: true, [`${p}:scratch`]: false });
  assert.deepEqual(run.meters, { [`${p}:progress`]: 10 });
  assert.deepEqual(run.labels, { [`${p}:status`]: 'done: 10 of 10', '/signals/use/on_event:seen': 'ready was set' });
  assert.deepEqual(run.history, {
    [`${p}:status`]: ['working', 'done: 10 of 10'],
    [`${p}:scratch`]: ['set', 'clear'],
    [`${p}:progress`]: ['2', '5', '10'],
    [`${p}:ready`]: ['set'],
    '/signals/use/on_event:seen': ['ready was set'],
  });
  // a consumer starts only after the producer has begun (it reported what frees the trigger)
  checkOrder(run, [[p, '/signals/use/on_meter', 'active'], [p, '/signals/use/on_event', 'active'], ['/signals/use/on_meter', '/signals/use/after_all'], ['/signals/use/on_event', '/signals/use/after_all'], [p, '/signals/use/after_all']]);
});

test('repeat integer 3 on a family', async () => {
  const run = await ecf.runSuite(fixture('repeat'));
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', p);
  assertRuns(run, 3, { '/repeat3/finish': 1 });
  assert.deepEqual(run.history['/repeat3/loop/r1:n'], ['1', '2', '3']);
  assert.deepEqual(run.history['/repeat3/loop/r2:pass'], ['pass 1', 'pass 2', 'pass 3']);
  assert.deepEqual(run.labels, { '/repeat3/loop/r2:pass': 'pass 3' });
  const done = run.transitions.filter((t) => t.state === 'complete').map((t) => t.path.split('/').pop());
  assert.deepEqual(done, ['r1', 'r2', 'r1', 'r2', 'r1', 'r2', 'finish']);
});

test('complete expression, defstatus complete, inlimit -n', async () => {
  const run = await ecf.runSuite(fixture('rules'));
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', p);
  assertRuns(run, 1, { '/rules/skipped/never1': 0, '/rules/byrule/never2': 0 });
  const inFam = (f: string) => (p: string): boolean => p.startsWith(`/rules/${f}/`);
  assert.equal(maxConcurrent(run, inFam('fa')), 2);
  assert.equal(maxConcurrent(run, inFam('fb')), 2);
  // the two families never overlap: one holds the only token of `fams` until it completes
  const faFirst = run.transitions.findIndex((t) => inFam('fa')(t.path)) < run.transitions.findIndex((t) => inFam('fb')(t.path));
  const [x, y] = faFirst ? ['fa', 'fb'] : ['fb', 'fa'];
  for (const a of ['1', '2']) for (const b of ['1', '2']) checkOrder(run, [[`/rules/${x}/${x[1]}${a}`, `/rules/${y}/${y[1]}${b}`]]);
});
