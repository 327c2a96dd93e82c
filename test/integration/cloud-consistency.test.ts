/**
 * Partial failures and eventual consistency of real clouds, through a real control plane whose
 * drivers talk to the provider stand-ins (test/helpers/standin-*.ts; EC2 and CloudSigma cannot
 * run here). Each test counts what the stand-in RECEIVED, not only the final state.
 *
 * - EC2: "Eventual consistency in the Amazon EC2 API" (EC2 API Reference): right after
 *   RunInstances, DescribeInstances naming the new id may fail with InvalidInstanceID.NotFound.
 * - CloudSigma API 2.0: "Servers → Cloning" and "Drives → Cloning" (202 Accepted, the clone's
 *   drives in `cloning_dst`, the source in `cloning_src` until the copy ends); "Servers →
 *   Editing" (meta and tags are written by a PUT separate from the clone).
 *
 * Agents: the stand-ins give every node the address 127.0.0.1 and the drivers dial agents on a
 * port this test serves (it answers 503: no agent), so nothing off this machine is dialled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultDriverFactories } from '../../src/drivers/index.js';
import { createEc2Driver } from '../../src/drivers/ec2/index.js';
import { createCloudSigmaDriver } from '../../src/drivers/cloudsigma/index.js';
import { startCloudSigmaStandin, type CloudSigmaStandin } from '../helpers/standin-cloudsigma.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { startEc2Standin } from '../helpers/standin-ec2.js';

const actor = { actor: 'user:test' };

/** An HTTP listener on a free loopback port that answers every request 503 (no agent here). */
async function noAgent(): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":"no agent in this test"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server };
}

const closeServer = (s: Server): Promise<void> => new Promise((r) => {
  s.closeAllConnections();
  s.close(() => r());
});

test('ec2: InvalidInstanceID.NotFound right after RunInstances launches nothing twice; every node reaches running', { timeout: 120_000 }, async () => {
  const HIDDEN_CALLS = 3;
  const ec = await startEc2Standin({ accessKeyId: 'AKIDENGINE0001', transitionMs: 50, addresses: 'loopback', notVisibleAfterRun: { calls: HIDDEN_CALLS } });
  const agent = await noAgent();
  const dir = tempDir('nubis-ec2-consistency-');
  const cp = await startControlPlane(dir, {
    drivers: {
      ...defaultDriverFactories(),
      ec2: (ctx) => createEc2Driver({ ...ctx, credentials: { accessKeyId: 'AKIDENGINE0001', secretAccessKey: 'not-a-real-secret' } }),
    },
    engine: { pollIntervalMs: 50 },
  });
  const spec = [
    'name: ec2c',
    'clouds:',
    '  aws:',
    '    platform: ec2',
    `    options: { region: eu-north-1, endpoint: ${JSON.stringify(ec.url)}, imageId: ami-0a1b2c3d4e5f60001, instanceType: t3.micro, agentPort: ${agent.port} }`,
    'nodeTemplates:',
    '  t: { cloud: aws }',
    'components:',
    '  web:',
    '    nodeTemplate: t',
    '    instances: { count: 3, min: 0, max: 10 }',
    '    lifecycle:',
    '      start: "run"',
    '',
  ].join('\n');
  try {
    await cp.apply({ spec }, actor);
    const d = await waitFor('3 nodes running', async () => {
      const v = await cp.getDeployment('ec2c');
      return v.instances.length === 3 && v.instances.every((i) => i.node.state === 'running') ? v : undefined;
    }, 60_000, 100);
    assert.equal(ec.received('RunInstances'), 3, 'exactly one RunInstances per node');
    const launched = ec.instances();
    assert.equal(launched.length, 3);
    assert.deepEqual(new Set(launched.map((i) => i.instanceId)), new Set(d.instances.map((i) => i.node.id)), 'the engine keeps the instances it launched');
    assert.ok(launched.every((i) => i.state === 'running'), 'none was terminated as lost or duplicate');
    assert.equal(launched.reduce((n, i) => n + i.hiddenCalls, 0), 3 * HIDDEN_CALLS, 'every node was answered NotFound right after its launch');
    const lost = (await cp.events.list({ deployment: 'ec2c', limit: 10_000 })).filter((e) => /vanished|no longer has|duplicate|orphan/.test(`${e.kind} ${e.reason ?? ''}`));
    assert.deepEqual(lost.map((e) => `${e.kind}: ${e.reason}`), []);

    await cp.destroy('ec2c', actor);
    await waitFor('destroyed', async () => (await cp.listDeployments()).every((x) => x.name !== 'ec2c'), 60_000, 100);
    assert.ok(ec.instances().every((i) => i.state === 'shutting-down' || i.state === 'terminated'), 'destroy terminated every instance');
  } finally {
    await cp.close();
    await closeServer(agent.server);
    await ec.close();
  }
});

/**
 * A control plane whose cloudsigma driver talks to a fresh stand-in with one source server.
 * The periodic sweep is slowed to a minute so that what is counted is the create and destroy
 * paths (the sweep itself belongs to the engine's tests); the first sweep still runs.
 */
async function cloudSigmaPlane(prefix: string) {
  const s = await startCloudSigmaStandin({ username: 'ops@example.invalid', password: 'pw-not-secret', transitionMs: 20, cloneMs: 80, runtimeIp: 'loopback' });
  const source = s.addSourceServer();
  const baseline = { servers: s.servers().map((x) => x.uuid), drives: s.drives().map((x) => x.uuid) };
  const agent = await noAgent();
  const dir = tempDir(prefix);
  const cp = await startControlPlane(dir, {
    drivers: {
      ...defaultDriverFactories(),
      cloudsigma: (ctx) => createCloudSigmaDriver({ ...ctx, credentials: { username: 'ops@example.invalid', password: 'pw-not-secret' } }),
    },
    engine: { pollIntervalMs: 50, backoffBaseMs: 50, backoffMaxMs: 200, sweepIntervalMs: 60_000 },
  });
  const spec = (name: string): string => [
    `name: ${name}`,
    'clouds:',
    '  cs:',
    '    platform: cloudsigma',
    `    options: { endpoint: ${JSON.stringify(s.url)}, cloneFrom: ${source}, pollMs: 20, agentPort: ${agent.port} }`,
    'nodeTemplates:',
    '  t: { cloud: cs }',
    'components:',
    '  batch:',
    '    nodeTemplate: t',
    '    instances: { count: 1, min: 0, max: 10 }',
    '    lifecycle:',
    '      start: "run"',
    '',
  ].join('\n');
  /** Servers and drives beyond the source's: each one bills. */
  const billing = () => ({
    servers: s.servers().filter((x) => !baseline.servers.includes(x.uuid)).length,
    drives: s.drives().filter((x) => !baseline.drives.includes(x.uuid)).length,
  });
  return {
    s, cp, spec, billing,
    async close() {
      await cp.close();
      await closeServer(agent.server);
      await s.close();
    },
  };
}

async function destroyed(cp: Awaited<ReturnType<typeof cloudSigmaPlane>>['cp'], name: string): Promise<void> {
  await cp.destroy(name, actor);
  await waitFor(`${name} destroyed`, async () => (await cp.listDeployments()).every((x) => x.name !== name), 60_000, 100);
}

test('cloudsigma: a tag step that fails (retryable) is finished by the retry: one clone, the node runs, destroy leaves nothing billing', { timeout: 120_000 }, async () => {
  const p = await cloudSigmaPlane('nubis-cs-retry-');
  const s: CloudSigmaStandin = p.s;
  try {
    s.fail('servers.update', { status: 503, type: 'concurrency', message: 'concurrent update' });
    await p.cp.apply({ spec: p.spec('csr') }, actor);
    await waitFor('the node runs', async () => (await p.cp.getDeployment('csr')).instances[0]?.node.state === 'running', 60_000, 100);
    assert.equal(s.received('servers.update'), 2, 'the label failed once, then the retry labelled');
    assert.equal(s.received('servers.clone'), 1, 'exactly one clone for one node');
    assert.equal(s.received('servers.start'), 1, 'one start, accepted: sent once the copy had ended');
    assert.deepEqual(p.billing(), { servers: 1, drives: 1 });
    await destroyed(p.cp, 'csr');
    assert.deepEqual(p.billing(), { servers: 0, drives: 0 }, 'nothing left billing');
  } finally {
    await p.close();
  }
});

test('cloudsigma: a tag step that fails for good, and whose cleanup fails too, is found by name and removed by destroy', { timeout: 120_000 }, async () => {
  const p = await cloudSigmaPlane('nubis-cs-leak-');
  const s: CloudSigmaStandin = p.s;
  try {
    s.fail('servers.update', { status: 400, type: 'validation', message: 'Invalid meta' });
    s.fail('servers.delete', { status: 503, type: 'concurrency', message: 'busy' });
    await p.cp.apply({ spec: p.spec('csl') }, actor);
    await waitFor('the node failed', async () => (await p.cp.getDeployment('csl')).instances[0]?.node.state === 'failed', 60_000, 100);
    assert.deepEqual(p.billing(), { servers: 1, drives: 1 }, 'the untagged clone is still there, billing');
    await destroyed(p.cp, 'csl');
    assert.deepEqual(p.billing(), { servers: 0, drives: 0 }, 'destroy found it by its name and removed it with its drive');
    assert.equal(s.received('servers.clone'), 1);
    assert.equal(s.received('servers.start'), 0);
    assert.equal(s.received('servers.delete'), 2, 'the failed cleanup, then the destroy');
  } finally {
    await p.close();
  }
});
