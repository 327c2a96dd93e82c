/**
 * An instance's monitors at run time, through the API and the CLI, on the `local` cloud (a real
 * agent): set a cpu monitor, see its samples in the store, change its interval, remove it and
 * see its samples stop; a sim-cloud instance (no agent) answers 409; bad bodies 400 with the
 * field; the agent token never appears in an answer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { simSpec, tempDir, waitFor } from '../helpers/control-plane.js';
import { runCli } from '../helpers/processes.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';

let data: string;
let server: ServerHandle;
let token: string;
let env: Record<string, string>;

const LOCAL = `name: mon
clouds:
  local: { platform: local, options: { portBase: 37200 } }
nodeTemplates:
  n: { cloud: local }
components:
  c:
    nodeTemplate: n
    lifecycle:
      start: { run: "exec sleep 600" }
`;

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> => callApi(server.url, token, method, path, body, headers);

/** Samples of a metric stored for instance c-1 over the last 10 minutes. */
async function count(name: string): Promise<number> {
  const q = encodeURIComponent(`count_over_time({__name__="${name}", deployment="mon", instance="c-1"}[10m])`);
  const r = await api('GET', `/v1/metrics/query?query=${q}`);
  assert.equal(r.status, 200, r.text);
  const v = r.json.data.result as { value: [number, string] }[];
  return v.length === 0 ? 0 : Number(v[0]!.value[1]);
}

before(async () => {
  data = tempDir('nubis-monitors-');
  server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', metricsPullIntervalMs: 200 });
  token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  env = { NUBIS_SERVER: server.url, NUBIS_DATA: data };
  assert.equal((await api('POST', '/v1/deployments', { spec: LOCAL })).status, 201);
  assert.equal((await api('POST', '/v1/deployments', { spec: simSpec('simmon', { s: 1 }, { simPath: ':memory:' }) })).status, 201);
  await waitFor('mon ready', async () => (await api('GET', '/v1/deployments/mon')).json?.state === 'ready', 60_000, 100);
  await waitFor('simmon ready', async () => (await api('GET', '/v1/deployments/simmon')).json?.state === 'ready', 60_000, 100);
});

after(async () => {
  await api('DELETE', '/v1/deployments/mon').catch(() => undefined);
  await waitFor('mon gone', async () => (await api('GET', '/v1/deployments/mon')).status === 404, 60_000, 100).catch(() => undefined);
  await server?.close();
  fs.rmSync(data, { recursive: true, force: true });
});

test('a cpu monitor set through the CLI feeds the store; its interval changes; removed, its samples stop', { timeout: 120_000 }, async () => {
  const set = await runCli(['monitors', 'set', 'c-1', 'cpu1', '--kind', 'cpu', '--interval', '200ms'], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /monitor cpu1 added \(cpu every 200ms, instance scope\)/);

  // samples of this instance reach the query side
  await waitFor('cpu samples of c-1', async () => {
    const q = await runCli(['metrics', 'query', '{__name__="instance.cpu.percent", deployment="mon"}', '--output', 'json'], env);
    if (q.code !== 0) return false;
    const r = JSON.parse(q.stdout) as { data: { result: { metric: Record<string, string> }[] } };
    return r.data.result.some((s) => s.metric['instance'] === 'c-1' && s.metric['component'] === 'c');
  }, 30_000, 200);

  const list = await runCli(['monitors', 'list', 'c-1', '--deployment', 'mon', '--output', 'json'], env);
  assert.equal(list.code, 0, list.stderr);
  const listed = JSON.parse(list.stdout) as { node: string; monitors: { id: string; scope: string; spec: { intervalMs: number; instance?: string } }[] };
  const m = listed.monitors.find((x) => x.id === 'cpu1');
  assert.ok(m, list.stdout);
  assert.equal(m.scope, 'instance');
  assert.equal(m.spec.instance, 'c-1');
  assert.equal(m.spec.intervalMs, 200);
  const table = await runCli(['monitors', 'list', 'c-1'], env);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /cpu1\s+cpu\s+200ms\s+instance/);

  // change the interval: the same monitor, now every second, still measuring
  const change = await runCli(['monitors', 'set', 'mon/c-1', 'cpu1', '--kind', 'cpu', '--interval', '1s'], env);
  assert.equal(change.code, 0, change.stderr);
  assert.match(change.stdout, /monitor cpu1 changed \(cpu every 1s/);
  const after1 = await api('GET', '/v1/deployments/mon/instances/c-1/monitors');
  assert.equal(after1.status, 200);
  assert.equal(after1.json.monitors.find((x: { id: string }) => x.id === 'cpu1').spec.intervalMs, 1000);
  const before = await count('instance.cpu.percent');
  await waitFor('samples keep coming at the new interval', async () => (await count('instance.cpu.percent')) > before, 20_000, 200);

  // remove it; a node-scope memory monitor proves pulls go on while the cpu count stands still
  const rm = await runCli(['monitors', 'rm', 'c-1', 'cpu1', '--deployment', 'mon'], env);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /monitor cpu1 removed/);
  const gone = await api('GET', '/v1/deployments/mon/instances/c-1/monitors');
  assert.equal(gone.json.monitors.some((x: { id: string }) => x.id === 'cpu1'), false);
  const settled = await waitFor('the cpu count settles', async () => {
    const a = await count('instance.cpu.percent');
    const probe = await count('node.memory.bytes');
    await api('PUT', '/v1/deployments/mon/instances/c-1/monitors/mem', { kind: 'memory', intervalMs: 200, scope: 'node' });
    // samples read before the removal may still be in flight: settled when the memory probe moved on twice and cpu did not
    await waitFor('memory probe moves', async () => (await count('node.memory.bytes')) > probe + 2, 20_000, 100);
    return (await count('instance.cpu.percent')) === a ? a : false;
  }, 30_000, 0);
  const mem = await count('node.memory.bytes');
  await waitFor('memory probe moves on', async () => (await count('node.memory.bytes')) >= mem + 5, 20_000, 100);
  assert.equal(await count('instance.cpu.percent'), settled, 'no cpu samples after removal');

  // removing it again: 404
  const again = await api('DELETE', '/v1/deployments/mon/instances/c-1/monitors/cpu1');
  assert.equal(again.status, 404, again.text);
  assert.equal(again.json.error.code, 'NOT_FOUND');
  const rm2 = await runCli(['monitors', 'rm', 'c-1', 'cpu1'], env);
  assert.notEqual(rm2.code, 0);
});

test('events carry actor and correlation id; the agent token never appears', async () => {
  const r = await api('PUT', '/v1/deployments/mon/instances/c-1/monitors/lat', { kind: 'tcp-latency', intervalMs: 5000, target: '127.0.0.1:1' }, { 'x-correlation-id': 'corr-mon-1' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.scope, 'node');
  const d = await api('DELETE', '/v1/deployments/mon/instances/c-1/monitors/lat', undefined, { 'x-correlation-id': 'corr-mon-2' });
  assert.equal(d.status, 200, d.text);
  const ev = await waitFor('monitor events', async () => {
    const e = await api('GET', '/v1/events?kind=monitor.*&deployment=mon');
    const es = e.json.events as { kind: string; actor: string; correlationId?: string; target: string }[];
    const set = es.find((x) => x.kind === 'monitor.set' && x.correlationId === 'corr-mon-1');
    const removed = es.find((x) => x.kind === 'monitor.removed' && x.correlationId === 'corr-mon-2');
    return set && removed ? { set, removed, all: e.text } : undefined;
  });
  assert.ok(ev.set.actor.length > 0);
  assert.equal(ev.set.target, 'mon/c-1');
  const inventory = JSON.parse(fs.readFileSync(`${data}/local/inventory.json`, 'utf8')) as { nodes: { agentToken: string }[] };
  const secret = inventory.nodes[0]!.agentToken;
  assert.ok(secret.length > 8);
  const list = await api('GET', '/v1/deployments/mon/instances/c-1/monitors');
  for (const text of [r.text, d.text, list.text, ev.all]) assert.equal(text.includes(secret), false);
});

test('bad bodies: 400 naming the field, never 5xx', async () => {
  const base = '/v1/deployments/mon/instances/c-1/monitors';
  const cases: [unknown, RegExp][] = [
    [{ kind: 'cpu', intervalMs: 5 }, /intervalMs/],
    [{ kind: 'nope', intervalMs: 1000 }, /kind/],
    [{ kind: 'cpu', intervalMs: 1000, extra: 1 }, /extra/],
    [{ id: 'other', kind: 'cpu', intervalMs: 1000 }, /id/],
    [{ kind: 'tcp-latency', intervalMs: 1000 }, /target/],
    [{ kind: 'network', intervalMs: 1000, scope: 'instance' }, /scope/],
    [{ kind: 'mount', intervalMs: 1000, target: 'relative' }, /target/],
  ];
  for (const [body, field] of cases) {
    const r = await api('PUT', `${base}/x1`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, 'REQUEST_INVALID');
    assert.match(r.text, field);
  }
  assert.equal((await api('GET', '/v1/deployments/mon/instances/c-9/monitors')).status, 404);
  assert.equal((await api('GET', '/v1/deployments/nope/instances/c-1/monitors')).status, 404);
});

test('an instance on the sim cloud (no agent): 409 with a clear message', async () => {
  const r = await api('GET', '/v1/deployments/simmon/instances/s-1/monitors');
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'CONFLICT');
  assert.match(r.json.error.message, /sim.*no node agent/);
  const p = await api('PUT', '/v1/deployments/simmon/instances/s-1/monitors/c', { kind: 'cpu', intervalMs: 1000 });
  assert.equal(p.status, 409, p.text);
  const cli = await runCli(['monitors', 'set', 's-1', 'c', '--kind', 'cpu', '--interval', '1s'], env);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /no node agent/);
});

test('series pulled from a node\'s agent belong to its deployment\'s tenant: acme sees none of them and none of its monitors', { timeout: 60_000 }, async () => {
  await api('PUT', '/v1/deployments/mon/instances/c-1/monitors/mem', { kind: 'memory', intervalMs: 200, scope: 'node' });
  await waitFor('node memory samples', async () => (await count('node.memory.bytes')) > 0, 20_000, 100);
  const minted = await api('POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
  assert.equal(minted.status, 201, minted.text);
  const acme = (method: string, path: string, body?: unknown) => callApi(server.url, minted.json.token as string, method, path, body);
  for (const expr of ['{__name__="node.memory.bytes"}', 'count_over_time({__name__=~"node\\..*|instance\\..*"}[10m])']) {
    const r = await acme('GET', `/v1/metrics/query?query=${encodeURIComponent(expr)}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.result, [], expr);
  }
  assert.equal((await acme('GET', '/v1/deployments/mon/instances/c-1/monitors')).status, 404);
  assert.equal((await acme('PUT', '/v1/deployments/mon/instances/c-1/monitors/mem', { kind: 'memory', intervalMs: 100000, scope: 'node' })).status, 404);
  assert.equal((await acme('DELETE', '/v1/deployments/mon/instances/c-1/monitors/mem')).status, 404);
  const mine = await api('GET', '/v1/deployments/mon/instances/c-1/monitors');
  assert.equal(mine.json.monitors.find((x: { id: string }) => x.id === 'mem').spec.intervalMs, 200, 'default\'s monitor is unchanged');
});
