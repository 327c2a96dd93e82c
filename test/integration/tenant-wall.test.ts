/**
 * The tenant wall, generated from the OpenAPI document: tenant B (`default`, the admin) creates
 * one of every object through the API (a deployment with instances, events and step logs, a
 * cloud with a location, offer and image, a credential, a metric definition, a rule, a
 * schedule, a scrape target, pushed metrics, a workflow, an operation run, a backup, an endorsed image entry, quotas, an address pool, a leak policy and budgets, a user, a catalog
 * template offered to B only and B's order of it); then tenant A (`acme`, an admin token) calls
 * EVERY operation of /openapi.json with B's names in its path, query and body (the rules of
 * each answer: probeAcross in test/helpers/openapi-walk.ts). B's view, taken before and after,
 * must be identical: 0 reads and 0 writes across the wall.
 *
 * An operation the tables cannot fill (a new path, parameter or body schema) fails the test,
 * so no operation escapes the matrix. test/integration/roles-matrix.test.ts walks the same
 * document as each role of two other tenants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';
import { makeObjects, operationsOf, ownerTemplate, probeAcross, readStreamUntil, streamsFirst, viewOf, OWN_TENANT_WRITES, type Call, type Names, type OpenApiDoc } from '../helpers/openapi-walk.js';


/** Names only B has: none may appear in an answer A gets (other than echoing A's own request). */
const B: Names = {
  deployment: 'bweb', instance: 'app-1', cloud: 'bcloud', credential: 'bkey', secret: 'b-secret-value-7f3a',
  location: 'bloc', offer: 'boffer', image: 'bimg', definition: 'bdef', rule: 'brule', schedule: 'bsched',
  scrape: 'bscrape', metric: 'bmetric_load', monitor: 'bmon', workflow: 'bwf',
  entry: 'bentry', endorser: 'bendorser', pool: 'bpool', address: '10.77.0.1',
  user: 'buser', template: 'bcat', order: 'bord', run: 'op-000000000000', policy: 'bnightly', backup: 'bk-000000000000',
};

test('tenant A reads and writes none of tenant B\'s objects through any operation of the OpenAPI document', { timeout: 240_000 }, async (t) => {
  const data = tempDir('nubis-wall-');
  const backupDir = tempDir('nubis-wall-backups-');
  let server: ServerHandle | undefined;
  try {
    server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
    const base = server.url;
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const call: Call = (token, method, url, body) => callApi(base, token, method, url, body);
    const must = async (method: string, url: string, body: unknown, status: number[]): Promise<void> => {
      const r = await call(admin, method, url, body);
      assert.ok(status.includes(r.status), `B: ${method} ${url}: ${r.status} ${r.text}`);
    };

    // B (the admin tenant) makes one of everything
    await makeObjects(call, admin, B, backupDir, { controls: true });
    await must('PUT', `/v1/users/${B.user}`, { password: 'b-user-password', roles: { default: 'viewer' } }, [201]);
    await must('PUT', `/v1/catalog/${B.template}`, ownerTemplate(B, 'default'), [201]);
    await must('POST', `/v1/catalog/${B.template}/orders`, { deployment: B.order, params: { count: 1 } }, [201]);

    // the admin mints A's token
    const minted = await call(admin, 'POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
    assert.equal(minted.status, 201, minted.text);
    const a: string = minted.json.token;

    const doc = (await call(admin, 'GET', '/openapi.json')).json as OpenApiDoc;
    const ops = operationsOf(doc, B, 'default');
    assert.ok(ops.length >= 50, `the document has ${ops.length} operations`);
    for (const id of OWN_TENANT_WRITES) assert.ok(ops.some((o) => o.id === id), `operation ${id} is in the document`);

    const before = await viewOf(call, admin, B);
    for (const [u, v] of Object.entries(before)) assert.equal((v as { status?: number }).status, undefined, `B reads ${u}: ${JSON.stringify(v)}`);
    assert.deepEqual(await viewOf(call, admin, B), before, 'B\'s view is stable when nobody writes');

    // a stream is read until A's own event arrives
    const stream = (o: { url: string }): Promise<string> => readStreamUntil(base + o.url, { authorization: `Bearer ${a}` }, 'a-own-marker', async () => {
      assert.equal((await call(a, 'PUT', '/v1/credentials/a-own-marker', { fields: { k: 'v' } })).status, 201);
    }).finally(() => call(a, 'DELETE', '/v1/credentials/a-own-marker'));
    const failures: string[] = [];
    for (const o of streamsFirst(ops)) {
      const f = await probeAcross(call, a, o, B, stream, OWN_TENANT_WRITES);
      if (f) failures.push(f);
    }
    const after = await viewOf(call, admin, B);
    assert.deepEqual(failures, [], `operations that cross the wall:\n${failures.join('\n')}`);
    assert.deepEqual(after, before, 'B\'s objects are unchanged after A called every operation');
    t.diagnostic(`${ops.length} operations hold the wall`);
  } finally {
    await server?.close();
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(backupDir, { recursive: true, force: true });
  }
});
