/**
 * Workflows through the real API server: the real control plane, store (a SQLite file), event
 * log, scheduler and workflows controller, with a job runner that answers each job with init
 * and complete (the jobs unit runs real ones on agents). Load, begin, run to completion; the
 * status tree and events; why; user commands; export; the tenant wall; bad input rejected with
 * its location and nothing stored; a restart of the control plane on the same store resumes
 * every workflow and finishes each task exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';
import { freePort, serveApi, startServe, stopProcess } from '../helpers/processes.js';
import { FakeJobs, startWorkflowServer as start, TEST_DEF } from '../helpers/workflows.js';

const tasksOf = (tree: any): any[] => (tree.kind === 'task' ? [tree] : tree.children.flatMap(tasksOf));

test('load, begin, run to completion; status tree, events, why, commands, logs, export, delete', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-wf-api-');
  const h = await start(dir);
  try {
    const loaded = await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'daily.def' });
    assert.equal(loaded.status, 201, loaded.text);
    assert.equal(loaded.json.name, 'daily');
    assert.equal(loaded.json.status, 'loaded');
    assert.equal(loaded.json.progress.tasks, 4);
    assert.equal((await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'daily.def' })).status, 409);

    const list = await h.call('GET', '/v1/workflows');
    assert.deepEqual(list.json.workflows.map((w: any) => w.name), ['daily']);

    // nothing runs before begin
    const why = await h.call('GET', '/v1/workflows/daily/why?path=/daily/f/b');
    assert.equal(why.status, 200, why.text);
    assert.ok(Array.isArray(why.json.why));

    // hold b so the run stops half way
    h.jobs.hold.add('/daily/f/b');
    const begun = await h.call('POST', '/v1/workflows/daily/begin', {});
    assert.equal(begun.status, 200, begun.text);
    await waitFor('a complete, b active', async () => {
      const t = (await h.call('GET', '/v1/workflows/daily')).json.tree;
      const byPath = Object.fromEntries(tasksOf(t).map((x: any) => [x.path, x.state]));
      // d (family g) runs on its own: wait for it too, so the count below does not race it
      return byPath['/daily/f/a'] === 'complete' && byPath['/daily/f/b'] === 'submitted' && byPath['/daily/g/d'] === 'complete' ? true : undefined;
    });
    const whyC = await h.call('GET', '/v1/workflows/daily/why?path=/daily/f/c');
    assert.ok(whyC.json.why.some((w: any) => w.kind === 'trigger'), JSON.stringify(whyC.json));
    const st = (await h.call('GET', '/v1/workflows/daily')).json;
    assert.equal(st.progress.complete, 2);
    assert.ok(st.progress.active.includes('/daily/f/b'));
    h.jobs.release();
    await waitFor('every task complete', async () => {
      const s = (await h.call('GET', '/v1/workflows/daily')).json;
      return s.progress.complete === 4 ? s : undefined;
    });
    const tree = (await h.call('GET', '/v1/workflows/daily')).json.tree;
    assert.equal(tree.state, 'complete');
    assert.equal(tree.children[0].kind, 'suite');

    // every state change is an event; no password in any
    const evs = (await h.call('GET', '/v1/events?kind=workflow.node.state&limit=1000')).json.events;
    const ofA = evs.filter((e: any) => e.data.path === '/daily/f/a').map((e: any) => e.data.state);
    // one event per state a step leaves a node in (begin queues and submits a in one step)
    assert.deepEqual(ofA, ['submitted', 'active', 'complete']);
    assert.deepEqual(evs.filter((e: any) => e.data.path === '/daily/f/c').map((e: any) => e.data.state), ['queued', 'submitted', 'active', 'complete']);
    assert.ok(!JSON.stringify(evs).includes('"password"'));
    for (const s of h.jobs.started) assert.ok(!JSON.stringify(evs).includes((s as any).password ?? '\u0000'));

    // logs of a try
    const logs = await h.call('GET', '/v1/workflows/daily/logs?path=/daily/f/a');
    assert.equal(logs.status, 200, logs.text);
    assert.equal(logs.json.tryNo, 1);
    assert.match(logs.json.text, /output of \/daily\/f\/a try 1/);
    assert.equal((await h.call('GET', '/v1/workflows/daily/logs?path=/daily/f/a&try=2')).status, 404);

    // requeue, force, suspend/resume
    assert.equal((await h.call('POST', '/v1/workflows/daily/suspend', { path: '/daily/f' })).status, 200);
    assert.equal((await h.call('POST', '/v1/workflows/daily/requeue', { path: '/daily/f/c' })).status, 200);
    assert.equal((await h.call('GET', '/v1/workflows/daily')).json.tree.children[0].children[0].suspended, true);
    assert.equal((await h.call('POST', '/v1/workflows/daily/force', { path: '/daily/f/c', state: 'complete' })).status, 200);
    assert.equal((await h.call('POST', '/v1/workflows/daily/resume', { path: '/daily/f' })).status, 200);
    assert.equal((await h.call('POST', '/v1/workflows/daily/requeue', {})).status, 400);
    assert.equal((await h.call('POST', '/v1/workflows/daily/kill', { path: '/daily/nope' })).status, 404);

    // child endpoint: no bearer token; a wrong password is a zombie (200, ok false), recorded
    const z = await callApi(h.base, undefined, 'POST', '/v1/workflows/daily/child', { path: '/daily/f/a', password: 'wrong', tryNo: 1, command: { verb: 'complete' } });
    assert.equal(z.status, 200, z.text);
    assert.equal(z.json.ok, false);
    assert.equal(z.json.zombie, true);
    await waitFor('zombie event', async () => ((await h.call('GET', '/v1/events?kind=workflow.zombie')).json.events.length > 0 ? true : undefined));
    assert.equal((await callApi(h.base, undefined, 'POST', '/v1/workflows/nope/child', { path: '/x/y', password: 'p', tryNo: 1, command: { verb: 'complete' } })).status, 404);
    assert.equal((await callApi(h.base, undefined, 'POST', '/v1/workflows/daily/child', { path: '/daily/f/a', tryNo: 1, command: { verb: 'complete' } })).status, 400);

    // export and delete
    const ex = await h.call('GET', '/v1/workflows/daily/export');
    assert.equal(ex.status, 200, ex.text);
    assert.match(ex.json.text, /daily/);
    assert.equal((await h.call('DELETE', '/v1/workflows/daily')).status, 200);
    assert.equal((await h.call('GET', '/v1/workflows/daily')).status, 404);
    assert.deepEqual(await h.store.workflows.list(), []);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input is rejected with its location and nothing is stored', { timeout: 30_000 }, async () => {
  const dir = tempDir('nubis-wf-bad-');
  const h = await start(dir);
  try {
    const bad = await h.call('POST', '/v1/workflows', { text: 'suite daily\n  task a\n    bogus 1\nendsuite\n', file: 'bad.def' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error.message, /bad\.def:\d+:\d+/);
    const badFile = await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'd.def', files: { 'x\u0000y': 'x' } });
    assert.equal(badFile.status, 400, badFile.text);
    assert.match(badFile.json.error.message, /\$\.files/);
    const badTrigger = await h.call('POST', '/v1/workflows', { text: TEST_DEF.replace('trigger b == complete', 'trigger nothere == complete'), file: 'd.def' });
    assert.equal(badTrigger.status, 400, badTrigger.text);
    assert.match(badTrigger.json.error.message, /d\.def:\d+:\d+/);
    const cycle = await h.call('POST', '/v1/workflows', { text: TEST_DEF.replace('    task a\n', '    task a\n      trigger c == complete\n'), file: 'd.def' });
    assert.equal(cycle.status, 400, cycle.text);
    assert.match(cycle.json.error.message, /d\.def:\d+:\d+/);
    const badExpr = await h.call('POST', '/v1/workflows', { text: TEST_DEF.replace('trigger b == complete', 'trigger b == == complete'), file: 'd.def' });
    assert.equal(badExpr.status, 400, badExpr.text);
    assert.match(badExpr.json.error.message, /d\.def:\d+:\d+/);
    const badBody = await h.call('POST', '/v1/workflows', { text: 1, file: 'd.def' });
    assert.equal(badBody.status, 400);
    assert.deepEqual(await h.store.workflows.list(), []);
    assert.deepEqual((await h.call('GET', '/v1/workflows')).json.workflows, []);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tenants never see each other\'s workflows', { timeout: 30_000 }, async () => {
  const dir = tempDir('nubis-wf-ten-');
  const h = await start(dir);
  try {
    const minted = await h.call('POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
    assert.equal(minted.status, 201, minted.text);
    const acme: string = minted.json.token;
    assert.equal((await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'daily.def' })).status, 201);
    // acme sees none of default's, and loads its own of the same name
    assert.deepEqual((await h.call('GET', '/v1/workflows', undefined, acme)).json.workflows, []);
    assert.equal((await h.call('GET', '/v1/workflows/daily', undefined, acme)).status, 404);
    assert.equal((await h.call('POST', '/v1/workflows/daily/begin', {}, acme)).status, 404);
    assert.equal((await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'daily.def' }, acme)).status, 201);
    assert.equal((await h.call('POST', '/v1/workflows/daily/begin', {}, acme)).status, 200);
    await waitFor('acme done', async () => ((await h.call('GET', '/v1/workflows/daily', undefined, acme)).json.progress.complete === 4 ? true : undefined));
    // default's is untouched, and acme's events are acme's
    assert.equal((await h.call('GET', '/v1/workflows/daily')).json.status, 'loaded');
    assert.equal((await h.call('GET', '/v1/events?kind=workflow.node.state')).json.events.length, 0);
    assert.ok((await h.call('GET', '/v1/events?kind=workflow.node.state', undefined, acme)).json.events.length >= 16);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a restart mid-run resumes the workflow: every task completes exactly once', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-wf-restart-');
  const jobs1 = new FakeJobs();
  jobs1.hold.add('/daily/f/b');
  let h = await start(dir, jobs1);
  try {
    assert.equal((await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'daily.def' })).status, 201);
    assert.equal((await h.call('POST', '/v1/workflows/daily/begin', {})).status, 200);
    // d (family g) runs on its own: wait until it is complete too, else the stop may come while
    // its try is active, and a try active at a restart whose job is gone is lost (aborted), by design
    // (its complete event is committed with its state: wait on the event log, not the status, which answers from memory)
    await waitFor('b submitted, a and d complete', async () => {
      const evs = (await h.call('GET', '/v1/events?kind=workflow.node.state&limit=1000')).json.events as any[];
      const done = (p: string): boolean => evs.some((e) => e.data.path === p && e.data.state === 'complete');
      return jobs1.started.some((s) => s.path === '/daily/f/b') && done('/daily/f/a') && done('/daily/g/d') ? true : undefined;
    });
    // the control plane goes away while b's job is held (its process with it)
    await h.stop();
    const jobs2 = new FakeJobs();
    h = await start(dir, jobs2);
    await waitFor('every task complete after the restart', async () => {
      const s = (await h.call('GET', '/v1/workflows/daily')).json;
      // a job counts its completion once its complete call returned, which may be after the state changed
      const counted = [...jobs1.completed.values(), ...jobs2.completed.values()].reduce((a, b) => a + b, 0);
      return s.progress?.complete === 4 && counted >= 4 ? s : undefined;
    });
    const done = new Map<string, number>();
    for (const [p, n] of [...jobs1.completed, ...jobs2.completed]) done.set(p, (done.get(p) ?? 0) + n);
    assert.deepEqual(Object.fromEntries([...done].sort()), { '/daily/f/a': 1, '/daily/f/b': 1, '/daily/f/c': 1, '/daily/g/d': 1 });
    // a was not started again; b started again in the new process
    assert.equal(jobs2.started.filter((s) => s.path === '/daily/f/a').length, 0);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A suite of `n` sim jobs in one family on pool `compute` (4 slots a node), each `seconds` long; b<i> after a<i>. */
function simSuite(n: number, seconds: number): string {
  const lines = [
    '# nubis:pool compute deployment=batch component=compute slots=4',
    'suite crash',
    '  edit ECF_FILES /scripts',
    '  edit NUBIS_POOL compute',
    `  edit NUBIS_SIM_SECONDS ${seconds}`,
    '  edit ECF_TRIES 5',
    '  family f',
  ];
  for (let i = 1; i <= n; i++) lines.push(`    task a${i}`, `    task b${i}`, `      trigger a${i} == complete`);
  lines.push('  endfamily', 'endsuite', '');
  return lines.join('\n');
}

test('SIGKILL of the control plane process mid-run: after a restart every task completes, exactly once', { timeout: 240_000 }, async () => {
  const root = tempDir('nubis-wf-kill-');
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  const api = (method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> => serveApi(port, dataDir, method, p, body);
  const N = 20;
  let child = await startServe(dataDir, port);
  try {
    const spec = [
      'name: batch',
      `clouds: { sim: { platform: sim, options: { path: ${JSON.stringify(path.join(root, 'sim.db'))} } } }`,
      'nodeTemplates: { t: { cloud: sim } }',
      'components:',
      '  compute: { nodeTemplate: t, instances: { count: 2, min: 0, max: 10 }, lifecycle: { start: run } }',
      '',
    ].join('\n');
    assert.equal((await api('POST', '/v1/deployments', { spec, file: 'batch.yaml' })).status, 201);
    await waitFor('batch ready', async () => ((await api('GET', '/v1/deployments/batch')).json.state === 'ready' ? true : undefined), 60_000, 100);
    const scripts: Record<string, string> = {};
    for (let i = 1; i <= N; i++) for (const t of ['a', 'b']) scripts[`/scripts/${t}${i}.ecf`] = 'echo %TASK% try %ECF_TRYNO%\n';
    const loaded = await api('POST', '/v1/workflows', { text: simSuite(N, 0.3), file: 'crash.def', files: scripts });
    assert.equal(loaded.status, 201, JSON.stringify(loaded.json));
    assert.equal((await api('POST', '/v1/workflows/crash/begin', {})).status, 200);
    // kill once some tasks are complete and others run
    await waitFor('some tasks complete', async () => ((await api('GET', '/v1/workflows/crash')).json.progress.complete >= 8 ? true : undefined), 60_000, 20);
    await stopProcess(child, 'SIGKILL');
    const stored = (await (await import('../helpers/postgres.js')).openTestStore(path.join(dataDir, 'nubis.db')));
    const atKill = (await stored.workflows.nodes('crash')).map((r) => JSON.parse(r.state_json)).filter((n) => /\/[ab]\d+$/.test(n.path));
    await stored.close();
    const left = atKill.filter((n) => n.state !== 'complete').length;
    assert.ok(left > 0, 'the kill came while tasks were still to run');
    child = await startServe(dataDir, port);
    const done = await waitFor('every task complete after the restart', async () => {
      const s = (await api('GET', '/v1/workflows/crash')).json;
      return s.progress?.complete === 2 * N ? s : undefined;
    }, 120_000, 100);
    assert.equal(done.state, 'complete');
    // the audit log: each task reached complete once (a try lost with the killed process ran again).
    // The status answers from the scheduler's memory; the last steps' events are committed just
    // after (on PostgreSQL a round trip later), so wait for them rather than read once.
    const completesInLog = async (): Promise<Map<string, number>> => {
      const completes = new Map<string, number>();
      for (let after = 0; ;) {
        const page = (await api('GET', `/v1/events?kind=workflow.node.state&after=${after}&limit=10000`)).json.events as any[];
        for (const e of page) if (e.data.state === 'complete' && /\/[ab]\d+$/.test(e.data.path)) completes.set(e.data.path, (completes.get(e.data.path) ?? 0) + 1);
        if (page.length < 10000) break;
        after = page[page.length - 1].id;
      }
      return completes;
    };
    const completes = await waitFor('a complete event of every task', async () => {
      const c = await completesInLog();
      return c.size === 2 * N ? c : undefined;
    }, 60_000, 100);
    for (const [p, n] of completes) assert.equal(n, 1, `${p} completed ${n} times`);
    // a b task never ran before its a completed
    const tree = (await api('GET', '/v1/workflows/crash')).json.tree;
    assert.equal(tree.children[0].children[0].children.length, 2 * N);
  } finally {
    await stopProcess(child, 'SIGTERM');
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a pool with autoscale grows with its queue of waiting jobs, within its bounds', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-wf-auto-');
  const jobs = new FakeJobs();
  let size = 0;
  const scaled: number[] = [];
  let wake: (() => void) | undefined;
  const h = await start(dir, jobs, {
    pools: {
      members: () => Array.from({ length: size }, (_, i) => ({ id: `n${i}` })),
      watch: (_t, _p, fn) => ((wake = fn), () => undefined),
      size: async () => size,
      scale: async (_t, _w, _p, count) => {
        scaled.push(count);
        size = count;
        setImmediate(() => wake?.());
      },
    },
  });
  try {
    const lines = ['# nubis:pool p deployment=compute component=worker slots=2 autoscale=0..3 cooldown=0s', 'suite auto', '  edit NUBIS_POOL p', '  family f'];
    for (let i = 0; i < 12; i++) lines.push(`    task t${i}`);
    lines.push('  endfamily', 'endsuite', '');
    const r = await h.call('POST', '/v1/workflows', { text: lines.join('\n'), file: 'auto.def' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await h.call('POST', '/v1/workflows/auto/begin', {})).status, 200);
    await waitFor('every task complete', async () => ((await h.call('GET', '/v1/workflows/auto')).json.progress.complete === 12 ? true : undefined));
    assert.ok(scaled.length > 0 && Math.max(...scaled) <= 3 && Math.max(...scaled) >= 1, `scaled to ${scaled.join(', ')}`);
    // every job ran on a node the autoscaler made
    assert.ok(jobs.started.every((s) => /^n[0-2]$/.test(s.node)), JSON.stringify(jobs.started.map((s) => s.node)));
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an engine action task runs through the control plane; its output and failure are the try\'s log', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-wf-act-');
  const h = await start(dir);
  try {
    const def = "suite act\n  edit ECF_TRIES 1\n  task scale_up\n    edit NUBIS_ACTION 'scale nosuch worker 2'\nendsuite\n";
    const r = await h.call('POST', '/v1/workflows', { text: def, file: 'act.def' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await h.call('POST', '/v1/workflows/act/begin', {})).status, 200);
    await waitFor('the action aborted', async () => ((await h.call('GET', '/v1/workflows/act')).json.progress.aborted === 1 ? true : undefined));
    const logs = await h.call('GET', '/v1/workflows/act/logs?path=/act/scale_up');
    assert.equal(logs.status, 200, logs.text);
    assert.match(logs.json.text, /action: scale nosuch worker 2/);
    assert.match(logs.json.text, /failed: .*nosuch/);
    const task = (await h.call('GET', '/v1/workflows/act')).json.tree.children[0].children[0];
    assert.equal(task.state, 'aborted');
    assert.match(task.reason, /nosuch/);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
