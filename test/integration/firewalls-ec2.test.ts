/**
 * Firewalls from channels on ec2, through a real control plane whose ec2 driver talks to the EC2
 * Query API stand-in (test/helpers/standin-ec2.ts with ./standin-ec2-groups.ts; EC2 cannot run
 * here), built from the "Amazon EC2 API Reference" (2016-11-15): CreateSecurityGroup,
 * DescribeSecurityGroups, Authorize/RevokeSecurityGroupIngress, DeleteSecurityGroup,
 * ModifyInstanceAttribute; a new group's id is not visible for its first calls ("Eventual
 * consistency in the Amazon EC2 API") and a group an instance still uses — one shutting down
 * too — answers DependencyViolation to a delete.
 *
 * A spec is applied and changed through the control plane's API: each component's group holds
 * exactly the channel ports from the consumers' addresses, a new channel is sent as authorize
 * and revoke of the difference (no group deleted and made again), and a destroy deletes every
 * group before it ends. What the stand-in RECEIVED is counted.
 *
 * Agents: the stand-in gives every node the private address 127.0.0.1 (agents are dialled on a
 * port this test serves, answering 503) and a public 127.0.1.N (the node's address the rules use).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultDriverFactories } from '../../src/drivers/index.js';
import { createEc2Driver } from '../../src/drivers/ec2/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { startEc2Standin, type Ec2Standin } from '../helpers/standin-ec2.js';

const AKID = 'AKIDFWENGINE0001';

async function noAgent(): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":"no agent in this test"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const spec = (url: string, agentPort: number, withLb: boolean): string => `name: shop
clouds:
  aws:
    platform: ec2
    options: { region: eu-north-1, endpoint: ${JSON.stringify(url)}, imageId: ami-0a1b2c3d4e5f60001, instanceType: t3.micro, agentPort: ${agentPort} }
nodeTemplates:
  t: { cloud: aws }
components:
  kv:
    nodeTemplate: t
    provides: { kv: { port: 6379 }, admin: { port: 9999 } }
    lifecycle: { start: run }
  app:
    nodeTemplate: t
    instances: { count: 2, max: 10 }
    provides: { http: { port: 8080 } }
    requires: { kv: { component: kv, port: kv } }
    lifecycle: { start: run }
${withLb ? `  lb:
    nodeTemplate: t
    provides: { web: { port: 80 } }
    requires: { backends: { component: app, port: http } }
    lifecycle: { start: run }
firewall:
  open: { lb: { web: [0.0.0.0/0] } }
` : 'firewall: {}\n'}`;

const groupRules = (s: Ec2Standin, name: string): string[] | undefined => {
  const g = [...s.securityGroups.values()].find((x) => x.name === name);
  return g ? [...g.rules].sort() : undefined;
};

test('ec2: security groups hold exactly the channel ports, change by differences, and go with the destroy', { timeout: 300_000 }, async () => {
  const ec = await startEc2Standin({ accessKeyId: AKID, transitionMs: 300, addresses: 'loopback-public', groupHiddenCalls: 1 });
  const agent = await noAgent();
  const agentPort = (agent.address() as AddressInfo).port;
  const dir = tempDir('nubis-fw-ec2-');
  const cp = await startControlPlane(dir, {
    drivers: { ...defaultDriverFactories(), ec2: (ctx) => createEc2Driver({ ...ctx, credentials: { accessKeyId: AKID, secretAccessKey: 'not-a-real-secret' } }) },
    engine: { pollIntervalMs: 20, backoffBaseMs: 50, backoffMaxMs: 500, sweepIntervalMs: 60_000 },
  });
  const caller = { actor: 'user:test', tenant: 'default' };
  try {
    /** The public addresses of a component's running nodes, as /32 sources. */
    const addrs = (component: string): string[] => [...cp.engine.nodes.values()]
      .filter((n) => n.key.startsWith(`shop/${component}-`) && n.status === 'running' && n.observed?.address)
      .map((n) => `${n.observed!.address}/32`).sort();
    const settled = (want: () => Record<string, string[]>) => waitFor('security groups to settle', () => {
      const w = want();
      return Object.entries(w).every(([c, rules]) => JSON.stringify(groupRules(ec, `nubis-shop-${c}`)) === JSON.stringify([...rules].sort()));
    }, 120_000);

    await cp.apply({ spec: spec(ec.url, agentPort, false), file: 'shop.yaml' }, caller);
    await waitFor('3 nodes running', () => addrs('kv').length === 1 && addrs('app').length === 2, 120_000);
    await settled(() => ({ kv: addrs('app').map((a) => `tcp 6379-6379 ${a}`), app: [] }));
    // the admin port no channel uses is in no rule; every member carries its component's group
    const created = ec.received('CreateSecurityGroup');
    assert.equal(created, 2, 'one group per component');
    for (const i of ec.instances()) {
      const component = i.tags.get('nubis-key')!.split('/')[1]!.replace(/-\d+$/, '');
      const g = [...ec.securityGroups].find(([, x]) => x.name === `nubis-shop-${component}`)!;
      await waitFor(`${i.instanceId} to carry its group`, () => ec.instances().find((x) => x.instanceId === i.instanceId)!.groups.includes(g[0]), 60_000);
    }

    // a new channel and an outside source: app gets 8080 from lb; lb 80 from anywhere; kv keeps its rules
    const before = { authorize: ec.received('AuthorizeSecurityGroupIngress'), revoke: ec.received('RevokeSecurityGroupIngress') };
    await cp.apply({ spec: spec(ec.url, agentPort, true), file: 'shop.yaml' }, caller);
    await waitFor('lb running', () => addrs('lb').length === 1, 120_000);
    await settled(() => ({ kv: addrs('app').map((a) => `tcp 6379-6379 ${a}`), app: addrs('lb').map((a) => `tcp 8080-8080 ${a}`), lb: ['tcp 80-80 0.0.0.0/0'] }));
    assert.equal(ec.received('CreateSecurityGroup'), 3, 'only lb\'s group is new');
    assert.equal(ec.received('DeleteSecurityGroup'), 0, 'no group deleted and made again');
    assert.ok(ec.received('AuthorizeSecurityGroupIngress') - before.authorize >= 2, 'app\'s and lb\'s rules were authorized');
    assert.equal(ec.received('RevokeSecurityGroupIngress') - before.revoke, 0, 'nothing to revoke');
    const authorizedPorts = ec.requests.filter((l) => l.includes(' AuthorizeSecurityGroupIngress ')).flatMap((l) => [...l.matchAll(/"IpPermissions\.\d+\.FromPort":"(\d+)"/g)].map((m) => m[1]));
    assert.ok(!authorizedPorts.includes('9999'), 'the unused admin port was never opened');

    // scale app down: kv's source for the removed instance is revoked, nothing else
    const revokes = ec.received('RevokeSecurityGroupIngress');
    await cp.scale('shop', 'app', 1, caller);
    await waitFor('app at 1', () => addrs('app').length === 1, 120_000);
    await settled(() => ({ kv: addrs('app').map((a) => `tcp 6379-6379 ${a}`) }));
    assert.ok(ec.received('RevokeSecurityGroupIngress') > revokes, 'the gone consumer\'s permission was revoked');

    await cp.destroy('shop', caller);
    await waitFor('destroy to end', async () => (await cp.events.list({ deployment: 'shop', kind: 'deployment.destroyed' })).length > 0, 180_000);
    assert.deepEqual([...ec.securityGroups.values()].map((g) => g.name), ['default'], 'every Nubis group was deleted');
    assert.ok(ec.received('DeleteSecurityGroup') >= 3);
    const removed = await cp.events.list({ deployment: 'shop', kind: 'firewall.removed' });
    assert.equal(removed.length, 3);
    const destroyed = (await cp.events.list({ deployment: 'shop', kind: 'deployment.destroyed' }))[0]!;
    assert.ok(removed.every((e) => e.id < destroyed.id), 'groups are removed before the destroy ends');
  } finally {
    await cp.close();
    await new Promise<void>((r) => {
      agent.closeAllConnections();
      agent.close(() => r());
    });
    await ec.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
