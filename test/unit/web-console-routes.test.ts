/**
 * The console's routes: the page and its assets with their content types, cache headers and
 * Content Security Policy; names outside the asset pattern refused; 503 saying how to build
 * when there is no build; the applied spec with its topology, and another tenant's deployment
 * answering 404 like one that does not exist.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CONSOLE_CSP, createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';
import { startRealControlPlane, simWebSpec, waitReady, type RealControlPlane } from '../helpers/api-control-plane.js';

let real: RealControlPlane;
let api: ApiServer;
let bare: ApiServer;
let token: string;
let assets: string;

before(async () => {
  real = await startRealControlPlane('nubis-web-routes-');
  assets = path.join(real.dir, 'web');
  fs.mkdirSync(path.join(assets, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(assets, 'index.html'), '<!doctype html><title>Nubis</title><script type="module" src="/assets/app-1a2b.js"></script>');
  fs.writeFileSync(path.join(assets, 'assets', 'app-1a2b.js'), 'console.log("é")');
  fs.writeFileSync(path.join(assets, 'assets', 'app-1a2b.css'), 'body{}');
  fs.writeFileSync(path.join(assets, 'assets', 'blob.bin'), 'x');
  api = createApiServer({
    controlPlane: real.cp, store: real.store,
    console: { assetsDir: assets, appliedSpec: (id) => real.cp.engine.deployments.get(id) },
  });
  bare = createApiServer({ controlPlane: real.cp, store: real.store, console: { assetsDir: path.join(real.dir, 'nothing-here') } });
  token = (await ensureToken(real.store, real.dir))!;
});

after(async () => {
  await api?.close();
  await bare?.close();
  await real?.close();
});

test('GET / is the page: text/html, no-cache, the CSP, nosniff', async () => {
  const r = await api.inject({ method: 'GET', url: '/' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.equal(r.headers['content-security-policy'], CONSOLE_CSP);
  assert.match(CONSOLE_CSP, /default-src 'self'/);
  assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|https?:/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.match(r.body, /<title>Nubis<\/title>/);
});

test('assets: their content type, a year immutable, the byte length of UTF-8 text', async () => {
  const js = await api.inject({ method: 'GET', url: '/assets/app-1a2b.js' });
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(js.headers['content-length'], String(Buffer.byteLength('console.log("é")')));
  const css = await api.inject({ method: 'GET', url: '/assets/app-1a2b.css' });
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
});

test('unknown, untyped and traversing asset names are refused without reading outside the build', async () => {
  const missing = await api.inject({ method: 'GET', url: '/assets/nope.js' });
  assert.equal(missing.status, 404);
  assert.equal(missing.json<{ error: { code: string } }>().error.code, 'NOT_FOUND');
  assert.equal((await api.inject({ method: 'GET', url: '/assets/blob.bin' })).status, 404);
  for (const url of ['/assets/..%2Findex.html', '/assets/a%2F..%2F..%2Fnubis.db', '/assets/.hidden']) {
    const r = await api.inject({ method: 'GET', url });
    assert.equal(r.status, 400, url);
    assert.match(r.json<{ error: { message: string } }>().error.message, /path parameter "file"/);
  }
});

test('without a build the page is 503 naming the command that builds it, and no path of the server', async () => {
  const r = await bare.inject({ method: 'GET', url: '/' });
  assert.equal(r.status, 503);
  const e = r.json<{ error: { code: string; message: string } }>().error;
  assert.equal(e.code, 'UNAVAILABLE');
  assert.match(e.message, /npm run build/);
  assert.ok(!e.message.includes(real.dir), e.message);
});

test('the applied spec and its topology; another tenant sees 404', async () => {
  const spec = `${simWebSpec('shop', 1)}  db: { nodeTemplate: t, provides: { sql: {} }, lifecycle: { start: run } }\n`
    .replace('provides: { http: {} }', 'provides: { http: {} }, requires: { db: { component: db, port: sql } }');
  await real.cp.apply({ spec }, { actor: 'user:admin' });
  await waitReady(real.cp, 'shop');
  const r = await api.inject({ method: 'GET', url: '/v1/deployments/shop/spec', headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, r.body);
  const body = r.json<{ name: string; version: number; text: string; topology: { clouds: unknown[]; components: { name: string; requires: unknown[]; provides: string[] }[] } }>();
  assert.equal(body.name, 'shop');
  assert.equal(body.text, spec);
  assert.deepEqual(body.topology.clouds, [{ name: 'sim', platform: 'sim' }]);
  const app = body.topology.components.find((c) => c.name === 'app')!;
  assert.deepEqual(app.provides, ['http']);
  assert.deepEqual(app.requires, [{ name: 'db', component: 'db', port: 'sql', optional: false }]);
  const none = await api.inject({ method: 'GET', url: '/v1/deployments/nope/spec', headers: { authorization: `Bearer ${token}` } });
  assert.equal(none.status, 404);
  const unauth = await api.inject({ method: 'GET', url: '/v1/deployments/shop/spec' });
  assert.equal(unauth.status, 401);
  await real.cp.destroy('shop', { actor: 'user:admin' });
});
