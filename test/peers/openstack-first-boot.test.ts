/**
 * First boot on the real OpenStack of the peer tier (NUBIS_OPENSTACK; test/helpers/openstack-env.ts),
 * through a real control plane: the node template's cloud-config and the Nubis agent script
 * go out in the server create — counted and decoded from the POST /servers bodies the driver
 * SENT (Nova API "Create server": `user_data`, base64, at most 65535 bytes; cloud-init
 * "User-Data Formats": multipart/mixed) — and `status` walks the node through booting to
 * contextualizing.
 *
 * What this does not prove, honestly: Nova runs its fake compute driver here, so no machine boots
 * and no cloud-init runs; and the servers' addresses (10.0.0.0/24, 172.24.4.0/24) belong to no
 * machine. So the servers boot with `network: none` (no address: no agent is ever dialled) and
 * the node stays contextualizing — which is what `status` must say of a VM whose agent has not
 * answered. The agent-up half of the path is proven on the EC2 and CloudSigma stand-ins
 * (test/integration/first-boot-clouds.test.ts), where the same script runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { TAG_DEPLOYMENT, TAG_OWNER } from '../../src/drivers/driver.js';
import { defaultDriverFactories, userDataParts } from '../../src/drivers/index.js';
import { createOpenStackDriver } from '../../src/drivers/openstack/index.js';
import type { RequestRecord } from '../../src/drivers/openstack/session.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { openStackDriver, openStackOptions, readOpenStackEnv } from '../helpers/openstack-env.js';

const found = readOpenStackEnv();
const sig = (): AbortSignal => new AbortController().signal;
const USER = '#cloud-config\npackages: [postgresql]\nwrite_files:\n  - path: /etc/freenest.conf\n    content: "site=demo"\n    permissions: "0640"\n';

test('openstack: the create sends the user cloud-config and the agent script as multipart user data; status says booting, then contextualizing', { timeout: 240_000 }, async () => {
  if ('error' in found) assert.fail(found.error);
  const env = found;
  const name = `fb-os-${Date.now().toString(36)}`;
  const spec = [
    `name: ${name}`,
    'clouds:',
    `  os: { platform: openstack, options: ${JSON.stringify(openStackOptions(env, { network: 'none', agentConnectTimeoutMs: 1_000 }))} }`,
    'nodeTemplates:',
    '  t:',
    '    cloud: os',
    `    cloudInit: ${JSON.stringify(USER)}`,
    'components:',
    '  site: { nodeTemplate: t, instances: { count: 2 }, lifecycle: { install: "echo never", start: run } }',
    '',
  ].join('\n');
  const sent: RequestRecord[] = [];
  const dir = tempDir('nubis-openstack-first-boot-');
  const cp = await startControlPlane(dir, {
    drivers: {
      ...defaultDriverFactories(),
      openstack: (ctx) => createOpenStackDriver({ ...ctx, options: { ...ctx.options, onRequest: (r: RequestRecord) => sent.push(r) }, credentials: env.credentials }),
    },
    engine: { pollIntervalMs: 100 },
  });
  const owner = cp.engine.ownerId();
  const probe = openStackDriver(env, dir);
  try {
    await cp.apply({ spec }, { actor: 'user:test' });
    const seen = new Map<string, Set<string>>();
    const d = await waitFor('both nodes contextualizing', async () => {
      const v = await cp.getDeployment(name);
      for (const i of v.instances) if (i.node.step) seen.set(i.name, (seen.get(i.name) ?? new Set()).add(i.node.step));
      return v.instances.length === 2 && v.instances.every((i) => i.node.step === 'contextualizing') ? v : undefined;
    }, 120_000, 200);
    for (const i of d.instances) {
      assert.equal(i.node.state, 'running', 'Nova says ACTIVE');
      assert.equal(i.node.address, undefined, 'network none: no address, so no agent is dialled');
      assert.equal(i.phase, 'pending', 'nothing installed: the node is not ready until its agent answers');
      assert.ok(seen.get(i.name)?.has('contextualizing'));
    }

    // what was SENT: one POST /servers per node, each with the user data of both parts
    const creates = sent.filter((r) => r.service === 'compute' && r.method === 'POST' && /\/servers$/.test(r.path) && r.status === 202);
    assert.equal(creates.length, 2, 'one server create per node');
    for (const c of creates) {
      const server = (c.body as { server: { user_data?: string; networks?: unknown } }).server;
      assert.equal(server.networks, 'none');
      assert.ok(server.user_data && server.user_data.length <= 65_535, 'base64 user data within Nova\'s limit');
      const text = Buffer.from(server.user_data, 'base64').toString('utf8');
      const parts = userDataParts(text);
      assert.deepEqual(parts.map((p) => p.type), ['text/cloud-config', 'text/x-shellscript']);
      assert.equal(parts[0]!.body, USER, 'the user part is sent byte for byte');
      assert.deepEqual(parse(parts[0]!.body).write_files, [{ path: '/etc/freenest.conf', content: 'site=demo', permissions: '0640' }]);
      assert.match(parts[1]!.body, /--graphite-port "\$\{NUBIS_BOOT_GRAPHITE_PORT:-2003\}" --graphite-host 127\.0\.0\.1/, 'the agent starts with its Graphite listener');
      assert.match(parts[1]!.body, /BEGIN CERTIFICATE/, 'the script carries the installation CA');
    }
    // the event follows the state change that `status` shows
    const ctx = await waitFor('two node.contextualizing events', async () => {
      const l = await cp.events.list({ deployment: name, kind: 'node.contextualizing', limit: 100 });
      return l.length >= 2 ? l : undefined;
    }, 30_000, 100);
    const events = await cp.events.list({ deployment: name, limit: 10_000 });
    assert.equal(ctx.length, 2, 'one node.contextualizing per node');
    for (const e of ctx) assert.equal(typeof e.data?.['bootMs'], 'number');
    assert.equal(events.filter((e) => e.kind === 'node.agent-up').length, 0, 'no agent answered (fake compute)');
    assert.equal(events.filter((e) => e.kind === 'instance.step').length, 0, 'no step ran');

    await cp.destroy(name, { actor: 'user:test' });
    await waitFor('destroyed', async () => (await cp.listDeployments()).every((x) => x.name !== name), 120_000, 500);
    assert.equal((await probe.list({ [TAG_OWNER]: owner, [TAG_DEPLOYMENT]: name }, sig())).length, 0, 'every server deleted');
  } finally {
    await cp.close();
    await probe.close();
  }
});
