/**
 * The project's own .def fixtures (test/fixtures/ecflow/) run to completion in a real
 * ecflow_server (Debian `ecflow-server`, `ecflow-client`, on a free loopback port) and in Nubis
 * (the scheduler, createRuntime, whose jobs run on a real local agent and report with its
 * `nubis child` shim, relayed by the jobs unit's JobDispatcher; and again through the public
 * surface: `nubis workflow import|begin|status -w` against the API server and the workflows
 * controller, with real bash jobs behind its job port), then compared:
 * final states, event/meter/label values and histories, how often each task ran, and the
 * partial order of task runs (what must precede what; limits never exceeded). Each fixture's
 * expectations are checked on both runs, and the two runs are checked against each other.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { checkOrder, ECFLOW_FIXTURES, maxConcurrent, runCounts, startEcflow, type EcflowServer, type SuiteRun } from '../helpers/ecflow.js';
import { runNubisCli, runNubisSuite } from '../helpers/ecflow-nubis.js';

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

function allComplete(run: SuiteRun): void {
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', `${p} is ${s}`);
}

/** The same results from both servers (what a user sees at the end, and what was reported on the way). */
function sameResults(ecflow: SuiteRun, nubis: SuiteRun): void {
  assert.deepEqual(nubis.states, ecflow.states, 'final states');
  assert.deepEqual(nubis.events, ecflow.events, 'final event values');
  assert.deepEqual(nubis.meters, ecflow.meters, 'final meter values');
  assert.deepEqual(nubis.labels, ecflow.labels, 'final label values');
  assert.deepEqual(nubis.history, ecflow.history, 'event/meter/label histories');
  assert.deepEqual(runCounts(nubis), runCounts(ecflow), 'submissions per task');
  assert.deepEqual(nubis.transitions.filter((t) => t.state.startsWith('zombie')), [], 'no zombies in Nubis');
}

/** Runs fixture `name` in ecFlow and in Nubis, checks `expect` on both and compares them. */
const ecflowRuns = new Map<string, Promise<SuiteRun>>();
/** Each fixture runs once in ecFlow; both tests of the fixture use that run. */
function inEcflow(name: string): Promise<SuiteRun> {
  if (!ecflowRuns.has(name)) ecflowRuns.set(name, ecf.runSuite(fixture(name)));
  return ecflowRuns.get(name)!;
}

/** `todo`: a known divergence of Nubis's, reported to the unit that owns it (the test still runs and reports). */
function peerTest(title: string, name: string, expect: (run: SuiteRun, who: string) => void, o: { todo?: string } = {}): void {
  test(`${title} (ecFlow)`, async () => {
    expect(await inEcflow(name), 'ecflow');
  });
  test(`${title} (Nubis, compared with ecFlow)`, { ...(o.todo ? { todo: o.todo } : {}) }, async () => {
    const [e, n] = [await inEcflow(name), await runNubisSuite(fixture(name))];
    expect(n, 'nubis');
    sameResults(e, n);
  });
  test(`${title} (Nubis through nubis workflow import|begin|status -w and the API, compared with ecFlow)`, { ...(o.todo ? { todo: o.todo } : {}) }, async () => {
    const [e, n] = [await inEcflow(name), await runNubisCli(fixture(name))];
    expect(n, 'nubis-cli');
    sameResults(e, n);
  });
}

test('ecflow_server listens on loopback only and answers', async () => {
  const r = await ecf.client(['--ping']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(ecf.log(), /Server initial state is HALTED/);
  assert.match(await ecf.must(['--stats']), /RUNNING/);
});

peerTest('limit 2 over a family of six tasks', 'limit', (run) => {
  allComplete(run);
  assertRuns(run, 1);
  assert.equal(maxConcurrent(run, (p) => p.startsWith('/limit2/work/')), 2);
});

peerTest('a chain of five runs in order', 'chain', (run) => {
  allComplete(run);
  assertRuns(run, 1);
  checkOrder(run, [['/chain5/c1', '/chain5/c2'], ['/chain5/c2', '/chain5/c3'], ['/chain5/c3', '/chain5/c4'], ['/chain5/c4', '/chain5/c5']]);
  assert.equal(maxConcurrent(run, () => true), 1);
});

peerTest('events, meters and labels: final values, histories, and the triggers they free', 'signals', (run) => {
  allComplete(run);
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

peerTest('repeat integer 3 on a family', 'repeat', (run) => {
  allComplete(run);
  assertRuns(run, 3, { '/repeat3/finish': 1 });
  assert.deepEqual(run.history['/repeat3/loop/r1:n'], ['1', '2', '3']);
  assert.deepEqual(run.history['/repeat3/loop/r2:pass'], ['pass 1', 'pass 2', 'pass 3']);
  assert.equal(run.labels['/repeat3/loop/r2:pass'], 'pass 3');
  const done = run.transitions.filter((t) => t.state === 'complete').map((t) => t.path.split('/').pop());
  assert.deepEqual(done, ['r1', 'r2', 'r1', 'r2', 'r1', 'r2', 'finish']);
});

peerTest('complete expression, defstatus complete, inlimit -n', 'rules', (run) => {
  allComplete(run);
  assertRuns(run, 1, { '/rules/skipped/never1': 0, '/rules/byrule/never2': 0 });
  const inFam = (f: string) => (p: string): boolean => p.startsWith(`/rules/${f}/`);
  assert.equal(maxConcurrent(run, inFam('fa')), 2);
  assert.equal(maxConcurrent(run, inFam('fb')), 2);
  // the two families never overlap: one holds the only token of `fams` until it completes
  const first = (f: string): number => run.transitions.findIndex((t) => inFam(f)(t.path) && t.state === 'submitted');
  const [x, y] = first('fa') < first('fb') ? ['fa', 'fb'] : ['fb', 'fa'];
  for (const a of ['1', '2']) for (const b of ['1', '2']) checkOrder(run, [[`/rules/${x}/${x[1]}${a}`, `/rules/${y}/${y[1]}${b}`]]);
});

peerTest('an automatic retry, --wait, inherited variables', 'protocol', (run) => {
  allComplete(run);
  assertRuns(run, 1, { '/protocol/retry/flaky': 2 });
  const flaky = run.transitions.filter((t) => t.path === '/protocol/retry/flaky').map((t) => t.state);
  assert.deepEqual(flaky.filter((st) => st !== 'queued'), ['submitted', 'active', 'aborted', 'submitted', 'active', 'complete']);
  assert.deepEqual(run.history['/protocol/retry/flaky:try'], ['1', '2']);
  assert.equal(run.labels['/protocol/hold/waiter:vars'], 'protocol hold waiter bonjour fallback');
  checkOrder(run, [['/protocol/hold/waiter', '/protocol/hold/release', 'active']]);
  const doneAt = (p: string): number => run.transitions.findIndex((t) => t.path === p && t.state === 'complete');
  assert.ok(doneAt('/protocol/hold/release') < doneAt('/protocol/hold/waiter'), 'the waiter completes after what it waited for');
});
