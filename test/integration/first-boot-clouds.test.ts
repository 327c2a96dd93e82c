/**
 * First boot on the EC2 and CloudSigma stand-ins (test/helpers/standin-*.ts; neither cloud can
 * run here), for real: the control plane creates the node with user data (counted and decoded
 * from what the stand-in RECEIVED: RunInstances UserData, the server's meta
 * `cloudinit-user-data`), the node shows `contextualizing` while no agent answers, then this
 * test boots the "VM" as cloud-init would — it runs the Nubis part of exactly that user data
 * on loopback (test/helpers/agent-user-data.ts) — and the real agent it starts is bootstrapped
 * over mutual TLS, the node turns `agent up`, the instance installs and runs, and its handler
 * gets NUBIS_GRAPHITE pointing at the agent's Graphite listener, which takes a line.
 *
 * EC2 API Reference (RunInstances UserData: base64, 16 KB); CloudSigma API 2.0 "Server
 * context" (meta cloudinit-user-data with base64_fields); cloud-init "User-Data Formats"
 * (multipart/mixed with text/cloud-config and text/x-shellscript parts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { agentProgramPath } from '../../src/agent/index.js';
import { defaultDriverFactories } from '../../src/drivers/index.js';
import { createEc2Driver } from '../../src/drivers/ec2/index.js';
import { createCloudSigmaDriver } from '../../src/drivers/cloudsigma/index.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { startEc2Standin } from '../helpers/standin-ec2.js';
import { startCloudSigmaStandin } from '../helpers/standin-cloudsigma.js';
import { bootFromUserData } from '../helpers/agent-user-data.js';
import { freePort } from '../helpers/processes.js';

const actor = { actor: 'user:test' };
const USER = '#cloud-config\npackages: [nginx]\nruncmd:\n  - [touch, /tmp/first-boot-done]\n';

function spec(name: string, cloud: string): string {
  return [
    `name: ${name}`,
    'clouds:',
    cloud,
    'nodeTemplates:',
    '  t:',
    '    cloud: c',
    `    cloudInit: ${JSON.stringify(USER)}`,
    'components:',
    '  app:',
    '    nodeTemplate: t',
    '    lifecycle:',
    '      install: \'echo "$NUBIS_GRAPHITE" >graphite.txt\'',
    '      start: "exec sleep 600"',
    '',
  ].join('\n');
}

/** Applies, waits for contextualizing, boots the VM from what the cloud received, waits for agent up and running. */
async function firstBoot(o: {
  name: string; cloudYaml: string; drivers: NonNullable<Parameters<typeof startControlPlane>[1]>['drivers'];
  agentPort: number; graphitePort: number; received: () => string | undefined; running: () => boolean;
}): Promise<void> {
  const dir = tempDir(`nubis-fb-${o.name}-`);
  const root = tempDir(`nubis-vm-${o.name}-`);
  const cp = await startControlPlane(dir, { drivers: o.drivers, engine: { pollIntervalMs: 50, sweepIntervalMs: 60_000 } });
  let vm: Awaited<ReturnType<typeof bootFromUserData>> | undefined;
  try {
    await cp.apply({ spec: spec(o.name, o.cloudYaml) }, actor);
    const node = async () => (await cp.getDeployment(o.name)).instances[0]?.node;
    const steps = new Set<string>();
    await waitFor('contextualizing', async () => {
      const n = await node();
      if (n?.step) steps.add(n.step);
      return n?.step === 'contextualizing' && o.running();
    }, 60_000, 50);
    // no agent answers yet: the node is not ready, nothing is installed
    assert.equal((await cp.getDeployment(o.name)).instances[0]!.phase, 'pending');
    const userData = o.received();
    assert.ok(userData, 'the cloud received user data');
    vm = await bootFromUserData(userData, { root, agentPort: o.agentPort, graphitePort: o.graphitePort });
    assert.deepEqual(vm.parts.map((p) => p.type), ['text/cloud-config', 'text/x-shellscript'], 'both parts, as cloud-init reads them');
    assert.equal(vm.parts[0]!.body, USER, 'the user part reached the VM byte for byte');
    assert.deepEqual(parse(vm.parts[0]!.body), { packages: ['nginx'], runcmd: [['touch', '/tmp/first-boot-done']] });
    const d = await waitFor('running', async () => {
      const v = await cp.getDeployment(o.name);
      const n = v.instances[0]?.node;
      if (n?.step) steps.add(n.step);
      return v.state === 'ready' ? v : undefined;
    }, 60_000, 50);
    assert.deepEqual([...steps].filter((s) => s !== 'booting'), ['contextualizing', 'agent-up']);
    assert.equal(d.instances[0]!.node.step, 'agent-up');
    const events = await cp.events.list({ deployment: o.name, limit: 10_000 });
    const up = events.filter((e) => e.kind === 'node.agent-up');
    assert.equal(events.filter((e) => e.kind === 'node.contextualizing').length, 1);
    assert.equal(up.length, 1);
    assert.ok(Number(up[0]!.data?.['contextualizeMs']) > 0, 'contextualizing lasted until the VM booted');
    // the handler got the agent's Graphite listener, and it takes a line on loopback
    const g = fs.readFileSync(path.join(root, 'var/lib/nubis/sandbox', ...findUnder(path.join(root, 'var/lib/nubis/sandbox'), 'graphite.txt')), 'utf8').trim();
    assert.equal(g, `127.0.0.1:${o.graphitePort}`);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(o.graphitePort, '127.0.0.1', () => s.end('app.hits;instance=app-1 3\n', () => resolve()));
      s.once('error', reject);
    });
    await cp.destroy(o.name, actor);
    await waitFor('destroyed', async () => (await cp.listDeployments()).length === 0, 60_000, 100);
  } finally {
    await vm?.stop();
    await cp.close();
  }
}

function findUnder(dir: string, name: string, rel: string[] = []): string[] {
  for (const e of fs.readdirSync(path.join(dir, ...rel), { withFileTypes: true })) {
    if (e.isFile() && e.name === name) return [...rel, name];
    if (e.isDirectory()) {
      const hit = findUnder(dir, name, [...rel, e.name]);
      if (hit.length) return hit;
    }
  }
  return [];
}

test('ec2 stand-in: RunInstances user data boots a real agent with its Graphite listener: booting → contextualizing → agent up', { timeout: 180_000 }, async () => {
  const ec = await startEc2Standin({ accessKeyId: 'AKIDFIRSTBOOT01', transitionMs: 200, addresses: 'loopback' });
  const [agentPort, graphitePort] = [await freePort(), await freePort()];
  try {
    await firstBoot({
      name: 'fbec2', agentPort, graphitePort,
      cloudYaml: `  c: { platform: ec2, options: { region: eu-north-1, endpoint: ${JSON.stringify(ec.url)}, imageId: ami-0a1b2c3d4e5f60001, instanceType: t3.micro, agentPort: ${agentPort}, graphitePort: ${graphitePort}, agentPath: ${JSON.stringify(agentProgramPath())} } }`,
      drivers: { ...defaultDriverFactories(), ec2: (ctx) => createEc2Driver({ ...ctx, credentials: { accessKeyId: 'AKIDFIRSTBOOT01', secretAccessKey: 'not-a-real-secret' } }) },
      received: () => {
        const i = ec.instances()[0];
        return i?.userData ? Buffer.from(i.userData, 'base64').toString('utf8') : undefined;
      },
      running: () => ec.instances()[0]?.state === 'running',
    });
    assert.equal(ec.received('RunInstances'), 1, 'one launch');
  } finally {
    await ec.close();
  }
});

test('cloudsigma stand-in: the server meta user data boots a real agent: booting → contextualizing → agent up', { timeout: 180_000 }, async () => {
  const s = await startCloudSigmaStandin({ username: 'ops@example.invalid', password: 'pw-not-secret', transitionMs: 50, cloneMs: 100, runtimeIp: 'loopback' });
  const source = s.addSourceServer();
  const [agentPort, graphitePort] = [await freePort(), await freePort()];
  try {
    const mine = () => s.servers().find((x) => x.uuid !== source && x.meta['cloudinit-user-data']);
    await firstBoot({
      name: 'fbcs', agentPort, graphitePort,
      cloudYaml: `  c: { platform: cloudsigma, options: { endpoint: ${JSON.stringify(s.url)}, cloneFrom: ${source}, pollMs: 20, agentPort: ${agentPort}, graphitePort: ${graphitePort}, agentPath: ${JSON.stringify(agentProgramPath())} } }`,
      drivers: { ...defaultDriverFactories(), cloudsigma: (ctx) => createCloudSigmaDriver({ ...ctx, credentials: { username: 'ops@example.invalid', password: 'pw-not-secret' } }) },
      received: () => {
        const srv = mine();
        if (!srv) return undefined;
        assert.equal(srv.meta['base64_fields'], 'cloudinit-user-data');
        return Buffer.from(srv.meta['cloudinit-user-data']!, 'base64').toString('utf8');
      },
      running: () => mine()?.status === 'running',
    });
  } finally {
    await s.close();
  }
});
