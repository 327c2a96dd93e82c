/**
 * Browser sessions through the public API of a real server: log in (HttpOnly, SameSite=Strict
 * cookie and a CSRF token), unsafe calls refused without the token, the event stream read
 * with the cookie, logout ends the session; one 401 for unknown users and wrong passwords;
 * failed logins back off per user and address without locking anyone out; personal tokens
 * never outrank their user; passwords appear in no answer, server log, event or database byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';
import { login } from '../helpers/sessions.js';

const PASSWORD = 'correct-horse-battery-staple-41';
const OTHER = 'tr0ub4dor&3-second-password';

/** A login from another loopback address (127.0.0.2): throttling is per user and address. */
function loginFrom(address: string, port: number, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, localAddress: address, method: 'POST', path: '/v1/login', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(data);
  });
}

test('a browser session: cookie, CSRF on unsafe calls, SSE with the cookie, logout; no password anywhere', { timeout: 180_000 }, async () => {
  const data = tempDir('nubis-sessions-');
  const logs: string[] = [];
  const answers: string[] = [];
  let server: ServerHandle | undefined;
  try {
    server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', log: (m) => logs.push(m) });
    const base = server.url;
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const call = async (token: string | undefined, method: string, url: string, body?: unknown, headers?: Record<string, string>) => {
      const r = await callApi(base, token, method, url, body, headers);
      answers.push(r.text);
      return r;
    };

    // the administrator makes alice operator of acme and viewer of beta
    const made = await call(admin, 'PUT', '/v1/users/alice', { password: PASSWORD, roles: { acme: 'operator', beta: 'viewer' } });
    assert.equal(made.status, 201, made.text);
    assert.deepEqual(made.json.roles, [{ tenant: 'acme', role: 'operator' }, { tenant: 'beta', role: 'viewer' }]);
    const weak = await call(admin, 'PUT', '/v1/users/bob', { password: 'short' });
    assert.equal(weak.status, 400);
    assert.match(weak.json.error.message, /\$\.password: expected at least 8 characters/);

    // login: the cookie's attributes, the CSRF token, the chosen tenant
    const raw = await fetch(`${base}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: PASSWORD, tenant: 'acme' }) });
    const setCookie = raw.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^nubis_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    assert.doesNotMatch(setCookie, /Secure/, 'not over TLS: no Secure attribute');
    const first = (await raw.json()) as { user: string; tenant: string; role: string; csrfToken: string };
    assert.deepEqual({ user: first.user, tenant: first.tenant, role: first.role }, { user: 'alice', tenant: 'acme', role: 'operator' });
    const s = await login(base, 'alice', PASSWORD, 'acme');
    const me = await s.call('GET', '/v1/me');
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.csrfToken, s.csrfToken);
    assert.deepEqual({ user: me.json.user, tenant: me.json.tenant, role: me.json.role, via: me.json.via }, { user: 'alice', tenant: 'acme', role: 'operator', via: 'session' });
    assert.deepEqual(me.json.tenants, [{ tenant: 'acme', role: 'operator' }, { tenant: 'beta', role: 'viewer' }]);
    // without a tenant: alice has two and no default, so the first by name
    assert.equal((await login(base, 'alice', PASSWORD)).tenant, 'acme');
    assert.equal((await login(base, 'alice', PASSWORD, 'beta')).role, 'viewer');
    const noRole = await call(undefined, 'POST', '/v1/login', { user: 'alice', password: PASSWORD, tenant: 'gamma' });
    assert.equal(noRole.status, 401);

    // unsafe calls need the CSRF token; safe ones do not
    const spec = 'name: web\nclouds: { sim: { platform: sim, options: { path: ":memory:" } } }\nnodeTemplates: { t: { cloud: sim } }\ncomponents:\n  app: { nodeTemplate: t, instances: { count: 1, max: 3 }, lifecycle: { start: run } }\n';
    const noCsrf = await s.call('POST', '/v1/deployments', { spec }, { csrf: false });
    assert.equal(noCsrf.status, 403, noCsrf.text);
    assert.match(noCsrf.json.error.message, /X-CSRF-Token/);
    const wrongCsrf = await s.call('POST', '/v1/deployments', { spec }, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(43) } });
    assert.equal(wrongCsrf.status, 403);
    assert.equal((await s.call('GET', '/v1/deployments')).json.deployments.length, 0, 'nothing was applied without the CSRF token');
    // the event stream with the cookie sees the apply that follows
    const ac = new AbortController();
    const stream = await fetch(`${base}/v1/events/stream?after=0`, { headers: { cookie: s.cookie }, signal: ac.signal });
    assert.equal(stream.status, 200);
    const applied = await s.call('POST', '/v1/deployments', { spec });
    assert.equal(applied.status, 201, applied.text);
    let text = '';
    const reader = stream.body!.getReader();
    try {
      while (!text.includes('deployment.applied')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } finally {
      ac.abort();
    }
    assert.match(text, /"actor":"user:alice"/, 'the audit names the user');
    // a bearer token needs no CSRF header; a personal token never outranks its user
    const tooHigh = await s.call('POST', '/v1/me/tokens', { name: 'cli', role: 'admin' });
    assert.equal(tooHigh.status, 403, tooHigh.text);
    const personal = await s.call('POST', '/v1/me/tokens', { name: 'cli' });
    assert.equal(personal.status, 201, personal.text);
    assert.equal(personal.json.role, 'operator');
    const bearer = personal.json.token as string;
    const bme = await call(bearer, 'GET', '/v1/me');
    assert.deepEqual({ user: bme.json.user, tenant: bme.json.tenant, role: bme.json.role, token: bme.json.token, csrf: bme.json.csrfToken }, { user: 'alice', tenant: 'acme', role: 'operator', token: 'cli', csrf: undefined });
    assert.equal((await call(bearer, 'POST', '/v1/deployments/web/scale', { component: 'app', count: 2 })).status, 200);
    // lowering alice's role lowers her token's at once
    assert.equal((await call(admin, 'PUT', '/v1/users/alice/roles/acme', { role: 'viewer' })).status, 200);
    const lowered = await call(bearer, 'POST', '/v1/deployments/web/scale', { component: 'app', count: 1 });
    assert.equal(lowered.status, 403);
    assert.equal(lowered.json.error.details.requiredRole, 'operator');
    assert.equal((await s.call('GET', '/v1/me')).json.role, 'viewer', 'the session reads the role at every request');
    assert.equal((await call(admin, 'PUT', '/v1/users/alice/roles/acme', { role: 'operator' })).status, 200);

    // logout ends the session: the cookie no longer works, for any method
    const out = await s.call('POST', '/v1/logout');
    assert.equal(out.status, 204, out.text);
    assert.equal((await s.call('GET', '/v1/me')).status, 401);
    assert.equal((await s.call('GET', '/v1/deployments')).status, 401);
    const sse = await fetch(`${base}/v1/events/stream`, { headers: { cookie: s.cookie } });
    assert.equal(sse.status, 401);
    await sse.body?.cancel();

    // one message for an unknown user and a wrong password
    const unknown = await call(undefined, 'POST', '/v1/login', { user: 'mallory', password: PASSWORD });
    const wrong = await call(undefined, 'POST', '/v1/login', { user: 'alice', password: OTHER });
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, 401);
    assert.equal(unknown.json.error.message, wrong.json.error.message);

    // backoff: a few free failures, then waits that a refused try does not extend; never a lockout
    let status = 401;
    let tries = 1;
    while (status === 401) {
      status = (await call(undefined, 'POST', '/v1/login', { user: 'alice', password: OTHER })).status;
      tries++;
      assert.ok(tries <= 10, 'throttling starts after a few failures');
    }
    const limited = await callApi(base, undefined, 'POST', '/v1/login', { user: 'alice', password: PASSWORD });
    assert.equal(limited.status, 429, 'even the right password waits during the backoff');
    assert.equal(limited.json.error.code, 'RATE_LIMITED');
    const waitMs = limited.json.error.details.retryAfterMs as number;
    assert.ok(waitMs > 0 && waitMs <= 5 * 60_000);
    // another address is not affected
    assert.equal(await loginFrom('127.0.0.2', server.port, { user: 'alice', password: PASSWORD }), 200);
    await new Promise((r) => setTimeout(r, waitMs + 50));
    const after = await login(base, 'alice', PASSWORD, 'acme');
    assert.equal(after.role, 'operator', 'after the wait the right password works');

    // the administrator changes the password: old sessions end
    assert.equal((await call(admin, 'PUT', '/v1/users/alice', { password: OTHER })).status, 200);
    assert.equal((await after.call('GET', '/v1/me')).status, 401);
    const again = await login(base, 'alice', OTHER, 'acme');
    const own = await again.call('POST', '/v1/me/password', { current: 'not-it-at-all', password: PASSWORD });
    assert.equal(own.status, 401);
    assert.equal((await again.call('POST', '/v1/me/password', { current: OTHER, password: PASSWORD })).status, 204);
    assert.equal((await again.call('GET', '/v1/me')).status, 200, 'the session that changed the password stays');
    assert.equal((await call(admin, 'DELETE', '/v1/users/alice')).status, 204);
    assert.equal((await again.call('GET', '/v1/me')).status, 401, 'a removed user\'s sessions end');
    assert.equal((await call(bearer, 'GET', '/v1/me')).status, 401, 'and its personal tokens');

    const events = await call(admin, 'GET', '/v1/events?kind=session.*');
    assert.ok(events.json.events.some((e: { kind: string }) => e.kind === 'session.refused'));
    await server.close();
    server = undefined;
    // no password in any answer, log line, or byte of the database (events included)
    for (const p of [PASSWORD, OTHER]) {
      assert.equal(answers.some((a) => a.includes(p)), false, 'no answer carries a password');
      assert.equal(logs.some((l) => l.includes(p)), false, 'no log line carries a password');
      for (const f of fs.readdirSync(data).filter((x) => x.startsWith('nubis.db'))) {
        assert.equal(fs.readFileSync(path.join(data, f)).includes(p), false, `${f} holds no password`);
      }
    }
  } finally {
    await server?.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
