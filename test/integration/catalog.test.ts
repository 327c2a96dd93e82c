/**
 * The service catalog end to end on a real server and real processes (the `local` cloud): the
 * installation administrator publishes a template with the CLI (`nubis catalog publish`); bad
 * templates are refused with JSON paths; a tenant's viewer sees it but may not order; an order
 * with bad values is refused with each problem's JSON path and creates nothing (no deployment,
 * no order, no event); `nubis login` as the tenant's operator and `nubis catalog order --wait`
 * give a ready deployment whose endpoint answers with the ordered value, and its access details
 * (the generated credential shown once); a write-only (secret) value is sealed, shown as "***"
 * in the order and in no answer, event or log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type ServerHandle } from '../../src/cli/server-root.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi } from '../helpers/http-api.js';
import { runCli } from '../helpers/processes.js';
import { login } from '../helpers/sessions.js';

const SECRET = 'admin-pass-6b2f-never-shown';
const PASSWORD = 'operator-password-1';

const TEMPLATE = `# a one-component site: a real node process answering with its greeting
name: site
clouds: { local: { platform: local } }
nodeTemplates:
  small: { cloud: local, requirements: { cores: 1, memory: 64 } }
components:
  web:
    nodeTemplate: small
    instances: { count: "\${params.replicas}", min: 1, max: 3 }
    provides: { http: {} }
    env:
      GREETING: "hello \${params.site}"
      ADMIN_PASSWORD: { secret: "\${params.adminPassword}" }
    lifecycle:
      start: |
        exec node -e 'require("http").createServer((q, s) => s.end(process.env.GREETING)).listen(+process.env.NUBIS_PORT_HTTP, "127.0.0.1")'
      health: { http: { port: http, path: / }, interval: 1s, retries: 3 }
access:
  credentials:
    db: { generate: password, env: DB_PASSWORD, component: web }
`;

const PARAMETERS = {
  type: 'object',
  required: ['site', 'adminPassword'],
  properties: {
    site: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,30}$', description: 'the site\'s name' },
    replicas: { type: 'integer', minimum: 1, maximum: 3, default: 1 },
    adminPassword: { type: 'string', minLength: 12, maxLength: 100, writeOnly: true },
  },
};

test('catalog: publish, bad templates and orders refused precisely with nothing created, an order becomes a ready deployment with access details', { timeout: 300_000 }, async () => {
  const data = tempDir('nubis-catalog-');
  const files = tempDir('nubis-catalog-files-');
  const logs: string[] = [];
  let server: ServerHandle | undefined;
  try {
    server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', allowLocalTenants: true, log: (m) => logs.push(m) });
    const base = server.url;
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const env = { NUBIS_SERVER: base, NUBIS_TOKEN: admin, NUBIS_CONFIG: path.join(files, 'logins.json') };
    fs.writeFileSync(path.join(files, 'site.yaml'), TEMPLATE);
    fs.writeFileSync(path.join(files, 'params.json'), JSON.stringify(PARAMETERS));

    // the administrator publishes it for acme
    const pub = await runCli(['catalog', 'publish', 'site', '-f', path.join(files, 'site.yaml'), '--parameters', path.join(files, 'params.json'), '--description', 'a small site', '--tenants', 'acme'], env);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /published site v1/);

    // bad templates: each problem named by its JSON path; nothing published
    const bad = async (body: Record<string, unknown>, re: RegExp): Promise<void> => {
      const r = await callApi(base, admin, 'PUT', '/v1/catalog/broken', { spec: TEMPLATE, parameters: PARAMETERS, ...body });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.error.message, re);
    };
    await bad({ parameters: { ...PARAMETERS, properties: { ...PARAMETERS.properties, replicas: { type: 'integer', minimum: 1 } } } }, /\$\.parameters\.properties\.replicas: a integer parameter needs a maximum/);
    await bad({ parameters: { ...PARAMETERS, properties: { ...PARAMETERS.properties, site: { type: 'string', maxLength: 9, oneOf: [] } } } }, /\$\.parameters\.properties\.site\.oneOf: unsupported keyword/);
    await bad({ spec: TEMPLATE.replace('"hello ${params.site}"', '"${params.adminPassword}"') }, /\$\.spec\.components\.web\.env\.GREETING: the write-only parameter adminPassword may only be a secret env value/);
    await bad({ spec: TEMPLATE.replace('${params.site}', '${params.sitename}') }, /\$\.spec\.components\.web\.env\.GREETING: \$\{params\.sitename\} names no declared parameter/);
    const badSpec = await callApi(base, admin, 'PUT', '/v1/catalog/broken', { spec: TEMPLATE.replace('max: 3', 'max: many'), parameters: PARAMETERS });
    assert.equal(badSpec.status, 400);
    assert.equal(badSpec.json.error.code, 'SPEC_INVALID');
    assert.match(badSpec.json.error.message, /catalog\/broken\.yaml:\d+:\d+: \$\.components\.web\.instances\.max/);
    assert.equal((await callApi(base, admin, 'GET', '/v1/catalog/broken')).status, 404);

    // acme's operator and viewer, beta's viewer
    for (const [user, roles] of [['olga', { acme: 'operator' }], ['vic', { acme: 'viewer' }], ['bea', { beta: 'viewer' }]] as const) {
      assert.equal((await callApi(base, admin, 'PUT', `/v1/users/${user}`, { password: PASSWORD, roles })).status, 201);
    }
    const olga = await login(base, 'olga', PASSWORD);
    const vic = await login(base, 'vic', PASSWORD);
    const bea = await login(base, 'bea', PASSWORD);
    const shown = await vic.call('GET', '/v1/catalog/site');
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(Object.keys(shown.json.parameters.properties), ['site', 'replicas', 'adminPassword']);
    assert.equal(shown.json.spec, undefined, 'a tenant sees the form, not the spec');
    assert.equal((await bea.call('GET', '/v1/catalog/site')).status, 404, 'not offered to beta');
    assert.deepEqual((await bea.call('GET', '/v1/catalog')).json.templates, []);
    const viewerOrder = await vic.call('POST', '/v1/catalog/site/orders', { deployment: 'shop', params: { site: 'shop', adminPassword: SECRET } });
    assert.equal(viewerOrder.status, 403);
    assert.equal(viewerOrder.json.error.details.requiredRole, 'operator');

    // an order with bad values: every problem by JSON path, the secret never repeated, nothing created
    const wrong = await olga.call('POST', '/v1/catalog/site/orders', { deployment: 'shop', params: { site: 'Bad Site!', replicas: 9, adminPassword: 'short', colour: 'red' } });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.json.error.code, 'CATALOG_PARAMS_INVALID');
    assert.deepEqual(wrong.json.error.details.problems, [
      '$.params.colour: unknown parameter (the template has: site, replicas, adminPassword)',
      '$.params.site: expected a string matching /^[a-z][a-z0-9-]{0,30}$/, found string "Bad Site!"',
      '$.params.replicas: expected integer ≤ 3, found number 9',
      '$.params.adminPassword: expected a string of at least 12 characters, found a string of 5 characters',
    ]);
    const missing = await olga.call('POST', '/v1/catalog/site/orders', { deployment: 'shop', params: { site: 'shop', replicas: '2' } });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.json.error.details.problems, [
      '$.params.replicas: expected integer, found string "2"',
      '$.params.adminPassword: expected string, found nothing (the parameter is required)',
    ]);
    assert.deepEqual((await olga.call('GET', '/v1/deployments')).json.deployments, [], 'no deployment');
    assert.deepEqual((await olga.call('GET', '/v1/orders')).json.orders, [], 'no order');
    assert.deepEqual((await olga.call('GET', '/v1/events?kind=catalog.*')).json.events, [], 'no event');
    assert.equal((await olga.call('POST', '/v1/catalog/site/orders', { deployment: 'Shop', params: {} })).status, 400, 'a bad deployment name is the body\'s problem');

    // the operator logs in with the CLI and orders; --wait gives the access details once it is ready
    const cliEnv = { NUBIS_SERVER: base, NUBIS_CONFIG: env.NUBIS_CONFIG, NUBIS_PASSWORD: PASSWORD, NUBIS_TOKEN: '' };
    const li = await runCli(['login', 'olga'], cliEnv);
    assert.equal(li.code, 0, li.stderr);
    assert.match(li.stdout, /logged in to .* as olga \(operator of tenant acme\)/);
    assert.equal((fs.statSync(env.NUBIS_CONFIG).mode & 0o777).toString(8), '600');
    assert.equal(fs.readFileSync(env.NUBIS_CONFIG, 'utf8').includes(PASSWORD), false, 'the login file keeps a token, not the password');
    const listed = await runCli(['catalog', 'show', 'site'], cliEnv);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /adminPassword +string \(secret\)/);
    fs.writeFileSync(path.join(files, 'order.yaml'), `adminPassword: ${SECRET}\nsite: other\n`);
    const order = await runCli(['catalog', 'order', 'site', 'shop', '--params-file', path.join(files, 'order.yaml'), '--param', 'site=shop', '--param', 'replicas=2', '--wait'], cliEnv);
    assert.equal(order.code, 0, order.stderr);
    assert.match(order.stdout, /ordered site v1 as shop/);
    assert.match(order.stdout, /shop: ready/);
    const addresses = [...order.stdout.matchAll(/web-\d +web +http +(127\.0\.0\.1:\d+)/g)].map((m) => m[1]!);
    assert.equal(addresses.length, 2, order.stdout);
    for (const a of addresses) assert.equal(await (await fetch(`http://${a}/`)).text(), 'hello shop', 'the ordered value reached the instance');
    assert.match(order.stdout, /credentials \(ready since/);
    const dbLine = /\ndb +web +DB_PASSWORD +(\S+)/.exec(order.stdout);
    assert.ok(dbLine && dbLine[1]!.length === 24, `the generated credential is shown once: ${order.stdout}`);
    const again = await olga.call('GET', '/v1/deployments/shop/access');
    assert.equal(again.json.credentials[0].value, undefined, 'and only once');
    assert.ok(again.json.credentials[0].shownAt);
    const access = await olga.call('GET', '/v1/events?kind=deployment.access');
    assert.equal(access.json.events.length, 1);
    const orders = (await olga.call('GET', '/v1/orders')).json.orders;
    assert.equal(orders.length, 1);
    assert.deepEqual(orders[0].params, { site: 'shop', replicas: 2, adminPassword: '***' });
    assert.equal(orders[0].actor, 'user:olga');
    const again2 = await olga.call('POST', '/v1/catalog/site/orders', { deployment: 'shop', params: { site: 'shop', adminPassword: SECRET } });
    assert.equal(again2.status, 409, 'an order never changes an existing deployment');

    // the secret: in no answer, event, log line or CLI output
    const everything = [
      (await olga.call('GET', '/v1/deployments/shop')).text, (await olga.call('GET', '/v1/events?limit=10000')).text,
      (await callApi(base, admin, 'GET', '/v1/events?limit=10000')).text, (await olga.call('GET', '/v1/orders')).text, order.stdout, order.stderr, ...logs,
    ];
    assert.equal(everything.some((x) => x.includes(SECRET)), false, 'the write-only value is shown nowhere');

    // withdrawn: no new orders; the deployment stays
    const wd = await runCli(['catalog', 'withdraw', 'site'], env);
    assert.equal(wd.code, 0, wd.stderr);
    assert.equal((await olga.call('POST', '/v1/catalog/site/orders', { deployment: 'shop2', params: { site: 'x', adminPassword: SECRET } })).status, 404);
    assert.equal((await olga.call('GET', '/v1/deployments/shop')).status, 200);
    const lo = await runCli(['logout'], cliEnv);
    assert.equal(lo.code, 0, lo.stderr);
    assert.equal((await olga.call('GET', '/v1/me/tokens')).json.tokens.length, 0, 'logout revoked the CLI\'s token');
  } finally {
    if (server) {
      await destroyAll(server);
      await server.close();
    }
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(files, { recursive: true, force: true });
  }
});

/** Tears down acme's deployment (its local processes) through a token of acme. */
async function destroyAll(server: ServerHandle): Promise<void> {
  const admin = fs.readFileSync(server.tokenFile, 'utf8').trim();
  const t = await callApi(server.url, admin, 'POST', '/v1/tokens', { name: 'teardown', tenant: 'acme' });
  if (t.status !== 201) return;
  const token = t.json.token as string;
  if ((await callApi(server.url, token, 'DELETE', '/v1/deployments/shop')).status >= 300) return;
  await waitFor('shop destroyed', async () => (await callApi(server.url, token, 'GET', '/v1/deployments/shop')).status === 404, 120_000, 100).catch(() => undefined);
}
