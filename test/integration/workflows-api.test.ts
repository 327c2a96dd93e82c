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
import { openStore, type Store } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';
import { createWorkflows, type JobPort, type JobStart, type WorkflowPorts, type WorkflowsController } from '../../src/workflows/index.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { testDefs, TEST_DEF } from '../helpers/workflows.js';

/** A job runner in the test: each job inits, optionally waits, then completes (or aborts when told). */
class FakeJobs implements JobPort {
  readonly started: { path: string; tryNo: number; node: string; script: string }[] = [];
  readonly completed = new Map<string, number>();
  /** Paths whose jobs are held (not answered) until released. */
  hold = new Set<string>();
  private readonly held: (() => void)[] = [];
  abortPaths = new Set<string>();
  private readonly live = new Map<string, JobStart>();

  async start(job: JobStart): Promise<void> {
    this.started.push({ path: job.sub.path, tryNo: job.sub.tryNo, node: job.node, script: job.script });
    this.live.set(`${job.sub.path}#${job.sub.tryNo}`, job);
    const id = { workflow: job.workflowId, path: job.sub.path, password: job.sub.password, tryNo: job.sub.tryNo };
    const run = async (): Promise<void> => {
      await job.child(id, { verb: 'init', rid: `pid-${this.started.length}` });
      const r = this.abortPaths.has(job.sub.path)
        ? await job.child(id, { verb: 'abort', reason: 'told to' })
        : await job.child(id, { verb: 'complete' });
      if (r.ok && !this.abortPaths.has(job.sub.path)) this.completed.set(job.sub.path, (this.completed.get(job.sub.path) ?? 0) + 1);
      this.live.delete(`${job.sub.path}#${job.sub.tryNo}`);
      job.ended();
    };
    // a job whose control plane stopped under it just ends
    const go = (): void => void run().catch(() => undefined);
    if (this.hold.has(job.sub.path)) this.held.push(go);
    else setImmediate(go);
  }

  release(): void {
    for (const f of this.held.splice(0)) f();
  }

  kill(_wf: string, p: string, tryNo: number): void {
    this.live.get(`${p}#${tryNo}`)?.ended();
  }

  async logs(_t: string, _w: string, p: string, tryNo: number): Promise<string | undefined> {
    return `output of ${p} try ${tryNo}\n`;
  }

  async reattach(): Promise<string | undefined> {
    return undefined;
  }
}

interface Harness {
  base: string;
  admin: string;
  dir: string;
  store: Store;
  cp: RunningControlPlane;
  api: ApiServer;
  workflows: WorkflowsController;
  jobs: FakeJobs;
  call(method: string, p: string, body?: unknown, token?: string): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

async function start(dir: string, jobs = new FakeJobs(), extra: Partial<WorkflowPorts> = {}): Promise<Harness> {
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  const workflows = createWorkflows({
    controlPlane: cp, store, events,
    ports: { defs: testDefs, jobs, pools: { members: () => [{ id: 'n1' }, { id: 'n2' }], watch: () => () => undefined }, script: { jobText: (s) => `script of ${s.path}` }, ...extra },
  });
  await cp.start();
  await ensureToken(store, dir);
  const admin = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const api = createApiServer({ controlPlane: cp, store, workflows, heartbeatMs: 50, log: () => undefined });
  const { port } = await api.listen(0);
  const base = `http://127.0.0.1:${port}`;
  return {
    base, admin, dir, store, cp, api, workflows, jobs,
    call: (method, p, body, token = admin) => callApi(base, token, method, p, body),
    async stop() {
      await api.close();
      workflows.stop();
      await cp.stop();
      await store.close();
    },
  };
}

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
      return byPath['/daily/f/a'] === 'complete' && byPath['/daily/f/b'] === 'submitted' ? true : undefined;
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
    const badFile = await h.call('POST', '/v1/workflows', { text: TEST_DEF, file: 'd.def', files: { '../etc/passwd': 'x' } });
    assert.equal(badFile.status, 400, badFile.text);
    assert.match(badFile.json.error.message, /\$\.files/);
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
    const minted = await h.call('POST', '/v1/tokens', { name: 'ci', tenant: 'acme' });
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
    await waitFor('b submitted', async () => (jobs1.started.some((s) => s.path === '/daily/f/b') ? true : undefined));
    // the control plane goes away while b's job is held (its process with it)
    await h.stop();
    const jobs2 = new FakeJobs();
    h = await start(dir, jobs2);
    await waitFor('every task complete after the restart', async () => {
      const s = (await h.call('GET', '/v1/workflows/daily')).json;
      return s.progress?.complete === 4 ? s : undefined;
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
