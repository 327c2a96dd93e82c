/**
 * The webapp example (examples/webapp/app.yaml) planned and applied on an OpenStack cloud by a
 * real control plane, then destroyed.
 *
 * What this does and does not prove, honestly: against the loopback cloud Nova runs its fake
 * compute driver, so servers are database records — no machine boots, no cloud-init runs, no
 * Nubis agent ever listens. The component steps (install, configure, start, health) therefore
 * cannot run there and are not run. The test applies the spec unchanged, lifecycle handlers
 * included, and asserts what is true: every node is created through the driver with its tags
 * and reaches `running`, every node then stays `contextualizing` (no agent answers, so no step
 * is tried: a node is ready only when its agent answers), and destroy deletes every server. Against a
 * real OpenStack whose image runs the agent, the same spec would go on to run its steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { TAG_DEPLOYMENT, TAG_OWNER } from '../../src/drivers/driver.js';
import { defaultDriverFactories } from '../../src/drivers/index.js';
import { createOpenStackDriver } from '../../src/drivers/openstack/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { openStackDriver, openStackOptions, readOpenStackEnv } from '../helpers/openstack-env.js';

const found = readOpenStackEnv();
const sig = (): AbortSignal => new AbortController().signal;

test('the webapp spec planned and applied on OpenStack (fake compute: nodes run, component steps cannot)', { timeout: 240_000 }, async () => {
  if ('error' in found) assert.fail(found.error);
  const env = found;
  const example = join(process.cwd(), 'examples', 'webapp');
  const spec = parse(readFileSync(join(example, 'app.yaml'), 'utf8')) as Record<string, unknown> & { nodeTemplates: Record<string, { cloud: string }> };
  const name = `webapp-os-${Date.now().toString(36)}`;
  spec['name'] = name;
  // no secrets in the spec: the credentials reach the driver as the credential registry will pass them
  spec['clouds'] = { openstack: { platform: 'openstack', options: openStackOptions(env, { agentConnectTimeoutMs: 1_000 }) } };
  for (const t of Object.values(spec.nodeTemplates)) t.cloud = 'openstack';
  const input = {
    spec: stringify(spec),
    file: 'app.yaml',
    artefacts: Object.fromEntries(['app.mjs', 'kv.mjs', 'lb.mjs'].map((f) => [f, readFileSync(join(example, f)).toString('base64')])),
  };

  const dir = tempDir('nubis-openstack-webapp-');
  const cp = await startControlPlane(dir, {
    drivers: { ...defaultDriverFactories(), openstack: (ctx) => createOpenStackDriver({ ...ctx, credentials: env.credentials }) },
    engine: { pollIntervalMs: 100 },
  });
  const owner = cp.engine.ownerId();
  const probe = openStackDriver(env, dir);
  try {
    const plan = await cp.plan(input);
    assert.equal(plan.create, true);
    assert.equal(plan.summary.add, 5, 'kv, 3 × app, lb');
    assert.ok(plan.actions.filter((a) => a.kind === 'create-node').every((a) => a.cloud === 'openstack'));
    assert.ok(plan.actions.some((a) => a.kind === 'configure' && a.target === `${name}/app-1` && a.after.some((x) => x.includes(`${name}/kv-1`))));

    await cp.apply(input, { actor: 'user:test', correlationId: `corr-${name}` });
    const nodesRunning = await waitFor('5 nodes running', async () => {
      const d = await cp.getDeployment(name);
      return d.instances.length === 5 && d.instances.every((i) => i.node.state === 'running') ? d : undefined;
    }, 120_000, 500);
    for (const i of nodesRunning.instances) assert.ok(i.node.id && i.node.address, `${i.name} has a server and an address`);

    const servers = await probe.list({ [TAG_OWNER]: owner, [TAG_DEPLOYMENT]: name }, sig());
    assert.equal(servers.length, 5);
    assert.deepEqual(new Set(servers.map((s) => s.id)), new Set(nodesRunning.instances.map((i) => i.node.id)));

    // The servers are not machines: no agent answers, so every node stays contextualizing and
    // no step is tried on it (src/engine/first-boot.ts).
    await waitFor('every node contextualizing', async () => {
      const ctx = await cp.events.list({ deployment: name, kind: 'node.contextualizing', limit: 1000 });
      return new Set(ctx.map((e) => e.target)).size === 5;
    }, 60_000, 500);
    assert.ok((await cp.getDeployment(name)).instances.every((i) => i.node.step === 'contextualizing'));
    assert.equal((await cp.events.list({ deployment: name, kind: 'instance.step', limit: 10 })).length, 0, 'no step was tried before an agent answered');
    const d = await cp.getDeployment(name);
    assert.notEqual(d.state, 'ready');
    assert.ok(d.instances.every((i) => i.phase !== 'running'), 'no component step ran');
    const calls = await cp.events.list({ kind: 'driver.call', correlationId: `corr-${name}`, limit: 1000 });
    assert.ok(calls.some((e) => e.data?.['op'] === 'create'), 'every cloud call is an event');

    await cp.destroy(name, { actor: 'user:test' });
    await waitFor('the deployment is gone', async () => (await cp.listDeployments()).every((x) => x.name !== name), 120_000, 500);
    assert.deepEqual(await probe.list({ [TAG_OWNER]: owner }, sig()), [], 'no server left behind');
  } finally {
    await cp.close();
    for (const n of await probe.list({ [TAG_OWNER]: owner }, sig()).catch(() => [])) await probe.delete(n.id, sig()).catch(() => undefined);
    await probe.close();
  }
});
