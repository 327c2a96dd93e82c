/**
 * The webapp example across three real sshd hosts (test/fixtures/ssh-hosts/sshd-hosts.sh): a
 * control plane applies a copy of examples/webapp/app.yaml whose cloud is an `ssh` pool of the
 * three hosts, with one app instance (lb, app and kv: one node each, so one per host), and
 * `curl` through the load balancer from this machine reaches the app, which counts through kv.
 * A host whose link goes down and one whose sshd dies are reported by the driver as
 * `error` / CLOUD_UNAVAILABLE; the app instance on the host whose link is down becomes
 * unreachable, leaves the lb's wiring (503 at once, no stalls) and shows a `!` line in status,
 * and comes back when the link is up; destroy leaves every host as it was (its /opt and its processes).
 * Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { createRealClock } from '../../src/clock/index.js';
import { createSshDriver, type SshCloudNode } from '../../src/drivers/ssh/index.js';
import { formatDeployment } from '../../src/cli/commands/status.js';
import { createStyle } from '../../src/cli/format.js';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { ROOT } from '../helpers/processes.js';
import { hostProcesses, sshHostsUp } from '../helpers/ssh-hosts.js';

const run = promisify(execFile);
const sig = (): AbortSignal => new AbortController().signal;
const actor = { actor: 'user:ssh-webapp-test' };

async function curl(url: string): Promise<{ instance: string; count: number }> {
  const { stdout } = await run('curl', ['-sS', '--fail', '--max-time', '5', url]);
  return JSON.parse(stdout) as { instance: string; count: number };
}

test('webapp on an ssh pool of three hosts: traffic through lb, failures detected, destroy leaves the hosts as they were', { timeout: 170_000 }, async () => {
  const f = await sshHostsUp(3);
  const data = tempDir('nubis-ssh-webapp-');
  let cp: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  try {
    const before: { opt: string; procs: string[] }[] = [];
    for (let i = 1; i <= 3; i++) before.push({ opt: await f.ssh(i, 'find /opt | sort'), procs: await hostProcesses(f, i) });

    const example = path.join(ROOT, 'examples/webapp');
    const spec = YAML.parse(fs.readFileSync(path.join(example, 'app.yaml'), 'utf8')) as Record<string, any>;
    const options = { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: f.privateKey, killGraceMs: 500 };
    spec['clouds'] = { pool: { platform: 'ssh', options } };
    spec['nodeTemplates'].small.cloud = 'pool';
    spec['components'].app.instances.count = 1;
    // the example runs unchanged: components bind NUBIS_HOST (the host's address) and the
    // agent's health probes dial that address
    const artefacts = Object.fromEntries(['app.mjs', 'kv.mjs', 'lb.mjs'].map((a) => [a, fs.readFileSync(path.join(example, a)).toString('base64')]));

    cp = await startControlPlane(data, { discoveryIntervalMs: 0, engine: { sweepIntervalMs: 1000 } });
    await cp.apply({ spec: YAML.stringify(spec), file: 'app.yaml', artefacts }, actor);
    await waitFor('webapp ready', async () => (await cp!.getDeployment('webapp')).state === 'ready', 90_000, 250).catch(async (e: unknown) => {
      const events = await cp!.events.list({ deployment: 'webapp' } as never);
      const lines = events.slice(-15).map((ev) => JSON.stringify(ev).slice(0, 400));
      throw new Error(`${String(e)}\nlast events:\n${lines.join('\n')}`);
    });

    const view = await cp.getDeployment('webapp');
    const hostOf = new Map(view.instances.map((i) => [i.component, i.node.id!]));
    assert.equal(new Set(hostOf.values()).size, 3, 'three nodes');
    const lb = (await cp.endpoints('webapp')).find((e) => e.component === 'lb');
    assert.ok(lb, 'lb has an endpoint');
    assert.ok(f.hosts.some((h) => lb.address.startsWith(`${h.address}:`)), `lb is on a pool host: ${lb.address}`);
    const a = await curl(`http://${lb.address}/`);
    const b = await curl(`http://${lb.address}/`);
    assert.equal(a.instance, 'app-1');
    assert.ok(b.count > a.count, `the counter grows through kv (${a.count} → ${b.count})`);

    // failures, as the driver reports them (a second driver over the same inventory)
    const observer = createSshDriver({ cloud: 'pool', options, dataDir: data, clock: createRealClock() });
    const nodeIndex = async (component: string): Promise<number> => {
      const n = (await observer.get(hostOf.get(component)!, sig())) as SshCloudNode;
      return f.hosts.findIndex((h) => h.name === n.host) + 1;
    };
    const appHost = await nodeIndex('app');
    await f.host('link-down', appHost);
    const cut = (await observer.get(hostOf.get('app')!, sig())) as SshCloudNode;
    assert.equal(cut.status, 'error');
    assert.equal(cut.error?.code, 'CLOUD_UNAVAILABLE');
    // the control plane reports it too: events, the instance unreachable (not running/healthy),
    // the lb rewired without it (its update handler ran: no backends, 503 at once instead of
    // 5 s stalls) and a `!` line in status
    const lbUpdates = async (): Promise<number> => (await cp!.events.list({ deployment: 'webapp', kind: 'instance.wiring', target: 'webapp/lb-1' })).length;
    const lbUpdatesBefore = await lbUpdates();
    await waitFor('node.unreachable event', async () => (await cp!.events.list({ deployment: 'webapp', kind: 'node.unreachable' })).some((e) => e.target === 'webapp/app-1'), 30_000, 250);
    await waitFor('instance.unreachable event', async () => (await cp!.events.list({ deployment: 'webapp', kind: 'instance.unreachable', target: 'webapp/app-1' })).length > 0, 30_000, 250);
    const downView = await cp.getDeployment('webapp');
    const app1 = downView.instances.find((i) => i.name === 'app-1')!;
    assert.equal(app1.node.state, 'unreachable');
    assert.equal(app1.health, 'unreachable');
    assert.equal(downView.components.find((c) => c.name === 'app')?.running, 0);
    assert.match(formatDeployment(createStyle(false), downView), /^! app-1: node unreachable/m);
    await waitFor('lb rewired without app-1', async () => (await lbUpdates()) > lbUpdatesBefore, 30_000, 250);
    const t0 = performance.now();
    const noBackend = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${lb.address}/`]);
    assert.equal(noBackend.stdout, '503', 'the lb has no backend to send to');
    assert.ok(performance.now() - t0 < 4000, 'answered without waiting for the dead backend');
    await f.host('link-up', appHost);
    await waitFor('node.reachable event', async () => (await cp!.events.list({ deployment: 'webapp', kind: 'node.reachable' })).some((e) => e.target === 'webapp/app-1'), 30_000, 250);
    await waitFor('instance.reachable event', async () => (await cp!.events.list({ deployment: 'webapp', kind: 'instance.reachable', target: 'webapp/app-1' })).length > 0, 30_000, 250);
    await waitFor('app-1 back behind the lb', async () => (await curl(`http://${lb.address}/`).catch(() => undefined))?.instance === 'app-1', 30_000, 250);
    assert.doesNotMatch(formatDeployment(createStyle(false), await cp.getDeployment('webapp')), /node unreachable/);
    const kvHost = await nodeIndex('kv');
    await f.host('kill-sshd', kvHost);
    const dead = (await observer.get(hostOf.get('kv')!, sig())) as SshCloudNode;
    assert.equal(dead.status, 'error');
    assert.equal(dead.error?.code, 'CLOUD_UNAVAILABLE');
    await f.host('start-sshd', kvHost);
    assert.equal((await observer.get(hostOf.get('kv')!, sig()))?.status, 'running');
    await observer.close();
    await waitFor('traffic flows again', async () => (await curl(`http://${lb.address}/`)).instance === 'app-1', 30_000, 500);
    // every agent listens for Graphite on its host's address (handlers get NUBIS_GRAPHITE)
    const appAddress = (await cp.getDeployment('webapp')).instances.find((i) => i.name === 'app-1')!.node.address!;
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect({ host: appAddress, port: 2003 }, () => sock.end('app.custom 1\n', () => resolve()));
      sock.once('error', reject);
    });

    await cp.destroy('webapp', actor);
    await waitFor('webapp gone', async () => (await cp!.listDeployments()).length === 0, 90_000, 250);
    await assert.rejects(curl(`http://${lb.address}/`));
    for (let i = 1; i <= 3; i++) {
      assert.equal(await f.ssh(i, 'find /opt | sort'), before[i - 1]!.opt, `h${i}: /opt as before`);
      await waitFor(`h${i}: same processes as before`, async () => JSON.stringify(await hostProcesses(f, i)) === JSON.stringify(before[i - 1]!.procs), 5000, 100)
        .catch(async () => assert.deepEqual(await hostProcesses(f, i), before[i - 1]!.procs, `h${i}: same processes as before`));
    }
  } finally {
    if (cp) {
      await cp.destroy('webapp', actor).catch(() => {});
      await waitFor('webapp gone', async () => (await cp!.listDeployments()).length === 0, 60_000, 250).catch(() => {});
      await cp.close();
    }
    await f.down();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
