/** The OpenAPI document is valid-looking 3.1 and documents exactly the operations the router serves. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { startRealControlPlane, type RealControlPlane } from '../helpers/api-control-plane.js';

interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, {
    operationId: string;
    parameters: { name: string; in: string; required: boolean; schema: object }[];
    requestBody?: { content: Record<string, { schema: { $ref: string } }> };
    responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
    security?: unknown[];
  }>>;
  components: { schemas: Record<string, { type?: string }>; securitySchemes: Record<string, { type: string; scheme?: string }> };
  security: unknown[];
}

let real: RealControlPlane;
let api: ApiServer;
let doc: Doc;
let routes: { method: string; path: string; auth: boolean }[];

before(async () => {
  real = await startRealControlPlane('nubis-api-openapi-');
  api = createApiServer({ controlPlane: real.cp, store: real.store });
  const res = await api.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.status, 200);
  doc = res.json<Doc>();
  routes = [...api.routes];
});

after(async () => {
  await api?.close();
  await real?.close();
});

test('the document is OpenAPI 3.1 with info, paths, schemas and bearer security', async () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.title, 'Nubis API');
  assert.ok(doc.info.version);
  assert.deepEqual(doc.components.securitySchemes['bearer'], { type: 'http', scheme: 'bearer', description: 'the token in <data>/token, one from POST /v1/tokens, or a personal one (nubis login)' });
  assert.deepEqual(doc.components.securitySchemes['session'], { type: 'apiKey', in: 'cookie', name: 'nubis_session', description: 'from POST /v1/login; unsafe methods also need the header X-CSRF-Token' });
  assert.deepEqual(doc.security, [{ bearer: [] }, { session: [] }]);
  // every authenticated operation says the least role it needs (src/api/access-control.ts enforces it)
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops) as { security?: unknown[]; 'x-nubis-role'?: string; operationId: string }[]) {
      if (op.security === undefined) assert.ok(['viewer', 'operator', 'admin'].includes(op['x-nubis-role'] ?? ''), `${op.operationId} has x-nubis-role`);
      else assert.equal(op['x-nubis-role'], undefined);
    }
  }
  assert.equal(JSON.stringify(doc).includes('[Symbol'), false);
  const ids = new Set<string>();
  for (const [p, ops] of Object.entries(doc.paths)) {
    assert.ok(p.startsWith('/'), p);
    for (const [method, op] of Object.entries(ops)) {
      assert.ok(['get', 'post', 'put', 'delete'].includes(method), method);
      assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
      ids.add(op.operationId);
      // Every template variable is a declared path parameter, and vice versa.
      const vars = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = op.parameters.filter((x) => x.in === 'path').map((x) => x.name);
      assert.deepEqual(declared.sort(), vars.sort(), `${method} ${p} path parameters`);
      for (const param of op.parameters) assert.ok(param.schema && typeof param.schema === 'object');
      assert.ok(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), `${method} ${p} has a success response`);
      // Every $ref resolves.
      const refs = JSON.stringify(op).match(/#\/components\/schemas\/\w+/g) ?? [];
      for (const r of refs) assert.ok(doc.components.schemas[r.split('/').pop()!], `${r} resolves`);
    }
  }
});

test('every route the router knows is in the document, and every documented operation is routed', async () => {
  const routed = new Set(routes.map((r) => `${r.method.toLowerCase()} ${r.path}`));
  const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
  assert.deepEqual([...documented].sort(), [...routed].sort());
  for (const want of [
    'post /v1/plan', 'post /v1/deployments', 'get /v1/deployments', 'get /v1/deployments/{name}',
    'get /v1/deployments/{name}/endpoints', 'post /v1/deployments/{name}/scale', 'delete /v1/deployments/{name}',
    'get /v1/deployments/{name}/instances/{instance}/logs', 'get /v1/events', 'get /v1/events/stream',
    'get /v1/schema/spec.json', 'get /openapi.json', 'get /healthz',
  ]) assert.ok(documented.has(want), want);
  // Public operations opt out of security; the rest inherit the bearer requirement.
  for (const r of routes) {
    const op = doc.paths[r.path]![r.method.toLowerCase()]!;
    assert.equal(op.security !== undefined && op.security.length === 0, !r.auth, `${r.method} ${r.path}`);
  }
});

test('request bodies and responses reference the TypeBox schemas', async () => {
  const scale = doc.paths['/v1/deployments/{name}/scale']!['post']!;
  assert.equal(scale.requestBody?.content['application/json']?.schema.$ref, '#/components/schemas/ScaleRequest');
  const count = (doc.components.schemas['ScaleRequest'] as { properties: { count: { type: string; minimum: number } } }).properties.count;
  assert.deepEqual([count.type, count.minimum], ['integer', 0]);
  const apply = doc.paths['/v1/deployments']!['post']!;
  assert.equal(apply.requestBody?.content['application/json']?.schema.$ref, '#/components/schemas/SpecInput');
  assert.equal(apply.responses['201']?.content?.['application/json']?.schema.$ref, '#/components/schemas/DeploymentView');
  assert.equal(doc.paths['/v1/deployments/{name}']!['delete']!.responses['202']?.content?.['application/json']?.schema.$ref, '#/components/schemas/DeploymentView');
  assert.ok(doc.paths['/v1/events/stream']!['get']!.responses['200']?.content?.['text/event-stream']);
  const events = doc.paths['/v1/events']!['get']!.parameters.map((p) => p.name).sort();
  assert.deepEqual(events, ['actor', 'after', 'correlationId', 'deployment', 'kind', 'limit', 'since', 'target', 'tenant', 'until']);
});
