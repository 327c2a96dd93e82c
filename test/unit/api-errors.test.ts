/**
 * A corpus of bad requests: each must get the exact status and error code, a message that
 * names the problem, the error envelope and a correlation id, and never a 5xx (except the
 * one deliberate bug, which must be a logged INTERNAL that leaves the server serving).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createApiServer, ensureToken, type ApiServer, type InjectRequest } from '../../src/api/index.js';
import type { ControlPlane } from '../../src/engine/index.js';
import { startRealControlPlane, simWebSpec, waitReady, type RealControlPlane } from '../helpers/api-control-plane.js';

let real: RealControlPlane;
let api: ApiServer;
let token: string;
const logged: string[] = [];

/**
 * Fault injection, not a fake: every call goes to the real control plane, except that `apply`
 * of a (valid) spec named `boom` throws a plain Error — standing in for a genuine bug — once the
 * real control plane has validated the input (via `plan`, which changes nothing). It proves a
 * bug becomes a logged INTERNAL 500 and the server keeps serving.
 */
function withBugOnApply(cp: ControlPlane, deployment: string): ControlPlane {
  return {
    ...cp,
    async apply(input, caller) {
      if ((await cp.plan(input)).deployment === deployment) throw new Error('simulated bug');
      return cp.apply(input, caller);
    },
  };
}

before(async () => {
  real = await startRealControlPlane('nubis-api-errors-');
  api = createApiServer({ controlPlane: withBugOnApply(real.cp, 'boom'), store: real.store, log: (m) => logged.push(m) });
  token = (await ensureToken(real.store, real.dir))!;
  const res = await api.inject({ method: 'POST', url: '/v1/deployments', headers: auth(), body: { spec: simWebSpec('web') } });
  assert.equal(res.status, 201, res.body);
  await waitReady(real.cp, 'web', 2);
});

after(async () => {
  await api.close();
  await real.close();
});

function auth(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

interface Case {
  name: string;
  req: () => InjectRequest;
  status: number;
  code: string;
  message: string | RegExp;
  header?: [string, string];
}

const json = (extra: Record<string, string> = {}): Record<string, string> => auth({ 'content-type': 'application/json', ...extra });
const scale = (body: unknown): InjectRequest => ({ method: 'POST', url: '/v1/deployments/web/scale', headers: auth(), body });

const cases: Case[] = [
  // routing
  { name: 'unknown route', req: () => ({ method: 'GET', url: '/nope' }), status: 404, code: 'NOT_FOUND', message: 'no route for GET /nope' },
  { name: 'bare /v1', req: () => ({ method: 'GET', url: '/v1', headers: auth() }), status: 404, code: 'NOT_FOUND', message: 'no route' },
  { name: 'double slash', req: () => ({ method: 'GET', url: '//' }), status: 404, code: 'NOT_FOUND', message: 'no route' },
  { name: 'trailing segment', req: () => ({ method: 'GET', url: '/v1/deployments/web/extra', headers: auth() }), status: 404, code: 'NOT_FOUND', message: 'no route' },
  { name: 'asterisk target', req: () => ({ method: 'OPTIONS', url: '*' }), status: 400, code: 'REQUEST_INVALID', message: 'malformed request target' },
  { name: 'PUT on collection', req: () => ({ method: 'PUT', url: '/v1/deployments', headers: auth() }), status: 405, code: 'METHOD_NOT_ALLOWED', message: 'allowed: GET, POST', header: ['allow', 'GET, POST'] },
  { name: 'DELETE on events', req: () => ({ method: 'DELETE', url: '/v1/events' }), status: 405, code: 'METHOD_NOT_ALLOWED', message: 'DELETE is not allowed', header: ['allow', 'GET'] },
  { name: 'POST on healthz', req: () => ({ method: 'POST', url: '/healthz' }), status: 405, code: 'METHOD_NOT_ALLOWED', message: 'allowed: GET', header: ['allow', 'GET'] },
  { name: 'GET on scale', req: () => ({ method: 'GET', url: '/v1/deployments/web/scale', headers: auth() }), status: 405, code: 'METHOD_NOT_ALLOWED', message: 'allowed: POST', header: ['allow', 'POST'] },
  // auth
  { name: 'no token', req: () => ({ method: 'GET', url: '/v1/deployments' }), status: 401, code: 'UNAUTHORIZED', message: 'missing bearer token', header: ['www-authenticate', 'Bearer realm="nubis"'] },
  { name: 'wrong token', req: () => ({ method: 'GET', url: '/v1/deployments', headers: { authorization: 'Bearer not-the-token' } }), status: 401, code: 'UNAUTHORIZED', message: 'invalid bearer token' },
  { name: 'basic auth', req: () => ({ method: 'GET', url: '/v1/deployments', headers: { authorization: 'Basic dXNlcjpwYXNz' } }), status: 401, code: 'UNAUTHORIZED', message: 'not a bearer token' },
  { name: 'empty bearer', req: () => ({ method: 'GET', url: '/v1/deployments', headers: { authorization: 'Bearer ' } }), status: 401, code: 'UNAUTHORIZED', message: 'not a bearer token' },
  { name: 'SSE without token', req: () => ({ method: 'GET', url: '/v1/events/stream' }), status: 401, code: 'UNAUTHORIZED', message: 'missing bearer token' },
  { name: 'schema without token', req: () => ({ method: 'GET', url: '/v1/schema/spec.json' }), status: 401, code: 'UNAUTHORIZED', message: 'missing bearer token' },
  { name: 'plan without token is 401 before the body is read', req: () => ({ method: 'POST', url: '/v1/plan', body: 'not json' }), status: 401, code: 'UNAUTHORIZED', message: 'missing bearer token' },
  // headers
  { name: 'bad correlation id', req: () => ({ method: 'GET', url: '/v1/deployments', headers: auth({ 'x-correlation-id': 'has spaces' }) }), status: 400, code: 'REQUEST_INVALID', message: 'x-correlation-id' },
  // body: media type, size, syntax
  { name: 'no body', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'a JSON request body is required' },
  { name: 'empty JSON body', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: '' }), status: 400, code: 'REQUEST_INVALID', message: 'a JSON request body is required' },
  { name: 'text/plain', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth({ 'content-type': 'text/plain' }), body: '{}' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'found "text/plain"' },
  { name: 'body without content-type', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth(), body: '{}' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'found none' },
  { name: 'latin1 charset', req: () => ({ method: 'POST', url: '/v1/plan', headers: json({ 'content-type': 'application/json; charset=latin1' }), body: '{}' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'charset "latin1"' },
  { name: 'declared oversize', req: () => ({ method: 'POST', url: '/v1/plan', headers: json({ 'content-length': String(21 * 1024 * 1024) }), body: '{}' }), status: 413, code: 'BODY_TOO_LARGE', message: 'larger than the limit of 20971520 bytes' },
  { name: 'actual oversize', req: () => ({ method: 'POST', url: '/v1/plan', headers: json({ 'content-length': '10' }), body: Buffer.alloc(20 * 1024 * 1024 + 1, 0x20) }), status: 413, code: 'BODY_TOO_LARGE', message: 'larger than the limit' },
  { name: 'malformed JSON', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: '{"spec": }' }), status: 400, code: 'REQUEST_INVALID', message: 'not valid JSON: unexpected "}", expected a value at line 1, column 10 (position 9)' },
  { name: 'truncated JSON', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: '{"spec": "a"' }), status: 400, code: 'REQUEST_INVALID', message: 'unexpected end of input' },
  { name: 'JSON on line 2', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: '{\n  spec: 1}' }), status: 400, code: 'REQUEST_INVALID', message: 'line 2, column 3' },
  { name: 'trailing garbage', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: '{} x' }), status: 400, code: 'REQUEST_INVALID', message: 'after the JSON value' },
  { name: 'deep nesting', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: '['.repeat(200_000) }), status: 400, code: 'REQUEST_INVALID', message: 'unexpected end of input' },
  { name: 'invalid UTF-8', req: () => ({ method: 'POST', url: '/v1/plan', headers: json(), body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), status: 400, code: 'REQUEST_INVALID', message: 'not valid UTF-8' },
  // body: schema
  { name: 'array body', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth(), body: [] }), status: 400, code: 'REQUEST_INVALID', message: '$: expected object, found array of 0' },
  { name: 'null body', req: () => ({ method: 'POST', url: '/v1/deployments', headers: json(), body: 'null' }), status: 400, code: 'REQUEST_INVALID', message: '$: expected object, found null' },
  { name: 'missing spec', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth(), body: {} }), status: 400, code: 'REQUEST_INVALID', message: '$.spec: expected string, found nothing' },
  { name: 'spec not a string', req: () => ({ method: 'POST', url: '/v1/deployments', headers: auth(), body: { spec: 1 } }), status: 400, code: 'REQUEST_INVALID', message: '$.spec: expected string, found number 1' },
  { name: 'unknown body property', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth(), body: { spec: 'name: a', extra: true } }), status: 400, code: 'REQUEST_INVALID', message: '$.extra: unexpected property' },
  { name: 'artefact not base64', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth(), body: { spec: 'name: a', artefacts: { 'a.txt': '***' } } }), status: 400, code: 'REQUEST_INVALID', message: '$.artefacts["a.txt"]: expected string matching' },
  { name: 'count is a string', req: () => scale({ component: 'app', count: 'x' }), status: 400, code: 'REQUEST_INVALID', message: '$.count: expected integer ≥ 0, found string "x"' },
  { name: 'count negative', req: () => scale({ component: 'app', count: -1 }), status: 400, code: 'REQUEST_INVALID', message: '$.count: expected integer ≥ 0, found number -1' },
  { name: 'count fractional', req: () => scale({ component: 'app', count: 1.5 }), status: 400, code: 'REQUEST_INVALID', message: '$.count: expected integer ≥ 0, found number 1.5' },
  { name: 'component missing', req: () => scale({ count: 1 }), status: 400, code: 'REQUEST_INVALID', message: '$.component: expected string matching' },
  { name: 'component bad name', req: () => scale({ component: 'App!', count: 1 }), status: 400, code: 'REQUEST_INVALID', message: '$.component: expected string matching /^[a-z][a-z0-9-]{0,39}$/, found string "App!"' },
  // control-plane refusals
  { name: 'spec without name', req: () => ({ method: 'POST', url: '/v1/deployments', headers: auth(), body: { spec: 'clouds: {}\n' } }), status: 400, code: 'SPEC_INVALID', message: 'spec.yaml:1:1: $.name: expected name matching ^[a-z][a-z0-9-]{0,39}$, found missing key' },
  { name: 'spec not YAML', req: () => ({ method: 'POST', url: '/v1/plan', headers: auth(), body: { spec: 'a: [' } }), status: 400, code: 'SPEC_INVALID', message: 'spec.yaml:1:5: $: expected valid YAML, found invalid YAML (' },
  { name: 'scale out of bounds', req: () => scale({ component: 'app', count: 50 }), status: 422, code: 'SCALE_OUT_OF_BOUNDS', message: 'app must have between 0 and 10 instances; 50 is outside' },
  { name: 'scale unknown component', req: () => scale({ component: 'db', count: 1 }), status: 404, code: 'NOT_FOUND', message: 'deployment web has no component "db"; it has app' },
  // path params
  { name: 'invalid deployment name', req: () => ({ method: 'GET', url: '/v1/deployments/Bad_Name', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'path parameter "name": expected string matching' },
  { name: 'overlong deployment name', req: () => ({ method: 'GET', url: `/v1/deployments/${'a'.repeat(41)}`, headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'path parameter "name"' },
  { name: 'malformed percent-encoding', req: () => ({ method: 'GET', url: '/v1/deployments/%E0%A4%A', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'malformed percent-encoding' },
  { name: 'encoded slash in name', req: () => ({ method: 'DELETE', url: '/v1/deployments/web%2Fapp', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'found string "web/app"' },
  { name: 'unknown deployment', req: () => ({ method: 'GET', url: '/v1/deployments/missing', headers: auth() }), status: 404, code: 'NOT_FOUND', message: 'no deployment named "missing"' },
  { name: 'endpoints of unknown', req: () => ({ method: 'GET', url: '/v1/deployments/missing/endpoints', headers: auth() }), status: 404, code: 'NOT_FOUND', message: 'no deployment named "missing"' },
  { name: 'destroy unknown', req: () => ({ method: 'DELETE', url: '/v1/deployments/missing', headers: auth() }), status: 404, code: 'NOT_FOUND', message: 'no deployment named "missing"' },
  { name: 'scale unknown deployment', req: () => ({ method: 'POST', url: '/v1/deployments/missing/scale', headers: auth(), body: { component: 'app', count: 1 } }), status: 404, code: 'NOT_FOUND', message: 'no deployment named "missing"' },
  { name: 'logs of unknown instance', req: () => ({ method: 'GET', url: '/v1/deployments/web/instances/app-9/logs', headers: auth() }), status: 404, code: 'NOT_FOUND', message: 'deployment web has no instance "app-9"' },
  { name: 'logs with bad instance name', req: () => ({ method: 'GET', url: '/v1/deployments/web/instances/..%2F..%2Fetc/logs', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'path parameter "instance"' },
  // query params
  { name: 'unknown log step', req: () => ({ method: 'GET', url: '/v1/deployments/web/instances/app-1/logs?step=reboot', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "step": expected "install" or' },
  { name: 'after not an integer', req: () => ({ method: 'GET', url: '/v1/events?after=abc', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "after": expected integer ≥ 0, found string "abc"' },
  { name: 'after negative', req: () => ({ method: 'GET', url: '/v1/events?after=-3', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "after": expected integer ≥ 0, found number -3' },
  { name: 'limit zero', req: () => ({ method: 'GET', url: '/v1/events?limit=0', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "limit": expected integer ≥ 1 ≤ 10000' },
  { name: 'limit fractional', req: () => ({ method: 'GET', url: '/v1/events?limit=1.5', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "limit"' },
  { name: 'limit huge', req: () => ({ method: 'GET', url: '/v1/events?limit=99999999999999999999', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "limit"' },
  { name: 'unknown query parameter', req: () => ({ method: 'GET', url: '/v1/events?bogus=1', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'unknown query parameter "bogus"' },
  { name: 'repeated query parameter', req: () => ({ method: 'GET', url: '/v1/events?after=1&after=2', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: '"after" is given more than once' },
  { name: 'bad deployment filter', req: () => ({ method: 'GET', url: '/v1/events?deployment=Web!', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "deployment"' },
  { name: 'query on a route without any', req: () => ({ method: 'GET', url: '/openapi.json?x=1' }), status: 400, code: 'REQUEST_INVALID', message: 'this operation takes none' },
  // SSE
  { name: 'SSE after negative', req: () => ({ method: 'GET', url: '/v1/events/stream?after=-1', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "after"' },
  { name: 'SSE unknown parameter', req: () => ({ method: 'GET', url: '/v1/events/stream?limit=5', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'unknown query parameter "limit"' },
  { name: 'SSE bad Last-Event-ID', req: () => ({ method: 'GET', url: '/v1/events/stream', headers: auth({ 'last-event-id': 'abc' }) }), status: 400, code: 'REQUEST_INVALID', message: 'header "Last-Event-ID"' },
  { name: 'SSE bad kind filter', req: () => ({ method: 'GET', url: '/v1/events/stream?kind=NODE%20STATE', headers: auth() }), status: 400, code: 'REQUEST_INVALID', message: 'query parameter "kind"' },
];

test(`corpus has at least 35 bad requests (${cases.length})`, () => {
  assert.ok(cases.length >= 35);
});

for (const c of cases) {
  test(`bad request: ${c.name} → ${c.status} ${c.code}`, async () => {
    const res = await api.inject(c.req());
    assert.equal(res.status, c.status, res.body);
    assert.ok(res.status < 500);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.ok(res.headers['x-correlation-id'], 'correlation id echoed');
    const body = res.json<{ error: { code: string; message: string; retryable: boolean } }>();
    assert.equal(body.error.code, c.code);
    assert.equal(typeof body.error.retryable, 'boolean');
    if (typeof c.message === 'string') assert.ok(body.error.message.includes(c.message), `message ${JSON.stringify(body.error.message)} should include ${JSON.stringify(c.message)}`);
    else assert.match(body.error.message, c.message);
    if (c.header) assert.equal(res.headers[c.header[0]], c.header[1]);
  });
}

test('a client correlation id is echoed back', async () => {
  const res = await api.inject({ method: 'GET', url: '/v1/deployments/missing', headers: auth({ 'x-correlation-id': 'req-42' }) });
  assert.equal(res.status, 404);
  assert.equal(res.headers['x-correlation-id'], 'req-42');
});

test('a bug inside the control plane is a logged INTERNAL 500 and the server keeps serving', async () => {
  logged.length = 0;
  const res = await api.inject({ method: 'POST', url: '/v1/deployments', headers: auth({ 'x-correlation-id': 'bug-1' }), body: { spec: simWebSpec('boom') } });
  assert.equal(res.status, 500);
  const body = res.json<{ error: { code: string; message: string; retryable: boolean } }>();
  assert.equal(body.error.code, 'INTERNAL');
  assert.equal(body.error.retryable, true);
  assert.ok(!body.error.message.includes('simulated bug'), 'internals are not shown to the client');
  assert.ok(logged.some((l) => l.includes('bug-1') && l.includes('simulated bug')));
  assert.equal((await api.inject({ method: 'GET', url: '/healthz' })).status, 200);
  assert.equal((await api.inject({ method: 'GET', url: '/v1/deployments/boom', headers: auth() })).status, 404, 'the failed apply persisted nothing');
  assert.equal((await api.inject({ method: 'GET', url: '/v1/deployments/web', headers: auth() })).status, 200);
});

test('over a real socket: streamed oversize body, malformed HTTP and header overflow get JSON 4xx', async () => {
  const small = createApiServer({ controlPlane: real.cp, store: real.store, bodyLimit: 1024, log: () => {} });
  const { port } = await small.listen(0);
  try {
    // Chunked body (no content-length) that grows past the limit.
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/plan', headers: { ...auth(), 'content-type': 'application/json' } }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.write('{"spec": "' + 'x'.repeat(4096));
      req.end('"}');
    });
    assert.equal(status.status, 413);
    assert.equal(JSON.parse(status.body).error.code, 'BODY_TOO_LARGE');

    const raw = (text: string): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(text));
        let b = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => (b += d));
        s.on('close', () => resolve(b));
        s.on('error', () => resolve(b));
      });
    const garbage = await raw('THIS IS NOT HTTP\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400/);
    assert.match(garbage, /"code":"REQUEST_INVALID"/);
    const huge = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431/);
    // Still serving.
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(ok.status, 200);
  } finally {
    await small.close();
  }
});
