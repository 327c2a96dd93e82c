/**
 * The job's child-command clients on a real local agent, for what ecflow_client does besides
 * reporting: ECF_TIMEOUT (a call that no agent answers gives up, through the FIFO shim and the
 * bash function), ECF_DENIED (fail at once when no agent runs), and `--queue` (its answer is
 * printed), each through the POSIX-sh shim and the bash function on the job port.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { createHttpAgentClient, findProcessesByEnv, startAgent, type AgentClient, type RunningAgent } from '../../src/agent/index.js';
import { JobDispatcher } from '../../src/workflows/jobs/index.js';
import type { WfChildResult, WorkflowRuntime } from '../../src/workflows/index.js';
import { fakeRuntime } from './workflows-jobs-helpers.js';
import { tempDir, waitFor } from './agent-test-helpers.js';

interface Fixture {
  dir: string;
  nodeId: string;
  agent?: RunningAgent;
  client: AgentClient;
}

const fixtures: Fixture[] = [];
const dispatchers: JobDispatcher[] = [];

async function setup(): Promise<Fixture> {
  const dir = tempDir('jobs-child');
  const nodeId = `child-${randomBytes(5).toString('hex')}`;
  const token = randomBytes(12).toString('hex');
  const agent = await startAgent({ sandbox: dir, nodeId, token, killGraceMs: 300, stopGraceMs: 300, restore: false });
  const f: Fixture = { dir, nodeId, agent, client: createHttpAgentClient(agent.url, token) };
  fixtures.push(f);
  return f;
}

/** Kills what is left of the node's jobs (after its agent was stopped without killing them). */
function killJobs(nodeId: string): void {
  for (const pid of findProcessesByEnv('NUBIS_NODE_ID', nodeId)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

afterEach(async () => {
  for (const d of dispatchers.splice(0)) await d.close();
  for (const f of fixtures.splice(0)) {
    await f.agent?.close({ killProcesses: true });
    killJobs(f.nodeId);
    await waitFor('no processes of the node left', () => findProcessesByEnv('NUBIS_NODE_ID', f.nodeId).length === 0, 5000);
    rmSync(f.dir, { recursive: true, force: true });
  }
});

function dispatcher(runtime: WorkflowRuntime): JobDispatcher {
  const d = new JobDispatcher({ runtime: () => runtime, retryMs: 50 });
  dispatchers.push(d);
  return d;
}

/** The try's output file on the agent's disk (readable after the agent is gone). */
const outFile = (f: Fixture, path: string, tryNo = 1): string => join(f.dir, 'jobs', 'out', 'wf', ...path.split('/').filter(Boolean)) + `.${tryNo}`;
const output = (f: Fixture, path: string): string => (existsSync(outFile(f, path)) ? readFileSync(outFile(f, path), 'utf8') : '');

const SH = '#!/bin/sh\nset -u\nnubis child --init=$$\n';
const BASH = '#!/bin/bash\nset -u\nnubis child --init=$$\n';

describe('child commands beyond reporting', () => {
  for (const [shell, head] of [['sh shim', SH], ['bash function', BASH]] as const) {
    test(`${shell}: with no agent to answer, a call gives up after ECF_TIMEOUT; with ECF_DENIED it fails at once`, async () => {
      const f = await setup();
      const rt = fakeRuntime();
      const d = dispatcher(rt.runtime);
      const node = { nodeId: f.nodeId, agent: f.client };
      const go = join(f.dir, 'go');
      const wait = `while [ ! -e '${go}' ]; do sleep 0.02; done\n`;
      const report = 'if nubis child --complete; then echo "complete ok"; else echo "complete failed $?"; fi\necho done\n';
      // ECF_DENIED with a bound far beyond the test: only failing at once ends this job
      await d.start(rt.submit('/s/bounded', 1, { ECF_TIMEOUT: '1' }), node, `${head}${wait}${report}`);
      await d.start(rt.submit('/s/denied', 1, { ECF_TIMEOUT: '3600', ECF_DENIED: '1' }), node, `${head}${wait}${report}`);
      await waitFor('both inits answered', async () => rt.calls.length === 2 && (await f.client.jobStatus!(new AbortController().signal)).pending.length === 0);
      // the agent goes away and leaves its jobs running (as when it is stopped for an upgrade)
      await d.close();
      await f.agent!.close({ killProcesses: false });
      f.agent = undefined;
      writeFileSync(go, '');
      for (const p of ['/s/bounded', '/s/denied']) await waitFor(`${p} to end`, () => output(f, p).includes('done\n'), 60_000);
      assert.match(output(f, '/s/bounded'), /nubis child: --complete: no answer from the agent within 1 s \(ECF_TIMEOUT\)/);
      assert.match(output(f, '/s/bounded'), /complete failed 1\n/);
      assert.match(output(f, '/s/denied'), /nubis child: --complete: no agent runs on this node \(ECF_DENIED is set\)/);
      assert.match(output(f, '/s/denied'), /complete failed 1\n/);
      // nothing left behind: the bound's sleep ended with its call
      await waitFor('the jobs and their bounds gone', () => findProcessesByEnv('NUBIS_NODE_ID', f.nodeId).length === 0, 10_000);
    });

    test(`${shell}: --queue hands out the runtime's answer on stdout; a malformed one is refused`, async () => {
      const f = await setup();
      const rt = fakeRuntime();
      const queued: string[] = [];
      const runtime: WorkflowRuntime = {
        ...rt.runtime,
        child: (id, c): WfChildResult | Promise<WfChildResult> => {
          if (c.verb !== 'queue') return rt.runtime.child(id, c);
          queued.push([c.name, c.action, c.step ?? '-', c.path ?? '-'].join(' '));
          return c.action === 'active' ? { ok: true, value: 'step2' } : c.action === 'no_of_aborted' ? { ok: true, value: '0' } : { ok: true };
        },
      };
      const d = dispatcher(runtime);
      const script = `${head}s=$(nubis child --queue=q active)\necho "got $s"\nnubis child --queue=q complete "$s" /s\necho "aborted $(nubis child --queue q no_of_aborted)"\nif nubis child --queue=q bogus; then echo "bogus ok"; else echo "bogus refused"; fi\nnubis child --complete\n`;
      await d.start(rt.submit('/s/q'), { nodeId: f.nodeId, agent: f.client }, script);
      await waitFor('the job to end', () => d.running().length === 0, 60_000);
      const out = output(f, '/s/q');
      assert.match(out, /^got step2$/m);
      assert.match(out, /^aborted 0$/m);
      assert.match(out, /^bogus refused$/m);
      assert.match(out, /nubis child: --queue=q: expected active, complete STEP, aborted STEP, no_of_aborted or reset/);
      assert.deepEqual(queued, ['q active - -', 'q complete step2 /s', 'q no_of_aborted - -']);
      assert.equal(rt.runtime.node('/s/q')!.state, 'complete');
    });
  }

  test('bash function: an answer slower than ECF_TIMEOUT fails the call, the job goes on', async () => {
    const f = await setup();
    const rt = fakeRuntime();
    rt.setWait(() => new Promise<WfChildResult>(() => {}));
    const d = dispatcher(rt.runtime);
    const script = `${BASH}if nubis child --wait="/s/x == complete"; then echo "wait ok"; else echo "wait failed $?"; fi\nnubis child --complete\n`;
    await d.start(rt.submit('/s/w', 1, { ECF_TIMEOUT: '1' }), { nodeId: f.nodeId, agent: f.client }, script);
    await waitFor('the job to end', () => d.running().length === 0, 60_000);
    assert.match(output(f, '/s/w'), /nubis child: --wait=\/s\/x == complete: no answer from the agent within 1 s \(ECF_TIMEOUT\)\nwait failed 1\n/);
    assert.equal(rt.runtime.node('/s/w')!.state, 'complete');
  });
});
