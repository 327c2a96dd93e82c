/**
 * Workflow jobs through a real local agent (in-process, over HTTP): the job script reports with
 * the agent's `nubis` shim, the JobDispatcher relays to a fake runtime in order; loss, kill,
 * per-try output, zombies, re-attach after a dispatcher restart; the shim's cost per call.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { createHttpAgentClient, findProcessesByEnv, isAlive, startAgent, type AgentClient, type RunningAgent } from '../../src/agent/index.js';
import { JobDispatcher, type DispatcherState } from '../../src/workflows/jobs/index.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult, WfPool, WfSubmission } from '../../src/workflows/index.js';
import { fakeRuntime } from './workflows-jobs-helpers.js';
import { never, tempDir, waitFor } from './agent-test-helpers.js';

interface Fixture {
  dir: string;
  nodeId: string;
  agent: RunningAgent;
  client: AgentClient;
  token: string;
}

const fixtures: Fixture[] = [];
const dispatchers: JobDispatcher[] = [];

async function setup(): Promise<Fixture> {
  const dir = tempDir('jobs');
  const nodeId = `jobs-${randomBytes(5).toString('hex')}`;
  const token = randomBytes(12).toString('hex');
  const agent = await startAgent({ sandbox: dir, nodeId, token, killGraceMs: 300, stopGraceMs: 300, restore: false });
  const f = { dir, nodeId, agent, client: createHttpAgentClient(agent.url, token), token };
  fixtures.push(f);
  return f;
}

afterEach(async () => {
  for (const d of dispatchers.splice(0)) await d.close();
  for (const f of fixtures.splice(0)) {
    await f.agent.close({ killProcesses: true });
    await waitFor('no processes of the node left', () => findProcessesByEnv('NUBIS_NODE_ID', f.nodeId).length === 0, 5000);
    rmSync(f.dir, { recursive: true, force: true });
  }
});

function dispatcher(rt: ReturnType<typeof fakeRuntime>, onState?: (s: DispatcherState) => void): JobDispatcher {
  const d = new JobDispatcher({ runtime: () => rt.runtime, retryMs: 50, ...(onState ? { onState } : {}) });
  dispatchers.push(d);
  return d;
}

const head = '#!/bin/sh\nset -eu\nnubis child --init=$$\n';
const tail = 'nubis child --complete\n';

describe('workflow jobs on a local agent', () => {
  test('a job reports init, event, meter, label and complete through the shim, in order; its output is kept', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const sub = rt.submit('/s/f/t');
    const script = `${head}echo "hello from $ECF_NAME try $ECF_TRYNO rid $ECF_RID"\nnubis child --event=e1\nnubis child --event=e1 clear\nnubis child --meter=m 7\nnubis child --label=l "some  text é✓"\n${tail}`;
    const jobId = await d.start(sub, { nodeId: f.nodeId, agent: f.client }, script);
    assert.ok(jobId);
    await waitFor('the job to end', () => d.running().length === 0);
    assert.deepEqual(rt.calls.map((c) => c.command), [
      { verb: 'init', rid: rt.calls[0]!.command.verb === 'init' ? rt.calls[0]!.command.rid : '' },
      { verb: 'event', name: 'e1', value: true },
      { verb: 'event', name: 'e1', value: false },
      { verb: 'meter', name: 'm', value: 7 },
      { verb: 'label', name: 'l', value: 'some  text é✓' },
      { verb: 'complete' },
    ]);
    for (const c of rt.calls) assert.deepEqual({ ...c.identity, rid: undefined }, { workflow: 'wf', path: '/s/f/t', password: sub.password, tryNo: 1, rid: undefined });
    assert.equal(rt.runtime.node('/s/f/t')!.state, 'complete');
    assert.deepEqual(rt.lost, []);
    const out = await d.logs('wf', '/s/f/t', 1, { nodeId: f.nodeId, agent: f.client });
    const rid = (rt.calls[0]!.command as { rid: string }).rid;
    assert.equal(out, `hello from /s/f/t try 1 rid ${rid}\n`);
  });

  test('waiting calls of one job made at the same time take turns on its reply channel', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const script = `${head}for i in 1 2 3 4 5 6; do (nubis child --wait="x == $i" && echo "ok $i" >>ok.txt) & done\nwait\nsort ok.txt\nrm ok.txt\n${tail}`;
    await d.start(rt.submit('/s/c'), { nodeId: f.nodeId, agent: f.client }, script);
    await waitFor('the job to end', () => d.running().length === 0, 20_000);
    assert.equal(await d.logs('wf', '/s/c', 1, { nodeId: f.nodeId, agent: f.client }), 'ok 1\nok 2\nok 3\nok 4\nok 5\nok 6\n');
    assert.equal(rt.calls.filter((c) => c.command.verb === 'wait').length, 6);
    assert.equal(rt.runtime.node('/s/c')!.state, 'complete');
  });

  test('the shim takes a negative meter value and a bare --abort, as ecflow_client does', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    await d.start(rt.submit('/s/neg'), { nodeId: f.nodeId, agent: f.client }, `${head}nubis child --meter=m -5\nnubis child --meter m -7\nnubis child --abort\n`);
    await waitFor('the job to end', () => d.running().length === 0);
    assert.deepEqual(rt.calls.slice(1).map((c) => c.command), [
      { verb: 'meter', name: 'm', value: -5 }, { verb: 'meter', name: 'm', value: -7 }, { verb: 'abort', reason: '' },
    ]);
    assert.equal(rt.runtime.node('/s/neg')!.state, 'aborted');
    assert.deepEqual(rt.lost, []);
  });

  test('a job killed by SIGKILL without reporting is lost', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    await d.start(rt.submit('/s/t'), { nodeId: f.nodeId, agent: f.client }, `${head}kill -9 $$\n`);
    await waitFor('the loss', () => rt.lost.length === 1);
    assert.equal(rt.lost[0]!.path, '/s/t');
    assert.equal(rt.lost[0]!.tryNo, 1);
    assert.match(rt.lost[0]!.detail, /SIGKILL/);
    assert.equal(rt.runtime.node('/s/t')!.state, 'aborted');
  });

  test('a job that exits non-zero without reporting is lost with its exit code; one that aborted is not', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    await d.start(rt.submit('/s/a'), node, `${head}exit 3\n`);
    await d.start(rt.submit('/s/b'), node, `${head}nubis child --abort=trapped\nexit 0\n`);
    await waitFor('both ends', () => d.running().length === 0);
    assert.deepEqual(rt.lost.map((l) => [l.path, l.detail]), [['/s/a', 'the job exited with code 3 without reporting complete or abort']]);
    assert.equal(rt.runtime.node('/s/b')!.state, 'aborted');
    assert.deepEqual(rt.calls.at(-1)!.command, { verb: 'abort', reason: 'trapped' });
  });

  test('kill through the dispatcher kills the job\'s process group and is not a loss', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    await d.start(rt.submit('/s/long'), { nodeId: f.nodeId, agent: f.client }, `${head}sleep 60 &\nsleep 60\n${tail}`);
    await waitFor('init', () => rt.calls.length === 1);
    const status = await f.client.jobStatus!(never());
    const pid = status.jobs[0]!.pid!;
    assert.ok(isAlive(pid));
    assert.equal(await d.kill('wf', '/s/long', 1), true);
    await waitFor('the job to end', () => d.running().length === 0);
    await waitFor('every process of the job gone', () => findProcessesByEnv('NUBIS_JOB_ID', status.jobs[0]!.jobId).length === 0, 5000);
    assert.deepEqual(rt.lost, []);
    assert.equal(await d.kill('wf', '/s/long', 1), false);
    // a kill while the start is still on its way waits for it
    const starting = d.start(rt.submit('/s/quick'), { nodeId: f.nodeId, agent: f.client }, `${head}sleep 60\n${tail}`);
    const killing = d.kill('wf', '/s/quick', 1);
    await starting;
    assert.equal(await killing, true);
    await waitFor('the second job to end', () => d.running().length === 0);
    assert.deepEqual(rt.lost, []);
  });

  test('a job over its timeout is killed and lost; an agent restarted over running jobs re-adopts them, one with a new epoch kills them', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    await d.start(rt.submit('/s/slow'), node, `${head}sleep 30\n${tail}`, { timeoutMs: 300 });
    await waitFor('the loss', () => rt.lost.length === 1);
    assert.match(rt.lost[0]!.detail, /killed by SIGTERM/);
    assert.match(await d.logs('wf', '/s/slow', 1, node), /ran longer than 300 ms/);

    await d.start(rt.submit('/s/orphan'), node, `${head}sleep 60\n${tail}`);
    await waitFor('init', () => rt.calls.some((c) => c.identity.path === '/s/orphan'));
    const before = await f.client.jobStatus!(never());
    const jobId = before.jobs.find((j) => j.path === '/s/orphan')!.jobId;
    const epoch = before.epoch;
    await f.agent.close({ killProcesses: false });
    assert.ok(findProcessesByEnv('NUBIS_JOB_ID', jobId).length > 0, 'the job outlives its agent');
    const restart = async (): Promise<void> => {
      const token = randomBytes(8).toString('hex');
      const again = await startAgent({ sandbox: f.dir, nodeId: f.nodeId, token, killGraceMs: 300, stopGraceMs: 300 });
      f.agent = again;
      f.client = createHttpAgentClient(again.url, token);
    };
    await restart();
    const adopted = await f.client.jobStatus!(never());
    assert.equal(adopted.epoch, epoch);
    assert.deepEqual(adopted.jobs.map((j) => [j.jobId, j.state]), [[jobId, 'running']]);
    assert.ok(findProcessesByEnv('NUBIS_JOB_ID', jobId).length > 0, 'the re-adopted job still runs');
    // without the saved feed (a new epoch) the earlier agent's jobs cannot be re-adopted: killed
    await f.agent.close({ killProcesses: false });
    rmSync(join(f.dir, 'jobs', 'state', 'feed.json'));
    await restart();
    assert.deepEqual(findProcessesByEnv('NUBIS_JOB_ID', jobId), []);
    const fresh = await f.client.jobStatus!(never());
    assert.notEqual(fresh.epoch, epoch);
    assert.deepEqual(fresh.jobs, []);
  });

  test('an agent restarted on its sandbox: a re-adopted job goes on reporting; one it lost the state of is lost', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const dlog: string[] = [];
    const d = new JobDispatcher({ runtime: () => rt.runtime, retryMs: 50, log: (l) => dlog.push(l) });
    dispatchers.push(d);
    const node = { nodeId: f.nodeId, agent: f.client };
    const go = join(f.dir, 'go');
    const wait = `while [ ! -e '${go}' ]; do sleep 0.02; done\n`;
    await d.start(rt.submit('/s/kept'), node, `${head}${wait}${tail}`);
    await d.start(rt.submit('/s/forgotten'), node, `${head}${wait}${tail}`);
    await waitFor('both inits answered', async () => rt.calls.length === 2 && (await f.client.jobStatus!(never())).pending.length === 0);
    const jobs = (await f.client.jobStatus!(never())).jobs;
    const forgotten = jobs.find((j) => j.path === '/s/forgotten')!;
    // the agent stops (as if killed) and comes back on the same port, without the state of one job
    const port = f.agent.port;
    await f.agent.close({ killProcesses: false });
    const journal = join(f.dir, 'jobs', 'state', 'jobs.jsonl');
    writeFileSync(journal, readFileSync(journal, 'utf8').split('\n').filter((l) => l !== '' && !l.includes(forgotten.jobId)).map((l) => `${l}\n`).join(''));
    f.agent = await startAgent({ sandbox: f.dir, nodeId: f.nodeId, token: f.token, port, killGraceMs: 300, stopGraceMs: 300 });
    await waitFor('the forgotten job lost', () => rt.lost.length === 1, 10_000).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(rt.lost)} ${dlog.join('; ')}`); });
    assert.equal(rt.lost[0]!.path, '/s/forgotten');
    assert.match(rt.lost[0]!.detail, /no longer knows the job/);
    writeFileSync(go, '');
    await waitFor('the kept job complete', () => rt.runtime.node('/s/kept')!.state === 'complete');
    await waitFor('no job left', () => d.running().length === 0);
    assert.equal(rt.lost.length, 1);
    assert.equal(rt.calls.filter((c) => c.identity.path === '/s/kept' && c.command.verb === 'complete').length, 1);
  });

  test('each try keeps its own output', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    await d.start(rt.submit('/s/t', 1), node, `${head}echo first try\nnubis child --abort=boom\n`);
    await waitFor('try 1 to end', () => d.running().length === 0);
    await d.start(rt.submit('/s/t', 2), node, `${head}echo second try\n${tail}`);
    await waitFor('try 2 to end', () => d.running().length === 0);
    assert.equal(await d.logs('wf', '/s/t', 1, node), 'first try\n');
    assert.equal(await d.logs('wf', '/s/t', 2, node), 'second try\n');
    assert.equal(await d.logs('wf', '/s/t', 3, node), '');
    assert.equal(rt.runtime.node('/s/t')!.state, 'complete');
  });

  test('a wrong password is answered as a zombie: the call fails, the job goes on', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const script = `${head}if ECF_PASS=wrong nubis child --complete 2>err.txt; then echo accepted; else echo "refused: $(cat err.txt)"; fi\nrm -f err.txt\nECF_PASS=wrong nubis child --event=e\n${tail}`;
    await d.start(rt.submit('/s/z'), { nodeId: f.nodeId, agent: f.client }, script);
    await waitFor('the job to end', () => d.running().length === 0);
    const out = await d.logs('wf', '/s/z', 1, { nodeId: f.nodeId, agent: f.client });
    assert.equal(out, 'refused: nubis child: zombie: wrong password or try\n');
    assert.deepEqual(rt.calls.map((c) => [c.command.verb, c.identity.password === 'wrong']), [
      ['init', false], ['complete', true], ['event', true], ['complete', false],
    ]);
    assert.equal(rt.runtime.node('/s/z')!.state, 'complete');
  });

  test('NO_ECF makes every child command a no-op success', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    await d.start(rt.submit('/s/n', 1, { NO_ECF: '1' }), { nodeId: f.nodeId, agent: f.client }, `${head}${tail}echo done\n`);
    await waitFor('the job to end', () => d.running().length === 0);
    assert.deepEqual(rt.calls, []);
    // it exited 0 without reporting: a loss, as ecFlow would leave it active
    assert.equal(rt.lost.length, 1);
    assert.equal(await d.logs('wf', '/s/n', 1, { nodeId: f.nodeId, agent: f.client }), 'done\n');
  });

  test('a job the agent cannot start, or an agent without jobs, is failedToStart', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const { runJob: _r, ...noJobs } = f.client;
    assert.equal(await d.start(rt.submit('/s/x'), { nodeId: 'old', agent: noJobs as AgentClient }, head), undefined);
    assert.match(rt.failed[0]!.detail, /cannot run jobs/);
    const bad = rt.submit('/s/y');
    assert.equal(await d.start({ ...bad, path: '/s/../y' }, { nodeId: f.nodeId, agent: f.client }, head), undefined);
    assert.match(rt.failed[1]!.detail, /path: each part must be a node name/);
    assert.deepEqual(d.running(), []);
  });

  test('a restarted dispatcher re-attaches: it answers a call left waiting and sees the rest', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    let saved: DispatcherState | undefined;
    const d1 = dispatcher(rt, (s) => (saved = s));
    // the first runtime never answers the wait: the control plane "dies" with the job blocked in it
    rt.setWait(() => new Promise<WfChildResult>(() => {}));
    const node = { nodeId: f.nodeId, agent: f.client };
    await d1.start(rt.submit('/s/w'), node, `${head}nubis child --wait="/s/x == complete"\nnubis child --event=after\n${tail}`);
    await waitFor('the wait', () => rt.calls.some((c) => c.command.verb === 'wait'));
    await waitFor('the cursor saved past the wait', () => (saved?.cursors[f.nodeId]?.seq ?? 0) >= 2);
    await d1.close();
    assert.deepEqual(saved!.jobs.map((j) => j.path), ['/s/w']);
    const before = rt.calls.length;
    rt.setWait(async () => ({ ok: true }));
    const d2 = dispatcher(rt);
    await d2.resume(JSON.parse(JSON.stringify(saved)) as DispatcherState, () => f.client);
    await waitFor('the job to end', () => d2.running().length === 0);
    assert.deepEqual(rt.calls.slice(before).map((c) => c.command.verb), ['wait', 'event', 'complete']);
    assert.equal(rt.runtime.node('/s/w')!.state, 'complete');
    assert.deepEqual(rt.lost, []);
  });

  test('after a restart, a job that exited meanwhile without reporting is lost; one unknown to the agent too', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    let saved: DispatcherState | undefined;
    const d1 = dispatcher(rt, (s) => (saved = s));
    const node = { nodeId: f.nodeId, agent: f.client };
    await d1.start(rt.submit('/s/e'), node, `${head}sleep 0.3\nexit 4\n`);
    await waitFor('init', () => rt.calls.length === 1);
    await d1.close();
    await waitFor('the job to exit', async () => (await f.client.jobStatus!(never())).jobs.every((j) => j.state === 'exited'));
    rt.submit('/s/ghost');
    const state: DispatcherState = { ...saved!, jobs: [...saved!.jobs, { jobId: 'wf:/s/ghost:1:x', nodeId: f.nodeId, workflow: 'wf', path: '/s/ghost', tryNo: 1 }] };
    const d2 = dispatcher(rt);
    await d2.resume(state, () => f.client);
    await waitFor('both losses', () => rt.lost.length === 2);
    assert.deepEqual(rt.lost.map((l) => l.path).sort(), ['/s/e', '/s/ghost']);
    assert.match(rt.lost.find((l) => l.path === '/s/e')!.detail, /code 4/);
  });

  test('cost of a child command through the shim (printed, not asserted)', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const n = 200;
    const script = `${head}t0=$(date +%s%N)\ni=0\nwhile [ $i -lt ${n} ]; do nubis child --meter=m $i; i=$((i+1)); done\nt1=$(date +%s%N)\n` +
      `i=0\nwhile [ $i -lt ${n} ]; do nubis child --init=$$; i=$((i+1)); done\nt2=$(date +%s%N)\n` +
      `i=0\nwhile [ $i -lt ${n} ]; do /bin/sh -c :; i=$((i+1)); done\nt3=$(date +%s%N)\necho "$t0 $t1 $t2 $t3"\n${tail}`;
    await d.start(rt.submit('/s/bench'), { nodeId: f.nodeId, agent: f.client }, script);
    await waitFor('the job to end', () => d.running().length === 0, 60_000);
    const [t0, t1, t2, t3] = (await d.logs('wf', '/s/bench', 1, { nodeId: f.nodeId, agent: f.client })).trim().split(' ').map(Number) as [number, number, number, number];
    const ms = (a: number, b: number): string => ((b - a) / 1e6 / n).toFixed(2);
    console.log(`# shim cost over ${n} calls each: ${ms(t0, t1)} ms per event/meter/label call, ${ms(t1, t2)} ms per init/complete/abort/wait call ` +
      `(a round trip to the dispatcher), against ${ms(t2, t3)} ms for a bare \`/bin/sh -c :\` on this machine (load ${loadavg()[0]!.toFixed(1)})`);
    assert.equal(rt.calls.filter((c) => c.command.verb === 'meter').length, n);
    assert.deepEqual(rt.calls.filter((c) => c.command.verb === 'meter').map((c) => (c.command as { value: number }).value), [...Array(n).keys()]);
    assert.equal(rt.lost.length, 0);
  });

  test('throughput of no-op jobs, 8 at a time (printed, not asserted)', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    const n = 100;
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        await d.start(rt.submit(`/s/f/t${i}`), node, `${head}${tail}`);
        await waitFor(`t${i} complete`, () => rt.runtime.node(`/s/f/t${i}`)!.state === 'complete', 30_000, 2);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const ms = Date.now() - started;
    const cpu = process.cpuUsage(cpu0);
    console.log(`# ${n} no-op jobs (start, --init, --complete), 8 at a time on one local agent: ${ms} ms, ${(ms / n).toFixed(1)} ms per job; ` +
      `agent + dispatcher CPU ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} ms per job (load ${loadavg()[0]!.toFixed(1)})`);
    assert.equal(rt.calls.length, 2 * n);
  });
});

describe('bash jobs: `nubis` is a shell function on the agent\'s job port', () => {
  const bashHead = '#!/bin/bash\nset -eu -o pipefail\nnubis child --init=$$\n';

  test('calls go in order without a process start; ECF_RID is the job\'s pid; its output is kept', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    const script = `${bashHead}echo "$(type -t nubis) rid=$ECF_RID pid=$$"\nnubis child --event=e1\nnubis child --meter=m 7\nnubis child --label=l "some  text é✓"\nnubis child --meter=m bad\necho "after a refused meter: $?"\n${tail}`;
    await d.start(rt.submit('/s/b'), node, script);
    await waitFor('the job to end', () => d.running().length === 0);
    assert.deepEqual(rt.calls.map((c) => c.command.verb), ['init', 'event', 'meter', 'label', 'complete']);
    assert.deepEqual(rt.calls[3]!.command, { verb: 'label', name: 'l', value: 'some  text é✓' });
    const out = await d.logs('wf', '/s/b', 1, node);
    const m = /^function rid=(\d+) pid=(\d+)\n/.exec(out);
    assert.ok(m, out);
    assert.equal(m[1], m[2]);
    assert.match(out, /nubis child: .*meter/);
    assert.match(out, /after a refused meter: 0\n$/);
    assert.equal(rt.runtime.node('/s/b')!.state, 'complete');
  });

  test('waiting calls made at the same time each get their answer; a zombie is refused; a wrong key is refused', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    const script = `${bashHead}for i in 1 2 3 4 5 6 7 8 9 10; do (nubis child --wait="x == $i" && echo "ok $i" >>ok.txt) & done\nwait\nsort -k2 -n ok.txt\nrm ok.txt\n` +
      `if ECF_PASS=wrong nubis child --complete 2>err.txt; then echo accepted; else echo "refused: $(cat err.txt)"; fi\n` +
      `if NUBIS_JOB_KEY=forged nubis child --complete 2>err.txt; then echo accepted; else echo "refused: $(cat err.txt)"; fi\nrm -f err.txt\n${tail}`;
    await d.start(rt.submit('/s/w'), node, script);
    await waitFor('the job to end', () => d.running().length === 0, 20_000);
    const out = await d.logs('wf', '/s/w', 1, node);
    assert.equal(out, `${[...Array(10).keys()].map((i) => `ok ${i + 1}\n`).join('')}refused: nubis child: zombie: wrong password or try\nrefused: nubis child: zombie: no running job of this agent has that key\n`);
    assert.equal(rt.calls.filter((c) => c.command.verb === 'wait').length, 10);
    assert.equal(rt.runtime.node('/s/w')!.state, 'complete');
  });

  test('a call on the FIFO (a sh child of the job) and a later one on the port keep their order', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    // dash drops the function from its environment: its `nubis` is the shim on PATH
    const script = `${bashHead}for i in 1 2 3 4 5; do /bin/sh -c "nubis child --event=sh$i"; nubis child --event=bash$i; done\n${tail}`;
    await d.start(rt.submit('/s/o'), node, script);
    await waitFor('the job to end', () => d.running().length === 0);
    assert.deepEqual(rt.calls.filter((c) => c.command.verb === 'event').map((c) => (c.command as { name: string }).name), [1, 2, 3, 4, 5].flatMap((i) => [`sh${i}`, `bash${i}`]));
  });

  test('run directories are reused after their job; a job\'s own BASH_ENV is still sourced', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const node = { nodeId: f.nodeId, agent: f.client };
    const env = join(f.dir, 'user-env.sh');
    writeFileSync(env, 'USER_ENV_SEEN=yes\n');
    for (let i = 0; i < 20; i++) {
      await d.start(rt.submit(`/s/r${i}`, 1, { BASH_ENV: env }), node, `${bashHead}echo "\${USER_ENV_SEEN-no} \${BASH_ENV-unset}"\n${tail}`);
      await waitFor(`r${i} to end`, () => d.running().length === 0);
    }
    assert.ok(rt.calls.length === 40 && rt.lost.length === 0);
    assert.equal(await d.logs('wf', '/s/r19', 1, node), `yes ${env}\n`);
    // a spare set of FIFOs is made 8 at a time; reused ones come back: far fewer than one per job
    const dirs = readdirSync(join(f.dir, 'jobs', 'run'));
    assert.ok(dirs.length <= 12, `run directories: ${dirs.join(' ')}`);
  });
});

describe('the agent\'s job routes refuse bad input and keep serving', () => {
  test('bad job requests, cursors and answers are REQUEST_INVALID; unknown jobs NOT_FOUND', async () => {
    const f = await setup();
    const base = { jobId: 'j1', workflow: 'wf', path: '/s/t', tryNo: 1, script: 'true', env: {} };
    const bad: unknown[] = [
      null, [], {}, { ...base, jobId: '' }, { ...base, jobId: 'a b' }, { ...base, workflow: '../x' }, { ...base, path: 's/t' },
      { ...base, path: '/s/../t' }, { ...base, path: '/s//t' }, { ...base, tryNo: 0 }, { ...base, tryNo: 1.5 }, { ...base, script: 3 },
      { ...base, script: 'a\0b' }, { ...base, env: { 'A B': 'x' } }, { ...base, env: { A: 1 } }, { ...base, timeoutMs: -1 },
    ];
    for (const b of bad) {
      await assert.rejects(f.client.runJob!(b as never, never()), (e: Error & { code?: string }) => e.code === 'REQUEST_INVALID', JSON.stringify(b));
    }
    await assert.rejects(f.client.answerJobs!([{ seq: 0, ok: true }], never()), /seq/);
    await assert.rejects(f.client.answerJobs!([{ seq: 1 } as never], never()), /ok/);
    await assert.rejects(f.client.jobFeed!(-1, 0, never()), /after/);
    await assert.rejects(f.client.killJob!('nope', never()), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    assert.equal(await f.client.jobLogs!('nope', never()), '');
    assert.equal(await f.client.jobLogs!({ workflow: 'wf', path: '/s/none', tryNo: 1 }, never()), '');
    // still serving
    const s = await f.client.jobStatus!(never());
    assert.deepEqual(s.jobs, []);
  });

  test('garbage on a job\'s channel becomes an invalid record; bad child arguments are refused to the job', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    const d = dispatcher(rt);
    const script = `${head}printf 'garbage\\036\\n' >"$NUBIS_JOB_CHANNEL"\nhead -c 30000 /dev/urandom | tr -d '\\036' >"$NUBIS_JOB_CHANNEL"\nprintf '\\036\\n' >"$NUBIS_JOB_CHANNEL"\nprintf '/etc/passwd\\037a\\037b\\0371\\037\\037--complete\\037\\036\\n' >"$NUBIS_JOB_CHANNEL"\n` +
      `nubis child --meter=m notanumber || true\nnubis child --frobnicate 2>&1 || true\nnubis child --init 2>&1 || echo init-refused\n${tail}`;
    await d.start(rt.submit('/s/g'), { nodeId: f.nodeId, agent: f.client }, script);
    await waitFor('the job to end', () => d.running().length === 0);
    const out = await d.logs('wf', '/s/g', 1, { nodeId: f.nodeId, agent: f.client });
    assert.match(out, /init-refused/);
    assert.match(out, /--init needs the remote id/);
    // the forged record with a reply path outside the job's directory is taken without an answer
    assert.deepEqual(rt.calls.map((c) => c.command.verb), ['init', 'complete', 'complete']);
    assert.equal(rt.calls[1]!.identity.password, 'b');
    assert.equal(rt.runtime.node('/s/g')!.state, 'complete');
  });
});
