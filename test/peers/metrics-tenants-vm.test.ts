/**
 * The tenant wall of the metric store on the VictoriaMetrics backend: a real server
 * (server-root, `metricsBackend: victoriametrics`) over a real `victoria-metrics` (Debian
 * package). Samples pushed by `default` and by `acme` land in VictoriaMetrics labelled with their
 * tenant, and each tenant's queries and series listings, however written, return its own only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../helpers/peers-vm.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';

let vm: VictoriaMetricsServer;
let server: ServerHandle;
let data: string;
let admin: string;
let acme: string;
const api = (token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> => callApi(server.url, token, method, path, body);
const values = async (token: string, expr: string): Promise<string[]> => {
  const r = await api(token, 'GET', `/v1/metrics/query?query=${encodeURIComponent(expr)}`);
  assert.equal(r.status, 200, r.text);
  return (r.json.data.result as { value: [number, string] }[]).map((e) => e.value[1]);
};

before(async () => {
  vm = await startVictoriaMetrics();
  data = tempDir('nubis-vm-tenants-');
  server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', metricsBackend: 'victoriametrics', vmUrl: vm.url });
  admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const minted = await api(admin, 'POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
  assert.equal(minted.status, 201, minted.text);
  acme = minted.json.token as string;
});

after(async () => {
  await server?.close();
  await vm?.stop();
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

test('on VictoriaMetrics each tenant\'s queries and series return its own series only', { timeout: 120_000 }, async () => {
  const now = Date.now();
  assert.equal((await api(admin, 'POST', '/v1/metrics/push', { samples: [{ name: 'app_load', labels: { instance: 'a' }, v: 70, t: now - 1000 }] })).status, 200);
  assert.equal((await api(acme, 'POST', '/v1/metrics/push', { samples: [{ name: 'app_load', labels: { instance: 'a', nubis_tenant: 'default' }, v: 5, t: now - 1000 }] })).status, 200);
  await waitFor('both series in VictoriaMetrics', async () => {
    const r = await fetch(`${vm.url}/api/v1/series?match[]=app_load`);
    const body = (await r.json()) as { data: Record<string, string>[] };
    return body.data.length === 2 ? body : undefined;
  }, 30_000);
  const stored = (await (await fetch(`${vm.url}/api/v1/series?match[]=app_load`)).json()) as { data: Record<string, string>[] };
  assert.deepEqual(stored.data.map((l) => l['nubis_tenant']).sort(), ['acme', 'default'], 'VictoriaMetrics holds each sample under its tenant');

  assert.deepEqual(await values(admin, 'app_load'), ['70']);
  assert.deepEqual(await values(acme, 'app_load'), ['5']);
  assert.deepEqual(await values(acme, 'sum(app_load{nubis_tenant="default"})'), []);
  assert.deepEqual(await values(acme, 'count({__name__=~".+"})'), ['1']);
  const series = await api(acme, 'GET', '/v1/metrics/series');
  assert.deepEqual(series.json.data, [{ __name__: 'app_load', instance: 'a' }]);
});
