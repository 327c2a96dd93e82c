/**
 * ecFlow's late and autocancel through the REST API (the real control plane, store, scheduler
 * and workflows controller; jobs answered by the fake runner): a .def with `late -a 00:00` (late
 * at once: any time of day is past 00:00) and `autocancel 0` (removed on the next wake after
 * completing) loads, runs, shows the late flag in the status tree and `why`, emits
 * `workflow.node.late`, drops the cancelled family from the tree and the export, and frees the
 * task that waited for it to be gone (`trigger ../f == unknown`); `nubis child --queue` (the
 * CLI) and the child route answer the queue's steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { runCli } from '../helpers/processes.js';
import { FakeJobs, startWorkflowServer } from '../helpers/workflows.js';
import type { JobStart, WfSubmission } from '../../src/workflows/index.js';

/** The fake runner, keeping each try's submission (its one-time password). */
class RecordingJobs extends FakeJobs {
  readonly subs = new Map<string, WfSubmission>();
  override async start(job: JobStart): Promise<void> {
    this.subs.set(job.sub.path, job.sub);
    return super.start(job);
  }
}

const DEF = `suite lt
  family f
    autocancel 0
    task a
  endfamily
  family g
    queue q 10 20
    task w
      trigger ../f == unknown
    task slow
      late -a 00:00
  endfamily
endsuite
`;

const find = (tree: any, path: string): any => (tree.path === path ? tree : tree.children.map((c: any) => find(c, path)).find(Boolean));

test('late and autocancel over REST: the flag in status and why, workflow.node.late, the cancelled family gone from status and export', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-wf-attrs-');
  const jobs = new RecordingJobs();
  const h = await startWorkflowServer(dir, jobs);
  try {
    h.jobs.hold.add('/lt/g/slow');
    const loaded = await h.call('POST', '/v1/workflows', { text: DEF, file: 'lt.def' });
    assert.equal(loaded.status, 201, loaded.text);
    assert.equal((await h.call('POST', '/v1/workflows/lt/begin', {})).status, 200);

    const tree = await waitFor('f removed and w complete', async () => {
      const t = (await h.call('GET', '/v1/workflows/lt')).json.tree;
      return find(t, '/lt/f') === undefined && find(t, '/lt/g/w')?.state === 'complete' ? t : undefined;
    });
    const slow = find(tree, '/lt/g/slow');
    assert.deepEqual(slow.flags, ['late']);
    assert.equal(slow.state, 'submitted');
    const why = (await h.call('GET', '/v1/workflows/lt/why?path=/lt/g/slow')).json.why;
    assert.ok(why.some((x: any) => x.kind === 'flag' && /is flagged late/.test(x.detail)), JSON.stringify(why));
    const late = (await h.call('GET', '/v1/events?kind=workflow.node.late')).json.events;
    assert.deepEqual(late.map((e: any) => e.data.path), ['/lt/g/slow']);

    const exported = (await h.call('GET', '/v1/workflows/lt/export')).json.text as string;
    assert.ok(!exported.includes('family f'), exported);
    assert.match(exported, /queue q 10 20\n[\s\S]*late -a 00:00\n/);

    // a --queue child command of the running task answers its step
    const sub = jobs.subs.get('/lt/g/slow')!;
    const child = (action: string): Promise<any> => h.call('POST', '/v1/workflows/lt/child', { path: sub.path, password: sub.password, tryNo: sub.tryNo, command: { verb: 'queue', name: 'q', action } }, '');
    // the first through the real `nubis child` CLI, which prints the step
    const cli = await runCli(['child', '--queue=q', 'active'], { NUBIS_URL: h.base, ECF_NAME: sub.path, ECF_PASS: sub.password, ECF_TRYNO: String(sub.tryNo) }, dir);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), '10');
    assert.deepEqual((await child('active')).json, { ok: true, value: '20' });
    assert.deepEqual((await child('active')).json, { ok: true, value: '<NULL>' });
    assert.deepEqual(find((await h.call('GET', '/v1/workflows/lt')).json.tree, '/lt/g').queues, { q: { index: 2, states: ['active', 'active'] } });
    h.jobs.release();
  } finally {
    await h.stop();
  }
});
