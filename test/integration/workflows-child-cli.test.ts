/**
 * `nubis child` (the real CLI process, the slow path for jobs outside agents) against the real
 * API server and workflows controller: ecflow_client's forms node's argument parser does not
 * take as they are — a negative meter value (`--meter=m -5`, `--meter m -7`) and a bare
 * `--abort` with no reason — reach the task.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { runCli } from '../helpers/processes.js';
import { startWorkflowServer } from '../helpers/workflows.js';
import type { JobPort, JobStart } from '../../src/workflows/index.js';

const DEF = `suite neg
  edit ECF_TRIES 1
  task t
    meter m -10 10
endsuite
`;

/** A job port that starts nothing: the test plays the job with the CLI. */
class HeldJobs implements JobPort {
  readonly started: JobStart[] = [];
  async start(job: JobStart): Promise<void> {
    this.started.push(job);
  }
  kill(): void {}
  async logs(): Promise<string | undefined> {
    return undefined;
  }
}

const taskOf = (tree: any): any => (tree.kind === 'task' ? tree : tree.children.map(taskOf).find(Boolean));

test('nubis child: a negative meter value and a bare --abort through the CLI', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-wf-child-');
  const jobs = new HeldJobs();
  const h = await startWorkflowServer(path.join(dir, 'data'), undefined, { jobs });
  try {
    assert.equal((await h.call('POST', '/v1/workflows', { text: DEF, file: 'neg.def' })).status, 201);
    assert.equal((await h.call('POST', '/v1/workflows/neg/begin', {})).status, 200);
    const job = await waitFor('the task submitted', () => jobs.started[0]);
    const env = { NUBIS_URL: h.base, ECF_NAME: job.sub.path, ECF_PASS: job.sub.password, ECF_TRYNO: String(job.sub.tryNo), ECF_RID: '99' };
    const child = async (...args: string[]): Promise<void> => {
      const r = await runCli(['child', ...args], env, dir);
      assert.equal(r.code, 0, `nubis child ${args.join(' ')}: ${r.stderr}`);
    };
    const task = async (): Promise<any> => taskOf((await h.call('GET', '/v1/workflows/neg')).json.tree);

    await child('--init=99');
    await child('--meter=m', '-5');
    assert.equal((await task()).meters.m, -5);
    await child('--meter', 'm', '-7');
    assert.equal((await task()).meters.m, -7);
    await child('--abort');
    const t = await task();
    assert.equal(t.state, 'aborted');
    assert.equal(jobs.started.length, 1, 'ECF_TRIES 1: no retry');
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
