/**
 * Spec values marked `secret` (`DB_PASSWORD: { secret: "…" }`) are sealed like credentials. On
 * a real server (server-root composition, local platform) a spec with a canary secret is
 * planned and applied through the API; its handler writes the sha256 of the value it got to a
 * file, which must match. Then the canary (and the escaped form it was written in) is searched
 * in the bytes of the database and its WAL, every API response, the CLI's output and the
 * whole event log: it must be nowhere, even though the handler also prints it (step logs mask it). Applying the same spec again changes nothing (sealing is
 * deterministic), and the stored spec text shows "***" where the value was.
 * On the tree before sealing, the spec was refused (an env value must be a string).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { freePort, runCli } from '../helpers/processes.js';
import { callApi } from '../helpers/http-api.js';
import { startServer } from '../../src/cli/server-root.js';
import { openStore } from '../../src/store/index.js';

const CANARY = `S3CR3T-${crypto.randomBytes(12).toString('hex')}`;

test('a secret env value reaches the handler and is nowhere else: not in the database, responses, CLI output or events', { timeout: 180_000 }, async () => {
  const dir = tempDir('nubis-spec-secrets-');
  const data = path.join(dir, 'data');
  const out = path.join(dir, 'hash');
  const seen: { where: string; text: string }[] = [];
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await callApi(server.url, token, method, p, body);
    seen.push({ where: `${method} ${p}`, text: r.text });
    return r;
  };
  // the value written with a YAML escape (\x2D is "-"), so the stored text cannot keep it verbatim either
  const written = CANARY.replace('-', '\\x2D');
  const spec = `name: shop
clouds: { local: { platform: local, options: { portBase: ${await freePort()} } } }
nodeTemplates: { n: { cloud: local } }
components:
  db:
    nodeTemplate: n
    env:
      OUT: ${JSON.stringify(out)}
      DB_PASSWORD: { secret: "${written}" }  # the password
    lifecycle:
      configure: 'printf %s "$DB_PASSWORD" | sha256sum | cut -d" " -f1 > "$OUT"; echo "password is $DB_PASSWORD"'
      start: 'exec sleep 600'
`;
  try {
    const plan = await api('POST', '/v1/plan', { spec });
    assert.equal(plan.status, 200, plan.text);
    const applied = await api('POST', '/v1/deployments', { spec });
    assert.equal(applied.status, 201, applied.text);
    await waitFor('the instance running', async () => (await api('GET', '/v1/deployments/shop')).json?.instances?.[0]?.phase === 'running', 60_000);
    assert.equal(fs.readFileSync(out, 'utf8').trim(), crypto.createHash('sha256').update(CANARY).digest('hex'), 'the handler got the value');

    // the same spec again: sealing gives the same text, so nothing changes
    const again = await api('POST', '/v1/plan', { spec });
    assert.equal(again.json.summary.change, 0, again.text);
    assert.equal((await api('POST', '/v1/deployments', { spec })).status, 200);

    // the stored spec while it exists: its text shows "***" where the value was
    const db = fs.readdirSync(data).filter((n) => n.startsWith('nubis.db')).map((f) => fs.readFileSync(path.join(data, f)).toString('latin1')).join('');
    assert.match(db, /DB_PASSWORD: \{ secret: "\*\*\*" \}  # the password/);
    assert.match(db, /"secretEnv":\{"DB_PASSWORD":\{"sealed":"[A-Za-z0-9+\/=]+","key":"[0-9a-f]{16}"\}\}/);
    seen.push({ where: 'the database while the deployment exists', text: db });

    // a handler printing the value: its step log shows "***"
    const logs = await api('GET', '/v1/deployments/shop/instances/db-1/logs');
    assert.equal(logs.status, 200, logs.text);
    assert.match(logs.text, /password is \*\*\*/);
    for (const p of ['/v1/deployments', '/v1/deployments/shop', '/v1/deployments/shop/endpoints', '/v1/events?limit=1000']) await api('GET', p);
    const env = { NUBIS_SERVER: server.url, NUBIS_TOKEN: token };
    for (const args of [['status', 'shop'], ['events', '--limit', '1000'], ['logs', 'shop', 'db-1']]) {
      const r = await runCli(args, env);
      seen.push({ where: `nubis ${args.join(' ')}`, text: r.stdout + r.stderr });
    }
  } finally {
    await api('DELETE', '/v1/deployments/shop').catch(() => undefined);
    await waitFor('shop destroyed', async () => (await api('GET', '/v1/deployments/shop')).status === 404, 60_000).catch(() => undefined);
    await server.close();
  }

  // the stored spec: sealed values, a redacted text
  const store = await openStore({ path: path.join(data, 'nubis.db') });
  try {
    const all = await store.events({ limit: 100_000 });
    assert.ok(all.length > 0);
    seen.push({ where: 'event log', text: JSON.stringify(all) });
  } finally {
    await store.close();
  }
  for (const f of fs.readdirSync(data).filter((n) => n.startsWith('nubis.db'))) {
    seen.push({ where: f, text: fs.readFileSync(path.join(data, f)).toString('latin1') });
  }
  for (const s of seen) {
    assert.ok(!s.text.includes(CANARY), `the secret is in ${s.where}`);
    assert.ok(!s.text.includes(written), `the secret (as written) is in ${s.where}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
