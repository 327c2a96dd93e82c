/**
 * The ec2 driver against an EC2 Query API stand-in (test/helpers/standin-ec2.ts), built from the
 * "Amazon EC2 API Reference" (API 2016-11-15): Query requests, XML responses, "Error codes for
 * the Amazon EC2 API", "Ensuring idempotency" (ClientToken, IdempotentParameterMismatch),
 * pagination (MaxResults/NextToken), RunInstances, DescribeInstances, TerminateInstances,
 * RebootInstances, Start/StopInstances, CreateImage, CreateSnapshot, CreateSecurityGroup,
 * AuthorizeSecurityGroupIngress, ImportKeyPair, DescribeKeyPairs, DescribeRegions,
 * DescribeAvailabilityZones, DescribeInstanceTypes, DescribeImages. No real AWS is contacted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, type CreateNodeRequest } from '../../src/drivers/driver.js';
import { createEc2Driver, ec2ClientToken, parseImageOs, type Ec2Driver } from '../../src/drivers/ec2/index.js';
import { explainCloudError } from '../../src/drivers/explain.js';
import { NubisError } from '../../src/errors/index.js';
import { startEc2Standin, type Ec2Standin } from '../helpers/standin-ec2.js';
import { assertOneTimeBootstrap } from '../helpers/agent-user-data.js';
import { agentSecrets, loadAgentSecret } from '../../src/drivers/index.js';

const AKID = 'AKIDSTANDIN0001';
const SECRET = 'canary-ec2-secret-7f3a9c';
const SESSION = 'canary-ec2-session-41be02';
const sig = (): AbortSignal => new AbortController().signal;

function makeDriver(s: Ec2Standin, dir: string, options: Record<string, unknown> = {}, credentials: Record<string, string> = {}): Ec2Driver {
  return createEc2Driver({
    cloud: 'aws-test',
    options: { region: 'eu-north-1', endpoint: s.url, imageId: 'ami-0a1b2c3d4e5f60001', instanceType: 't3.micro', ...options },
    dataDir: dir,
    clock: createRealClock(),
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken: SESSION, ...credentials },
  });
}

const req = (key: string, token = `${key}#1`, extra: Partial<CreateNodeRequest> = {}): CreateNodeRequest => ({
  key,
  tags: { [TAG_OWNER]: 'ec2-test', [TAG_DEPLOYMENT]: 'd', [TAG_KEY]: key },
  idempotencyToken: token,
  requirements: { cores: 1, memoryMiB: 512 },
  ...extra,
});

async function rejection(p: Promise<unknown>): Promise<NubisError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof NubisError, `expected a NubisError, got ${String(e)}`);
  return e;
}

runDriverConformance('ec2 over the EC2 Query API stand-in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-ec2conf-'));
  const s = await startEc2Standin({ accessKeyId: AKID, transitionMs: 20, imageMs: 60, imageHiddenCalls: 1 });
  const driver = makeDriver(s, dir);
  return {
    driver,
    failNextSnapshot: () => s.failImages(1),
    snapshotBytes: false,
    async teardown() {
      await driver.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('ec2 driver over the stand-in', () => {
  let s: Ec2Standin;
  let d: Ec2Driver;
  let dir: string;
  const thrown: NubisError[] = [];
  const capture = async (p: Promise<unknown>): Promise<NubisError> => {
    const e = await rejection(p);
    thrown.push(e);
    return e;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-ec2-'));
    s = await startEc2Standin({ accessKeyId: AKID, transitionMs: 10 });
    d = makeDriver(s, dir);
  });
  after(async () => {
    await d.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RunInstances carries ClientToken, every tag (instance and volume) and user data for the agent', async () => {
    const node = await d.create(req('d/web-0'), sig());
    const inst = s.instances().find((i) => i.instanceId === node.id)!;
    assert.equal(inst.clientToken, 'd/web-0#1');
    assert.equal(inst.tags.get(TAG_KEY), 'd/web-0');
    assert.equal(inst.volumeTags.get(TAG_OWNER), 'ec2-test');
    const script = Buffer.from(inst.userData!, 'base64').toString('utf8');
    assert.match(script, /^#!\/bin\/sh/);
    // as sent to the cloud: a one-time bootstrap token and the CA, never the long-lived token
    const secrets = agentSecrets(loadAgentSecret('ec2', 'aws-test', dir), req('d/web-0').tags)!;
    assert.ok(node.agent && node.agent.token === secrets.agentToken);
    assertOneTimeBootstrap(script, dir, secrets);
    assert.equal(node.agent.url, `https://${inst.privateIp}:7430`);
    assert.equal(node.status, 'provisioning');
  });

  it('ClientToken idempotency: same token → same instance; same token, other parameters → IdempotentParameterMismatch', async () => {
    const before = s.instances().length;
    const a = await d.create(req('d/idem-0', 'tok-idem'), sig());
    const b = await d.create(req('d/idem-0', 'tok-idem'), sig());
    assert.equal(b.id, a.id);
    assert.equal(s.instances().length, before + 1);
    const e = await capture(d.create(req('d/idem-0', 'tok-idem', { placement: { offer: 't3.small' } }), sig()));
    assert.equal(e.code, 'CLOUD_CONFLICT');
    assert.equal(e.retryable, false);
    assert.equal(explainCloudError(e, 'ec2').providerCode, 'IdempotentParameterMismatch');
    // long tokens are hashed into EC2's 64-character limit, deterministically
    const long = 'x'.repeat(100);
    assert.equal(ec2ClientToken(long), ec2ClientToken(long));
    assert.ok(ec2ClientToken(long).length <= 64);
    const c = await d.create(req('d/idem-1', long), sig());
    assert.equal((await d.create(req('d/idem-1', long), sig())).id, c.id);
  });

  it('a terminated instance is gone for get and list, and its token is spent', async () => {
    const n = await d.create(req('d/term-0', 'tok-term'), sig());
    await d.delete(n.id, sig());
    assert.equal(await d.get(n.id, sig()), undefined);
    assert.deepEqual(await d.list({ [TAG_KEY]: 'd/term-0' }, sig()), []);
    const e = await capture(d.create(req('d/term-0', 'tok-term'), sig()));
    assert.equal(e.code, 'CLOUD_CONFLICT');
  });

  it('errors map to codes with the right retryable flag', async () => {
    const cases: Array<[string, string, boolean]> = [
      ['InsufficientInstanceCapacity', 'CLOUD_UNAVAILABLE', true],
      ['RequestLimitExceeded', 'CLOUD_RATE_LIMITED', true],
      ['UnauthorizedOperation', 'CLOUD_FORBIDDEN', false],
      ['InstanceLimitExceeded', 'CLOUD_QUOTA_EXCEEDED', false],
      ['VcpuLimitExceeded', 'CLOUD_QUOTA_EXCEEDED', false],
      ['Unavailable', 'CLOUD_UNAVAILABLE', true],
      ['InternalError', 'CLOUD_INTERNAL', true],
    ];
    for (const [code, ours, retryable] of cases) {
      s.fail('RunInstances', { code });
      const e = await capture(d.create(req(`d/err-${code}`), sig()));
      assert.equal(e.code, ours, code);
      assert.equal(e.retryable, retryable, `${code} retryable`);
      assert.equal(explainCloudError(e, 'ec2').providerCode, code);
    }
    const bad = await capture(d.create(req('d/badami', 'tok-badami', { placement: { image: 'ami-00000000000000000' } }), sig()));
    assert.equal(bad.code, 'CLOUD_NOT_FOUND');
    assert.match(explainCloudError(bad, 'ec2').whatToDo, /image/);
    const rb = await capture(d.reboot('i-0123456789abcdef0', sig()));
    assert.equal(rb.code, 'CLOUD_NOT_FOUND');
    s.fail('DescribeInstances', { code: 'RequestLimitExceeded', count: 1 });
    const lst = await capture(d.list({ [TAG_KEY]: 'x' }, sig()));
    assert.equal(lst.code, 'CLOUD_RATE_LIMITED');
    assert.deepEqual(await d.list({ [TAG_KEY]: 'x' }, sig()), [], 'succeeds once the injected failure is spent');
  });

  it('wrong credentials are CLOUD_UNAUTHORIZED; an unreachable endpoint is CLOUD_UNAVAILABLE (retryable)', async () => {
    const wrong = makeDriver(s, dir, {}, { accessKeyId: 'AKIDWRONG' });
    const e = await capture(wrong.list({}, sig()));
    assert.equal(e.code, 'CLOUD_UNAUTHORIZED');
    await wrong.close();
    const gone = makeDriver(s, dir, { endpoint: 'http://127.0.0.1:1' });
    const u = await capture(gone.get('i-0123456789abcdef0', sig()));
    assert.equal(u.code, 'CLOUD_UNAVAILABLE');
    assert.equal(u.retryable, true);
    await gone.close();
  });

  it('start, stop, createImage, createSnapshot, security groups and key pairs', async () => {
    const n = await d.create(req('d/extra-0'), sig());
    await new Promise((r) => setTimeout(r, 20));
    await d.stop(n.id, sig());
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await d.get(n.id, sig()))?.status, 'stopped');
    await d.start(n.id, sig());
    assert.ok(['provisioning', 'running'].includes((await d.get(n.id, sig()))?.status ?? ''), 'started again');
    const ami = await d.createImage(n.id, 'nubis-backup-1', sig());
    assert.equal(s.images.get(ami)?.source, n.id);
    const snap = await d.createSnapshot('vol-0abc', 'nightly', sig(), { [TAG_OWNER]: 'ec2-test' });
    assert.equal(s.snapshots.get(snap)?.volumeId, 'vol-0abc');
    const sg = await d.createSecurityGroup({ name: 'nubis-web', description: 'web', ingress: [{ protocol: 'tcp', fromPort: 7430, toPort: 7430, cidr: '10.0.0.0/8' }] }, sig());
    assert.deepEqual(s.securityGroups.get(sg)?.rules, ['tcp 7430-7430 10.0.0.0/8']);
    const dup = await capture(d.createSecurityGroup({ name: 'nubis-web', description: 'web' }, sig()));
    assert.equal(dup.code, 'CLOUD_CONFLICT');
    const kp = await d.importKeyPair('nubis-key', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB nubis', sig());
    assert.ok(kp.keyPairId && kp.fingerprint);
    assert.deepEqual((await d.describeKeyPairs(sig(), ['nubis-key'])).map((k) => k.keyName), ['nubis-key']);
    const missing = await capture(d.describeKeyPairs(sig(), ['nope']));
    assert.equal(missing.code, 'CLOUD_NOT_FOUND');
    const withKey = makeDriver(s, dir, { keyName: 'nubis-key', securityGroupIds: [sg] });
    const k = await withKey.create(req('d/keyed-0'), sig());
    assert.equal(s.instances().find((i) => i.instanceId === k.id)?.keyName, 'nubis-key');
    await withKey.close();
  });

  it('discover: locations, offers joined with the approximate price table, images with OS parsed', async () => {
    const paged = await startEc2Standin({ accessKeyId: AKID, pageSize: 3 });
    const pd = makeDriver(paged, dir, { prices: { 'x9.weird': 1.5 } });
    const disc = await pd.discover!(sig());
    assert.deepEqual(disc.locations.map((l) => l.id), ['eu-north-1', 'eu-north-1a', 'eu-north-1b'], 'the impaired zone is left out');
    assert.equal(disc.locations[1]!.geography, 'SE');
    assert.equal(disc.offers.length, 8, 'all pages of DescribeInstanceTypes');
    const micro = disc.offers.find((o) => o.id === 't3.micro')!;
    assert.deepEqual([micro.cores, micro.memoryMiB, micro.pricePerHour], [2, 1024, 0.0104]);
    assert.equal(disc.offers.find((o) => o.id === 'x9.weird')!.pricePerHour, 1.5, 'option prices override');
    assert.equal(disc.offers.find((o) => o.id === 'm5d.large')!.diskGiB, 75);
    const os = Object.fromEntries(disc.images.map((i) => [i.name, `${i.os ?? ''} ${i.osVersion ?? ''}`.trim()]));
    assert.equal(os['ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240607'], 'ubuntu 22.04');
    assert.equal(os['al2023-ami-2023.4.20240611.0-kernel-6.1-x86_64'], 'amazon-linux 2023');
    assert.equal(os['amzn2-ami-hvm-2.0.20240610.1-x86_64-gp2'], 'amazon-linux 2');
    assert.equal(os['debian-12-amd64-20240601-1766'], 'debian 12');
    assert.equal(os['Windows_Server-2022-English-Full-Base-2024.06.12'], 'windows 2022');
    assert.equal(os['nubis-prepared-node-20-agent'], 'linux', 'own images whatever their name');
    assert.equal(os['someone-elses-image'], undefined, 'other owners are not asked for');
    assert.deepEqual(parseImageOs('RHEL-9.2.0_HVM-20230503-x86_64-41-Hourly2-GP2'), { os: 'rhel', osVersion: '9.2' });
    await pd.close();
    await paged.close();
  });

  it('list pages through DescribeInstances (page size forced to 2, 5 instances)', async () => {
    const paged = await startEc2Standin({ accessKeyId: AKID, pageSize: 2 });
    const pd = makeDriver(paged, dir);
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await pd.create(req(`p/n-${i}`), sig())).id);
    const before = paged.requests.length;
    const all = await pd.list({ [TAG_DEPLOYMENT]: 'd' }, sig());
    assert.deepEqual(new Set(all.map((n) => n.id)), ids);
    const pages = paged.requests.slice(before).filter((l) => l.includes(' DescribeInstances '));
    assert.equal(pages.length, 3);
    assert.ok(pages[1]!.includes('NextToken') && pages[2]!.includes('NextToken'));
    await pd.close();
    await paged.close();
  });

  it('InvalidInstanceID.NotFound right after RunInstances is "not yet visible", not gone (EC2 API Reference, "Eventual consistency in the Amazon EC2 API")', async () => {
    const ec = await startEc2Standin({ accessKeyId: AKID, transitionMs: 10, notVisibleAfterRun: { calls: 3 } });
    const ed = makeDriver(ec, dir);
    const blind = makeDriver(ec, dir, { visibilityGraceMs: 0 });
    try {
      const n = await ed.create(req('d/ec-0'), sig());
      // the first three calls naming the id are answered NotFound by the cloud …
      const seen = [await ed.get(n.id, sig()), await ed.get(n.id, sig())];
      for (const x of seen) assert.deepEqual([x?.id, x?.status, x?.tags[TAG_KEY]], [n.id, 'provisioning', 'd/ec-0'], 'not yet visible reads as provisioning');
      const del = await rejection(ed.delete(n.id, sig()));
      assert.equal(del.code, 'CLOUD_NOT_FOUND');
      assert.equal(del.retryable, true, 'a delete that could not see the instance is retried, not taken as done');
      assert.equal(ec.received('DescribeInstances'), 2);
      assert.equal(ec.received('TerminateInstances'), 1);
      // … then it is visible, and delete really terminates it
      assert.equal((await ed.get(n.id, sig()))?.id, n.id);
      await ed.delete(n.id, sig());
      assert.ok(['shutting-down', 'terminated'].includes(ec.instances().find((i) => i.instanceId === n.id)?.state ?? ''), 'terminated');
      assert.equal(await ed.get(n.id, sig()), undefined, 'terminated: gone');
      // without the window (or for an instance this driver did not launch) NotFound is gone
      const m = await blind.create(req('d/ec-1'), sig());
      assert.equal(await blind.get(m.id, sig()), undefined);
      assert.equal(await ed.get('i-0123456789abcdef0', sig()), undefined);
      assert.equal(ec.received('RunInstances'), 2, 'one launch per create');
    } finally {
      await ed.close();
      await blind.close();
      await ec.close();
    }
  });

  it('a list taken before the new instance shows up still has it (the same eventual consistency)', async () => {
    const ec = await startEc2Standin({ accessKeyId: AKID, transitionMs: 10, notVisibleAfterRun: { calls: 2, lists: true } });
    const ed = makeDriver(ec, dir);
    try {
      const n = await ed.create(req('d/ec-list-0'), sig());
      const early = await ed.list({ [TAG_KEY]: 'd/ec-list-0' }, sig());
      assert.deepEqual(early.map((x) => [x.id, x.status]), [[n.id, 'provisioning']], 'the stand-in omitted it; the driver did not');
      assert.deepEqual(await ed.list({ [TAG_KEY]: 'someone-else' }, sig()), [], 'only when it matches the filter');
      await ed.get(n.id, sig());
      await ed.get(n.id, sig());
      assert.equal(ec.instances()[0]!.hiddenCalls, 2, 'the cloud has shown it since');
      const later = await ed.list({ [TAG_KEY]: 'd/ec-list-0' }, sig());
      assert.deepEqual(later.map((x) => x.id), [n.id]);
      assert.equal(later[0]!.address, ec.instances()[0]!.publicIp, 'as the cloud describes it');
      await ed.delete(n.id, sig());
      assert.deepEqual(await ed.list({ [TAG_KEY]: 'd/ec-list-0' }, sig()), [], 'seen, then terminated: a list without it is believed');
    } finally {
      await ed.close();
      await ec.close();
    }
  });

  it('visibilityGraceMs and agentPort are validated', () => {
    for (const bad of [{ visibilityGraceMs: -1 }, { visibilityGraceMs: 'soon' }, { agentPort: 0 }, { agentPort: 70000 }]) {
      assert.throws(() => makeDriver(s, dir, bad), (e: unknown) => e instanceof NubisError && e.code === 'SPEC_INVALID', JSON.stringify(bad));
    }
  });

  it('credentials never appear in errors or in the request log', async () => {
    assert.ok(thrown.length > 10, 'errors were collected');
    for (const e of thrown) {
      const text = `${e.message} ${JSON.stringify(e)} ${JSON.stringify(e.details ?? null)} ${String(e.cause ?? '')}`;
      assert.ok(!text.includes(SECRET) && !text.includes(SESSION), `secret in error: ${e.message}`);
      const x = JSON.stringify(explainCloudError(e, 'ec2'));
      assert.ok(!x.includes(SECRET) && !x.includes(SESSION));
    }
    assert.equal(s.lastHeaders()['x-amz-security-token'], SESSION, 'the session token is sent (in a header)');
    for (const line of s.requests) assert.ok(!line.includes(SECRET) && !line.includes(SESSION), `secret in request log: ${line}`);
  });
});
