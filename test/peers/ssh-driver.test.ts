/**
 * The ssh driver against three real sshd hosts (test/fixtures/ssh-hosts/sshd-hosts.sh) that
 * have no `node`: the driver ships the agent and the Node runtime; an exhausted pool is
 * CLOUD_QUOTA_EXCEEDED; a control plane that lost its inventory finds the nodes by asking the
 * hosts; a pulled cable and a dead sshd are reported as `error` / CLOUD_UNAVAILABLE within a
 * bounded time; a changed host key is refused with CLOUD_FORBIDDEN naming both fingerprints;
 * delete leaves every host as it was (the listing of /opt and the host's process table).
 * Needs root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { isNubisError, type NubisError } from '../../src/errors/index.js';
import type { CloudNode, CreateNodeRequest, Driver } from '../../src/drivers/driver.js';
import { createSshDriver, type SshCloudNode } from '../../src/drivers/ssh/index.js';
import { waitFor } from '../helpers/control-plane.js';
import { hostProcesses, sshHostsUp, type SshHostsFixture } from '../helpers/ssh-hosts.js';

const sig = (): AbortSignal => new AbortController().signal;
let f: SshHostsFixture;
let data: string;
const before_: { opt: string[]; procs: string[] }[] = [];

const driverFor = (dataDir: string, knownHostsPath = path.join(data, 'known_hosts')): Driver =>
  createSshDriver({
    cloud: 'byo',
    options: { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: f.privateKey, knownHostsPath, killGraceMs: 500 },
    dataDir,
    clock: createRealClock(),
  });

const req = (i: number): CreateNodeRequest => ({
  key: `t/n-${i}`,
  tags: { 'nubis-owner': 'ssh-test', 'nubis-key': `t/n-${i}` },
  idempotencyToken: `token-${i}`,
  requirements: { cores: 1, memoryMiB: 128 },
});

const optListing = async (i: number): Promise<string> => f.ssh(i, 'find /opt | sort');

before(async () => {
  f = await sshHostsUp(3, { noNode: true });
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-ssh-driver-'));
  for (let i = 1; i <= 3; i++) before_.push({ opt: (await optListing(i)).split('\n'), procs: await hostProcesses(f, i) });
});

after(async () => {
  await f?.down();
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

test('ssh driver: ship, claim, adopt, detect failures, refuse a changed host key, leave hosts as they were', { timeout: 150_000 }, async () => {
  const d = driverFor(data);
  const nodes: CloudNode[] = [];
  for (let i = 1; i <= 3; i++) nodes.push(await d.create(req(i), sig()));
  assert.deepEqual(nodes.map((n) => (n as SshCloudNode).host), ['h1', 'h2', 'h3'], 'one host per node, in pool order');
  assert.ok(nodes.every((n) => n.status === 'running'));

  // the hosts had no node: the driver shipped its own runtime, and the agent answers
  assert.match(await f.ssh(1, 'ls -l /opt/nubis/runtime/node; /opt/nubis/runtime/node --version'), /v\d+\./);
  const st = await d.agent(nodes[0]!).status(sig());
  assert.equal(st.node, nodes[0]!.id);
  assert.equal(nodes[0]!.agent?.url, `https://${f.hosts[0]!.address}:7430`);

  // the pool is exhausted
  const full = await d.create(req(4), sig()).then(() => undefined, (e: unknown) => e);
  assert.ok(isNubisError(full) && full.code === 'CLOUD_QUOTA_EXCEEDED', String(full));
  assert.equal(full.retryable, false);

  // discovery: one location, an offer per host, the hosts' OS as an image
  const disc = await d.discover!(sig());
  assert.deepEqual(disc.locations.map((l) => l.id), ['ssh-pool']);
  assert.deepEqual(disc.offers.map((o) => o.id), ['h1', 'h2', 'h3']);
  assert.ok(disc.offers.every((o) => o.cores >= 1 && o.memoryMiB > 0 && (o.diskGiB ?? 0) > 0), JSON.stringify(disc.offers));
  const osRelease = fs.readFileSync('/etc/os-release', 'utf8');
  const osId = /^ID="?([^"\n]+)/m.exec(osRelease)?.[1];
  assert.deepEqual(disc.images.map((i) => i.os), [osId]);

  // key-only: a password is refused up front
  assert.throws(
    () => createSshDriver({ cloud: 'x', options: { hosts: [{ address: '10.0.0.1' }], password: 'hunter2' }, dataDir: data, clock: createRealClock() }),
    (e: unknown) => isNubisError(e) && e.code === 'SPEC_INVALID' && /password/.test(e.message) && !e.message.includes('hunter2'),
  );

  // a fresh control plane (empty data dir, same known_hosts, the key from the credential
  // registry) finds the nodes by asking the hosts
  const fresh = createSshDriver({
    cloud: 'byo',
    options: { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), knownHostsPath: path.join(data, 'known_hosts') },
    credentials: { privateKey: fs.readFileSync(f.privateKey, 'utf8') },
    dataDir: fs.mkdtempSync(path.join(data, 'fresh-')),
    clock: createRealClock(),
  });
  const found = await fresh.list({ 'nubis-owner': 'ssh-test' }, sig());
  assert.deepEqual(found.map((n) => n.id).sort(), nodes.map((n) => n.id).sort());
  assert.deepEqual((await fresh.list({ 'nubis-key': 't/n-2' }, sig())).map((n) => n.id), [nodes[1]!.id]);
  await fresh.close();

  // reboot restarts the agent
  await d.reboot(nodes[2]!.id, sig());
  assert.equal((await d.get(nodes[2]!.id, sig()))?.status, 'running');

  // a pulled cable: detected within the connect timeout, reported as error / CLOUD_UNAVAILABLE
  await f.host('link-down', 2);
  let t = Date.now();
  const down = (await d.get(nodes[1]!.id, sig())) as SshCloudNode;
  const downMs = Date.now() - t;
  assert.equal(down.status, 'error');
  assert.equal(down.error?.code, 'CLOUD_UNAVAILABLE');
  assert.match(down.error!.message, /h2/);
  assert.ok(downMs < 9000, `detected in ${downMs} ms`);
  t = Date.now();
  const listed = (await d.list({ 'nubis-owner': 'ssh-test' }, sig())) as SshCloudNode[];
  assert.ok(Date.now() - t < 9000, 'list is bounded too');
  assert.deepEqual(listed.map((n) => `${n.host}:${n.status}`).sort(), ['h1:running', 'h2:error', 'h3:running']);
  await f.host('link-up', 2);
  assert.equal((await d.get(nodes[1]!.id, sig()))?.status, 'running', 'back when the link is');

  // a dead sshd: refused at once
  await f.host('kill-sshd', 3);
  t = Date.now();
  const dead = (await d.get(nodes[2]!.id, sig())) as SshCloudNode;
  assert.equal(dead.status, 'error');
  assert.equal(dead.error?.code, 'CLOUD_UNAVAILABLE');
  assert.ok(Date.now() - t < 9000);
  const deleteDead = await d.delete(nodes[2]!.id, sig()).then(() => undefined, (e: unknown) => e as NubisError);
  assert.equal(deleteDead?.code, 'CLOUD_UNAVAILABLE', 'delete of an unreachable host fails, retryable');
  assert.equal(deleteDead?.retryable, true);
  assert.ok(await d.get(nodes[2]!.id, sig()), 'and the node is still there');
  await f.host('start-sshd', 3);
  assert.equal((await d.get(nodes[2]!.id, sig()))?.status, 'running');

  // a changed host key is refused, clearly
  const pinned = f.hosts[0]!.fingerprint;
  const offered = (await f.host('rekey', 1)).trim();
  const refused = (await d.get(nodes[0]!.id, sig())) as SshCloudNode;
  assert.equal(refused.status, 'error');
  assert.equal(refused.error?.code, 'CLOUD_FORBIDDEN');
  const rebootErr = await d.reboot(nodes[0]!.id, sig()).then(() => undefined, (e: unknown) => e as NubisError);
  assert.equal(rebootErr?.code, 'CLOUD_FORBIDDEN');
  assert.equal(rebootErr?.retryable, false);
  for (const part of ['h1', f.hosts[0]!.address, pinned, offered, 'known_hosts', 'remove the line']) {
    assert.ok(rebootErr!.message.includes(part), `message names ${part}: ${rebootErr!.message}`);
  }
  // what the operator does after checking the new key: drop the pin
  const kh = path.join(data, 'known_hosts');
  fs.writeFileSync(kh, fs.readFileSync(kh, 'utf8').split('\n').filter((l) => !l.startsWith(`${f.hosts[0]!.address} `)).join('\n'));

  // delete cleans everything and releases the hosts
  for (const n of nodes) await d.delete(n.id, sig());
  assert.deepEqual(await d.list({}, sig()), []);
  await d.close();
  for (let i = 1; i <= 3; i++) {
    assert.deepEqual((await optListing(i)).split('\n'), before_[i - 1]!.opt, `h${i}: /opt as before`);
    // ssh sessions of the listing above may take a moment to exit
    await waitFor(`h${i}: same processes as before`, async () => JSON.stringify(await hostProcesses(f, i)) === JSON.stringify(before_[i - 1]!.procs), 5000, 100)
      .catch(async () => assert.deepEqual(await hostProcesses(f, i), before_[i - 1]!.procs, `h${i}: same processes as before`));
  }
});
