/**
 * Deployments are per tenant (issue 7, item 6): tenants `acme` and `default` both run a
 * deployment named `webapp` side by side; each lists, reads, scales and destroys only its own,
 * and sees only its own events and step logs, by bare name. A spec names only its own tenant's
 * clouds and credentials (another tenant's answers exactly like one that does not exist).
 * Clouds that reach the control-plane host (`local`, file paths in options) are the admin
 * tenant's unless the server allows them. Error bodies name no file of the server, and the
 * data directory and its secrets are owner-only, also when they were looser before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';

const spec = (name: string, count: number, clouds = 'clouds: { sim: { platform: sim, options: { path: ":memory:" } } }', template = 'sim'): string => `name: ${name}
${clouds}
nodeTemplates: { t: { cloud: ${template} } }
components:
  app: { nodeTemplate: t, instances: { count: ${count}, max: 6 }, lifecycle: { install: "echo in", start: run } }
`;

interface Answer { status: number; text: string; json: any }

/** A server in a fresh data dir, the admin token, a minted `acme` token and a caller. */
async function withServer(
  opts: { allowLocalTenants?: boolean; data?: string },
  fn: (s: { server: ServerHandle; admin: string; acme: string; call: (token: string | undefined, method: string, url: string, body?: unknown) => Promise<Answer> }) => Promise<void>,
): Promise<void> {
  const data = opts.data ?? tempDir('nubis-tenancy-');
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', ...(opts.allowLocalTenants ? { allowLocalTenants: true } : {}) });
  try {
    const call = (token: string | undefined, method: string, url: string, body?: unknown): Promise<Answer> => callApi(server.url, token, method, url, body);
    const admin = fs.readFileSync(server.tokenFile, 'utf8').trim();
    const minted = await call(admin, 'POST', '/v1/tokens', { name: `ci-${crypto.randomUUID().slice(0, 8)}`, tenant: 'acme', role: 'admin' });
    assert.equal(minted.status, 201, minted.text);
    await fn({ server, admin, acme: minted.json.token, call });
  } finally {
    await server.close();
    if (!opts.data) fs.rmSync(data, { recursive: true, force: true });
  }
}

async function ready(call: (t: string, m: string, u: string) => Promise<Answer>, token: string, name: string, running: number): Promise<any> {
  for (;;) {
    const v = await call(token, 'GET', `/v1/deployments/${name}`);
    assert.equal(v.status, 200, v.text);
    if (v.json.state === 'ready' && v.json.components[0].running === running) return v.json;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('two tenants each run their own webapp: lists, reads, scale, destroy, events and logs stay on their side', { timeout: 120_000 }, async () => {
  await withServer({}, async ({ admin, acme, call }) => {
    assert.equal((await call(admin, 'POST', '/v1/deployments', { spec: spec('webapp', 2) })).status, 201);
    const created = await call(acme, 'POST', '/v1/deployments', { spec: spec('webapp', 1) });
    assert.equal(created.status, 201, `acme's webapp is a new deployment of acme: ${created.text}`);
    assert.equal(created.json.name, 'webapp');
    const home = await ready(call, admin, 'webapp', 2);
    const theirs = await ready(call, acme, 'webapp', 1);
    assert.equal(theirs.instances.length, 1);
    assert.deepEqual(theirs.instances.map((i: { node: { key: string } }) => i.node.key), ['webapp/app-1'], 'acme sees its bare names');
    assert.equal(home.instances.length, 2);

    const list = async (t: string): Promise<unknown> => (await call(t, 'GET', '/v1/deployments')).json.deployments.map((d: any) => [d.name, d.instances.desired]);
    assert.deepEqual(await list(admin), [['webapp', 2]]);
    assert.deepEqual(await list(acme), [['webapp', 1]]);

    // acme's scale and logs touch acme's webapp only
    assert.equal((await call(acme, 'POST', '/v1/deployments/webapp/scale', { component: 'app', count: 3 })).status, 200);
    await ready(call, acme, 'webapp', 3);
    assert.equal((await call(admin, 'GET', '/v1/deployments/webapp')).json.components[0].desired, 2);
    const acmeLogs = await call(acme, 'GET', '/v1/deployments/webapp/instances/app-3/logs');
    assert.equal(acmeLogs.status, 200, acmeLogs.text);
    assert.ok(acmeLogs.json.logs.length > 0);
    assert.equal((await call(admin, 'GET', '/v1/deployments/webapp/instances/app-3/logs')).status, 404, 'default has no app-3');

    // events: each tenant sees its own, by bare name; no event of one reaches the other
    const events = async (t: string, q = ''): Promise<any[]> => (await call(t, 'GET', `/v1/events?limit=10000${q}`)).json.events;
    const acmeEvents = await events(acme);
    assert.ok(acmeEvents.some((e) => e.kind === 'deployment.scaled' && e.deployment === 'webapp'));
    const leaky = acmeEvents.filter((e) => JSON.stringify(e).includes('acme.'));
    assert.deepEqual(leaky, [], 'acme sees no internal ids');
    const homeEvents = await events(admin);
    assert.equal(homeEvents.filter((e) => e.kind === 'deployment.scaled').length, 0, 'default never scaled');
    // (the admin minted acme's token: that event is the admin's own)
    const seen = homeEvents.filter((e) => e.kind !== 'token.created' && JSON.stringify(e).includes('acme'));
    assert.deepEqual(seen, [], 'default sees nothing of acme');
    const homeIds = new Set(homeEvents.map((e) => e.id));
    assert.ok(acmeEvents.every((e) => !homeIds.has(e.id)));
    const byTarget = await events(acme, '&target=webapp/app-3');
    assert.ok(byTarget.length > 0 && byTarget.every((e) => e.target === 'webapp/app-3'));

    // acme's destroy leaves default's webapp running
    assert.equal((await call(acme, 'DELETE', '/v1/deployments/webapp')).status, 202);
    for (;;) {
      if ((await call(acme, 'GET', '/v1/deployments/webapp')).status === 404) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const still = await call(admin, 'GET', '/v1/deployments/webapp');
    assert.equal(still.status, 200);
    assert.equal(still.json.state, 'ready');
    assert.equal(still.json.version, 1);
    assert.equal(still.json.components[0].running, 2);
  });
});

test('a spec names only its own tenant\'s credentials and registered clouds', { timeout: 60_000 }, async () => {
  await withServer({}, async ({ admin, acme, call }) => {
    assert.equal((await call(admin, 'PUT', '/v1/credentials/home-key', { fields: { apiKey: 'home-secret' } })).status, 201);
    assert.equal((await call(admin, 'PUT', '/v1/clouds/home-sim', { platform: 'sim', options: { path: ':memory:' } })).status, 201);
    assert.equal((await call(admin, 'PUT', '/v1/clouds/home-sim/offers/s2', { cores: 2, memoryMiB: 2048 })).status, 200);
    const withCredential = (cred: string): string => spec('borrow', 1, `clouds: { c: { platform: sim, options: { path: ":memory:" }, credential: ${cred} } }`, 'c');
    for (const op of ['/v1/plan', '/v1/deployments']) {
      const borrowed = await call(acme, 'POST', op, { spec: withCredential('home-key') });
      assert.equal(borrowed.status, 400, borrowed.text);
      assert.equal(borrowed.json.error.code, 'SPEC_INVALID');
      // exactly what a credential nobody has answers: nothing says another tenant has it
      const missing = await call(acme, 'POST', op, { spec: withCredential('nobody-key') });
      assert.equal(borrowed.text.replaceAll('home-key', 'X'), missing.text.replaceAll('nobody-key', 'X'));
      assert.equal(borrowed.text.includes('home-secret'), false);
      // placement by requirements chooses among acme's registered clouds only: home-sim is not one
      const placed = `name: borrow\nclouds: {}\nnodeTemplates: { t: { requirements: { cores: 1, clouds: [home-sim] } } }\ncomponents:\n  app: { nodeTemplate: t, lifecycle: { start: run } }\n`;
      const cloud = await call(acme, 'POST', op, { spec: placed });
      assert.equal(cloud.status, 422, cloud.text);
      assert.equal(cloud.json.error.code, 'PLACEMENT_NO_FIT');
      assert.equal(cloud.text.includes('s2'), false, 'the answer shows none of default\'s offers');
      assert.equal((await call(admin, 'POST', '/v1/plan', { spec: placed })).status, 200, 'default places it on its own cloud');
    }
    assert.equal((await call(acme, 'GET', '/v1/deployments/borrow')).status, 404, 'nothing half-applied');
    // acme's own credential of the same name is acme's
    assert.equal((await call(acme, 'PUT', '/v1/credentials/home-key', { fields: { apiKey: 'acme-secret' } })).status, 201);
    assert.equal((await call(acme, 'POST', '/v1/deployments', { spec: withCredential('home-key') })).status, 201);
    // and the admin's own use of its credential still works
    assert.equal((await call(admin, 'POST', '/v1/deployments', { spec: withCredential('home-key') })).status, 201);
    // both converge, each on its own account (two handles), before the server stops
    await ready(call, acme, 'borrow', 1);
    await ready(call, admin, 'borrow', 1);
  });
});

const LOCAL = 'clouds: { l: { platform: local, options: {} } }';

test('local (shell on the control-plane host) and host file options are the admin tenant\'s unless the server allows them', { timeout: 60_000 }, async () => {
  await withServer({}, async ({ admin, acme, call }) => {
    const forbidden = [
      spec('shell', 1, LOCAL, 'l'),
      spec('simfile', 1, 'clouds: { s: { platform: sim, options: { path: "/tmp/x.db" } } }', 's'),
      spec('sshkey', 1, 'clouds: { s: { platform: ssh, options: { hosts: [{ address: 127.0.0.1 }], privateKeyPath: /etc/ssh/ssh_host_ed25519_key } } }', 's'),
    ];
    for (const s of forbidden) {
      for (const op of ['/v1/plan', '/v1/deployments']) {
        const r = await call(acme, 'POST', op, { spec: s });
        assert.equal(r.status, 403, `${op}: ${r.text}`);
        assert.equal(r.json.error.code, 'FORBIDDEN');
        assert.match(r.json.error.message, /--allow-local-tenants/);
      }
    }
    const reg = await call(acme, 'PUT', '/v1/clouds/mine', { platform: 'local', options: {} });
    assert.equal(reg.status, 403, reg.text);
    assert.equal((await call(acme, 'GET', '/v1/clouds/mine')).status, 404, 'nothing registered');
    assert.equal((await call(acme, 'GET', '/v1/deployments')).json.deployments.length, 0, 'nothing applied');
    // the admin may; an in-memory sim is harmless for anyone
    assert.equal((await call(admin, 'POST', '/v1/plan', { spec: spec('shell', 1, LOCAL, 'l') })).status, 200);
    assert.equal((await call(acme, 'POST', '/v1/plan', { spec: spec('simmem', 1) })).status, 200);
  });
  await withServer({ allowLocalTenants: true }, async ({ acme, call }) => {
    const r = await call(acme, 'POST', '/v1/plan', { spec: spec('shell', 1, LOCAL, 'l') });
    assert.equal(r.status, 200, r.text);
  });
});

test('error bodies name no path of the server: the 401 says nothing of the token file', { timeout: 60_000 }, async () => {
  await withServer({}, async ({ server, admin, call }) => {
    const absolute = /(?<![\w.:/-])\/[\w.-]+\/[\w./-]+/;
    for (const token of [undefined, 'not-a-token']) {
      const r = await call(token, 'GET', '/v1/deployments');
      assert.equal(r.status, 401);
      assert.equal(r.text.includes(server.dataDir), false, r.text);
      assert.equal(/token file|\btoken\b.*\bin\b/.test(r.json.error.message), false, r.text);
      assert.doesNotMatch(r.text, absolute);
    }
    // a driver error that names a file under the data directory
    const keyPath = path.join(server.dataDir, 'keys', 'missing');
    const ssh = spec('sshkey', 1, `clouds: { s: { platform: ssh, options: { hosts: [{ address: 127.0.0.1 }], privateKeyPath: "${keyPath}" } } }`, 's');
    const r = await call(admin, 'POST', '/v1/deployments', { spec: ssh });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.text.includes(server.dataDir), false, r.text);
    assert.match(r.json.error.message, /privateKeyPath <path>/);
  });
});

test('the data directory is 0700 and the database, its WAL and shared memory, the token and the key 0600, also when they were looser', { timeout: 60_000 }, async () => {
  const data = tempDir('nubis-modes-');
  try {
    const files = ['nubis.db', 'nubis.db-wal', 'nubis.db-shm', 'token', 'secret.key'];
    const mode = (f: string): string => (fs.statSync(path.join(data, f)).mode & 0o777).toString(8);
    await withServer({ data }, async () => {
      assert.equal(mode('.'), '700');
      for (const f of files) assert.equal(mode(f), '600', f);
    });
    // an older Nubis, a restore or a umask left them readable by everyone
    fs.chmodSync(data, 0o755);
    for (const f of files) if (fs.existsSync(path.join(data, f))) fs.chmodSync(path.join(data, f), 0o644);
    assert.equal(mode('token'), '644');
    await withServer({ data }, async ({ admin, call }) => {
      assert.equal(mode('.'), '700');
      for (const f of files) assert.equal(mode(f), '600', f);
      assert.equal((await call(admin, 'GET', '/v1/deployments')).status, 200);
    });
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('cloud call statistics are per tenant: a cloud of the same name in another tenant shows none of its calls', { timeout: 120_000 }, async () => {
  await withServer({}, async ({ admin, acme, call }) => {
    // both tenants name their cloud `sim`; only the admin's deployment sends calls to it
    assert.equal((await call(admin, 'POST', '/v1/deployments', { spec: spec('busy', 2) })).status, 201);
    await ready(call, admin, 'busy', 2);
    const home = await call(admin, 'GET', '/v1/clouds/sim/sla?since=1h');
    assert.equal(home.status, 200, home.text);
    assert.ok(home.json.total.calls >= 2, `the admin's calls are accounted: ${home.text}`);
    const theirs = await call(acme, 'GET', '/v1/clouds/sim/sla?since=1h');
    // acme has no cloud `sim` and sent nothing: it learns nothing of the admin's calls
    assert.equal(theirs.status, 404, theirs.text);
    assert.equal((await call(acme, 'POST', '/v1/deployments', { spec: spec('quiet', 1) })).status, 201);
    await ready(call, acme, 'quiet', 1);
    const own = await call(acme, 'GET', '/v1/clouds/sim/sla?since=1h');
    assert.equal(own.status, 200, own.text);
    const mine = own.json.total.calls as number;
    const admins = (await call(admin, 'GET', '/v1/clouds/sim/sla?since=1h')).json.total.calls as number;
    assert.ok(mine >= 1 && mine < admins, `acme counts only its own calls (${mine}), not the admin's (${admins})`);
  });
});
