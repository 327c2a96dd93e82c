/**
 * The metrics API on a real server (server-root composition, sim cloud): push (JSON and
 * Graphite, malformed counted), instant and range queries in the Prometheus shape, series,
 * metric definitions evaluated into stored series, rules and schedules CRUD with JSON-path
 * errors, GET /metrics without a token, the Graphite TCP listener, and the CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { runCli as runCliProcess } from '../helpers/processes.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';

/** Runs the built CLI (a tracked process group); resolves once its output is complete. */
const runCli = (args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> => runCliProcess(args, env);
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';

let data: string;
let server: ServerHandle;
let token: string;

const SPEC = `name: shop
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 2, min: 1, max: 6 }, lifecycle: { start: run } }
metrics:
  app_load_avg: { expr: 'avg by (component) (app_load)', interval: 200ms }
rules:
  spec-out:
    component: app
    when: { all: { expr: 'app_load', above: 1000 } }
    action: { scale: out, by: 1 }
`;

const api = (method: string, path: string, body?: unknown, auth = true): Promise<ApiAnswer> => callApi(server.url, auth ? token : undefined, method, path, body);

before(async () => {
  data = tempDir('nubis-metrics-api-');
  server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', graphitePort: 0 });
  token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const r = await api('POST', '/v1/deployments', { spec: SPEC });
  assert.equal(r.status, 201, r.text);
});

after(async () => {
  await server?.close();
  fs.rmSync(data, { recursive: true, force: true });
});

test('push JSON and Graphite (malformed counted, never fatal), then query instant, range and series', async () => {
  const now = Date.now();
  const pushed = await api('POST', '/v1/metrics/push', {
    samples: [
      { name: 'app_load', labels: { deployment: 'shop', component: 'app', instance: 'app-1' }, v: 40, t: now - 1000 },
      { name: 'app_load', labels: { deployment: 'shop', component: 'app', instance: 'app-2' }, v: 60, t: now - 1000 },
    ],
    graphite: `disk.free;instance=app-1 12.5 ${Math.floor(now / 1000)}\nthis is not a line\n`,
  });
  assert.equal(pushed.status, 200, pushed.text);
  assert.deepEqual([pushed.json.accepted, pushed.json.malformed], [3, 1]);
  assert.match(pushed.json.problems[0], /not a line/);

  const q = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('avg(app_load)')}&time=${now / 1000}`);
  assert.equal(q.status, 200, q.text);
  assert.equal(q.json.status, 'success');
  assert.equal(q.json.data.resultType, 'vector');
  assert.equal(q.json.data.result[0].value[1], '50');

  const r = await api('GET', `/v1/metrics/query?query=app_load&start=${(now - 60_000) / 1000}&end=${now / 1000}&step=15s`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.resultType, 'matrix');
  assert.equal(r.json.data.result.length, 2);

  const s = await api('GET', `/v1/metrics/series?match=${encodeURIComponent('{__name__="disk.free"}')}`);
  assert.deepEqual(s.json.data, [{ __name__: 'disk.free', instance: 'app-1' }]);

  // bad input: 400 naming the problem, never 5xx
  for (const [path, re] of [
    [`/v1/metrics/query?query=${encodeURIComponent('avg(')}`, /REQUEST_INVALID/],
    ['/v1/metrics/query', /query parameter ..query.. is required/],
    [`/v1/metrics/query?query=x&start=1&step=0s`, /step/],
    [`/v1/metrics/query?query=x&time=yesterday`, /time/],
    [`/v1/metrics/series?match=${encodeURIComponent('sum(x)')}`, /series selector/],
  ] as const) {
    const b = await api('GET', path);
    assert.equal(b.status, 400, `${path}: ${b.text}`);
    assert.match(b.text, re);
  }
  const badPush = await api('POST', '/v1/metrics/push', { samples: [{ name: 'x', v: 'high' }] });
  assert.equal(badPush.status, 400);
  assert.match(badPush.text, /samples\[0\]\.v/);
});

test('a metric definition (spec and run time) is evaluated on its interval and stored as a series', async () => {
  const put = await api('PUT', '/v1/metrics/definitions/app_load_max', { deployment: 'shop', expr: 'max(app_load) * 2', interval: '200ms' });
  assert.equal(put.status, 201, put.text);
  const again = await api('PUT', '/v1/metrics/definitions/app_load_max', { deployment: 'shop', expr: 'max(app_load) * 3', interval: '200ms' });
  assert.equal(again.status, 200);
  await api('POST', '/v1/metrics/push', { samples: [{ name: 'app_load', labels: { deployment: 'shop', component: 'app', instance: 'app-1' }, v: 10 }] });
  const got = await waitFor('definition series', async () => {
    const q = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('app_load_max')}`);
    const v = q.json?.data?.result?.[0];
    return v && v.value[1] === '180' ? v : undefined; // max is app-2's 60 × 3
  }, 10_000);
  assert.equal(got.metric.deployment, 'shop');
  const spec = await waitFor('spec definition series', async () => {
    const q = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('app_load_avg')}`);
    return q.json?.data?.result?.[0];
  }, 10_000);
  assert.equal(spec.metric.component, 'app');
  const list = await api('GET', '/v1/metrics/definitions');
  assert.deepEqual(list.json.definitions.map((d: { name: string; source: string }) => `${d.name}:${d.source}`).sort(), ['app_load_avg:spec', 'app_load_max:api']);
  const bad = await api('PUT', '/v1/metrics/definitions/broken', { expr: 'avg(', interval: '1s' });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /\$\.expr/);
  assert.equal((await api('DELETE', '/v1/metrics/definitions/app_load_max')).status, 200);
  assert.equal((await api('DELETE', '/v1/metrics/definitions/app_load_avg')).status, 409, 'spec-defined');
  assert.equal((await api('GET', '/v1/metrics/definitions/app_load_max')).status, 404);
});

test('rules and schedules: CRUD at run time with JSON-path errors; spec objects are read-only', async () => {
  const rule = {
    deployment: 'shop', component: 'app',
    when: { and: [{ all: { expr: 'avg_over_time(app_load[5m])', above: 60 } }, { count: { below: 6 } }] },
    action: { scale: 'out', by: 1 }, cooldown: '2m',
  };
  assert.equal((await api('PUT', '/v1/rules/app-out', rule)).status, 201);
  const bad = await api('PUT', '/v1/rules/bad', { ...rule, component: 'nope', action: { scale: 'out' } });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /\$\.component: expected name of a component \(app\)/);
  assert.match(bad.text, /\$\.action: expected exactly one of by, percent/);
  const badExpr = await api('PUT', '/v1/rules/bad', { ...rule, when: { any: { expr: 'avg(', above: 1 } } });
  assert.equal(badExpr.status, 400);
  assert.match(badExpr.text, /\$\.when\.any\.expr/);
  const shape = await api('PUT', '/v1/rules/bad', { ...rule, cooldown: 5 });
  assert.equal(shape.status, 400);
  assert.match(shape.text, /\$\.cooldown/);
  const list = await api('GET', '/v1/rules?deployment=shop');
  assert.deepEqual(list.json.rules.map((r: { name: string; source: string }) => `${r.name}:${r.source}`), ['app-out:api', 'spec-out:spec']);
  const one = await api('GET', '/v1/rules/app-out');
  assert.equal(one.json.spec.cooldownMs, 120_000);
  assert.equal((await api('DELETE', '/v1/rules/spec-out')).status, 409);
  assert.equal((await api('DELETE', '/v1/rules/app-out')).status, 200);
  assert.equal((await api('GET', '/v1/rules/app-out')).status, 404);
  assert.equal((await api('PUT', '/v1/rules/x', { ...rule, deployment: 'ghost' })).status, 404);

  const sched = await api('PUT', '/v1/schedules/morning', { deployment: 'shop', component: 'app', cron: '40 5 * * *', timeZone: 'Europe/Helsinki', count: 4 });
  assert.equal(sched.status, 201, sched.text);
  assert.ok(sched.json.nextFire);
  const badSched = await api('PUT', '/v1/schedules/x', { deployment: 'shop', component: 'app', cron: '99 * * * *', count: 1 });
  assert.equal(badSched.status, 400);
  assert.match(badSched.text, /\$\.cron/);
  assert.equal((await api('GET', '/v1/schedules')).json.schedules.length, 1);
  assert.equal((await api('DELETE', '/v1/schedules/morning')).status, 200);
});

test('GET /metrics needs no token and reports the control plane\'s health in Prometheus text', async () => {
  const r = await api('GET', '/metrics', undefined, false);
  assert.equal(r.status, 200);
  assert.match(r.text, /# TYPE nubis_ingest_samples_total counter/);
  assert.match(r.text, /nubis_ingest_samples_total\{source="push"\} \d+/);
  assert.match(r.text, /nubis_driver_calls_total\{/);
  assert.match(r.text, /nubis_rule_evaluations_total\{/);
});

test('the Graphite listener ingests plaintext over TCP', async () => {
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(server.graphitePort!, '127.0.0.1', () => s.end(`tcp.probe;deployment=shop 7 ${Math.floor(Date.now() / 1000)}\n`));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  const got = await waitFor('graphite sample', async () => {
    const q = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('{__name__="tcp.probe"}')}`);
    return q.json?.data?.result?.[0];
  }, 10_000);
  assert.equal(got.value[1], '7');
});

test('nubis metrics query / list and nubis rules list through the CLI', async () => {
  const env = { NUBIS_SERVER: server.url, NUBIS_DATA: data };
  await api('POST', '/v1/metrics/push', { samples: [{ name: 'app_load', labels: { deployment: 'shop', instance: 'app-1' }, v: 33 }], graphite: 'disk.free;instance=app-1 12\n' });
  const q = await runCli(['metrics', 'query', 'avg(app_load)', '--output', 'json'], env);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(JSON.parse(q.stdout).data.resultType, 'vector');
  const t = await runCli(['metrics', 'query', 'app_load', '--range', '5m', '--step', '30s'], env);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /app_load\{.*instance="app-1"/);
  const l = await runCli(['metrics', 'list', '--match', '{__name__="disk.free"}'], env);
  assert.match(l.stdout, /disk\.free\{instance="app-1"\}/);
  const r = await runCli(['rules', 'list'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /spec-out\s+shop\s+app\s+out 1\s+spec/, r.stderr);
  const bad = await runCli(['metrics', 'query', 'avg('], env);
  assert.notEqual(bad.code, 0);
});

test('scrape targets: set, list and rm through the CLI; the control plane scrapes them into the store with deployment and target labels', async () => {
  const env = { NUBIS_SERVER: server.url, NUBIS_DATA: data };
  // the control plane's own /metrics is a Prometheus text-format target that needs no token
  const set = await runCli(['metrics', 'scrape', 'set', 'self', '--url', `${server.url}/metrics`, '--interval', '200ms', '--labels', 'job=nubis,tier=control', '--deployment', 'shop'], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /self: created/);
  const got = await waitFor('scraped nubis_rules', async () => {
    const q = await runCli(['metrics', 'query', 'nubis_rules{job="nubis"}', '--output', 'json'], env);
    return q.code === 0 ? JSON.parse(q.stdout).data.result[0] : undefined;
  }, 15_000);
  assert.equal(got.metric.deployment, 'shop');
  assert.equal(got.metric.tier, 'control');
  assert.equal(got.metric.instance, new URL(server.url).host);
  const up = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('up{job="nubis"}')}`);
  assert.equal(up.json.data.result[0].value[1], '1');
  const list = await runCli(['metrics', 'scrape', 'list', '--output', 'json'], env);
  const t = JSON.parse(list.stdout).targets.find((x: { name: string }) => x.name === 'self');
  assert.equal(t.intervalMs, 200);
  assert.equal(t.source, 'api');
  assert.equal(t.status.up, true);
  const bad = await api('PUT', '/v1/metrics/scrape/bad', { url: 'http://127.0.0.1:1/metrics', interval: '10ms' });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /\$\.interval: expected duration from 100ms to 24h/);
  const ftp = await api('PUT', '/v1/metrics/scrape/bad', { url: 'ftp://x/metrics' });
  assert.equal(ftp.status, 400, ftp.text);
  const rm = await runCli(['metrics', 'scrape', 'rm', 'self', '--deployment', 'shop'], env);
  assert.equal(rm.code, 0, rm.stderr);
  const after = await api('GET', '/v1/metrics/scrape');
  assert.deepEqual(after.json.targets, []);
});

test('a scrape target in the spec is scraped for its deployment', async () => {
  const spec = `name: scraped
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, lifecycle: { start: run } }
scrape:
  cp: { url: "${server.url}/metrics", interval: 250ms, labels: { job: from-spec } }
`;
  const r = await api('POST', '/v1/deployments', { spec });
  assert.equal(r.status, 201, r.text);
  const got = await waitFor('spec scrape', async () => {
    const q = await api('GET', `/v1/metrics/query?query=${encodeURIComponent('up{job="from-spec"}')}`);
    return q.json?.data?.result?.[0];
  }, 15_000);
  assert.equal(got.metric.deployment, 'scraped');
  const l = await api('GET', '/v1/metrics/scrape/cp?deployment=scraped');
  assert.equal(l.json.source, 'spec');
  const del = await api('DELETE', '/v1/metrics/scrape/cp');
  assert.equal(del.status, 409, del.text);
});
