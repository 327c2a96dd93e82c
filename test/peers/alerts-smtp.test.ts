/**
 * Alert mail through a real SMTP server from Debian: aiosmtpd (`python3-aiosmtpd`, installed
 * with apt-get when root) on a free loopback port with its Mailbox handler, which writes each
 * message it accepts into a Maildir. A sim cloud answering every create with 402 gives the
 * engine's non-retryable provider error; the test reads the delivered mail from the Maildir
 * and checks its subject, the explanation and what to do, and the runbook link (with
 * `--runbook-url`). Then `nubis alerts test mail` through the CLI delivers a [TEST] message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/cli/server-root.js';
import { callApi } from '../helpers/http-api.js';
import { freePort, runProcess } from '../helpers/processes.js';
import { paymentRequiredSpec } from '../helpers/alerts.js';
import { ensureDebianPackage, startPeer, type PeerProcess } from '../helpers/peers-debian.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PYTHON = '/usr/bin/python3';
const RUNBOOKS = 'https://git.example.com/nubis/blob/main/docs/runbooks.md';

/** Resolves once the server greets with 220 (its readiness signal); rejects when the process has exited. */
async function greeting(port: number, peer: PeerProcess): Promise<void> {
  for (;;) {
    if (peer.child.exitCode !== null) throw new Error(`aiosmtpd exited: ${peer.output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('data', (d) => {
        c.end();
        resolve(d.toString().startsWith('220'));
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The mails in a Maildir, waiting (by polling the directory) until there are `n`. */
async function mails(dir: string, n: number, peer: PeerProcess): Promise<string[]> {
  for (;;) {
    const fresh = path.join(dir, 'new');
    const files = fs.existsSync(fresh) ? fs.readdirSync(fresh).sort() : [];
    if (files.length >= n) return files.map((f) => fs.readFileSync(path.join(fresh, f), 'utf8'));
    if (peer.child.exitCode !== null) throw new Error(`aiosmtpd exited: ${peer.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The decoded text of a simple (single-part, quoted-printable or 7bit) message body. */
function bodyOf(mail: string): string {
  const [head, ...rest] = mail.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n');
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head ?? '')) {
    return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return body;
}

const header = (mail: string, name: string): string | undefined => new RegExp(`^${name}: (.*(?:\\r?\\n[ \\t].*)*)`, 'mi').exec(mail)?.[1]?.replace(/\r?\n[ \t]+/g, ' ');

test('an alert mail through a real SMTP server says what broke, what to do, and links the runbook', async () => {
  ensureDebianPackage(PYTHON, 'python3');
  ensureDebianPackage('/usr/lib/python3/dist-packages/aiosmtpd/__main__.py', 'python3-aiosmtpd');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-alerts-smtp-'));
  const maildir = path.join(work, 'Maildir');
  const data = path.join(work, 'data');
  const port = await freePort();
  const smtp = startPeer(PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir]);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await greeting(port, smtp);
    server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1', runbookUrl: RUNBOOKS });
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const call = (method: string, p: string, body?: unknown) => callApi(server!.url, admin, method, p, body);
    const ch = await call('PUT', '/v1/alerts/channels/mail', { kind: 'smtp', host: '127.0.0.1', port, tls: 'none', from: 'nubis@example.com', to: ['ops@example.com'], default: true });
    assert.equal(ch.status, 201, ch.text);
    const spec = paymentRequiredSpec('shop');
    assert.equal((await call('POST', '/v1/deployments', { spec, file: 'shop.yaml' })).status, 201);
    const [mail] = await mails(maildir, 1, smtp);
    assert.ok(mail);
    assert.match(header(mail, 'Subject') ?? '', /^\[CRITICAL\] cloud error that is not retried: shop\/app-1$/);
    assert.equal(header(mail, 'To'), 'ops@example.com');
    const text = bodyOf(mail);
    assert.match(text, /What broke: create failed/);
    assert.match(text, /What it means: Payment Required: the account has not enough funds/);
    assert.match(text, /What to do: Top up the account now/);
    assert.ok(text.includes(`Runbook: ${RUNBOOKS}#cloud-http-402`), text);
    assert.match(text, /Error code: CLOUD_PAYMENT_REQUIRED \(HTTP 402\)/);
    assert.match(text, /acknowledge with: nubis alerts ack al-[0-9a-f]{16}/);
    // the section the link points at exists in the repository's runbooks
    const runbooks = fs.readFileSync(new URL('../../../docs/runbooks.md', import.meta.url), 'utf8');
    assert.match(runbooks, /^### cloud-http-402$/m);

    // a test alert through the CLI
    const out = await runProcess(process.execPath, [CLI, 'alerts', 'test', 'mail'], { env: { NUBIS_SERVER: server.url, NUBIS_DATA: data } });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /mail: test alert delivered/);
    const all = await mails(maildir, 2, smtp);
    assert.equal(all.length, 2, 'the alert once, then the test');
    assert.ok(all.some((m) => /^\[TEST\] test alert through mail$/.test(header(m, 'Subject') ?? '')));
  } finally {
    await server?.close();
    await smtp.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
