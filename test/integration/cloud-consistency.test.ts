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
