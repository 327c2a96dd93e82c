/**
 * Registries are per tenant: the admin token (tenant `default`) mints a token for tenant
 * `acme` through the built CLI; acme registers a sim cloud and a credential; neither tenant
 * sees the other's clouds or credentials (404 on the other's names, even for writes), and
 * only the admin may mint tokens. The minted token is shown once and never stored in clear.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openTestStore } from '../helpers/postgres.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken } from '../../src/api/index.js';
import { hashToken } from '../../src/api/auth.js';
import { runCli } from '../helpers/processes.js';
import { tempDir } from '../helpers/control-plane.js';

test('tokens carry a tenant; each tenant sees only its own clouds and credentials', async () => {
  const dir = tempDir('nubis-tenants-');
  const dbFile = path.join(dir, 'nubis.db');
  let store = await openTestStore(dbFile);
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  await cp.start();
  const admin = (await ensureToken(store, dir))!;
  assert.ok(admin);
  const api = createApiServer({ controlPlane: cp, store });
  const { port } = await api.listen(0);
  const server = `http://127.0.0.1:${port}`;
  const env = { NUBIS_SERVER: server, NUBIS_DATA: dir };
  const seen: string[] = [];
  const call = async (token: string, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(server + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    seen.push(text);
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  let closed = false;
  try {
    // the admin mints a token for acme through the CLI; it is printed once
    const minted = await runCli(['tokens', 'create', 'ci', '--tenant', 'acme', '--role', 'admin', '-o', 'json'], env);
    assert.equal(minted.code, 0, minted.stderr);
    const created = JSON.parse(minted.stdout) as { name: string; tenant: string; token: string };
    assert.equal(created.name, 'ci');
    assert.equal(created.tenant, 'acme');
    const acme = created.token;
    assert.match(acme, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await store.tokenOwner(hashToken(acme)), { name: 'ci', tenant: 'acme' });
    assert.deepEqual(await store.tokenOwner(hashToken(admin)), { name: 'admin', tenant: 'default' });
    const table = await runCli(['tokens', 'create', 'web', '--tenant', 'acme', '--role', 'admin'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /token web created for tenant acme \(admin\); it is shown this once/);
    const web = table.stdout.trim().split('\n').pop()!;
    assert.equal((await call(web, 'GET', '/v1/clouds')).status, 200);

    // the same name again in the same tenant is a conflict, and shows no token
    const again = await call(admin, 'POST', '/v1/tokens', { name: 'ci', tenant: 'acme' });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'CONFLICT');
    assert.equal(JSON.stringify(again.json).includes(acme), false);
    const noSecondAdmin = await call(admin, 'POST', '/v1/tokens', { name: 'admin', tenant: 'default' });
    assert.equal(noSecondAdmin.status, 409);

    // only the admin of `default` may mint: not acme's tokens, not even one named admin
    const denied = await call(acme, 'POST', '/v1/tokens', { name: 'more', tenant: 'acme' });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.code, 'FORBIDDEN');
    const acmeAdmin = await call(admin, 'POST', '/v1/tokens', { name: 'admin', tenant: 'acme', role: 'admin' });
    assert.equal(acmeAdmin.status, 201);
    const fakeAdmin = await call(acmeAdmin.json.token, 'POST', '/v1/tokens', { name: 'x', tenant: 'default' });
    assert.equal(fakeAdmin.status, 403);
    assert.equal(fakeAdmin.json.error.code, 'FORBIDDEN');
    const cliDenied = await runCli(['tokens', 'create', 'more', '--tenant', 'acme'], { ...env, NUBIS_TOKEN: acme });
    assert.equal(cliDenied.code, 2, cliDenied.stderr);
    assert.match(cliDenied.stderr, /error\[FORBIDDEN\]/);
    assert.equal((await call('not-a-token', 'POST', '/v1/tokens', { name: 'y', tenant: 'acme' })).status, 401);
    assert.equal((await call(admin, 'POST', '/v1/tokens', { name: 'Bad Name', tenant: 'acme' })).status, 400);

    // acme registers a credential and a sim cloud using it
    assert.equal((await call(acme, 'PUT', '/v1/credentials/acme-key', { fields: { apiKey: 'acme-secret-value' } })).status, 201);
    const reg = await call(acme, 'PUT', '/v1/clouds/acme-sim', { platform: 'sim', options: { path: ':memory:' }, credential: 'acme-key' });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    assert.equal((await call(acme, 'PUT', '/v1/clouds/acme-sim/offers/s2', { cores: 2, memoryMiB: 2048, pricePerHour: 0.02 })).status, 200);
    // the default tenant registers its own
    assert.equal((await call(admin, 'PUT', '/v1/credentials/home-key', { fields: { apiKey: 'home-secret-value' } })).status, 201);
    assert.equal((await call(admin, 'PUT', '/v1/clouds/home-sim', { platform: 'sim', options: { path: ':memory:' } })).status, 201);

    // each sees its own only
    const names = (r: { json: any }, key: string): string[] => r.json[key].map((x: { name: string }) => x.name);
    assert.deepEqual(names(await call(acme, 'GET', '/v1/clouds'), 'clouds'), ['acme-sim']);
    assert.deepEqual(names(await call(admin, 'GET', '/v1/clouds'), 'clouds'), ['home-sim']);
    assert.deepEqual(names(await call(acme, 'GET', '/v1/credentials'), 'credentials'), ['acme-key']);
    assert.deepEqual(names(await call(admin, 'GET', '/v1/credentials'), 'credentials'), ['home-key']);
    assert.deepEqual(names(await call(web, 'GET', '/v1/clouds'), 'clouds'), ['acme-sim'], 'tokens of one tenant share its registries');
    const list = await runCli(['clouds', 'list', '-o', 'json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.includes('acme-sim'), false);

    // the other tenant's names are 404, for reads and writes alike
    for (const [who, other, cloud, cred] of [[admin, 'acme', 'acme-sim', 'acme-key'], [acme, 'default', 'home-sim', 'home-key']] as const) {
      for (const [method, url] of [
        ['GET', `/v1/clouds/${cloud}`], ['GET', `/v1/clouds/${cloud}/offers`], ['GET', `/v1/clouds/${cloud}/images`],
        ['GET', `/v1/clouds/${cloud}/locations`], ['GET', `/v1/clouds/${cloud}/sla`], ['POST', `/v1/clouds/${cloud}/discover`],
        ['DELETE', `/v1/clouds/${cloud}`], ['DELETE', `/v1/clouds/${cloud}/offers/s2`], ['PUT', `/v1/clouds/${cloud}/offers/s9`],
        ['GET', `/v1/credentials/${cred}`], ['DELETE', `/v1/credentials/${cred}`],
      ] as const) {
        const r = await call(who, method, url, method === 'PUT' ? { cores: 1, memoryMiB: 512 } : undefined);
        assert.equal(r.status, 404, `${method} ${url} by a token of another tenant than ${other}: ${JSON.stringify(r.json)}`);
        assert.equal(r.json.error.code, 'NOT_FOUND');
      }
      // a cloud cannot name the other tenant's credential
      const borrow = await call(who, 'PUT', '/v1/clouds/borrowed', { platform: 'sim', options: { path: ':memory:' }, credential: cred });
      assert.equal(borrow.status, 400, JSON.stringify(borrow.json));
    }
    const cliGet = await runCli(['clouds', 'offers', 'acme-sim'], env);
    assert.equal(cliGet.code, 2);
    assert.match(cliGet.stderr, /error\[NOT_FOUND\]/);

    // nothing of the other tenant changed
    assert.deepEqual((await call(acme, 'GET', '/v1/clouds/acme-sim/offers')).json.offers.map((o: { id: string }) => o.id), ['s2']);
    assert.equal((await call(acme, 'GET', '/v1/credentials/acme-key')).status, 200);
    assert.equal((await call(admin, 'GET', '/v1/clouds/home-sim')).status, 200);

    // the same name in two tenants is two clouds
    assert.equal((await call(admin, 'PUT', '/v1/clouds/acme-sim', { platform: 'sim', options: { path: ':memory:' } })).status, 201);
    assert.equal((await call(admin, 'GET', '/v1/clouds/acme-sim/offers')).json.offers.length, 0);
    assert.equal((await call(acme, 'GET', '/v1/clouds/acme-sim/offers')).json.offers.length, 1);

    // minting is audited without the token
    const evs = await events.list({ kind: 'token.created', limit: 100 });
    assert.deepEqual(evs.map((e) => `${e.actor} ${e.data?.['tenant']}/${e.data?.['name']}`), ['user:admin acme/ci', 'user:admin acme/web', 'user:admin acme/admin']);

    // the token was shown once: no response since, no event, no file holds it in clear
    const later = seen.join('\n');
    assert.equal(later.includes(acme), false, 'no later response shows the acme token');
    assert.equal(JSON.stringify(await events.list({ limit: 100_000 })).includes(acme), false);
    await api.close();
    await cp.stop();
    await store.close();
    closed = true;
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (!fs.statSync(p).isFile()) continue;
      const bytes = fs.readFileSync(p);
      for (const t of [acme, web]) {
        assert.equal(bytes.includes(Buffer.from(t)), false, `${f} does not hold a minted token`);
      }
      if (f !== 'token') assert.equal(bytes.includes(Buffer.from(admin)), false, `${f} does not hold the admin token`);
    }
    // the hash is what the database keeps
    store = await openTestStore(dbFile);
    assert.deepEqual(await store.tokenOwner(hashToken(acme)), { name: 'ci', tenant: 'acme' });
    await store.close();
  } finally {
    if (!closed) {
      await api.close();
      await cp.stop();
      await store.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
