/**
 * The agent transport (issue 7, item 9): the installation CA and its certificates (checked by
 * Node's X509Certificate and, when the machine has it, by `openssl verify -x509_strict`), and a
 * real agent over mutual TLS: clients without the control plane's certificate are refused in the
 * handshake, and the control plane's client refuses an agent of another CA or another identity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import {
  createHttpAgentClient, generateKeyPair, issueCertificate, loadAgentCa, startAgent, CONTROL_PLANE_NAME, type AgentCa,
} from '../../src/agent/index.js';
import { NubisError } from '../../src/errors/index.js';
import { never, tempDir } from './agent-test-helpers.js';

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

function opensslVerify(dir: string, caPem: string, leafPem: string, purpose: string): string {
  fs.writeFileSync(path.join(dir, 'v-ca.pem'), caPem);
  fs.writeFileSync(path.join(dir, 'v-leaf.pem'), leafPem);
  return execFileSync('openssl', ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', path.join(dir, 'v-ca.pem'), path.join(dir, 'v-leaf.pem')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('the installation CA is made once, 0600 keys in a 0700 directory, and reloads the same', () => {
  const data = tempDir('ca');
  const ca = loadAgentCa(data);
  const dir = path.join(data, 'agent-ca');
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  for (const f of ['ca.key', 'control-plane.key']) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
  const x = new X509Certificate(ca.caPem);
  assert.equal(x.ca, true);
  assert.equal(x.checkIssued(x), true, 'self-signed');
  assert.equal(x.verify(x.publicKey), true);
  assert.equal(loadAgentCa(data).caPem, ca.caPem, 'the same CA on a second load');
  assert.equal(fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), ca.caPem);
  assert.deepEqual(fs.readdirSync(data).sort(), ['agent-ca'], 'no temp directory left behind');
});

test('node certificates: issued by the CA, for the identity and addresses, server role only', (t) => {
  const data = tempDir('ca-node');
  const ca = loadAgentCa(data);
  const issued = ca.issueNode({ identity: 'ssh-0123abcd', addresses: ['10.1.2.3', 'node.example', 'fd00::7'] });
  assert.ok(issued.key, 'a key is made when none is given');
  const leaf = new X509Certificate(issued.cert);
  const caX = new X509Certificate(ca.caPem);
  assert.equal(leaf.subject, 'CN=ssh-0123abcd');
  assert.equal(leaf.ca, false);
  assert.equal(leaf.checkIssued(caX), true);
  assert.equal(leaf.verify(caX.publicKey), true);
  assert.equal(leaf.checkIP('10.1.2.3'), '10.1.2.3');
  assert.equal(leaf.checkHost('node.example'), 'node.example');
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(issued.key!)));
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only');
  // for a key the agent keeps: no key comes back, the certificate carries the given public key
  const own = generateKeyPair();
  const forKey = ca.issueNode({ identity: 'n2', addresses: [], publicKey: own.publicKey });
  assert.equal(forKey.key, undefined);
  assert.ok(new X509Certificate(forKey.cert).publicKey.equals(own.publicKey));
  const client = new X509Certificate(ca.clientTls('x').cert);
  assert.equal(client.subject, `CN=${CONTROL_PLANE_NAME}`);
  assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'clientAuth only');
  if (!HAVE_OPENSSL) return t.skip('openssl is not installed: the strict openssl check is skipped (Node verified the chain above)');
  assert.match(opensslVerify(data, ca.caPem, issued.cert, 'sslserver'), /OK/);
  assert.match(opensslVerify(data, ca.caPem, ca.clientTls('x').cert, 'sslclient'), /OK/);
  assert.throws(() => opensslVerify(data, ca.caPem, issued.cert, 'sslclient'), 'a node certificate is no client certificate');
});

test('the bootstrap record refuses a second use of one identity and is kept on disk', () => {
  const data = tempDir('ca-boot');
  const ca = loadAgentCa(data);
  assert.equal(ca.bootstrapped('n1'), false);
  ca.markBootstrapped('n1');
  assert.throws(() => ca.markBootstrapped('n1'), (e: unknown) => e instanceof NubisError && e.code === 'CONFLICT');
  const stored = JSON.parse(fs.readFileSync(path.join(data, 'agent-ca', 'bootstrapped.json'), 'utf8')) as string[];
  assert.deepEqual(stored, ['n1']);
});

/** A raw HTTPS GET with the given client options: the status, or the connection error's message. */
function rawGet(url: string, opts: Record<string, unknown>): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false, ...opts }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

async function tlsAgent(ca: AgentCa, identity: string): Promise<Awaited<ReturnType<typeof startAgent>>> {
  const issued = ca.issueNode({ identity, addresses: ['127.0.0.1'] });
  return startAgent({ sandbox: tempDir('tls-agent'), nodeId: identity, token: 'tok-123', tls: { ca: ca.caPem, cert: issued.cert, key: issued.key! } });
}

test('an agent over TLS refuses clients without the control plane certificate of its CA', { timeout: 60_000 }, async () => {
  const ca = loadAgentCa(tempDir('ca-srv'));
  const other = loadAgentCa(tempDir('ca-other'));
  const agent = await tlsAgent(ca, 'node-a');
  try {
    assert.match(agent.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const mine = ca.clientTls('node-a');
    assert.equal(await rawGet(agent.url, { ca: mine.ca, cert: mine.cert, key: mine.key }), 200, 'the control plane gets in');
    const noCert = await rawGet(agent.url, { ca: mine.ca });
    assert.equal(typeof noCert, 'string', `no client certificate: refused in the handshake (${noCert})`);
    const foreign = other.clientTls('node-a');
    const wrongCa = await rawGet(agent.url, { ca: mine.ca, cert: foreign.cert, key: foreign.key });
    assert.equal(typeof wrongCa, 'string', `a client certificate of another CA: refused (${wrongCa})`);
    // another node's agent certificate (same CA, server role) is not a client certificate
    const peer = ca.issueNode({ identity: 'node-b', addresses: [] });
    const asPeer = await rawGet(agent.url, { ca: mine.ca, cert: peer.cert, key: peer.key });
    assert.notEqual(asPeer, 200, `an agent certificate cannot call another agent (${asPeer})`);
    const plain = await fetch(agent.url.replace('https:', 'http:') + '/healthz').then((r) => r.status, (e: Error) => e.message);
    assert.notEqual(plain, 200, 'plain HTTP is not served');
    // and the real client, pinned to the CA and the identity, works
    const status = await createHttpAgentClient(agent.url, 'tok-123', mine).status(never());
    assert.equal(status.node, 'node-a');
  } finally {
    await agent.close({ killProcesses: true });
  }
});

test('the control plane client refuses an agent of another CA, or of another identity', { timeout: 60_000 }, async () => {
  const ca = loadAgentCa(tempDir('ca-cli'));
  const other = loadAgentCa(tempDir('ca-cli-other'));
  const impostor = await tlsAgent(other, 'node-a');
  const wrongNode = await tlsAgent(ca, 'node-b');
  try {
    const refused = (e: unknown): boolean => e instanceof NubisError && e.code === 'AGENT_UNREACHABLE';
    await assert.rejects(createHttpAgentClient(impostor.url, 'tok-123', ca.clientTls('node-a')).status(never()), refused);
    await assert.rejects(createHttpAgentClient(wrongNode.url, 'tok-123', ca.clientTls('node-a')).status(never()), (e: unknown) => refused(e) && /node-b/.test((e as Error).message));
    await assert.rejects(createHttpAgentClient(wrongNode.url, 'tok-123').status(never()), refused, 'an https agent without a pin is never called');
  } finally {
    await impostor.close({ killProcesses: true });
    await wrongNode.close({ killProcesses: true });
  }
});

test('DER: a certificate with a GeneralizedTime after 2049 and a long serial still parses', () => {
  const k = generateKeyPair();
  const issuer = { commonName: 'x', privateKey: k.privateKey, publicKey: k.publicKey };
  const pem = issueCertificate({ commonName: 'x', role: 'ca', publicKey: k.publicKey, issuer, notBefore: new Date('2049-06-01T00:00:00Z'), validDays: 400 });
  const x = new X509Certificate(pem);
  assert.equal(new Date(x.validTo).getUTCFullYear(), 2050);
  assert.equal(new Date(x.validFrom).toISOString(), '2049-06-01T00:00:00.000Z');
});
