/**
 * The one-time bootstrap of a cloud agent (issue 7, item 9): the agent starts with only the CA
 * certificate and a bootstrap token (what cloud user data carries), the control plane pushes a
 * node certificate for the agent's own key and the long-lived token on first contact, a second
 * use of the bootstrap token is refused, a restarted agent serves its issued certificate, and a
 * machine that later answers for the node with the same bootstrap token gets nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { AgentBootstrap, agentAnswers, agentProgramPath, loadAgentCa, startAgent, type AgentCa } from '../../src/agent/index.js';
import { bootstrapFiles, createBootstrappingAgentClient, deriveAgentSecrets, type CloudAgentSecrets } from '../../src/drivers/agent-bootstrap.js';
import { NubisError } from '../../src/errors/index.js';
import { never, tempDir, waitFor } from './agent-test-helpers.js';
import { freePort } from '../helpers/processes.js';

/** A TLS directory as the cloud-init user data leaves it. */
function userDataDir(ca: AgentCa, s: CloudAgentSecrets): string {
  const dir = tempDir('boot-tls');
  for (const [name, text] of Object.entries(bootstrapFiles(ca, s))) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
  return dir;
}

async function bootstrappingAgent(ca: AgentCa, s: CloudAgentSecrets, dir: string): Promise<Awaited<ReturnType<typeof startAgent>>> {
  const boot = new AgentBootstrap(dir, s.identity, fs.readFileSync(path.join(dir, 'bootstrap.token'), 'utf8'), ca.caPem);
  return startAgent({ sandbox: tempDir('boot-sandbox'), nodeId: s.identity, token: '', bootstrap: boot });
}

/** POST /v1/bootstrap as the control plane (its client certificate), not verifying the agent. */
function postBootstrap(ca: AgentCa, url: string, body: unknown): Promise<number> {
  const c = ca.clientTls('');
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/bootstrap`, { method: 'POST', agent: false, ca: c.ca, cert: c.cert, key: c.key, rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

test('the bootstrap token works once: certificate for the agent key, long-lived token never in user data, second use refused', { timeout: 60_000 }, async () => {
  const ca = loadAgentCa(tempDir('boot-ca'));
  const s = deriveAgentSecrets(randomBytes(32), 'owner\nd/web-0\nattempt-1');
  const dir = userDataDir(ca, s);
  const userData = Object.values(bootstrapFiles(ca, s)).join('\n');
  assert.ok(userData.includes(s.bootstrapToken));
  assert.ok(!userData.includes(s.agentToken), 'the long-lived token is not in what user data carries');
  const agent = await bootstrappingAgent(ca, s, dir);
  try {
    const keyBefore = fs.readFileSync(path.join(dir, 'agent.key'), 'utf8');
    // a wrong bootstrap token is refused and spends nothing
    assert.equal(await postBootstrap(ca, agent.url, { bootstrapToken: 'x'.repeat(s.bootstrapToken.length), cert: '', token: 'y'.repeat(20) }), 401);
    const client = createBootstrappingAgentClient(agent.url, ca, s, 'vm-1');
    assert.equal((await client.status(never())).node, s.identity, 'first contact bootstraps, then mutual TLS works');
    assert.equal(ca.bootstrapped(`${s.identity}@vm-1`), true);
    const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'agent.crt'), 'utf8'));
    assert.equal(cert.subject, `CN=${s.identity}`);
    assert.equal(cert.verify(new X509Certificate(ca.caPem).publicKey), true);
    assert.equal(fs.readFileSync(path.join(dir, 'agent.key'), 'utf8'), keyBefore, 'the agent kept its own key');
    assert.equal(fs.readFileSync(path.join(dir, 'agent.token'), 'utf8'), s.agentToken);
    assert.equal(fs.statSync(path.join(dir, 'agent.token')).mode & 0o777, 0o600);
    assert.equal(fs.existsSync(path.join(dir, 'bootstrap.token')), false, 'the bootstrap token is deleted');
    // the second use is refused by the agent
    assert.equal(await postBootstrap(ca, agent.url, { bootstrapToken: s.bootstrapToken, cert: cert.toString(), token: s.agentToken }), 409);
    assert.equal((await client.status(never())).node, s.identity, 'and the agent still serves');
  } finally {
    await agent.close({ killProcesses: true });
  }

  // a restarted agent program finds its certificate and token, serves them, and refuses a bootstrap
  const port = await freePort();
  const child = spawn(process.execPath, [agentProgramPath(), '--sandbox', tempDir('boot-restart'), '--port', String(port), '--tls-dir', dir], {
    env: { PATH: process.env['PATH'] ?? '', NUBIS_NODE_ID: s.identity }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const url = `https://127.0.0.1:${port}`;
    await waitFor('the restarted agent', () => agentAnswers(url, s.identity, ca.clientTls(s.identity)), 20_000);
    assert.equal((await createBootstrappingAgentClient(url, ca, s, 'vm-1').status(never())).node, s.identity);
    assert.equal(await postBootstrap(ca, url, { bootstrapToken: s.bootstrapToken, cert: '', token: s.agentToken }), 409);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a machine answering later for a bootstrapped node with its bootstrap token gets nothing', { timeout: 60_000 }, async () => {
  const ca = loadAgentCa(tempDir('boot-ca2'));
  const s = deriveAgentSecrets(randomBytes(32), 'owner\nd/web-1\nattempt-1');
  const real = await bootstrappingAgent(ca, s, userDataDir(ca, s));
  await createBootstrappingAgentClient(real.url, ca, s, 'vm-1').status(never());
  await real.close({ killProcesses: true });
  // someone read the user data (bootstrap token, CA certificate) and now answers at the node's address
  const impostorDir = userDataDir(ca, s);
  const impostor = await bootstrappingAgent(ca, s, impostorDir);
  try {
    await assert.rejects(createBootstrappingAgentClient(impostor.url, ca, s, 'vm-1').status(never()), (e: unknown) => e instanceof NubisError && e.code === 'AGENT_UNREACHABLE');
    assert.equal(fs.existsSync(path.join(impostorDir, 'agent.token')), false, 'the impostor never received the long-lived token');
  } finally {
    await impostor.close({ killProcesses: true });
  }
});

test('a bootstrap certificate for another key or of another CA is refused by the agent', { timeout: 60_000 }, async () => {
  const ca = loadAgentCa(tempDir('boot-ca3'));
  const other = loadAgentCa(tempDir('boot-ca4'));
  const s = deriveAgentSecrets(randomBytes(32), 'seed');
  const agent = await bootstrappingAgent(ca, s, userDataDir(ca, s));
  try {
    const otherKey = ca.issueNode({ identity: s.identity, addresses: [] }).cert;
    assert.equal(await postBootstrap(ca, agent.url, { bootstrapToken: s.bootstrapToken, cert: otherKey, token: s.agentToken }), 400);
    const foreign = other.issueNode({ identity: s.identity, addresses: [] }).cert;
    assert.equal(await postBootstrap(ca, agent.url, { bootstrapToken: s.bootstrapToken, cert: foreign, token: s.agentToken }), 400);
    assert.equal((await createBootstrappingAgentClient(agent.url, ca, s, 'vm-1').status(never())).node, s.identity, 'refusals spent nothing');
  } finally {
    await agent.close({ killProcesses: true });
  }
});
