/**
 * The console's API types cannot drift from the server: src/web/api-types.ts must equal a
 * fresh generation from the document a real API serves (GET /openapi.json), and the document
 * the generator script builds offline must be that same document.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createApiServer, offlineOpenApi, openApiToTypeScript, type ApiServer } from '../../src/api/index.js';
import { startRealControlPlane, type RealControlPlane } from '../helpers/api-control-plane.js';
import { ROOT } from '../helpers/processes.js';

let real: RealControlPlane;
let api: ApiServer;
let served: { info: { version: string } };

before(async () => {
  real = await startRealControlPlane('nubis-web-types-');
  api = createApiServer({ controlPlane: real.cp, store: real.store });
  const res = await api.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.status, 200);
  served = res.json();
});

after(async () => {
  await api?.close();
  await real?.close();
});

test('src/web/api-types.ts is what the served OpenAPI document generates (run npm run gen:api-types after changing the API)', () => {
  const checkedIn = fs.readFileSync(path.join(ROOT, 'src/web/api-types.ts'), 'utf8');
  const fresh = openApiToTypeScript(served);
  if (checkedIn !== fresh) {
    const a = checkedIn.split('\n');
    const b = fresh.split('\n');
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    assert.fail(`src/web/api-types.ts differs from the served document at line ${i + 1}:\n  file:  ${a[i] ?? '(end)'}\n  fresh: ${b[i] ?? '(end)'}\nrun: npm run gen:api-types`);
  }
});

test('the offline document (what the generator script reads) is the served one', () => {
  const offline = offlineOpenApi(served.info.version);
  assert.deepEqual(offline, served);
});

test('every operation of the document is in the generated table with its method and path', () => {
  const text = openApiToTypeScript(served);
  const doc = served as unknown as { paths: Record<string, Record<string, { operationId: string }>> };
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(methods)) {
      assert.ok(text.includes(`  ${op.operationId}: { method: "${m.toUpperCase()}", path: ${JSON.stringify(p)}`), `${op.operationId} in OPERATIONS`);
    }
  }
});

test('the generator renders the schema constructs the API uses', () => {
  const text = openApiToTypeScript({
    paths: {},
    components: {
      schemas: {
        A: { type: 'object', required: ['x'], properties: { x: { type: 'integer' }, 'y-z': { anyOf: [{ const: 'a' }, { const: 'b' }] }, t: { type: 'array', items: [{ type: 'string' }, { type: 'number' }] } } },
        M: { type: 'object', patternProperties: { '^(.*)$': { type: 'string' } } },
        R: { $id: 'Node', type: 'object', required: ['kids'], properties: { kids: { type: 'array', items: { $ref: 'Node' } } } },
        U: {},
        N: { type: ['string', 'null'] },
      },
    },
  });
  assert.match(text, /export type A = \{\n  x: number;\n  "y-z"\?: "a" \| "b";\n  t\?: \[string, number\];\n\};/);
  assert.match(text, /export type M = \{\n  \[key: string\]: string;\n\};/);
  assert.match(text, /export type Node = \{\n  kids: Node\[\];\n\};/);
  assert.match(text, /export type R = Node;/);
  assert.match(text, /export type U = unknown;/);
  assert.match(text, /export type N = string \| null;/);
});
