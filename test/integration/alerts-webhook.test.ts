/**
 * Alerts through the server's API and the CLI, to a webhook receiver in this test on a free
 * loopback port that checks every request's HMAC-SHA256 signature (computed here with
 * node:crypto, not with Nubis's code) and counts deliveries. A sim cloud that answers every
 * create with 402 gives the engine's non-retryable provider error; the receiver fails twice
 * with 503, then accepts: exactly one accepted `alert.opened` with the 402 explanation and
 * runbook link, the same delivery id on all three tries; destroying the deployment deletes
 * the failed node and sends exactly one `alert.resolved`. The channel's secret is sealed at
 * rest (not in the database file, nor in any response or event), and another tenant sees
 * none of it (tenant wall).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { startServer } from '../../src/cli/server-root.js';
import { callApi } from '../helpers/http-api.js';
import { runProcess } from '../helpers/processes.js';
import { paymentRequiredSpec } from '../helpers/alerts.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SECRET = 'whsec-8c1f0e2b9d7a4c6e';

interface Received {
  body: any;
  raw: string;
  delivery: string;
  signatureOk: boolean;
  answered: number;
}

function receiver(failFirst: number): Promise<{ url: string; got: Received[]; close(): Promise<void>; next(n: number): Promise<void> }> {
  const got: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let failures = failFirst;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const header = String(req.headers['nubis-signature'] ?? '');
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
      const mac = m ? crypto.createHmac('sha256', SECRET).update(`${m[1]}.${raw}`).digest('hex') : '';
      const fresh = m ? Math.abs(Date.now() / 1000 - Number(m[1])) < 300 : false;
      const answered = failures-- > 0 ? 503 : 200;
      got.push({ body: JSON.parse(raw), raw, delivery: String(req.headers['nubis-delivery'] ?? ''), signatureOk: !!m && fresh && mac === m[2], answered });
      res.writeHead(answered).end();
      for (const w of waiters.splice(0)) if (got.filter((g) => g.answered === 200).length >= w.n) w.resolve(); else waiters.push(w);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}/hooks/nubis`,
        got,
        close: () => new Promise((r) => server.close(() => r())),
        next: (n) => new Promise((r) => {
          if (got.filter((g) => g.answered === 200).length >= n) r();
          else waiters.push({ n, resolve: r });
        }),
      });
    });
  });
}

function nubis(args: string[], server: string, data: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [CLI, ...args], { env: { NUBIS_SERVER: server, NUBIS_DATA: data } });
}

test('a provider error alerts once through a signed, retried webhook, resolves once, and stays in its tenant', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-alerts-it-'));
  const hook = await receiver(2);
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  try {
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const call = (method: string, p: string, body?: unknown, token = admin) => callApi(server.url, token, method, p, body);

    // bad input: precise errors, nothing stored
    const bad = await call('PUT', '/v1/alerts/channels/hook', { kind: 'webhook', secret: SECRET });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error.message, /\$\.url: expected the URL to POST to, found missing key/);
    assert.equal((await call('PUT', '/v1/alerts/rules/mine', { on: { events: ['x.y'] }, channels: ['nope'] })).status, 400);

    const put = await call('PUT', '/v1/alerts/channels/hook', { kind: 'webhook', url: `${hook.url}?token=abc`, secret: SECRET, default: true });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.json.secret, 'sealed');
    assert.equal(put.json.url, hook.url, 'the query (may hold a token) is not shown');
    assert.ok(!put.text.includes(SECRET));

    // a sim cloud whose creates fail with 402: the node fails with alert: true
    const spec = paymentRequiredSpec('shop');
    assert.equal((await call('POST', '/v1/deployments', { spec, file: 'shop.yaml' })).status, 201);
    await hook.next(1);
    const opened = hook.got.filter((g) => g.body.type === 'alert.opened');
    assert.equal(opened.length, 3, 'two 503s, then accepted');
    assert.deepEqual(opened.map((g) => g.answered), [503, 503, 200]);
    assert.ok(hook.got.every((g) => g.signatureOk), 'every request carries a valid, fresh HMAC-SHA256 signature');
    assert.equal(new Set(opened.map((g) => g.delivery)).size, 1, 'one delivery id across the retries');
    const alert = opened[2]!.body.alert;
    assert.equal(alert.rule, 'provider-error');
    assert.equal(alert.explanation.code, 'CLOUD_PAYMENT_REQUIRED');
    assert.match(alert.explanation.whatToDo, /Top up the account/);
    assert.equal(alert.explanation.runbookUrl, 'docs/runbooks.md#cloud-http-402');
    assert.match(opened[2]!.body.text, /What to do: Top up/);

    // the API and the CLI list it; more failures of the node do not alert again
    const list = await call('GET', '/v1/alerts');
    assert.equal(list.json.alerts.length, 1);
    assert.equal(list.json.alerts[0].id, alert.id);
    const cli = await nubis(['alerts', 'list'], server.url, data);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${alert.id}\\s+open\\s+critical\\s+provider-error`));

    // tenant wall
    const minted = await call('POST', '/v1/tokens', { name: 'ci', tenant: 'acme', role: 'admin' });
    const acme = minted.json.token as string;
    assert.deepEqual((await call('GET', '/v1/alerts?state=all', undefined, acme)).json.alerts, []);
    assert.equal((await call('GET', `/v1/alerts/${alert.id}`, undefined, acme)).status, 404);
    assert.equal((await call('POST', `/v1/alerts/${alert.id}/ack`, {}, acme)).status, 404);
    assert.deepEqual((await call('GET', '/v1/alerts/channels', undefined, acme)).json.channels, []);
    assert.equal((await call('POST', '/v1/alerts/test', { channel: 'hook' }, acme)).status, 404);
    const local = await call('PUT', '/v1/alerts/channels/hook', { kind: 'webhook', url: hook.url, secret: 'x' }, acme);
    assert.equal(local.status, 403, 'another tenant may not point a channel at this host');
    assert.match(local.json.error.message, /only the administrator's channels may reach/);
    assert.equal((await call('PUT', '/v1/alerts/channels/mail', { kind: 'smtp', host: '10.1.2.3', from: 'a@b.c', to: ['d@e.f'] }, acme)).status, 403);
    const pub = await call('PUT', '/v1/alerts/channels/ext', { kind: 'webhook', url: 'https://hooks.example.com/x', secret: 'x' }, acme);
    assert.equal(pub.status, 201, pub.text);
    assert.deepEqual((await call('GET', '/v1/alerts/channels')).json.channels.map((c: { name: string }) => c.name), ['hook'], 'the administrator does not see acme\'s channel');

    // destroy: the failed node is deleted, the alert resolves, one resolved message
    assert.equal((await call('DELETE', '/v1/deployments/shop')).status, 202);
    await hook.next(2);
    const resolved = hook.got.filter((g) => g.body.type === 'alert.resolved');
    assert.equal(resolved.length, 1);
    assert.equal(resolved[0]!.body.alert.id, alert.id);
    assert.match(resolved[0]!.body.subject, /^\[RESOLVED\]/);
    assert.deepEqual((await call('GET', '/v1/alerts')).json.alerts, []);

    // a test alert through the channel
    const t = await call('POST', '/v1/alerts/test', { channel: 'hook' });
    assert.equal(t.json.delivered, true, t.text);
    assert.equal(hook.got.filter((g) => g.body.type === 'alert.test').length, 1);
    assert.equal(hook.got.filter((g) => g.body.type === 'alert.opened' && g.answered === 200).length, 1, 'exactly one accepted per alert');

    // the secret never appears in events, responses or the database file
    const events = await call('GET', '/v1/events?limit=10000');
    assert.ok(!events.text.includes(SECRET));
    assert.ok(events.json.events.some((e: { kind: string }) => e.kind === 'alert.delivered'));
    assert.ok(!(await call('GET', '/v1/alerts/channels')).text.includes(SECRET));
    for (const f of fs.readdirSync(data).filter((n) => n.startsWith('nubis.db'))) assert.ok(!fs.readFileSync(path.join(data, f)).includes(SECRET), `${f} holds no plain secret`);
  } finally {
    await server.close();
    await hook.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
