/**
 * Tenant walls of the metrics part, on a real server (server-root composition, sim cloud),
 * through the HTTP API and the built CLI: tenant `acme` (a token the admin mints) sees none of
 * `default`'s series however it writes its query, and cannot list, read, change or remove
 * `default`'s metric definitions, rules, schedules, scrape targets or an instance's monitors
 * (404, as for objects that do not exist); both tenants may use one name. On the tree before
 * tenancy, acme read default's series and objects and overwrote default's definition.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tempDir } from '../helpers/control-plane.js';
import { runCli } from '../helpers/processes.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';

let data: string;
let server: ServerHandle;
let admin: string;
let acme: string;

const SHOP = `name: shop
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 1, min: 1, max: 4 }, lifecycle: { start: run } }
rules:
  spec-out:
    component: app
    when: { all: { expr: 'app_load', above: 1000 } }
    action: { scale: out, by: 1 }
`;

const api = (token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> => callApi(server.url, token, method, path, body);

const query = async (token: string, expr: string): Promise<any[]> => {
  const r = await api(token, 'GET', `/v1/metrics/query?query=${encodeURIComponent(expr)}`);
  assert.equal(r.status, 200, r.text);
  return r.json.data.result as any[];
};

const RULE = { deployment: 'shop', component: 'app', when: { all: { expr: 'app_load', above: 50 } }, action: { scale: 'out', by: 1 } };
const SCHEDULE = { deployment: 'shop', component: 'app', cron: '40 5 * * *', count: 2 };

before(async () => {
  data = tempDir('nubis-metrics-tenants-');
  server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const minted = await api(admin, 'POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
  assert.equal(minted.status, 201, minted.text);
  acme = minted.json.token as string;
  const applied = await api(admin, 'POST', '/v1/deployments', { spec: SHOP });
  assert.equal(applied.status, 201, applied.text);
  // default's series, its run-time objects
  const pushed = await api(admin, 'POST', '/v1/metrics/push', {
    samples: [{ name: 'app_load', labels: { deployment: 'shop', component: 'app', instance: 'app-1' }, v: 70 }],
    graphite: 'servers.web1.cpu 12\n',
  });
  assert.equal(pushed.status, 200, pushed.text);
  assert.equal((await api(admin, 'PUT', '/v1/rules/out', RULE)).status, 201);
  assert.equal((await api(admin, 'PUT', '/v1/schedules/morning', SCHEDULE)).status, 201);
  assert.equal((await api(admin, 'PUT', '/v1/metrics/definitions/load_max', { expr: 'max(app_load)', interval: '1s' })).status, 201);
  assert.equal((await api(admin, 'PUT', '/v1/metrics/scrape/exporter', { url: 'http://127.0.0.1:9/metrics', interval: '1h' })).status, 201);
});

after(async () => {
  await server?.close();
  fs.rmSync(data, { recursive: true, force: true });
});

test('queries and series of tenant acme return none of default\'s series, however the query is written', async () => {
  assert.equal((await query(admin, 'app_load')).length, 1, 'default sees its own series');
  for (const expr of ['app_load', '{__name__=~".+"}', 'app_load{nubis_tenant="default"}', 'sum(app_load)', 'count({__name__=~"servers\\\\..*"})', 'app_load + 0']) {
    assert.deepEqual(await query(acme, expr), [], `acme's ${expr}`);
  }
  const range = await api(acme, 'GET', `/v1/metrics/query?query=app_load&start=${Date.now() / 1000 - 600}&step=30s`);
  assert.equal(range.status, 200, range.text);
  assert.deepEqual(range.json.data.result, []);
  const series = await api(acme, 'GET', '/v1/metrics/series');
  assert.equal(series.status, 200, series.text);
  assert.deepEqual(series.json.data, []);

  // acme's own push is acme's only: labelled for acme whatever it sends, and default's answers do not change
  const pushed = await api(acme, 'POST', '/v1/metrics/push', { samples: [{ name: 'app_load', labels: { deployment: 'shop', instance: 'app-1', nubis_tenant: 'default' }, v: 5 }] });
  assert.equal(pushed.status, 200, pushed.text);
  assert.deepEqual((await query(acme, 'app_load')).map((e) => e.value[1]), ['5']);
  assert.deepEqual((await query(admin, 'app_load')).map((e) => e.value[1]), ['70']);
  assert.deepEqual((await query(admin, 'sum(app_load)')).map((e) => e.value[1]), ['70']);
  assert.equal((await query(acme, 'app_load'))[0].metric.nubis_tenant, undefined, 'the tenant label is not shown');

  // the CLI with acme's token
  const env = { NUBIS_SERVER: server.url, NUBIS_TOKEN: acme, NUBIS_DATA: data };
  const cli = await runCli(['metrics', 'list', '--match', '{__name__="servers.web1.cpu"}', '-o', 'json'], env);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(JSON.parse(cli.stdout).data, []);
});

test('acme cannot list, read, change or remove default\'s rules, schedules, definitions and scrape targets', async () => {
  const lists: [string, string][] = [['/v1/rules', 'rules'], ['/v1/schedules', 'schedules'], ['/v1/metrics/definitions', 'definitions'], ['/v1/metrics/scrape', 'targets']];
  for (const [path, field] of lists) {
    const mine = await api(admin, 'GET', path);
    assert.ok(mine.json[field].length > 0, `default has ${field}`);
    const theirs = await api(acme, 'GET', path);
    assert.equal(theirs.status, 200, theirs.text);
    assert.deepEqual(theirs.json[field], [], `acme lists no ${field}`);
    assert.deepEqual((await api(acme, 'GET', `${path}?deployment=shop`)).json[field], []);
  }
  for (const path of ['/v1/rules/out', '/v1/rules/spec-out', '/v1/schedules/morning', '/v1/metrics/definitions/load_max', '/v1/metrics/scrape/exporter']) {
    assert.equal((await api(acme, 'GET', path)).status, 404, `GET ${path}`);
    assert.equal((await api(acme, 'DELETE', path)).status, 404, `DELETE ${path}`);
    assert.equal((await api(acme, 'DELETE', `${path}?deployment=shop`)).status, 404, `DELETE ${path}?deployment=shop`);
  }
  // writes naming default's deployment: as if it did not exist
  const rule = await api(acme, 'PUT', '/v1/rules/out', { ...RULE, action: { scale: 'in', by: 1 } });
  assert.equal(rule.status, 404, rule.text);
  assert.doesNotMatch(rule.text, /component/);
  assert.equal((await api(acme, 'PUT', '/v1/rules/drain', RULE)).status, 404);
  assert.equal((await api(acme, 'PUT', '/v1/schedules/morning', { ...SCHEDULE, count: 0 })).status, 404);
  assert.equal((await api(acme, 'PUT', '/v1/metrics/definitions/shop_load', { deployment: 'shop', expr: 'max(app_load)', interval: '1s' })).status, 404);
  assert.equal((await api(acme, 'PUT', '/v1/metrics/scrape/shop', { deployment: 'shop', url: 'http://127.0.0.1:9/metrics' })).status, 404);
  // the CLI says the same
  const env = { NUBIS_SERVER: server.url, NUBIS_TOKEN: acme, NUBIS_DATA: data };
  const rm = await runCli(['rules', 'rm', 'out'], env);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /no rule named "out"/);
  const listed = await runCli(['rules', 'list', '-o', 'json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout).rules, []);

  // default's objects are untouched
  assert.equal((await api(admin, 'GET', '/v1/rules/out')).json.spec.action.kind, 'out');
  assert.equal((await api(admin, 'GET', '/v1/schedules/morning')).json.spec.count, 2);
  assert.equal((await api(admin, 'GET', '/v1/metrics/definitions/load_max')).status, 200);
  assert.equal((await api(admin, 'GET', '/v1/metrics/scrape/exporter')).status, 200);
});

test('both tenants may use one name: acme\'s definition and scrape target of the same names are its own', async () => {
  const def = await api(acme, 'PUT', '/v1/metrics/definitions/load_max', { expr: 'min(app_load)', interval: '1s' });
  assert.equal(def.status, 201, `acme's load_max is a new object: ${def.text}`);
  assert.equal((await api(acme, 'GET', '/v1/metrics/definitions/load_max')).json.expr, 'min(app_load)');
  assert.equal((await api(admin, 'GET', '/v1/metrics/definitions/load_max')).json.expr, 'max(app_load)');
  const target = await api(acme, 'PUT', '/v1/metrics/scrape/exporter', { url: 'http://127.0.0.1:10/metrics', interval: '1h' });
  assert.equal(target.status, 201, target.text);
  assert.equal((await api(admin, 'GET', '/v1/metrics/scrape/exporter')).json.url, 'http://127.0.0.1:9/metrics');
  // acme's removals remove acme's only
  assert.equal((await api(acme, 'DELETE', '/v1/metrics/definitions/load_max')).status, 200);
  assert.equal((await api(acme, 'DELETE', '/v1/metrics/scrape/exporter')).status, 200);
  assert.equal((await api(admin, 'GET', '/v1/metrics/definitions/load_max')).status, 200);
  assert.equal((await api(admin, 'GET', '/v1/metrics/scrape/exporter')).status, 200);
});

test('acme cannot see or change the monitors of default\'s instances', async () => {
  // default's own instance on the sim cloud answers 409 (no agent); to acme the deployment does not exist
  assert.equal((await api(admin, 'GET', '/v1/deployments/shop/instances/app-1/monitors')).status, 409);
  const list = await api(acme, 'GET', '/v1/deployments/shop/instances/app-1/monitors');
  assert.equal(list.status, 404, list.text);
  assert.equal((await api(acme, 'PUT', '/v1/deployments/shop/instances/app-1/monitors/cpu', { kind: 'cpu', intervalMs: 1000 })).status, 404);
  assert.equal((await api(acme, 'DELETE', '/v1/deployments/shop/instances/app-1/monitors/cpu')).status, 404);
});

test('both tenants may use one rule and schedule name, each on its own deployment', async () => {
  const lab = SHOP.replace('name: shop', 'name: lab').replace(/rules:[\s\S]*$/, '');
  const applied = await api(acme, 'POST', '/v1/deployments', { spec: lab });
  assert.equal(applied.status, 201, applied.text);
  const rule = await api(acme, 'PUT', '/v1/rules/out', { ...RULE, deployment: 'lab' });
  assert.equal(rule.status, 201, rule.text);
  const sched = await api(acme, 'PUT', '/v1/schedules/morning', { ...SCHEDULE, deployment: 'lab' });
  assert.equal(sched.status, 201, sched.text);
  // each tenant reads its own by the bare name, without ?deployment= (no ambiguity across the wall)
  assert.equal((await api(acme, 'GET', '/v1/rules/out')).json.deployment, 'lab');
  assert.equal((await api(admin, 'GET', '/v1/rules/out')).json.deployment, 'shop');
  assert.deepEqual((await api(acme, 'GET', '/v1/rules')).json.rules.map((r: { deployment: string; name: string }) => `${r.deployment}/${r.name}`), ['lab/out']);
  assert.equal((await api(acme, 'GET', '/v1/schedules/morning')).json.deployment, 'lab');
  assert.equal((await api(admin, 'GET', '/v1/schedules/morning')).json.deployment, 'shop');
  assert.equal((await api(acme, 'DELETE', '/v1/rules/out')).status, 200);
  assert.equal((await api(admin, 'GET', '/v1/rules/out')).status, 200, 'default\'s rule of the same name stays');
});
