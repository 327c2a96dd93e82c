/**
 * Firewalls from channels on real sshd hosts (test/fixtures/ssh-hosts: each host its own
 * network namespace on a bridge) with nftables, installed from Debian when missing: kv provides
 * `kv` (a channel port) and `admin` (no channel); app requires kv. From app's host kv's channel
 * port answers and its admin port is refused; from a host that runs no consumer both are
 * refused. After scaling app onto that host, its channel connection goes through (the rules
 * followed the wiring); after destroy no nubis table is left on any host. Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { ensureDebianPackage } from '../helpers/peers-debian.js';
import { requireRoot, sshHostsUp } from '../helpers/ssh-hosts.js';

const actor = { actor: 'user:ssh-firewall-test', tenant: 'default' };
const LISTEN = `exec node -e "for (const p of [7101, 7102]) require('net').createServer((s) => s.end('ok ' + p + '\\\\n')).listen(p, '0.0.0.0')"`;

const spec = (hosts: { address: string; name: string }[], key: string, apps: number): string => `name: fw
clouds:
  pool: { platform: ssh, options: { hosts: ${JSON.stringify(hosts)}, privateKeyPath: ${JSON.stringify(key)}, killGraceMs: 500 } }
nodeTemplates:
  t: { cloud: pool, placement: { policy: packing } }
components:
  kv:
    nodeTemplate: t
    provides: { kv: { port: 7101 }, admin: { port: 7102 } }
    lifecycle:
      start: ${JSON.stringify(LISTEN)}
      health: { tcp: kv }
  app:
    nodeTemplate: t
    instances: { count: ${apps}, max: 3 }
    requires: { kv: { component: kv, port: kv } }
    lifecycle: { start: "exec sleep 100000" }
firewall: {}
`;

/** What a TCP connect from host `i` to address:port gives: the first line read, or the error code. */
const DIAL = (address: string, port: number): string =>
  `node -e "const s = require('net').connect(${port}, '${address}'); s.on('data', (d) => { console.log(String(d).trim()); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(0); })"`;

test('ssh hosts: nftables open only channel ports to consumers, follow a scale-out, and are gone after destroy', { timeout: 400_000 }, async () => {
  requireRoot();
  ensureDebianPackage('/usr/sbin/nft', 'nftables');
  const f = await sshHostsUp(3);
  const data = tempDir('nubis-ssh-fw-');
  let cp: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  try {
    const hosts = f.hosts.map((h) => ({ address: h.address, name: h.name }));
    cp = await startControlPlane(data, { discoveryIntervalMs: 0, engine: { sweepIntervalMs: 2000 } });
    await cp.apply({ spec: spec(hosts, f.privateKey, 1), file: 'fw.yaml' }, actor);
    await waitFor('fw ready', async () => (await cp!.getDeployment('fw')).state === 'ready', 180_000, 250);
    const addressOf = (component: string, n = 1): string => [...cp!.engine.nodes.values()].find((x) => x.key === `fw/${component}-${n}`)!.observed!.address!;
    const indexOf = (address: string): number => f.hosts.findIndex((h) => h.address === address) + 1;
    const kv = addressOf('kv');
    const app = indexOf(addressOf('app'));
    const other = [1, 2, 3].find((i) => i !== indexOf(kv) && i !== app)!;
    await waitFor('kv firewall applied', async () => (await cp!.events.list({ deployment: 'fw', kind: 'firewall.applied' })).some((e) => (e.data as { cloud?: string; ports?: number[] }).ports?.includes(7101)), 60_000, 250);

    assert.equal((await f.ssh(app, DIAL(kv, 7101))).trim(), 'ok 7101', 'the channel port answers the consumer');
    assert.equal((await f.ssh(app, DIAL(kv, 7102))).trim(), 'ECONNREFUSED', 'a port no channel needs is closed to the consumer');
    assert.equal((await f.ssh(other, DIAL(kv, 7101))).trim(), 'ECONNREFUSED', 'the channel port is closed to a host that runs no consumer');
    assert.equal((await f.ssh(indexOf(kv), DIAL(kv, 7102))).trim(), 'ok 7102', 'the host itself reaches its ports (loopback)');
    const table = await f.ssh(indexOf(kv), 'PATH=$PATH:/usr/sbin nft list table inet nubis_fw');
    assert.match(table, /tcp dport 7101 ip saddr/);
    assert.doesNotMatch(table, /7102/);

    // wiring change: a second app instance lands on the other host, and kv lets it in
    await cp.scale('fw', 'app', 2, actor);
    await waitFor('app-2 on the other host', () => [...cp!.engine.nodes.values()].some((n) => n.key === 'fw/app-2' && n.observed?.address === f.hosts[other - 1]!.address), 120_000, 250);
    await waitFor('kv opened to app-2', async () => (await f.ssh(other, DIAL(kv, 7101))).trim() === 'ok 7101', 60_000, 500);
    assert.equal((await f.ssh(other, DIAL(kv, 7102))).trim(), 'ECONNREFUSED');

    await cp.destroy('fw', actor);
    await waitFor('fw destroyed', async () => (await cp!.events.list({ deployment: 'fw', kind: 'deployment.destroyed' })).length > 0, 180_000, 250);
    for (let i = 1; i <= 3; i++) assert.doesNotMatch(await f.ssh(i, 'PATH=$PATH:/usr/sbin nft list tables'), /nubis_/, `host ${i} has no nubis table left`);
  } finally {
    await cp?.close();
    await f.down();
  }
});
