/**
 * The local driver with real agents and processes, plus an end-to-end run of the webapp
 * example (kv + app servers + lb) driven step by step through the agent client.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { createHttpAgentMetricsClient, findProcessesByEnv, findProcessGroup, type AgentClient, type StepRequest } from '../../src/agent/index.js';
import { providedEndpoints, wiringEnv } from '../../src/engine/wiring.js';
import type { ComponentSpec } from '../../src/model/types.js';
import { createRealClock } from '../../src/clock/index.js';
import type { CloudNode, CreateNodeRequest, Driver } from '../../src/drivers/driver.js';
import { createLocalDriver } from '../../src/drivers/local/index.js';
import { NubisError } from '../../src/errors/index.js';
import { never, tempDir, waitFor } from './agent-test-helpers.js';

const roots: string[] = [];
const drivers: Driver[] = [];

function makeDriver(root?: string, options: Record<string, unknown> = {}): { driver: Driver; root: string } {
  const r = root ?? tempDir('local');
  if (!roots.includes(r)) roots.push(r);
  const driver = createLocalDriver({ cloud: 'here', options: { root: r, portBase: 23000, killGraceMs: 500, ...options }, dataDir: r, clock: createRealClock() });
  drivers.push(driver);
  return { driver, root: r };
}

afterEach(async () => {
  for (const d of drivers.splice(0)) {
    for (const n of await d.list({}, never())) await d.delete(n.id, never());
    await d.close();
  }
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

let tokens = 0;
function req(key: string, tags: Record<string, string> = {}): CreateNodeRequest {
  return { key, tags: { 'nubis-owner': 'test', ...tags }, idempotencyToken: `tok-${++tokens}-${key}`, requirements: {} };
}

function processesOf(node: CloudNode, pgid?: number): number[] {
  const pids = new Set(findProcessesByEnv('NUBIS_NODE_ID', node.id));
  if (pgid !== undefined) for (const p of findProcessGroup(pgid)) pids.add(p);
  return [...pids];
}

function inventoryPgid(root: string, id: string): number | undefined {
  const inv = JSON.parse(readFileSync(join(root, 'inventory.json'), 'utf8')) as { nodes: Array<{ id: string; pgid?: number }> };
  return inv.nodes.find((n) => n.id === id)?.pgid;
}

let runs = 0;
function step(instance: string, s: StepRequest['step'], command: string | undefined, extra: Partial<StepRequest> = {}): StepRequest {
  const r: StepRequest = { runId: `r${++runs}`, instance, step: s, timeoutMs: 10_000, env: {}, wiring: {}, ...extra };
  if (command !== undefined) r.command = command;
  return r;
}

describe('local driver', () => {
  test('create, list by tag, get, delete: nothing is left behind', async () => {
    const { driver, root } = makeDriver();
    const a = await driver.create(req('d1/web-1', { 'nubis-deployment': 'd1' }), never());
    const b = await driver.create(req('d2/web-1', { 'nubis-deployment': 'd2' }), never());
    assert.equal(driver.platform, 'local');
    assert.equal(a.status, 'running');
    assert.equal(a.address, '127.0.0.1');
    assert.ok(a.agent && a.ports);
    assert.deepEqual((await driver.list({ 'nubis-deployment': 'd1' }, never())).map((n) => n.id), [a.id]);
    assert.deepEqual((await driver.list({ 'nubis-owner': 'test', 'nubis-deployment': 'd2' }, never())).map((n) => n.id), [b.id]);
    assert.deepEqual((await driver.list({ 'nubis-deployment': 'd1', other: 'x' }, never())), []);
    assert.equal((await driver.list({}, never())).length, 2);
    assert.deepEqual(await driver.get(a.id, never()), a);

    const agent = driver.agent(a);
    assert.equal((await agent.status(never())).node, a.id);
    const r = await agent.runStep(step('web-1', 'start', 'sleep 300 & exec sleep 301'), never());
    assert.equal(r.state, 'succeeded');
    const pgid = inventoryPgid(root, a.id);
    assert.ok(pgid !== undefined);
    assert.ok(processesOf(a, pgid).length >= 3, 'agent + supervised processes');
    assert.ok(existsSync(join(root, 'nodes', a.id, 'instances', 'web-1')));

    await driver.delete(a.id, never());
    assert.deepEqual(processesOf(a, pgid), []);
    assert.equal(existsSync(join(root, 'nodes', a.id)), false);
    assert.equal(await driver.get(a.id, never()), undefined);
    assert.deepEqual((await driver.list({}, never())).map((n) => n.id), [b.id]);
    await driver.delete(a.id, never());
    await driver.delete('local-0000000000000000', never());
    await driver.delete('not-even-an-id', never());
  });

  test('every agent listens for Graphite on the range\'s last port; handlers are told NUBIS_GRAPHITE; provided ports never take it', async () => {
    const { driver } = makeDriver(undefined, { portBase: 23300, portsPerNode: 6 });
    const n = await driver.create(req('d/web-1'), never());
    const agentPort = Number(new URL(n.agent!.url).port);
    assert.deepEqual(n.graphite, { host: '127.0.0.1', port: agentPort + 5 }, 'the last port of the node\'s range');
    assert.deepEqual(n.ports, { first: agentPort + 1, count: 4 }, 'provided ports: between the agent\'s and Graphite\'s');
    // a line sent to the node's Graphite port reaches the agent's buffer, which the control plane pulls
    const now = Math.floor(Date.now() / 1000);
    await new Promise<void>((resolve, reject) => {
      const s = connect(n.graphite!.port, n.graphite!.host, () => s.end(`app.requests;instance=web-1 42 ${now}\n`));
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    const metrics = createHttpAgentMetricsClient(n.agent!.url, n.agent!.token);
    const got = await waitFor('the Graphite sample in the agent', async () => (await metrics.metrics(0)).samples.find((x) => x.name === 'app.requests'), 10_000);
    assert.equal(got.v, 42);
    assert.equal(got.labels['instance'], 'web-1');
    assert.equal(got.t, now * 1000);
    // wiring: as many provided ports as fit, none on the agent's or Graphite's port
    const comp = { env: {}, provides: Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((x) => [x, {}])) } as unknown as ComponentSpec;
    const eps = providedEndpoints(comp, n);
    const used = Object.values(eps).map((e) => e.port);
    assert.ok(used.length > 0);
    assert.ok(used.every((p) => p > agentPort && p < n.graphite!.port), `provided ports ${used.join(',')} stay inside the range`);
    const env = wiringEnv(comp, { deployment: 'd', component: 'web', instance: 'web-1', provides: eps, requires: {} }, n.address!, n.graphite);
    assert.equal(env['NUBIS_GRAPHITE'], `127.0.0.1:${agentPort + 5}`);
  });

  test('a new driver over the same root lists the nodes that exist', async () => {
    const { driver, root } = makeDriver();
    const a = await driver.create(req('d/web-1', { 'nubis-deployment': 'd' }), never());
    await driver.close();
    const again = makeDriver(root).driver;
    const seen = await again.list({ 'nubis-deployment': 'd' }, never());
    assert.deepEqual(seen, [a]);
    assert.equal((await again.agent(seen[0]!).status(never())).node, a.id);
  });

  test('create is idempotent by token, sequentially and concurrently', async () => {
    const { driver } = makeDriver();
    const r = req('d/web-1');
    const [x, y] = await Promise.all([driver.create(r, never()), driver.create(r, never())]);
    const z = await driver.create(r, never());
    assert.equal(x.id, y.id);
    assert.equal(x.id, z.id);
    assert.equal((await driver.list({}, never())).length, 1);
    const other = makeDriver(undefined).driver; // a different root is a different cloud
    assert.notEqual((await other.create(r, never())).id, x.id);
  });

  test('port ranges do not overlap and skip ports already in use', async () => {
    const { driver } = makeDriver(undefined, { portBase: 23500, portsPerNode: 4 });
    const first = await driver.create(req('d/a'), never());
    // Occupy a port in the next range: the driver must skip that range.
    const blocker: Server = createServer();
    const blocked = first.ports!.first + first.ports!.count + 2;
    await new Promise<void>((r) => blocker.listen(blocked, '127.0.0.1', () => r()));
    try {
      const nodes = [first, ...(await Promise.all([driver.create(req('d/b'), never()), driver.create(req('d/c'), never())]))];
      const ranges = nodes.map((n) => {
        const agentPort = Number(new URL(n.agent!.url).port);
        assert.equal(agentPort, n.ports!.first - 1, 'the agent takes the first port of the range');
        return [agentPort, n.ports!.first + n.ports!.count - 1] as const;
      });
      for (const [i, [lo, hi]] of ranges.entries()) {
        assert.ok(!(lo <= blocked && blocked <= hi), 'a range with a busy port is skipped');
        for (const [j, [lo2, hi2]] of ranges.entries()) if (i !== j) assert.ok(hi < lo2 || hi2 < lo, `ranges ${i} and ${j} overlap`);
      }
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  test('an exhausted port pool is CLOUD_QUOTA_EXCEEDED and leaves nothing', async () => {
    const { driver } = makeDriver(undefined, { portBase: 23700, portsPerNode: 5, portMax: 23709 });
    await driver.create(req('d/a'), never());
    await driver.create(req('d/b'), never());
    await assert.rejects(driver.create(req('d/c'), never()), (e) => e instanceof NubisError && e.code === 'CLOUD_QUOTA_EXCEEDED' && !e.retryable);
    assert.equal((await driver.list({}, never())).length, 2);
  });

  test('reboot restarts the agent, which restarts its supervised processes', async () => {
    const { driver, root } = makeDriver();
    const node = await driver.create(req('d/web-1'), never());
    const agent = driver.agent(node);
    const port = node.ports!.first;
    const server = `exec node -e "require('http').createServer((q,r)=>r.end('ok')).listen(${port},'127.0.0.1')"`;
    const health = { kind: 'http' as const, port, intervalMs: 50, timeoutMs: 1000, retries: 1 };
    assert.equal((await agent.runStep(step('web-1', 'start', server, { health }), never())).state, 'succeeded');
    const before = await waitFor('healthy', async () => {
      const s = (await agent.status(never())).instances.find((i) => i.instance === 'web-1');
      return s?.health === 'healthy' && s.pid;
    });
    const oldPgid = inventoryPgid(root, node.id);

    await driver.reboot(node.id, never());
    assert.notEqual(inventoryPgid(root, node.id), oldPgid);
    assert.equal(processesOf(node, oldPgid).includes(before), false);
    const after = await waitFor('healthy after reboot', async () => {
      const s = (await agent.status(never())).instances.find((i) => i.instance === 'web-1');
      return s?.health === 'healthy' && s;
    });
    assert.equal(after.process, 'running');
    assert.notEqual(after.pid, before);
    assert.equal((await driver.get(node.id, never()))?.status, 'running');
    await assert.rejects(driver.reboot('local-0000000000000000', never()), (e) => e instanceof NubisError && e.code === 'CLOUD_NOT_FOUND');
  });

  test('list reflects reality: a node whose agent is gone is stopped', async () => {
    const { driver, root } = makeDriver();
    const node = await driver.create(req('d/web-1'), never());
    process.kill(inventoryPgid(root, node.id)!, 'SIGKILL');
    await waitFor('stopped', async () => (await driver.get(node.id, never()))?.status === 'stopped');
    await driver.reboot(node.id, never());
    assert.equal((await driver.get(node.id, never()))?.status, 'running');
  });

  test('an aborted call rejects with ABORTED', async () => {
    const { driver } = makeDriver();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(driver.create(req('d/x'), ac.signal), (e) => e instanceof NubisError && e.code === 'ABORTED');
    await assert.rejects(driver.list({}, ac.signal), (e) => e instanceof NubisError && e.code === 'ABORTED');
    assert.deepEqual(await driver.list({}, never()), []);
  });
});

describe('webapp example on a local node', () => {
  const exampleDir = fileURLToPath(new URL('../../../examples/webapp/', import.meta.url));
  const artefacts = ['kv.mjs', 'app.mjs', 'lb.mjs'].map((f) => ({ path: f, base64: readFileSync(join(exampleDir, f)).toString('base64') }));

  async function get(url: string): Promise<{ status: number; backend: string | null; body: string }> {
    const res = await fetch(url, { headers: { connection: 'close' } });
    return { status: res.status, backend: res.headers.get('x-backend'), body: await res.text() };
  }

  async function healthy(agent: AgentClient, instance: string): Promise<void> {
    await waitFor(`${instance} healthy`, async () => (await agent.status(never())).instances.find((i) => i.instance === instance)?.health === 'healthy');
  }

  test('kv + two apps behind lb; a SIGHUP reload adds a third', async () => {
    const { driver, root } = makeDriver();
    const node = await driver.create(req('web/all-1'), never());
    const agent = driver.agent(node);
    const first = node.ports!.first;
    const ports = { kv: first, 'app-1': first + 1, 'app-2': first + 2, 'app-3': first + 3, lb: first + 4 };
    const env = (component: string, instance: string, extra: Record<string, string>): Record<string, string> => ({
      NUBIS_DEPLOYMENT: 'web',
      NUBIS_COMPONENT: component,
      NUBIS_INSTANCE: instance,
      NUBIS_NODE_ID: node.id,
      NUBIS_HOST: '127.0.0.1',
      ...extra,
    });
    const run = async (r: StepRequest): Promise<void> => {
      const result = await agent.runStep(r, never());
      assert.equal(result.state, 'succeeded', `${r.instance} ${r.step}: ${result.output}`);
    };
    const deploy = async (component: string, instance: string, script: string, e: Record<string, string>, port: number, wiring: unknown = {}): Promise<void> => {
      await run(step(instance, 'install', undefined, { files: artefacts, env: env(component, instance, e) }));
      const health = component === 'lb'
        ? { kind: 'tcp' as const, port, intervalMs: 50, timeoutMs: 1000, retries: 2 }
        : { kind: 'http' as const, port, path: '/health', intervalMs: 50, timeoutMs: 1000, retries: 2 };
      await run(step(instance, 'start', `node ${script}`, { env: env(component, instance, e), wiring, health }));
      await healthy(agent, instance);
    };
    const kvAddr = `127.0.0.1:${ports.kv}`;
    const backend = (i: 'app-1' | 'app-2' | 'app-3') => ({ instance: i, host: '127.0.0.1', port: ports[i] });

    await deploy('kv', 'kv-1', 'kv.mjs', { NUBIS_PORT_KV: String(ports.kv) }, ports.kv);
    for (const i of ['app-1', 'app-2'] as const) {
      await deploy('app', i, 'app.mjs', { NUBIS_PORT_HTTP: String(ports[i]), NUBIS_REQUIRES_KV: kvAddr }, ports[i]);
    }
    const lbEnv = { NUBIS_PORT_HTTP: String(ports.lb) };
    await deploy('lb', 'lb-1', 'lb.mjs', lbEnv, ports.lb, { requires: { backends: [backend('app-1'), backend('app-2')] }, provides: {} });

    const lbUrl = `http://127.0.0.1:${ports.lb}/`;
    const seen = new Set<string>();
    let lastCount = 0;
    for (let i = 0; i < 4; i++) {
      const r = await get(lbUrl);
      assert.equal(r.status, 200, r.body);
      const body = JSON.parse(r.body) as { instance: string; count: number };
      assert.equal(body.instance, r.backend);
      assert.equal(body.count, lastCount + 1, 'the counter lives in kv, shared by the apps');
      lastCount = body.count;
      seen.add(body.instance);
    }
    assert.deepEqual([...seen].sort(), ['app-1', 'app-2']);

    await deploy('app', 'app-3', 'app.mjs', { NUBIS_PORT_HTTP: String(ports['app-3']), NUBIS_REQUIRES_KV: kvAddr }, ports['app-3']);
    const lbPid = readFileSync(join(root, 'nodes', node.id, 'instances', 'lb-1', 'lb.pid'), 'utf8').trim();
    await run(step('lb-1', 'update', 'kill -HUP $(cat lb.pid)', {
      env: env('lb', 'lb-1', lbEnv),
      wiring: { requires: { backends: [backend('app-1'), backend('app-2'), backend('app-3')] }, provides: {} },
    }));
    const after = new Set<string>();
    await waitFor('lb to reach app-3', async () => {
      const r = await get(lbUrl);
      if (r.backend) after.add(r.backend);
      return after.has('app-3');
    });
    for (let i = 0; i < 3; i++) after.add((await get(lbUrl)).backend ?? '');
    assert.deepEqual([...after].sort(), ['app-1', 'app-2', 'app-3']);
    assert.equal(readFileSync(join(root, 'nodes', node.id, 'instances', 'lb-1', 'lb.pid'), 'utf8').trim(), lbPid, 'lb reloaded without restarting');
    assert.match(await agent.logs('lb-1', 'start', never()), /3 backend\(s\)/);

    await driver.delete(node.id, never());
    assert.deepEqual(processesOf(node), []);
  });
});
