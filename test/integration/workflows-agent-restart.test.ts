/**
 * Jobs survive a SIGKILL of their node's agent: the real agent program (its own process, on a
 * loopback port), the real API server, control plane and workflows controller in this process,
 * and the jobs unit's JobDispatcher as the controller's job port. Four tasks (one a bash job,
 * reporting on the agent's job port; the others sh, through the FIFO shim) start and report
 * `--init`, each then blocks on a FIFO the test holds; the agent is SIGKILLed and, while it is
 * down, two jobs are released (an sh one and a bash one: each `--complete` waits for an agent
 * to read its channel, the bash one through the shim once the job port refuses) and one is killed; the agent restarts on the same sandbox. Then the held ones are released. Those
 * that lived complete exactly once on try 1 with one submission each; the killed one is lost
 * and retried (ECF_TRIES 2), completing on try 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { freePort, killGroup, spawnTracked } from '../helpers/processes.js';
import { startWorkflowServer, testDefs } from '../helpers/workflows.js';
import { agentProgramPath, createHttpAgentClient, findProcessesByEnv, type AgentClient } from '../../src/agent/index.js';
import { JobDispatcher, parseDef, type JobNode, type JobPort, type JobStart } from '../../src/workflows/index.js';

const DEF = `suite rs
  edit ECF_TRIES 2
  task held
  task bash
  task downtime
  task bashdown
  task killed
endsuite
`;

/** The controller's job port: every job on the one agent, through the JobDispatcher; submissions counted. */
class AgentJobs implements JobPort {
  readonly submissions: string[] = [];
  constructor(private readonly d: JobDispatcher, private readonly node: JobNode) {}
  async start(job: JobStart): Promise<void> {
    this.submissions.push(`${job.sub.path}#${job.sub.tryNo}`);
    await this.d.launch(job.sub, this.node, job.script, { sink: { child: job.child, lost: job.lost, ended: job.ended } });
  }
  kill(workflowId: string, p: string, tryNo: number): void {
    void this.d.kill(workflowId, p, tryNo).catch(() => undefined);
  }
  async logs(_tenant: string, workflowId: string, p: string, tryNo: number): Promise<string | undefined> {
    return this.d.logs(workflowId, p, tryNo, this.node);
  }
}

/** Opens the FIFO for writing once its job reads it (no reader: ENXIO) and writes a line. */
async function release(fifo: string): Promise<void> {
  const fd = await waitFor(`a reader on ${path.basename(fifo)}`, () => {
    try {
      return fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
  });
  fs.writeSync(fd, 'go\n');
  fs.closeSync(fd);
}

const tasksOf = (tree: any): any[] => (tree.kind === 'task' ? [tree] : tree.children.flatMap(tasksOf));

test('a SIGKILLed agent restarted on its sandbox re-adopts its jobs: each completes once, with no retry', { timeout: 120_000 }, async () => {
  const dir = tempDir('nubis-wf-agent-restart-');
  const sandbox = path.join(dir, 'node');
  const nodeId = `rs-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(12).toString('hex');
  const port = await freePort();
  const fifos = { held: path.join(dir, 'held.fifo'), bash: path.join(dir, 'bash.fifo'), downtime: path.join(dir, 'downtime.fifo'), bashdown: path.join(dir, 'bashdown.fifo'), killed: path.join(dir, 'killed.fifo') };
  execFileSync('mkfifo', Object.values(fifos));
  let agentProc: ChildProcess | undefined;
  const startAgentProcess = async (): Promise<void> => {
    const child = spawnTracked(process.execPath, [agentProgramPath(), '--sandbox', sandbox, '--port', String(port), '--node', nodeId], {
      env: { ...process.env, NUBIS_AGENT_TOKEN: token }, stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'agent.log'), 'a')],
    });
    agentProc = child;
    await waitFor('the agent to answer', async () => (await client.jobStatus!(new AbortController().signal)) !== undefined, 30_000);
  };
  const client: AgentClient = createHttpAgentClient(`http://127.0.0.1:${port}`, token);
  const dispatcher = new JobDispatcher({ retryMs: 50 });
  const jobs = new AgentJobs(dispatcher, { nodeId, agent: client });
  // each task inits, then waits on its FIFO — the killed one only on its first try
  const script = (taskPath: string, tryNo: number): string => {
    const name = path.basename(taskPath) as keyof typeof fifos;
    const wait = name === 'killed' && tryNo > 1 ? '' : `read line <'${fifos[name]}'\n`;
    // the bash one reports through the agent's job port, the others through the FIFO shim
    return `#!/bin/${name.startsWith('bash') ? 'bash' : 'sh'}\nset -e\nnubis child --init $$\n${wait}nubis child --complete\n`;
  };
  const defs = { ...testDefs, parseDef: (t: string, f: string) => ({ ...parseDef(t, f), pools: [{ name: 'p', deployment: 'compute', component: 'worker', slots: 8 }] }) };
  await startAgentProcess();
  const h = await startWorkflowServer(path.join(dir, 'data'), undefined, {
    jobs, defs, pools: { members: () => [{ id: nodeId }], watch: () => () => undefined }, script: { jobText: (s) => script(s.path, s.tryNo) },
  });
  const tasks = async (): Promise<Record<string, { state: string; tryNo: number }>> =>
    Object.fromEntries(tasksOf((await h.call('GET', '/v1/workflows/rs')).json.tree).map((t: any) => [t.path, { state: t.state, tryNo: t.tryNo }]));
  try {
    assert.equal((await h.call('POST', '/v1/workflows', { text: DEF, file: 'rs.def' })).status, 201);
    assert.equal((await h.call('POST', '/v1/workflows/rs/begin', {})).status, 200);
    await waitFor('every task active', async () => Object.values(await tasks()).every((t) => t.state === 'active'));
    // every --init answered (an answer still on its way would reach the restarted agent instead)
    const before = await waitFor('no call waiting', async () => {
      const st = await client.jobStatus!(new AbortController().signal);
      return st.pending.length === 0 ? st : undefined;
    });
    const killedPid = before.jobs.find((j) => j.path === '/rs/killed')!.pid!;

    // the agent dies; meanwhile one job is released (its --complete waits for an agent), one is killed
    process.kill(agentProc!.pid!, 'SIGKILL');
    await new Promise<void>((r) => (agentProc!.exitCode !== null || agentProc!.signalCode !== null ? r() : agentProc!.once('exit', () => r())));
    await release(fifos.downtime);
    await release(fifos.bashdown);
    process.kill(-killedPid, 'SIGKILL');
    await waitFor('the killed job gone', () => findProcessesByEnv('NUBIS_JOB_ID', before.jobs.find((j) => j.path === '/rs/killed')!.jobId).length === 0);
    await startAgentProcess();
    const after = await client.jobStatus!(new AbortController().signal);
    assert.equal(after.epoch, before.epoch, 'the restarted agent keeps its feed');

    await waitFor('downtime, bashdown complete', async () => {
      const t = await tasks();
      return t['/rs/downtime']!.state === 'complete' && t['/rs/bashdown']!.state === 'complete';
    });
    await release(fifos.held);
    await release(fifos.bash);
    const final = await waitFor('every task complete', async () => {
      const t = await tasks();
      return Object.values(t).every((x) => x.state === 'complete') ? t : undefined;
    }).catch(async (e: Error) => {
      const out = (await h.call('GET', '/v1/workflows/rs/logs?path=/rs/bash&try=1')).text;
      throw new Error(`${e.message}: ${JSON.stringify(await tasks())}\nbash try 1: ${out}\nagent log:\n${fs.readFileSync(path.join(dir, 'agent.log'), 'utf8').slice(-3000)}`);
    });
    assert.deepEqual(final, {
      '/rs/held': { state: 'complete', tryNo: 1 },
      '/rs/bash': { state: 'complete', tryNo: 1 },
      '/rs/downtime': { state: 'complete', tryNo: 1 },
      '/rs/bashdown': { state: 'complete', tryNo: 1 },
      '/rs/killed': { state: 'complete', tryNo: 2 },
    });
    assert.deepEqual([...jobs.submissions].sort(), ['/rs/bash#1', '/rs/bashdown#1', '/rs/downtime#1', '/rs/held#1', '/rs/killed#1', '/rs/killed#2']);
    const evs = (await h.call('GET', '/v1/events?kind=workflow.node.state&limit=1000')).json.events;
    const states = (p: string): string[] => evs.filter((e: any) => e.data.path === p).map((e: any) => `${e.data.state}#${e.data.try}`);
    assert.deepEqual(states('/rs/held'), ['submitted#1', 'active#1', 'complete#1']);
    assert.deepEqual(states('/rs/bash'), ['submitted#1', 'active#1', 'complete#1']);
    assert.deepEqual(states('/rs/downtime'), ['submitted#1', 'active#1', 'complete#1']);
    assert.deepEqual(states('/rs/bashdown'), ['submitted#1', 'active#1', 'complete#1']);
    assert.deepEqual(states('/rs/killed').filter((s) => s.startsWith('complete')), ['complete#2']);
    assert.ok(states('/rs/killed').includes('aborted#1'), states('/rs/killed').join(' '));
  } finally {
    await h.stop();
    await dispatcher.close();
    if (agentProc) killGroup(agentProc);
    for (const pid of findProcessesByEnv('NUBIS_NODE_ID', nodeId)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
