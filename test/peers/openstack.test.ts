/**
 * The openstack driver against a real OpenStack (see test/helpers/openstack-env.ts for how the
 * cloud is given). In CI that is the loopback cloud from shared/peers/openstack: real Keystone,
 * Nova (fake compute driver: servers are database records, not machines), Placement, Glance,
 * Cinder (fake volume driver) and the Neutron API without agents.
 *
 * Everything these tests create carries this run's owner tag or name prefix and is deleted in
 * `after`, also when a test fails.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { deriveAgentSecrets, tagSeed } from '../../src/drivers/agent-bootstrap.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, type CreateNodeRequest } from '../../src/drivers/driver.js';
import { NubisError } from '../../src/errors/index.js';
import { MAX_COMPUTE_MICROVERSION, compareMicroversions, parseMicroversion, type OpenStackDriver, type RequestRecord } from '../../src/drivers/openstack/index.js';
import { tempDir } from '../helpers/control-plane.js';
import { openStackDriver, readOpenStackEnv, type OpenStackTestEnv } from '../helpers/openstack-env.js';
import { assertOneTimeBootstrap } from '../helpers/agent-user-data.js';

const found = readOpenStackEnv();
const sig = (): AbortSignal => new AbortController().signal;

if ('error' in found) {
  test('openstack peer tier: a cloud is configured', () => {
    assert.fail(found.error);
  });
} else {
  const env: OpenStackTestEnv = found;
  const run = `os-${randomUUID().slice(0, 8)}`;
  const owner = `nubis-test-${run}`;
  const dir = tempDir('nubis-openstack-');

  runDriverConformance('openstack', async () => {
    const driver = openStackDriver(env, dir);
    return { driver, teardown: () => driver.close(), runningTimeoutMs: 120_000, pollMs: 250 };
  });

  describe(`openstack driver at ${env.authUrl}`, () => {
    const records: RequestRecord[] = [];
    let d: OpenStackDriver;
    const servers = new Set<string>();
    const cleanups: (() => Promise<unknown>)[] = [];
    let seq = 0;

    const request = (extra: Partial<CreateNodeRequest> = {}): CreateNodeRequest => {
      const key = `${run}/node-${seq++}`;
      return { key, tags: { [TAG_OWNER]: owner, [TAG_DEPLOYMENT]: run, [TAG_KEY]: key }, idempotencyToken: `${key}#${randomUUID()}`, requirements: { cores: 1, memoryMiB: 256 }, ...extra };
    };
    const create = async (drv: OpenStackDriver = d, req = request()) => {
      const n = await drv.create(req, sig());
      servers.add(n.id);
      return n;
    };
    /** Every error message seen here, checked for secrets at the end. */
    const messages: string[] = [];
    const catchErr = async (p: Promise<unknown>): Promise<NubisError> => {
      const e = await p.then(() => undefined, (x: unknown) => x);
      assert.ok(e instanceof NubisError, `expected a NubisError, got ${String(e)}`);
      messages.push(e.message, JSON.stringify(e.toJSON()));
      return e;
    };

    before(() => {
      d = openStackDriver(env, dir, { onRequest: (r: RequestRecord) => records.push(r) });
    });

    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      const left = await d.list({ [TAG_OWNER]: owner }, sig()).catch(() => []);
      for (const id of new Set([...servers, ...left.map((n) => n.id)])) await d.delete(id, sig()).catch(() => undefined);
      await d.close();
    });

    it('negotiates the compute microversion from the endpoint and sends it on every compute call', async () => {
      const v = await d.compute.version(sig());
      assert.ok(v.serverMax && v.serverMin && v.negotiated, `version document read: ${JSON.stringify(v)}`);
      // the same document, read independently
      const base = await d.session.endpoint('compute', sig());
      const raw = (await (await fetch(base, { headers: { 'x-auth-token': await d.session.currentToken(sig()) } })).json()) as { version: { version: string; min_version: string } };
      assert.equal(v.serverMax, raw.version.version);
      assert.equal(v.serverMin, raw.version.min_version);
      const server = parseMicroversion(raw.version.version)!;
      const ours = parseMicroversion(MAX_COMPUTE_MICROVERSION)!;
      assert.equal(v.negotiated, compareMicroversions(server, ours) < 0 ? raw.version.version : MAX_COMPUTE_MICROVERSION);
      await d.discover!(sig());
      const computeCalls = records.filter((r) => r.service === 'compute' && r.path !== new URL(base).pathname);
      assert.ok(computeCalls.length > 0);
      for (const r of computeCalls) assert.equal(r.headers['OpenStack-API-Version'], `compute ${v.negotiated}`, `${r.method} ${r.path}`);

      // a pinned old version: no server tags, and listing still finds by metadata
      const old = openStackDriver(env, dir, { microversion: '2.1' });
      assert.equal((await old.compute.version(sig())).negotiated, '2.1');
      const req = request();
      const n = await create(old, req);
      assert.deepEqual((await old.list({ [TAG_KEY]: req.key }, sig())).map((x) => x.id), [n.id]);
      await old.waitStatus(n.id, 'running', sig()); // tags are readable once the server left its build request
      assert.deepEqual(await d.compute.serverTags(n.id, sig()), [], 'no server tags below 2.52');
      assert.deepEqual((await d.list({ [TAG_KEY]: req.key }, sig())).map((x) => x.id), [], 'the tag filter of a newer driver relies on server tags');
      await old.delete(n.id, sig());
      await old.close();

      const bad = openStackDriver(env, dir, { microversion: '9.99' });
      const e = await catchErr(bad.list({ [TAG_OWNER]: owner }, sig()));
      assert.equal(e.code, 'CLOUD_BAD_REQUEST');
      assert.match(e.message, /outside the cloud's range/);
    });

    it('discovers flavors as offers, zones as locations and images', async () => {
      const disc = await d.discover!(sig());
      assert.ok(disc.offers.length > 0 && disc.offers.every((o) => o.cores > 0 && o.memoryMiB > 0));
      assert.ok(disc.locations.length > 0);
      assert.ok(disc.images.some((i) => i.name === env.image || i.id === env.image), `image ${env.image} discovered`);
    });

    it('create, list by tag, reboot, stop, start, snapshot (createImage), delete', async () => {
      const req = request();
      const n = await create(d, req);
      assert.equal(n.tags[TAG_KEY], req.key);
      assert.ok(['provisioning', 'running'].includes(n.status));

      const byOwnerAndKey = await d.list({ [TAG_OWNER]: owner, [TAG_KEY]: req.key }, sig());
      assert.deepEqual(byOwnerAndKey.map((x) => x.id), [n.id]);
      assert.deepEqual(await d.list({ [TAG_OWNER]: owner, [TAG_KEY]: `${req.key}x` }, sig()), []);

      const running = await d.waitStatus(n.id, 'running', sig());
      const tags = await d.compute.serverTags(n.id, sig());
      assert.ok(tags.includes(`${TAG_OWNER}=${owner}`), `server tags ${tags.join(' ')}`);
      assert.ok(tags.includes(`${TAG_KEY}=${req.key.replace('/', '%2F')}`), `server tags ${tags.join(' ')}`);
      if (env.network) {
        assert.ok(running?.address, 'a server on a network has an address');
        assert.equal(running?.agent?.url, `https://${running?.address}:7430`);
      }
      await d.reboot(n.id, sig());
      await d.waitStatus(n.id, 'running', sig());
      await d.stop(n.id, sig());
      await d.waitStatus(n.id, 'stopped', sig());
      await d.stop(n.id, sig()); // already stopped: no-op, no 409
      await d.start(n.id, sig());
      await d.waitStatus(n.id, 'running', sig());

      const imageId = await d.createImage(n.id, `${run}-snap`, sig());
      cleanups.push(() => d.images.delete(imageId, sig()));
      const img = await d.images.waitActive(imageId, sig(), { timeoutMs: 60_000 });
      assert.equal(img.name, `${run}-snap`);
      await d.images.delete(imageId, sig());
      assert.equal(await d.images.get(imageId, sig()), undefined);

      await d.delete(n.id, sig());
      assert.equal(await d.get(n.id, sig()), undefined);
      assert.deepEqual(await d.list({ [TAG_KEY]: req.key }, sig()), []);
      const e = await catchErr(d.stop(n.id, sig()));
      assert.equal(e.code, 'CLOUD_NOT_FOUND');
    });

    it('volumes and volume snapshots: create, list by metadata, delete', async () => {
      const meta = { [TAG_OWNER]: owner };
      const vol = await d.volumes.create({ name: `${run}-vol`, sizeGiB: 1, metadata: meta }, sig());
      cleanups.push(() => d.volumes.delete(vol.id, sig()));
      await d.volumes.wait(vol.id, 'available', sig(), { timeoutMs: 60_000 });
      assert.deepEqual((await d.volumes.list(meta, sig())).map((v) => v.id), [vol.id]);
      const snap = await d.volumes.createSnapshot({ volumeId: vol.id, name: `${run}-vsnap`, metadata: meta }, sig());
      cleanups.push(() => d.volumes.deleteSnapshot(snap.id, sig()));
      await d.volumes.waitSnapshot(snap.id, 'available', sig(), { timeoutMs: 60_000 });
      assert.deepEqual((await d.volumes.listSnapshots(meta, sig())).map((s) => s.id), [snap.id]);
      // a volume with a snapshot cannot go: classified, not retried blindly
      const e = await catchErr(d.volumes.delete(vol.id, sig()));
      assert.match(e.code, /^CLOUD_/);
      await d.volumes.deleteSnapshot(snap.id, sig());
      await d.volumes.waitSnapshot(snap.id, 'gone', sig(), { timeoutMs: 60_000 });
      await d.volumes.delete(vol.id, sig());
      await d.volumes.wait(vol.id, 'gone', sig(), { timeoutMs: 60_000 });
      await d.volumes.delete(vol.id, sig()); // idempotent
      assert.deepEqual(await d.volumes.list(meta, sig()), []);
    });

    it('floating IPs, security groups and a volume attachment on a networked server', { skip: !env.network || !env.externalNetwork ? 'needs a network and an external network' : false }, async () => {
      const sg = await d.networks.createSecurityGroup(`${run}-sg`, 'nubis test', sig());
      cleanups.push(() => d.networks.deleteSecurityGroup(sg.id, sig()));
      const rule = await d.networks.addSecurityGroupRule(sg.id, { direction: 'ingress', protocol: 'tcp', portMin: 7430, portMax: 7430, remoteIpPrefix: '0.0.0.0/0' }, sig());
      const listed = await d.networks.listSecurityGroups({ name: `${run}-sg` }, sig());
      assert.ok(listed[0]?.security_group_rules?.some((r) => r.id === rule.id && r.port_range_min === 7430));

      const sgDriver = openStackDriver(env, dir, { securityGroups: [`${run}-sg`] });
      const n = await create(sgDriver);
      await d.waitStatus(n.id, 'running', sig());

      // a floating IP the driver allocates for the node, released with it
      const fip = await d.attachFloatingIp(n.id, env.externalNetwork, sig());
      const withFip = await waitForValue(async () => {
        const g = await d.get(n.id, sig());
        return g?.address === fip.floating_ip_address ? g : undefined;
      }, 30_000);
      assert.equal(withFip.agent?.url, `https://${fip.floating_ip_address}:7430`);

      // a floating IP managed by hand: create, associate, disassociate, delete
      const ext = (await d.networks.find(env.externalNetwork!, sig()))!;
      const port = (await d.networks.ports({ deviceId: n.id }, sig()))[0]!;
      const spare = await d.networks.createFloatingIp({ networkId: ext.id, description: `${run}-spare` }, sig());
      cleanups.push(() => d.networks.deleteFloatingIp(spare.id, sig()));
      assert.equal(spare.port_id, null);
      await d.networks.associateFloatingIp(fip.id, null, sig());
      assert.equal((await d.networks.associateFloatingIp(spare.id, port.id, sig())).port_id, port.id);
      await d.networks.associateFloatingIp(spare.id, null, sig());
      await d.networks.associateFloatingIp(fip.id, port.id, sig());
      await d.networks.deleteFloatingIp(spare.id, sig());
      assert.equal(await d.networks.getFloatingIp(spare.id, sig()), undefined);

      // a volume attached and detached
      const vol = await d.volumes.create({ name: `${run}-att`, sizeGiB: 1, metadata: { [TAG_OWNER]: owner } }, sig());
      cleanups.push(() => d.volumes.delete(vol.id, sig()));
      await d.volumes.wait(vol.id, 'available', sig(), { timeoutMs: 60_000 });
      await d.compute.attachVolume(n.id, vol.id, sig());
      await d.volumes.wait(vol.id, 'in-use', sig(), { timeoutMs: 60_000 });
      await d.compute.detachVolume(n.id, vol.id, sig());
      await d.volumes.wait(vol.id, 'available', sig(), { timeoutMs: 60_000 });
      await d.volumes.delete(vol.id, sig());

      await sgDriver.delete(n.id, sig());
      assert.equal(await d.networks.getFloatingIp(fip.id, sig()), undefined, 'the node\'s floating IP went with it');
      await d.networks.deleteSecurityGroup(sg.id, sig());
      await sgDriver.close();
    });

    it('server groups, key pairs and user data: a node created with them carries them', async () => {
      const g = await d.compute.createServerGroup(`${run}-grp`, 'affinity', sig());
      cleanups.push(() => d.compute.deleteServerGroup(g.id, sig()));
      const kp = await d.compute.createKeyPair(`${run}-kp`, sshPublicKey(), sig());
      cleanups.push(() => d.compute.deleteKeyPair(kp.name, sig()));
      const withBoth = openStackDriver(env, dir, { serverGroup: g.id, keyName: kp.name });
      const n = await create(withBoth);
      const running = await d.waitStatus(n.id, 'running', sig());
      assert.deepEqual((await d.compute.getServerGroup(g.id, sig()))?.members, [n.id]);
      const raw = (await d.compute.getServer(n.id, sig())) as unknown as Record<string, unknown>;
      assert.equal(raw['key_name'], kp.name);
      // the user data as Nova keeps it (readable here with admin rights only) carries a one-time
      // bootstrap token and the CA, never the long-lived agent token; no agent is waited on: the
      // fake compute driver's servers are not machines
      const userData = raw['OS-EXT-SRV-ATTR:user_data'];
      assert.equal(typeof userData, 'string', 'admin sees the user data');
      const text = Buffer.from(userData as string, 'base64').toString('utf8');
      assert.match(text, /^#!\/bin\/sh\n/, 'without a cloudInit the Nubis script goes alone');
      const secrets = deriveAgentSecrets(Buffer.from(env.credentials['agentSecret'] ?? fs.readFileSync(path.join(dir, 'openstack-os-test.agent-secret'), 'utf8').trim(), 'utf8'), tagSeed(n.tags)!);
      assertOneTimeBootstrap(text, dir, secrets);
      assert.equal(running?.agent?.token, secrets.agentToken);
      assert.match(running?.agent?.url ?? '', /^https:/);
      await withBoth.delete(n.id, sig());
      await d.compute.deleteServerGroup(g.id, sig());
      await d.compute.deleteKeyPair(kp.name, sig());
      await withBoth.close();
    });

    it('refreshes the token before it expires, and re-authenticates once after a 401', async () => {
      const log: RequestRecord[] = [];
      const short = openStackDriver(env, dir, { tokenLifetimeMs: 2_000, onRequest: (r: RequestRecord) => log.push(r) });
      await short.list({ [TAG_OWNER]: owner }, sig());
      assert.equal(short.session.authentications, 1);
      await short.list({ [TAG_OWNER]: owner }, sig());
      assert.equal(short.session.authentications, 1, 'a fresh token is reused');
      await new Promise((r) => setTimeout(r, 2_100));
      await short.list({ [TAG_OWNER]: owner }, sig());
      assert.equal(short.session.authentications, 2, 'an expiring token is replaced before use');
      assert.equal(log.filter((r) => r.status === 401).length, 0, 'the refresh came before any 401');

      await short.close();

      // revoke a fresh token behind the driver's back (before Nova has seen and cached it):
      // the next call gets 401 and re-authenticates once
      const plain = openStackDriver(env, dir, { onRequest: (r: RequestRecord) => log.push(r) });
      const token = await plain.session.currentToken(sig());
      assert.equal(plain.session.authentications, 1);
      const admin = await d.session.currentToken(sig());
      const revoke = await fetch(`${env.authUrl.replace(/\/+$/, '')}/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': admin, 'x-subject-token': token } });
      assert.equal(revoke.status, 204);
      log.length = 0;
      await plain.list({ [TAG_OWNER]: owner }, sig());
      assert.equal(plain.session.authentications, 2);
      // (the version document needs no token, so it may answer 200 first)
      const seen = log.map((r) => `${r.service} ${r.status}`);
      assert.ok(seen.join(',').includes('compute 401,identity 201,compute 200'), seen.join(','));
      assert.equal(seen.filter((x) => x.endsWith(' 401')).length, 1, 'one 401, one re-authentication');
      await plain.close();
    });

    it('application credentials authenticate too', async () => {
      if (!env.credentials['username']) return; // the tier already runs on an application credential
      const token = await d.session.currentToken(sig());
      const who = (await (await fetch(`${env.authUrl.replace(/\/+$/, '')}/auth/tokens`, { headers: { 'x-auth-token': token, 'x-subject-token': token } })).json()) as { token: { user: { id: string } } };
      const secret = `s3cret-${randomUUID()}`;
      const made = await fetch(`${env.authUrl.replace(/\/+$/, '')}/users/${who.token.user.id}/application_credentials`, {
        method: 'POST',
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ application_credential: { name: `${run}-appcred`, secret } }),
      });
      assert.equal(made.status, 201);
      const appId = ((await made.json()) as { application_credential: { id: string } }).application_credential.id;
      cleanups.push(() => fetch(`${env.authUrl.replace(/\/+$/, '')}/users/${who.token.user.id}/application_credentials/${appId}`, { method: 'DELETE', headers: { 'x-auth-token': token } }));
      const byApp = openStackDriver(env, dir, {}, { applicationCredentialId: appId, applicationCredentialSecret: secret });
      assert.ok(Array.isArray(await byApp.list({ [TAG_OWNER]: owner }, sig())));
      assert.equal(byApp.session.authentications, 1);
      const wrong = openStackDriver(env, dir, {}, { applicationCredentialId: appId, applicationCredentialSecret: `${secret}-wrong` });
      const e = await catchErr(wrong.list({ [TAG_OWNER]: owner }, sig()));
      assert.equal(e.code, 'CLOUD_UNAUTHORIZED');
      assert.ok(!e.message.includes(secret));
    });

    it('errors are classified and carry no secret', async () => {
      const password = `pw-${randomUUID()}`;
      const wrong = openStackDriver(env, dir, {}, env.credentials['username'] ? { username: env.credentials['username'], password } : { applicationCredentialId: 'nope', applicationCredentialSecret: password });
      const unauth = await catchErr(wrong.list({ [TAG_OWNER]: owner }, sig()));
      assert.equal(unauth.code, 'CLOUD_UNAUTHORIZED');
      assert.equal(unauth.retryable, false);
      assert.ok(!unauth.message.includes(password));

      const nf = await catchErr(d.reboot(`no-such-${randomUUID()}`, sig()));
      assert.equal(nf.code, 'CLOUD_NOT_FOUND');
      const badFlavor = openStackDriver(env, dir, { flavor: `no-such-flavor-${run}` });
      const bf = await catchErr(badFlavor.create(request(), sig()));
      assert.equal(bf.code, 'CLOUD_BAD_REQUEST');
      assert.equal(bf.retryable, false);
      const unreachable = openStackDriver(env, dir, { authUrl: 'http://127.0.0.1:9/v3' });
      const un = await catchErr(unreachable.list({}, sig()));
      assert.equal(un.code, 'CLOUD_UNAVAILABLE');
      assert.equal(un.retryable, true);
      const ac = new AbortController();
      ac.abort();
      assert.equal((await catchErr(d.list({}, ac.signal))).code, 'ABORTED');

      const tokens = [await d.session.currentToken(sig())];
      const secrets = [...Object.values(env.credentials), password, ...tokens].filter((s) => s.length >= 4);
      for (const m of messages) for (const s of secrets) assert.ok(!m.includes(s), `a secret leaked into: ${m}`);
      for (const r of records) assert.ok(!('x-auth-token' in r.headers));
    });

    it('the agent of a fake server does not answer: AGENT_UNREACHABLE, quickly', async () => {
      const n = await create(openStackDriver(env, dir, { agentConnectTimeoutMs: 1_000 }));
      const running = await d.waitStatus(n.id, 'running', sig());
      const t0 = Date.now();
      const agent = openStackDriver(env, dir, { agentConnectTimeoutMs: 1_000 }).agent(running!);
      const e = await catchErr(agent.status(sig()));
      assert.equal(e.code, 'AGENT_UNREACHABLE');
      assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
      assert.ok(!running!.agent || !e.message.includes(running!.agent.token));
      await d.delete(n.id, sig());
    });
  });
}

async function waitForValue<T>(fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A fresh ed25519 public key in OpenSSH format (Nova ≥ 2.92 only imports keys). */
function sshPublicKey(): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} nubis-test`;
}
