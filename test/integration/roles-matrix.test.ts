/**
 * The role matrix, generated from the OpenAPI document of a real server: every operation of
 * /openapi.json is called as each role (admin, operator, viewer) of tenant A (`acme`: browser
 * sessions with their CSRF token, and bearer tokens of each role) and of tenant B (`beta`:
 * sessions), after A's admin made one of every object in A (so every id exists).
 *
 * 1. No action beyond the role: each call carries an unknown query parameter, which the router
 *    checks only after the role, so a call the role allows answers 400 for that parameter and
 *    changes nothing, and one it does not allow answers 403 naming the role it needs. The
 *    expected answer comes from the operation's own `x-nubis-role`, and the roles are checked
 *    against what the issue asks: a viewer may call no unsafe operation but its own session's
 *    and tokens'; an operator no admin one; nobody of A or B the installation's.
 * 2. No cross-tenant read or write: every role of B calls every operation with A's names
 *    (the rules of test/helpers/openapi-walk.ts probeAcross); A's view is the same before,
 *    between and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir } from '../helpers/control-plane.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { login, type BrowserSession } from '../helpers/sessions.js';
import { makeObjects, operationsOf, ownerTemplate, probeAcross, readStreamUntil, viewOf, type Call, type Names, type OpenApiDoc, type Operation } from '../helpers/openapi-walk.js';

const ROLES = ['viewer', 'operator', 'admin'] as const;
type Role = (typeof ROLES)[number];
const rank = (r: string): number => ROLES.indexOf(r as Role);

/** The unsafe operations a viewer may call: its own session and personal tokens, nothing of the tenant. */
const SELF_SERVICE = ['logout', 'changePassword', 'createPersonalToken', 'deletePersonalToken'].sort();
/** Operations the issue puts above viewer (operator: apply, scale, workflows, run operations) and above operator. */
const MUST_BE_OPERATOR = ['apply', 'scale', 'destroy', 'loadWorkflow', 'workflowBegin', 'runOperation', 'runBackup', 'restoreBackup', 'orderCatalogTemplate'];
const MUST_BE_ADMIN = ['putCloud', 'putCredential', 'deleteCredential', 'createToken', 'putUser', 'publishCatalogTemplate'];

const A: Names = {
  deployment: 'aweb', instance: 'app-1', cloud: 'acloud', credential: 'akey', secret: 'a-secret-value-93c1',
  location: 'aloc', offer: 'aoffer', image: 'aimg', definition: 'adef', rule: 'arule', schedule: 'asched',
  scrape: 'ascrape', metric: 'ametric_load', monitor: 'amon7', workflow: 'awf',
  entry: 'aentry', endorser: 'aendorser', pool: 'apool', address: '10.78.0.1',
  user: 'acme-viewer', template: 'acat', order: 'aord', run: 'op-000000000000', policy: 'anightly', backup: 'bk-000000000000',
};
const PASSWORD = 'matrix-password-5e1d';

interface Caller {
  key: string;
  tenant: string;
  role: Role;
}

test('every operation as every role of two tenants: nothing beyond the role, nothing across the wall', { timeout: 300_000 }, async (t) => {
  const data = tempDir('nubis-roles-');
  let server: ServerHandle | undefined;
  try {
    server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
    const base = server.url;
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const sessions = new Map<string, BrowserSession>();
    const tokens = new Map<string, string>();
    const call: Call = (who, method, url, body): Promise<ApiAnswer> => {
      const s = sessions.get(who);
      if (s) return s.call(method, url, body);
      return callApi(base, tokens.get(who) ?? who, method, url, body);
    };

    // users of each role in both tenants, logged in; bearer tokens of each role in A
    const callers: Caller[] = [];
    for (const tenant of ['acme', 'beta']) {
      for (const role of ROLES) {
        const user = `${tenant}-${role}`;
        const made = await callApi(base, admin, 'PUT', `/v1/users/${user}`, { password: PASSWORD, roles: { [tenant]: role } });
        assert.equal(made.status, 201, made.text);
        sessions.set(user, await login(base, user, PASSWORD));
        callers.push({ key: user, tenant, role });
      }
    }
    for (const role of ROLES) {
      const minted = await callApi(base, admin, 'POST', '/v1/tokens', { name: `tok-${role}`, tenant: 'acme', role });
      assert.equal(minted.status, 201, minted.text);
      assert.equal(minted.json.role, role);
      tokens.set(`tok-${role}`, minted.json.token);
      callers.push({ key: `tok-${role}`, tenant: 'acme', role });
    }

    // A's admin makes one of everything; the installation offers A a template, A's operator orders it
    await makeObjects(call, 'acme-admin', A);
    assert.equal((await callApi(base, admin, 'PUT', `/v1/catalog/${A.template}`, ownerTemplate(A, 'acme'))).status, 201);
    const ordered = await call('acme-operator', 'POST', `/v1/catalog/${A.template}/orders`, { deployment: A.order, params: { count: 1 } });
    assert.equal(ordered.status, 201, ordered.text);

    const doc = (await callApi(base, admin, 'GET', '/openapi.json')).json as OpenApiDoc;
    const ops = operationsOf(doc, A, 'acme');
    const authed = ops.filter((o) => o.auth);
    assert.ok(authed.length >= 100, `the document has ${authed.length} authenticated operations`);
    for (const o of authed) assert.ok(o.role !== undefined && rank(o.role) >= 0, `${o.id} declares x-nubis-role (${o.role})`);
    const roleOf = (id: string): string | undefined => authed.find((o) => o.id === id)?.role;
    for (const id of MUST_BE_OPERATOR) assert.ok(rank(roleOf(id) ?? 'x') >= rank('operator'), `${id} needs at least operator, declares ${roleOf(id)}`);
    for (const id of MUST_BE_ADMIN) assert.equal(roleOf(id), 'admin', `${id} needs admin`);
    const viewerUnsafe = authed.filter((o) => o.method !== 'GET' && o.role === 'viewer').map((o) => o.id).sort();
    assert.deepEqual(viewerUnsafe, SELF_SERVICE, 'the only unsafe operations a viewer may call are its own session\'s and tokens\'');

    const before = await viewOf(call, 'acme-admin', A);
    assert.deepEqual(await viewOf(call, 'acme-admin', A), before, 'A\'s view is stable when nobody writes');

    // 1. the role gate, for every caller and operation, without side effects
    const wrong: string[] = [];
    const counts = { allowed: 0, denied: 0 };
    for (const c of callers) {
      for (const o of authed) {
        const allowed = rank(c.role) >= rank(o.role!) && !o.installation;
        const r = await call(c.key, o.method, `${o.url}${o.url.includes('?') ? '&' : '?'}zz=1`, o.body);
        const where = `${c.key} (${c.role} of ${c.tenant}) ${o.id} [${o.role}${o.installation ? ', installation' : ''}]`;
        if (allowed) {
          counts.allowed++;
          if (r.status !== 400 || !/unknown query parameter "zz"/.test(r.json?.error?.message ?? '')) wrong.push(`${where}: expected to pass the role gate (400 for zz), got ${r.status} ${r.text.slice(0, 200)}`);
        } else {
          counts.denied++;
          if (r.status !== 403 || r.json?.error?.details?.requiredRole === undefined) wrong.push(`${where}: expected 403 for the role, got ${r.status} ${r.text.slice(0, 200)}`);
        }
      }
    }
    assert.deepEqual(wrong, [], `operations whose role gate is wrong:\n${wrong.join('\n')}`);
    assert.deepEqual(await viewOf(call, 'acme-admin', A), before, 'the role walk changed nothing of A');

    // 2. every role of B, every operation, A's names
    const failures: string[] = [];
    // B's admin last: a push lands in B's own series, which B's later callers would then list
    const bCallers = callers.filter((x) => x.tenant === 'beta').sort((x, y) => rank(x.role) - rank(y.role));
    // every caller's streams first: they replay the history before any probe wrote B's own objects under A's names
    for (const phase of ['streams', 'calls'] as const) for (const [i, c] of bCallers.entries()) {
      const stream = (o: Operation): Promise<string> => readStreamUntil(base + o.url, { cookie: sessions.get(c.key)!.cookie }, 'b-own-marker', async () => {
        assert.equal((await call('beta-admin', 'PUT', '/v1/credentials/b-own-marker', { fields: { k: 'v' } })).status, 201);
      }).finally(() => call('beta-admin', 'DELETE', '/v1/credentials/b-own-marker'));
      // the self-service operations name nothing of anyone (the user is the session's): logging out
      // would only end this caller's session, a token or password change is its own
      const last = i === bCallers.length - 1;
      for (const o of ops.filter((x) => x.stream === (phase === 'streams') && !SELF_SERVICE.includes(x.id) && (last || x.id !== 'pushMetrics'))) {
        const f = await probeAcross(call, c.key, o, A, stream);
        if (f) failures.push(`${c.key}: ${f}`);
      }
    }
    assert.deepEqual(failures, [], `operations that cross the wall:\n${failures.join('\n')}`);
    assert.deepEqual(await viewOf(call, 'acme-admin', A), before, 'A\'s objects are unchanged after every role of B called every operation');
    t.diagnostic(`${authed.length} operations × ${callers.length} callers: ${counts.allowed} passed the role gate, ${counts.denied} refused; ${ops.length} operations × 3 roles of B hold the wall`);
  } finally {
    await server?.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
