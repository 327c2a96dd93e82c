/**
 * The agent with real processes: an in-process agent over HTTP, driven through its client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import {
  createHttpAgentClient, findProcessesByEnv, isAlive, startAgent, type AgentClient, type RunningAgent, type StepRequest,
} from '../../src/agent/index.js';
import { NubisError } from '../../src/errors/index.js';
import { never, tempDir, waitFor } from './agent-test-helpers.js';

interface Fixture {
  dir: string;
  nodeId: string;
  token: string;
  agent: RunningAgent;
  client: AgentClient;
}

const fixtures: Fixture[] = [];

async function setup(dir = tempDir('agent'), nodeId = `test-${randomBytes(6).toString('hex')}`): Promise<Fixture> {
  const token = randomBytes(16).toString('hex');
  const agent = await startAgent({ sandbox: dir, nodeId, token, killGraceMs: 300, stopGraceMs: 300 });
  const f = { dir, nodeId, token, agent, client: createHttpAgentClient(agent.url, token) };
  fixtures.push(f);
  return f;
}

afterEach(async () => {
  for (const f of fixtures.splice(0)) {
    await f.agent.close({ killProcesses: true });
    await waitFor('no processes of the node left', () => findProcessesByEnv('NUBIS_NODE_ID', f.nodeId).length === 0, 5000);
    rmSync(f.dir, { recursive: true, force: true });
  }
});

let seq = 0;
function step(instance: string, s: StepRequest['step'], command: string | undefined, extra: Partial<StepRequest> = {}): StepRequest {
  const req: StepRequest = { runId: `run-${++seq}-${randomBytes(3).toString('hex')}`, instance, step: s, timeoutMs: 10_000, env: {}, wiring: {}, ...extra };
  if (command !== undefined) req.command = command;
  return req;
}

async function status(c: AgentClient, instance: string) {
  const s = await c.status(never());
  return s.instances.find((i) => i.instance === instance);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const HTTP_SERVER = `node -e "require('http').createServer((q,r)=>r.end('ok')).listen(Number(process.env.PORT),'127.0.0.1')"`;

describe('agent handlers', () => {
  test('a handler that succeeds sees its env, wiring file, artefacts and node on PATH', async () => {
    const { client, nodeId, dir } = await setup();
    const files = [{ path: 'bin/hello.mjs', base64: Buffer.from('console.log("hello " + process.env.WHO)').toString('base64'), mode: 0o755 }];
    const r = await client.runStep(
      step('web-1', 'install', 'node bin/hello.mjs; cat "$NUBIS_WIRING_FILE"; echo "node=$NUBIS_NODE_ID step=$NUBIS_STEP"; pwd', {
        env: { WHO: 'world' },
        wiring: { requires: { db: [{ host: '127.0.0.1', port: 1 }] } },
        files,
      }),
      never(),
    );
    assert.equal(r.state, 'succeeded', r.output);
    assert.equal(r.exitCode, 0);
    assert.match(r.output, /hello world/);
    assert.match(r.output, /"db"/);
    assert.match(r.output, new RegExp(`node=${nodeId} step=install`));
    assert.match(r.output, new RegExp(`${join(dir, 'instances', 'web-1')}\\n`));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'instances', 'web-1', 'wiring.json'), 'utf8')), { requires: { db: [{ host: '127.0.0.1', port: 1 }] } });
    assert.ok(r.endedAt !== undefined && r.endedAt >= r.startedAt);
  });

  test('a step without a command succeeds as a no-op', async () => {
    const { client } = await setup();
    const r = await client.runStep(step('web-1', 'configure', undefined), never());
    assert.equal(r.state, 'succeeded');
  });

  test('a non-zero exit fails with its exit code and captured stdout and stderr', async () => {
    const { client } = await setup();
    const r = await client.runStep(step('web-1', 'configure', 'echo to-out; echo to-err >&2; exit 3'), never());
    assert.equal(r.state, 'failed');
    assert.equal(r.exitCode, 3);
    assert.match(r.output, /to-out/);
    assert.match(r.output, /to-err/);
  });

  test('output returned is the last 64 KiB', async () => {
    const { client } = await setup();
    const r = await client.runStep(step('web-1', 'install', `node -e "process.stdout.write('a'.repeat(200000) + 'THE-END')"`), never());
    assert.equal(r.state, 'succeeded');
    assert.ok(Buffer.byteLength(r.output) <= 64 * 1024);
    assert.ok(r.output.endsWith('THE-END'));
  });

  test('a handler past its timeout is killed with its whole tree, leaving no stragglers', async () => {
    const { client, nodeId } = await setup();
    // A background child, a child that ignores SIGTERM, and a grandchild re-parented at once.
    const cmd = `sleep 60 & sh -c 'trap "" TERM; sleep 61; sleep 62' & (sleep 63 &) ; echo started; wait`;
    const r = await client.runStep(step('web-1', 'configure', cmd, { timeoutMs: 500 }), never());
    assert.equal(r.state, 'timed-out');
    assert.match(r.output, /started/);
    assert.deepEqual(findProcessesByEnv('NUBIS_NODE_ID', nodeId), []);
  });

  test('the same runId runs once, whether repeated concurrently or later', async () => {
    const { client, dir } = await setup();
    const req = step('web-1', 'install', 'echo once >> count.txt; sleep 0.2; echo done');
    const [a, b] = await Promise.all([client.runStep(req, never()), client.runStep(req, never())]);
    const c = await client.runStep(req, never());
    assert.equal(a.state, 'succeeded');
    assert.deepEqual(a, b);
    assert.deepEqual(a, c);
    assert.equal(readFileSync(join(dir, 'instances', 'web-1', 'count.txt'), 'utf8'), 'once\n');
  });

  test('logs are kept per step: a step gives its latest run, no step gives all', async () => {
    const { client, dir } = await setup();
    await client.runStep(step('web-1', 'install', 'echo first-install'), never());
    await client.runStep(step('web-1', 'install', 'echo second-install'), never());
    await client.runStep(step('web-1', 'configure', 'echo configuring'), never());
    const install = await client.logs('web-1', 'install', never());
    assert.match(install, /second-install/);
    assert.doesNotMatch(install, /first-install/);
    const all = await client.logs('web-1', undefined, never());
    assert.match(all, /first-install[\s\S]*second-install[\s\S]*configuring/);
    const file = readFileSync(join(dir, 'logs', 'web-1', 'install.log'), 'utf8');
    assert.equal(file.match(/^=== nubis .* step=install ===$/gm)?.length, 2);
    assert.equal(await client.logs('web-1', 'update', never()), '');
  });
});

describe('agent start supervision and health', () => {
  test('start fails when the process exits non-zero in the grace period, succeeds when it exits 0', async () => {
    const { client } = await setup();
    const bad = await client.runStep(step('web-1', 'start', 'echo boom; exit 4'), never());
    assert.equal(bad.state, 'failed');
    assert.equal(bad.exitCode, 4);
    assert.match(bad.output, /boom/);
    const daemonising = await client.runStep(step('web-2', 'start', 'exit 0'), never());
    assert.equal(daemonising.state, 'succeeded');
  });

  for (const kind of ['http', 'tcp', 'command'] as const) {
    test(`${kind} probe: healthy while the start process runs, unhealthy once it is killed`, async () => {
      const { client } = await setup();
      const port = await freePort();
      const health =
        kind === 'command'
          ? { kind, command: `node -e "require('net').connect(${port},'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"`, intervalMs: 50, timeoutMs: 2000, retries: 2 }
          : { kind, port, path: '/', intervalMs: 50, timeoutMs: 1000, retries: 2 };
      const r = await client.runStep(step('web-1', 'start', HTTP_SERVER, { env: { PORT: String(port) }, health }), never());
      assert.equal(r.state, 'succeeded', r.output);
      const up = await waitFor('healthy', async () => {
        const s = await status(client, 'web-1');
        return s?.health === 'healthy' && s;
      });
      assert.equal(up.process, 'running');
      assert.ok(up.pid !== undefined);
      assert.deepEqual(up.lastStep, { step: 'start', runId: r.runId, state: 'succeeded' });
      process.kill(up.pid, 'SIGKILL');
      const down = await waitFor('unhealthy', async () => {
        const s = await status(client, 'web-1');
        return s?.health === 'unhealthy' && s;
      });
      assert.equal(down.process, 'exited');
      assert.ok(down.healthDetail);
    });
  }

  test('stopInstance kills the start process tree and forgets the probe', async () => {
    const { client, nodeId, dir } = await setup();
    const r = await client.runStep(
      step('web-1', 'start', 'sleep 60 & exec sleep 61', { health: { kind: 'command', command: 'true', intervalMs: 50, timeoutMs: 1000, retries: 1 } }),
      never(),
    );
    assert.equal(r.state, 'succeeded');
    await waitFor('healthy', async () => (await status(client, 'web-1'))?.health === 'healthy');
    await client.stopInstance('web-1', never());
    const s = await status(client, 'web-1');
    assert.equal(s?.process, 'none');
    assert.equal(s?.health, 'unknown');
    assert.deepEqual(findProcessesByEnv('NUBIS_NODE_ID', nodeId), []);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'agent-state.json'), 'utf8')).instances, {});
    await client.stopInstance('never-started', never());
  });

  test('a restarted agent restarts the start processes it had, killing leftovers first', async () => {
    const dir = tempDir('agent');
    const nodeId = `test-${randomBytes(6).toString('hex')}`;
    const first = await setup(dir, nodeId);
    const port = await freePort();
    const health = { kind: 'http' as const, port, intervalMs: 50, timeoutMs: 1000, retries: 1 };
    await first.client.runStep(step('web-1', 'start', `exec ${HTTP_SERVER}`, { env: { PORT: String(port) }, health }), never());
    const before = await waitFor('healthy', async () => {
      const s = await status(first.client, 'web-1');
      return s?.health === 'healthy' && s.pid;
    });
    await first.agent.close({ killProcesses: false });
    fixtures.splice(fixtures.indexOf(first), 1);
    assert.ok(isAlive(before), 'the start process outlives its agent');

    const second = await setup(dir, nodeId);
    assert.equal(isAlive(before), false, 'the leftover was killed');
    const after = await waitFor('healthy again', async () => {
      const s = await status(second.client, 'web-1');
      return s?.health === 'healthy' && s;
    });
    assert.equal(after.process, 'running');
    assert.notEqual(after.pid, before);
  });
});

describe('agent HTTP boundary', () => {
  async function raw(f: Fixture, method: string, path: string, body?: string, auth = true) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth) headers['authorization'] = `Bearer ${f.token}`;
    const res = await fetch(`${f.agent.url}${path}`, body === undefined ? { method, headers } : { method, headers, body });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string; retryable: boolean } } };
  }

  test('bad input gets a JSON error with a stable code, and the agent keeps serving', async () => {
    const f = await setup();
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['POST', '/v1/steps', '{not json', 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps', '[]', 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps', JSON.stringify({ runId: 'x', instance: '../etc', step: 'install', timeoutMs: 10 }), 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps', JSON.stringify({ runId: 'x', instance: 'a', step: 'explode', timeoutMs: 10 }), 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps', JSON.stringify({ runId: 'x', instance: 'a', step: 'install', timeoutMs: -1 }), 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps', JSON.stringify({ runId: 'x', instance: 'a', step: 'install', timeoutMs: 10, files: [{ path: '../../x', base64: '' }] }), 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps', JSON.stringify({ runId: 'x', instance: 'a', step: 'start', timeoutMs: 10, health: { kind: 'tcp', intervalMs: 10, timeoutMs: 10, retries: 1 } }), 400, 'REQUEST_INVALID'],
      ['POST', '/v1/steps?waitMs=abc', '{}', 400, 'REQUEST_INVALID'],
      ['GET', '/v1/steps/unknown-run', undefined, 404, 'NOT_FOUND'],
      ['GET', '/v1/nothing', undefined, 404, 'NOT_FOUND'],
      ['GET', '/v1/instances/%E0%A4%A/logs', undefined, 400, 'REQUEST_INVALID'],
      ['GET', '/v1/instances/a/logs?step=bogus', undefined, 400, 'REQUEST_INVALID'],
      ['DELETE', '/v1/status', undefined, 405, 'METHOD_NOT_ALLOWED'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await raw(f, method, path, body);
      assert.equal(r.status, status, `${method} ${path}`);
      assert.equal(r.body.error?.code, code, `${method} ${path}`);
      assert.equal(typeof r.body.error?.retryable, 'boolean');
    }
    const unauth = await raw(f, 'GET', '/v1/status', undefined, false);
    assert.equal(unauth.status, 401);
    assert.equal(unauth.body.error?.code, 'UNAUTHORIZED');
    assert.equal((await f.client.status(never())).node, f.nodeId);
    assert.equal((await raw(f, 'GET', '/healthz', undefined, false)).status, 200);
  });

  test('a step answers running when not done within waitMs, and can be waited for by runId', async () => {
    const f = await setup();
    const body = JSON.stringify(step('web-1', 'configure', 'sleep 0.3; echo late'));
    const first = await raw(f, 'POST', '/v1/steps?waitMs=0', body);
    assert.equal(first.status, 200);
    assert.equal((first.body as unknown as { state: string }).state, 'running');
    const runId = (JSON.parse(body) as { runId: string }).runId;
    const done = await raw(f, 'GET', `/v1/steps/${runId}?waitMs=10000`);
    assert.equal((done.body as unknown as { state: string; output: string }).state, 'succeeded');
    assert.match((done.body as unknown as { output: string }).output, /late/);
  });

  test('the client maps failures to stable codes', async () => {
    const f = await setup();
    const wrong = createHttpAgentClient(f.agent.url, 'wrong-token');
    await assert.rejects(wrong.status(never()), (e) => e instanceof NubisError && e.code === 'UNAUTHORIZED');
    const port = await freePort();
    const gone = createHttpAgentClient(`http://127.0.0.1:${port}`, 'x');
    await assert.rejects(gone.status(never()), (e) => e instanceof NubisError && e.code === 'AGENT_UNREACHABLE' && e.retryable);
    const ac = new AbortController();
    const pending = f.client.runStep(step('web-1', 'configure', 'sleep 5', { timeoutMs: 6000 }), ac.signal);
    ac.abort();
    await assert.rejects(pending, (e) => e instanceof NubisError && e.code === 'ABORTED');
  });
});
