/**
 * Time dependencies, compared with a real ecflow_server (Debian `ecflow-server`, `ecflow-client`):
 * the fixtures time.def (`time`, `today`, `date`, `day`, a series, two of a kind OR'ed, kinds
 * AND'ed, relative `+hh:mm`, midnight), cron.def (a cron requeues; families retired by
 * `complete`; `cron -w`) and timerepeat.def (`+hh:mm` counted from each requeue of a repeat).
 *
 * Each suite pins its calendar with `clock real 6.12.2026 +85200` (Sunday, 23:40), so both
 * servers start the suite at the same suite time. ecflow_server runs with `--ecfinterval 2`,
 * its test mode: every tick (2 s) moves each suite clock one minute, so the 28 suite minutes
 * take about a minute, the three suites at once. (At `--ecfinterval 1` a loaded machine made
 * ecflow_server generate a tick's jobs minutes of suite time late: its job generation must fit
 * in one tick.) Nubis runs the same files on a virtual clock moved
 * one minute at a time whenever nothing is submitted or active (test/helpers/ecflow-nubis.ts),
 * so the comparison is of semantics, not speed. Every task labels itself with the suite date and
 * time its job was made: the label histories say at which suite minute each run happened, and
 * must be equal. Waiting is on states (suite complete), never on a fixed sleep.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ECFLOW_FIXTURES, runCounts, startEcflow, type EcflowServer, type SuiteRun } from '../helpers/ecflow.js';
import { runNubisSuite } from '../helpers/ecflow-nubis.js';
import { createVirtualClock } from '../../src/clock/index.js';

let ecf: EcflowServer;
const FIXTURES = ['time', 'cron', 'timerepeat'] as const;
let ecflowRuns: Promise<Map<string, SuiteRun>>;

before(async () => {
  ecf = await startEcflow({ ecfInterval: 2 });
  // the three suites at once: the calendar ticks for all of them
  ecflowRuns = Promise.all(FIXTURES.map((f) => ecf.runSuite(fixture(f), { timeoutMs: 400_000 }))).then((runs) => new Map(runs.map((r, i) => [FIXTURES[i]!, r])));
  ecflowRuns.catch(() => undefined);
});

after(async () => {
  await ecf?.stop();
});

const fixture = (name: string): string => path.join(ECFLOW_FIXTURES, `${name}.def`);

async function inEcflow(name: string): Promise<SuiteRun> {
  return (await ecflowRuns).get(name)!;
}

/** Nubis on a virtual clock that starts on a minute boundary. */
function inNubis(name: string): Promise<SuiteRun> {
  const clock = createVirtualClock(Math.floor(Date.now() / 60_000) * 60_000);
  return runNubisSuite(fixture(name), { clock });
}

function allComplete(run: SuiteRun): void {
  for (const [p, s] of Object.entries(run.states)) assert.equal(s, 'complete', `${p} is ${s}`);
}

function same(ecflow: SuiteRun, nubis: SuiteRun): void {
  assert.deepEqual(nubis.history, ecflow.history, 'label histories (when each run happened, in suite time)');
  assert.deepEqual(nubis.states, ecflow.states, 'final states');
  assert.deepEqual(nubis.labels, ecflow.labels, 'final labels');
  assert.deepEqual(runCounts(nubis), runCounts(ecflow), 'submissions per task');
}

function peerTest(title: string, name: (typeof FIXTURES)[number], expect: (run: SuiteRun) => void): void {
  test(`${title} (ecFlow)`, async () => {
    expect(await inEcflow(name));
  });
  test(`${title} (Nubis on a virtual clock, compared with ecFlow)`, async () => {
    const n = await inNubis(name);
    expect(n);
    same(await inEcflow(name), n);
  });
}

const at = (run: SuiteRun, p: string): string[] | undefined => run.history[`${p}:at`];

peerTest('time, today, date, day: single, relative, series, OR within a kind, AND across kinds, midnight', 'time', (run) => {
  allComplete(run);
  const s = '/time1';
  assert.deepEqual(at(run, `${s}/tm_single`), ['20261206 23:45']);
  assert.deepEqual(at(run, `${s}/tm_relative`), ['20261206 23:43']);
  assert.deepEqual(at(run, `${s}/tm_past_today`), ['ran']);
  assert.deepEqual(at(run, `${s}/tm_later_today`), ['20261206 23:52']);
  assert.deepEqual(at(run, `${s}/tm_series`), ['20261206 23:42', '20261206 23:50', '20261206 23:58']);
  assert.deepEqual(at(run, `${s}/tm_two_times`), ['20261206 23:47', '20261206 23:55']);
  assert.deepEqual(at(run, `${s}/tm_day_and_time`), ['20261206 23:57']);
  assert.deepEqual(at(run, `${s}/tm_monday`), ['20261207 00:00']);
  assert.deepEqual(at(run, `${s}/tm_date_and_time`), ['20261207 00:03']);
});

peerTest('cron requeues until its family is retired by complete; cron -w waits for Monday', 'cron', (run) => {
  allComplete(run);
  assert.deepEqual(at(run, '/cron1/every/cr_ticker'), ['20261206 23:44', '20261206 23:49', '20261206 23:54']);
  assert.deepEqual(at(run, '/cron1/mondays/cr_weekly'), ['20261207 00:02', '20261207 00:06']);
  assert.deepEqual(runCounts(run), { '/cron1/every/cr_ticker': 3, '/cron1/stop_every': 1, '/cron1/mondays/cr_weekly': 2, '/cron1/stop_mondays': 1 });
});

peerTest('+hh:mm under a repeat counts from each requeue', 'timerepeat', (run) => {
  allComplete(run);
  assert.deepEqual(at(run, '/reptime/loop/rt_wait'), ['1 23:44', '2 23:48', '3 23:52']);
  assert.deepEqual(at(run, '/reptime/rt_after'), ['20261206 23:58']);
});
