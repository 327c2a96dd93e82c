/**
 * ec2 snapshots against the EC2 Query API stand-in (test/helpers/standin-ec2.ts and
 * standin-ec2-images.ts, from the "Amazon EC2 API Reference" 2016-11-15: CreateImage,
 * DescribeImages, DeregisterImage, DescribeSnapshots, DeleteSnapshot; "Eventual consistency":
 * a just-made AMI may be InvalidAMIID.NotFound; "Pagination": MaxResults/NextToken). What was
 * sent is read from the stand-in's request log. No real AWS is contacted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import type { CreateNodeRequest, Driver, SnapshotRef } from '../../src/drivers/driver.js';
import { createEc2Driver } from '../../src/drivers/ec2/index.js';
import { explainCloudError } from '../../src/drivers/explain.js';
import { wrapDriver } from '../../src/drivers/runtime.js';
import { startEc2Standin, type Ec2Standin } from '../helpers/standin-ec2.js';

const AKID = 'AKIDSTANDIN0002';
const sig = (): AbortSignal => new AbortController().signal;
const req = (key: string): CreateNodeRequest => ({ key, tags: { 'nubis-key': key }, idempotencyToken: `${key}#1`, requirements: { cores: 1, memoryMiB: 512 } });

describe('ec2 snapshots over the stand-in', () => {
  let s: Ec2Standin;
  let d: Driver;
  let dir: string;
  const sent = (action: string, since = 0): string[] => s.requests.slice(since).filter((l) => l.split(' ')[2] === action);
  const poll = async (ref: SnapshotRef): Promise<string> => {
    for (;;) {
      const st = await d.snapshotStatus!(ref, sig());
      if (st !== 'pending') return st;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-ec2snap-'));
    s = await startEc2Standin({ accessKeyId: AKID, transitionMs: 10, imageMs: 80, imageHiddenCalls: 2, pageSize: 1 });
    const inner = createEc2Driver({
      cloud: 'aws-snap', options: { region: 'eu-north-1', endpoint: s.url, imageId: 'ami-0a1b2c3d4e5f60001', instanceType: 't3.micro' }, dataDir: dir, clock: createRealClock(),
      credentials: { accessKeyId: AKID, secretAccessKey: 'canary-secret-x' },
    });
    d = wrapDriver(inner, { cloud: 'aws-snap', clock: createRealClock(), retry: { baseMs: 5 } });
  });
  after(async () => {
    await d.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one CreateImage with tags on image and snapshots; NotFound right after it reads as pending; available → ready', async () => {
    const n = await d.create(req('d/db-0'), sig());
    const from = s.requests.length;
    const ref = await d.snapshot!(n.id, { name: 'nubis-b1-db-0', tags: { 'nubis-backup': 'b1' }, volumes: true }, sig());
    assert.match(ref.id, /^ami-/);
    const create = sent('CreateImage', from);
    assert.equal(create.length, 1, 'one CreateImage, nothing else made');
    assert.equal(sent('DescribeInstances', from).length, 0, 'with volumes nothing is left out, so no describe');
    const img = s.images.get(ref.id)!;
    assert.equal(img.tags.get('nubis-backup'), 'b1');
    assert.equal(img.devices.size, 2, 'root and data volume');
    for (const sid of img.devices.values()) assert.equal(s.snapshots.get(sid)?.tags.get('nubis-backup'), 'b1');
    assert.equal(await d.snapshotStatus!(ref, sig()), 'pending', 'InvalidAMIID.NotFound inside the visibility window');
    assert.equal(await poll(ref), 'ready');
    const hidden = s.requests.slice(from).filter((l) => l.includes('DescribeImages')).length;
    assert.ok(hidden >= 3, `the first two describes were NotFound (${hidden} sent)`);
    await d.deleteSnapshot!(ref, sig());
  });

  it('without volumes, non-root devices are left out (NoDevice)', async () => {
    const n = await d.create(req('d/web-0'), sig());
    const from = s.requests.length;
    const ref = await d.snapshot!(n.id, { name: 'nubis-b2-web-0', tags: {}, volumes: false }, sig());
    const params = JSON.parse(sent('CreateImage', from)[0]!.split(' ').slice(3).join(' ')) as Record<string, string>;
    assert.equal(params['BlockDeviceMapping.1.DeviceName'], '/dev/sdf');
    assert.equal(params['BlockDeviceMapping.1.NoDevice'], '');
    assert.equal(params['BlockDeviceMapping.2.DeviceName'], undefined, 'the root device stays');
    assert.deepEqual([...s.images.get(ref.id)!.devices.keys()], ['/dev/xvda']);
    await poll(ref);
    await d.deleteSnapshot!(ref, sig());
  });

  it('delete deregisters first, then deletes every snapshot (found by description, paginated); twice is fine; then gone', async () => {
    const n = await d.create(req('d/db-1'), sig());
    const ref = await d.snapshot!(n.id, { name: 'nubis-b3-db-1', tags: {}, volumes: true }, sig());
    assert.equal(await poll(ref), 'ready');
    const snaps = [...s.images.get(ref.id)!.devices.values()];
    // another image's snapshots, which the description search must not touch
    const other = await d.create(req('d/other-0'), sig());
    const noise = await d.snapshot!(other.id, { name: 'nubis-noise', tags: {}, volumes: true }, sig());
    await poll(noise);
    const from = s.requests.length;
    await d.deleteSnapshot!(ref, sig());
    const order = s.requests.slice(from).map((l) => l.split(' ')[2]);
    assert.ok(order.indexOf('DeregisterImage') < order.indexOf('DeleteSnapshot'), `deregister before delete: ${order.join(',')}`);
    assert.equal(sent('DeleteSnapshot', from).length, 2);
    assert.equal(sent('DescribeSnapshots', from).length, 2, 'two pages of one snapshot each (NextToken followed)');
    for (const sid of snaps) assert.equal(s.snapshots.has(sid), false, `${sid} deleted`);
    assert.equal(s.images.has(ref.id), false);
    assert.equal(await d.snapshotStatus!(ref, sig()), 'gone');
    await d.deleteSnapshot!(ref, sig());
    assert.equal(s.snapshots.size >= 2, true, 'the other image\'s snapshots are untouched');
    await d.deleteSnapshot!(noise, sig());
  });

  it('a delete interrupted after the deregister still finds the snapshots by their description', async () => {
    const n = await d.create(req('d/db-2'), sig());
    const ref = await d.snapshot!(n.id, { name: 'nubis-b4-db-2', tags: {}, volumes: true }, sig());
    await poll(ref);
    const snaps = [...s.images.get(ref.id)!.devices.values()];
    s.fail('DeleteSnapshot', { code: 'InternalError', count: 10 });
    await assert.rejects(d.deleteSnapshot!(ref, sig()), { code: 'CLOUD_INTERNAL' });
    assert.equal(s.images.has(ref.id), false, 'the image went');
    assert.ok(snaps.every((sid) => s.snapshots.has(sid)), 'its snapshots stayed');
    s.fail('DeleteSnapshot', { code: 'InternalError', count: 0 });
    const from = s.requests.length;
    await d.deleteSnapshot!(ref, sig());
    assert.ok(snaps.every((sid) => !s.snapshots.has(sid)), 'found and deleted');
    assert.ok(sent('DescribeSnapshots', from).length >= 1);
  });

  it('an image EC2 fails is error, never ready; its explanation is the catalogue\'s', async () => {
    const n = await d.create(req('d/db-3'), sig());
    s.failImages(1);
    const ref = await d.snapshot!(n.id, { name: 'nubis-b5-db-3', tags: {}, volumes: true }, sig());
    assert.equal(await poll(ref), 'error');
    await d.deleteSnapshot!(ref, sig());
    assert.equal(s.images.has(ref.id), false);
    const e = await d.readSnapshot!(ref, sig()).then(() => undefined, (x: unknown) => x);
    assert.equal((e as { code?: string }).code, 'CLOUD_UNSUPPORTED');
    const x = explainCloudError(e, 'ec2');
    assert.match(x.whatToDo, /another backup kind/);
    assert.equal(x.runbook, 'nubis-cloud-unsupported');
  });

  it('errors are classified: a duplicate name is CLOUD_CONFLICT, a missing instance CLOUD_NOT_FOUND; snapshot is not retried', async () => {
    const n = await d.create(req('d/db-4'), sig());
    const ref = await d.snapshot!(n.id, { name: 'nubis-dup', tags: {}, volumes: true }, sig());
    await assert.rejects(d.snapshot!(n.id, { name: 'nubis-dup', tags: {}, volumes: true }, sig()), { code: 'CLOUD_CONFLICT' });
    await assert.rejects(d.snapshot!('i-0123456789abcdef0', { name: 'nubis-x', tags: {}, volumes: true }, sig()), { code: 'CLOUD_NOT_FOUND' });
    const from = s.requests.length;
    s.fail('CreateImage', { code: 'InternalError' });
    await assert.rejects(d.snapshot!(n.id, { name: 'nubis-y', tags: {}, volumes: true }, sig()), { code: 'CLOUD_INTERNAL', retryable: true });
    assert.equal(sent('CreateImage', from).length, 1, 'the wrapper did not retry a snapshot');
    await poll(ref);
    await d.deleteSnapshot!(ref, sig());
  });
});
