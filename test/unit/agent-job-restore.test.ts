/**
 * The agent's saved job state (jobs/state/) and re-adoption, on the job runner itself: the feed's
 * epoch and seqs across restarts (seq bound reserved ahead), the journal (replayed, compacted),
 * corrupt state (a bad feed.json: a new epoch; bad journal lines: logged and skipped), pid reuse (a live process with the saved pid but another start
 * time is not the job), a job that ended while no agent ran (reported, status unknown), and a
 * call left waiting across a restart (answered under its seq by the new agent).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { createJobRunner, findProcessesByEnv, openJobState, SEQ_BLOCK, type JobRunner, type SavedJob } from '../../src/agent/index.js';
import { tempDir, waitFor } from './agent-test-helpers.js';

const dirs: string[] = [];
const runners: JobRunner[] = [];

afterEach(async () => {
  for (const r of runners.splice(0)) await r.close(true);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sandbox(): { dir: string; nodeId: string } {
  const dir = tempDir('job-restore');
  dirs.push(dir);
  return { dir, nodeId: `restore-${randomBytes(4).toString('hex')}` };
}

function runner(s: { dir: string; nodeId: string }, lines: string[] = []): JobRunner {
  const r = createJobRunner({ sandbox: s.dir, nodeId: s.nodeId, killGraceMs: 200, log: (l) => lines.push(l) });
  runners.push(r);
  return r;
}

/** The agent "crashes": it stops without killing its jobs, leaving them to the next one. */
async function crash(r: JobRunner): Promise<void> {
  runners.splice(runners.indexOf(r), 1);
  await r.close(false);
}

const stateDir = (s: { dir: string }): string => join(s.dir, 'jobs', 'state');
const journal = (s: { dir: string }): string => join(stateDir(s), 'jobs.jsonl');
/** The journal's entries as written. */
const entries = (s: { dir: string }): { s?: SavedJob; r?: string }[] => readFileSync(journal(s), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
/** The jobs the journal leaves saved. */
const savedKeys = (s: { dir: string }): string[] => {
  const live = new Set<string>();
  for (const e of entries(s)) {
    if (e.s) live.add(e.s.key);
    else if (e.r) live.delete(e.r);
  }
  return [...live];
};
const req = (jobId: string, script: string): Parameters<JobRunner['run']>[0] => ({ jobId, workflow: 'wf', path: `/s/${jobId}`, tryNo: 1, script, env: { ECF_PASS: 'pw' } });
const gone = (nodeId: string): boolean => findProcessesByEnv('NUBIS_NODE_ID', nodeId).length === 0;

describe('job state store', () => {
  test('the epoch is kept and seqs go on after every seq issued, one write per block', () => {
    const s = sandbox();
    const root = join(s.dir, 'jobs');
    const a = openJobState(root);
    a.close();
    assert.equal(a.continued, false);
    assert.equal(a.firstSeq, 0);
    for (let seq = 1; seq <= SEQ_BLOCK + 5; seq++) a.issue(seq);
    const b = openJobState(root);
    b.close();
    assert.equal(b.continued, true);
    assert.equal(b.epoch, a.epoch);
    assert.ok(b.firstSeq >= SEQ_BLOCK + 5, `first seq ${b.firstSeq}`);
    // a restart without issuing anything still moves on past what the earlier agent reserved
    const c = openJobState(root);
    c.close();
    assert.ok(c.firstSeq > b.firstSeq);
  });

  test('the journal: the latest save of each job unless removed; bad lines are logged and skipped; a corrupt feed.json gives a new epoch', () => {
    const s = sandbox();
    const root = join(s.dir, 'jobs');
    const a = openJobState(root, () => {}, 5);
    const good: SavedJob = {
      v: 1, key: '7', jobId: 'j7', workflow: 'wf', path: '/s/t', tryNo: 1, startedAt: 1, pid: 4242, startTime: '99',
      outFile: join(root, 'out', 'wf', 's', 't.1'), records: [], waiting: [],
    };
    a.save({ ...good, startTime: '98' });
    a.save(good);
    a.save({ ...good, key: '8', jobId: 'j8' });
    a.remove('8');
    a.save({ ...good, key: '9', jobId: 'j9' });
    // the fifth line compacts the journal to the live jobs
    assert.deepEqual(entries(s).map((e) => e.s?.key ?? `-${e.r}`), ['7', '9']);
    a.close();
    appendFileSync(journal(s), [
      JSON.stringify({ s: { ...good, key: '9', outFile: '/etc/passwd' } }),
      JSON.stringify({ s: { ...good, key: '10', jobId: 'j10', waiting: [{ seq: 0, slot: 1 }] } }),
      JSON.stringify({ s: { ...good, key: '../x' } }),
      JSON.stringify({ x: 1 }),
      '{"s":{"v":1,"key":"11",',
    ].join('\n'));
    const lines: string[] = [];
    const b = openJobState(root, (l) => lines.push(l));
    assert.equal(b.continued, true);
    assert.deepEqual(b.load().map((j) => [j.key, j.startTime]), [['7', '99'], ['9', '99']]);
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.match(lines[0]!, /line 3 its output file is outside/);
    assert.match(lines[1]!, /line 4 waiting is malformed/);
    assert.match(lines[4]!, /line 7 cannot be read/);
    // reopened, the journal holds only what was valid
    assert.deepEqual(savedKeys(s).sort(), ['7', '9']);
    b.close();

    writeFileSync(join(stateDir(s), 'feed.json'), 'garbage');
    const c = openJobState(root, (l) => lines.push(l));
    assert.equal(c.continued, false);
    assert.notEqual(c.epoch, a.epoch);
    assert.match(lines.at(-1)!, /feed\.json/);
    assert.deepEqual(c.load(), []);
    assert.deepEqual(savedKeys(s), []);
    c.close();
  });
});

describe('re-adopting jobs after an agent restart', () => {
  test('a job still running is re-adopted: its saved records stay in the feed under their seqs and its exit is reported once', async () => {
    const s = sandbox();
    const r1 = runner(s);
    const release = join(s.dir, 'release');
    await r1.run(req('a', `#!/bin/sh\nnubis child --meter=m 5\nwhile [ ! -e '${release}' ]; do sleep 0.02; done\nexit 0\n`));
    const meter = await waitFor('the meter', async () => (await r1.feed(0, 0)).records.find((x) => x.kind === 'child'));
    const pid = r1.status().jobs[0]!.pid!;
    await crash(r1);
    const r2 = runner(s);
    assert.equal(r2.epoch, r1.epoch);
    assert.deepEqual(await r2.restore(), { adopted: 1, ended: 0 });
    assert.deepEqual(r2.status().jobs.map((j) => [j.jobId, j.state, j.pid]), [['a', 'running', pid]]);
    // the control plane's cursor decides what it sees again: nothing after the meter, the meter from before it
    assert.deepEqual((await r2.feed(meter.seq, 0)).records, []);
    assert.deepEqual((await r2.feed(meter.seq - 1, 0)).records, [meter]);
    writeFileSync(release, '');
    const exited = await waitFor('the exit', async () => (await r2.feed(meter.seq, 0)).records.find((x) => x.kind === 'exited'));
    assert.deepEqual({ ...exited, at: 0, detail: '' }, { seq: exited.seq, jobId: 'a', kind: 'exited', exitCode: null, signal: null, detail: '', at: 0 });
    assert.ok(exited.seq > meter.seq);
    assert.deepEqual(savedKeys(s), []);
  });

  test('pid reuse: a live process with the saved pid but another start time is not the job', async () => {
    const s = sandbox();
    const r1 = runner(s);
    await r1.run(req('b', '#!/bin/sh\nsleep 30\n'));
    await crash(r1);
    const saved = entries(s).at(-1)!.s!;
    // as if the job had died and a later process were given its pid
    appendFileSync(journal(s), `${JSON.stringify({ s: { ...saved, startTime: '1' } })}\n`);
    const r2 = runner(s);
    assert.deepEqual(await r2.restore(), { adopted: 0, ended: 1 });
    const exited = await waitFor('the exit record', async () => (await r2.feed(0, 0)).records.find((x) => x.kind === 'exited'));
    assert.equal(exited.kind === 'exited' && exited.exitCode, null);
    assert.match(exited.kind === 'exited' ? exited.detail ?? '' : '', /without an exit status/);
    // what carries the job's id is an earlier agent's leftover: killed
    await r2.reapOrphans();
    await waitFor('the leftover gone', () => gone(s.nodeId));
  });

  test('a job that ended while no agent ran is reported exited (its status unknown), once', async () => {
    const s = sandbox();
    const r1 = runner(s);
    const release = join(s.dir, 'release');
    await r1.run(req('c', `#!/bin/sh\nwhile [ ! -e '${release}' ]; do sleep 0.02; done\nexit 3\n`));
    await crash(r1);
    writeFileSync(release, '');
    await waitFor('the job to end', () => gone(s.nodeId));
    const r2 = runner(s);
    assert.deepEqual(await r2.restore(), { adopted: 0, ended: 1 });
    const exits = await waitFor('the exit record', async () => {
      const e = (await r2.feed(0, 0)).records.filter((x) => x.kind === 'exited');
      return e.length > 0 ? e : undefined;
    });
    assert.equal(exits.length, 1);
    assert.deepEqual([exits[0]!.kind === 'exited' && exits[0]!.exitCode, exits[0]!.kind === 'exited' && exits[0]!.signal], [null, null]);
    assert.match(exits[0]!.kind === 'exited' ? exits[0]!.detail ?? '' : '', /without an exit status/);
    assert.equal(r2.status().jobs[0]!.state, 'exited');
    assert.deepEqual(savedKeys(s), []);
  });

  test('a call waiting for its answer when the agent died is answered by the next one, under its seq', async () => {
    const s = sandbox();
    const r1 = runner(s);
    await r1.run(req('d', '#!/bin/sh\nnubis child --init=$$ && echo init-ok\nexit 0\n'));
    const init = await waitFor('the init call', () => r1.status().pending[0]);
    await crash(r1);
    const r2 = runner(s);
    assert.deepEqual(await r2.restore(), { adopted: 1, ended: 0 });
    assert.deepEqual(r2.status().pending, [init]);
    r2.answer([{ seq: init.seq, ok: true }]);
    await waitFor('the exit', async () => (await r2.feed(init.seq, 0)).records.find((x) => x.kind === 'exited'));
    assert.equal(r2.logs('d'), 'init-ok\n');
  });
});

describe('jobs of the same id on two nodes of one machine', () => {
  test('killing a job on one node leaves the job of the same id on another node running', async () => {
    // on `local` many nodes' agents share this machine; before, a kill matched the job id alone
    const a = sandbox();
    const b = sandbox();
    const ra = runner(a);
    const rb = runner(b);
    await ra.run(req('same', '#!/bin/sh\nsleep 30\n'));
    await rb.run(req('same', '#!/bin/sh\nsleep 30\n'));
    await waitFor('both running', () => ra.status().jobs[0]?.pid !== undefined && rb.status().jobs[0]?.pid !== undefined);
    assert.equal(await ra.kill('same'), true);
    await waitFor('node a\'s job gone', () => gone(a.nodeId));
    assert.equal(gone(b.nodeId), false, 'node b\'s job of the same id still runs');
    assert.deepEqual(rb.status().jobs.map((j) => [j.jobId, j.state]), [['same', 'running']]);
  });
});
