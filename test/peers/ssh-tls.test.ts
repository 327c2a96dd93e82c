/**
 * The ssh driver's agent transport (issue 7, item 9) against a real sshd host in a network
 * namespace (test/fixtures/ssh-hosts/sshd-hosts.sh): the agent it starts serves only HTTPS with
 * mutual TLS, its certificate is of this installation's CA and names the node, its key is on the
 * host with mode 0600, and a client without the control plane's certificate is refused.
 * Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { loadAgentCa } from '../../src/agent/index.js';
import { createRealClock } from '../../src/clock/index.js';
import { createSshDriver } from '../../src/drivers/ssh/index.js';
import { sshHostsUp } from '../helpers/ssh-hosts.js';

const sig = (): AbortSignal => new AbortController().signal;

/** Status of GET /healthz with these client options, or the connection error's message. */
function get(url: string, opts: Record<string, unknown>): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false, timeout: 5000, ...opts }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

test('ssh driver: the agent speaks mutual TLS with a node certificate of the installation CA', { timeout: 120_000 }, async () => {
  const f = await sshHostsUp(1);
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-ssh-tls-'));
  const d = createSshDriver({
    cloud: 'tls',
    options: { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: f.privateKey, knownHostsPath: path.join(data, 'known_hosts'), killGraceMs: 500 },
    dataDir: data,
    clock: createRealClock(),
  });
  try {
    const node = await d.create({ key: 't/n-1', tags: { 'nubis-owner': 'tls-test', 'nubis-key': 't/n-1' }, idempotencyToken: 'tls-1', requirements: {} }, sig());
    const url = node.agent!.url;
    assert.equal(url, `https://${f.hosts[0]!.address}:7430`);
    assert.equal((await d.agent(node).status(sig())).node, node.id, 'the driver reaches its agent over TLS');

    const ca = loadAgentCa(data);
    const mine = ca.clientTls(node.id);
    // what the agent presents: a certificate of this CA naming the node
    const presented = await new Promise<X509Certificate>((resolve, reject) => {
      const req = request(`${url}/healthz`, { agent: false, ca: mine.ca, cert: mine.cert, key: mine.key, checkServerIdentity: () => undefined }, (res) => {
        const raw = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
        res.resume();
        if (raw) resolve(raw);
        else reject(new Error('no peer certificate'));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(presented.subject, `CN=${node.id}`);
    assert.equal(presented.verify(new X509Certificate(ca.caPem).publicKey), true);

    const noCert = await get(url, { ca: mine.ca });
    assert.equal(typeof noCert, 'string', `a client without the control plane's certificate is refused (${noCert})`);
    const plain = await fetch(`http://${f.hosts[0]!.address}:7430/healthz`).then((r) => r.status, (e: Error) => e.message);
    assert.notEqual(plain, 200, 'no plain HTTP');
    const mode = (await f.ssh(1, `stat -c %a /opt/nubis/nodes/${node.id}/tls/agent.key`)).trim();
    assert.equal(mode, '600');
    await d.delete(node.id, sig());
    assert.equal((await f.ssh(1, 'ls /opt/nubis 2>/dev/null || echo gone')).trim(), 'gone');
  } finally {
    await d.close?.();
    await f.down();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
