/**
 * A wrong OpenStack password through the openstack driver, the API and the built CLI, against a
 * loopback Keystone-like stand-in: `POST /v3/auth/tokens` answers 401 with Keystone's error body
 * (OpenStack Identity API v3 reference, "Password authentication with scoped authorization":
 * https://docs.openstack.org/api-ref/identity/v3/#password-authentication-with-scoped-authorization,
 * response codes: 401 Unauthorized). The stand-in counts the token requests it was SENT; a real
 * Keystone locks an account after a few failed logins, so they must stay bounded: one at
 * `clouds add`, then at most one per change of the credential or the entry, however many
 * sweeps the engine runs. (A working login needs a real cloud: test/peers/openstack.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken } from '../../src/api/index.js';
import { runCli } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';

/** Keystone's answer to a wrong password; every other path is 404. */
async function startKeystone(): Promise<{ url: string; tokenRequests: () => number; close(): Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v3/auth/tokens') {
        count++;
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Keystone uri="http://127.0.0.1/v3"' });
        res.end(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, title: 'Not Found', message: 'not in this stand-in' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v3`,
    tokenRequests: () => count,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Waits until the engine has tried `n` more calls to the stopped cloud `os` of `shop` (each failed fast). */
async function refusedCalls(cp: RunningControlPlane, n: number): Promise<void> {
  const now = async (): Promise<number> => (await cp.getDeployment('shop')).clouds?.find((c) => c.cloud === 'os')?.refused ?? 0;
  const from = await now();
  await waitFor(`${n} refused calls`, async () => (await now()) >= from + n, 60_000);
}

test('openstack, wrong password: clouds add fails with the reason, status says why, Keystone sees ≤ 1 login per change over many sweeps, destroy ends', async (t) => {
  const keystone = await startKeystone();
  const dir = tempDir('nubis-os-auth-');
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events, engine: { sweepIntervalMs: 40, backoffBaseMs: 20, backoffMaxMs: 200 } });
  await cp.start();
  await ensureToken(store, dir);
  const api = createApiServer({ controlPlane: cp, store });
  const env = { NUBIS_SERVER: `http://127.0.0.1:${(await api.listen(0)).port}`, NUBIS_DATA: dir };
  t.after(async () => {
    await api.close();
    await cp.stop();
    await store.close();
    await keystone.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    return path.join(dir, name);
  };
  const options = `{ authUrl: ${JSON.stringify(keystone.url)}, project: demo, requestTimeoutMs: 5000 }`;

  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', file('c1.json', '{"username":"demo","password":"typo"}')], env)).code, 0);
  const add = await runCli(['clouds', 'add', '-f', file('os.yaml', `name: os\nplatform: openstack\ncredential: oscred\noptions: ${options}\n`)], env);
  assert.equal(add.code, 1, add.stdout + add.stderr);
  assert.match(add.stderr, /cloud os: discovery failed: CLOUD_UNAUTHORIZED/);
  assert.match(add.stderr, /the entry is kept/);
  assert.equal(keystone.tokenRequests(), 1);
  assert.match((await runCli(['clouds', 'list'], env)).stdout, /^os\s+openstack\s+oscred/m);

  // the deployment names the same cloud (same options and credential): it shares its health
  const spec = [
    'name: shop',
    `clouds: { os: { platform: openstack, credential: oscred, options: ${options} } }`,
    'nodeTemplates: { t: { cloud: os } }',
    'components: { app: { nodeTemplate: t, instances: { count: 1 }, lifecycle: { start: run } } }',
    '',
  ].join('\n');
  const apply = await runCli(['apply', '-f', file('shop.yaml', spec)], env);
  assert.equal(apply.code, 0, apply.stderr);
  await refusedCalls(cp, 100);
  assert.equal(keystone.tokenRequests(), 1, 'no login is sent once Keystone refused the password');
  const status = await runCli(['status', 'shop'], env);
  assert.match(status.stdout, /! cloud os: authentication failed \(401\): check the credential: openstack identity: authentication at .* failed.* — calls stopped until its credential or entry changes/);
  assert.match(status.stdout, /! app-1: cloud os: authentication failed \(401\)/);
  assert.equal((await events.list({ kind: 'cloud.unusable' })).length, 1);

  // another (still wrong) password: one login more; the entry registered again: one more
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', file('c2.json', '{"username":"demo","password":"typo2"}')], env)).code, 0);
  await waitFor('the login with the new password', () => keystone.tokenRequests() === 2 || undefined);
  await refusedCalls(cp, 50);
  assert.equal(keystone.tokenRequests(), 2);
  assert.equal((await runCli(['clouds', 'add', '-f', path.join(dir, 'os.yaml')], env)).code, 1);
  await refusedCalls(cp, 50);
  assert.equal(keystone.tokenRequests(), 3, '≤ 1 login per change of the credential or the entry');

  const destroy = await runCli(['destroy', 'shop', '--wait', '--timeout', '120s'], env);
  assert.equal(destroy.code, 1);
  assert.match(destroy.stderr, /deployment shop cannot be destroyed while cloud os is unusable/);
  const forget = await runCli(['destroy', 'shop', '--forget'], env);
  assert.equal(forget.code, 0, forget.stderr);
  assert.match(forget.stdout, /shop: forgotten/);
  assert.equal(keystone.tokenRequests(), 3);
});
