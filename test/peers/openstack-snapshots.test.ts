/**
 * Snapshots on a real OpenStack (test/helpers/openstack-env.ts; in CI the loopback cloud from
 * shared/peers/openstack): Nova createImage (its fake compute driver uploads 1 KiB to Glance,
 * so the image has real bytes and Glance's own checksums), a Cinder snapshot of an attached
 * volume (fake volume driver: the snapshot is a record that goes creating → available), the
 * image downloaded from Glance with its md5 and os_hash_value checked, and delete.
 * Every call goes through the runtime wrapper; what was sent to the cloud is counted from the
 * driver's request log. The peer's fake drivers never fail a snapshot, so the failure path is
 * tested on sim and the stand-ins, not here.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { wrapDriver, type DriverCallEvent, type RuntimeDriver } from '../../src/drivers/runtime.js';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, type SnapshotRef } from '../../src/drivers/driver.js';
import type { OpenStackDriver, RequestRecord } from '../../src/drivers/openstack/index.js';
import { tempDir } from '../helpers/control-plane.js';
import { openStackDriver, readOpenStackEnv } from '../helpers/openstack-env.js';

const found = readOpenStackEnv();
const sig = (): AbortSignal => new AbortController().signal;

/** The loopback cloud's service logs (its state_dir in NUBIS_OPENSTACK), to count what the services received; undefined for another cloud. */
function peerLog(service: string): (() => string) | undefined {
  let dir: unknown;
  try {
    dir = (JSON.parse(process.env['NUBIS_OPENSTACK'] ?? '{}') as { state_dir?: unknown }).state_dir;
  } catch {
    return undefined;
  }
  const file = typeof dir === 'string' ? join(dir, 'log', `${service}.log`) : undefined;
  return file && existsSync(file) ? () => readFileSync(file, 'utf8') : undefined;
}

/** Lines of `log` matching `re`, waiting (on the log itself) until at least one is written. */
async function received(log: () => string, re: RegExp): Promise<number> {
  for (;;) {
    const n = log().split('\n').filter((l) => re.test(l)).length;
    if (n > 0) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

if ('error' in found) {
  test('openstack snapshots: a cloud is configured', () => {
    assert.fail(found.error);
  });
} else {
  const env = found;
  const run = `snap-${randomUUID().slice(0, 8)}`;
  const owner = `nubis-test-${run}`;

  describe(`openstack snapshots at ${env.authUrl}`, () => {
    const records: RequestRecord[] = [];
    const events: DriverCallEvent[] = [];
    let os: OpenStackDriver;
    let d: RuntimeDriver;
    const cleanups: (() => Promise<unknown>)[] = [];

    before(() => {
      os = openStackDriver(env, tempDir('nubis-os-snap-'), { onRequest: (r: RequestRecord) => records.push(r) });
      d = wrapDriver(os, { cloud: 'os-test', clock: createRealClock(), onCall: (e) => events.push(e) });
    });
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      await d.close();
    });

    const poll = async (ref: SnapshotRef): Promise<string> => {
      for (;;) {
        const s = await d.snapshotStatus!(ref, sig());
        if (s !== 'pending') return s;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const sent = (method: string, re: RegExp): number => records.filter((r) => r.method === method && re.test(r.path)).length;

    it('a server with an attached volume: image + volume snapshot, ready, bytes downloaded and checked against Glance, deleted twice', { timeout: 240_000 }, async () => {
      const key = `${run}/db-0`;
      const node = await d.create({ key, tags: { [TAG_OWNER]: owner, [TAG_DEPLOYMENT]: run, [TAG_KEY]: key }, idempotencyToken: `${key}#1`, requirements: { cores: 1, memoryMiB: 256 } }, sig());
      cleanups.push(() => d.delete(node.id, sig()));
      await os.waitStatus(node.id, 'running', sig());
      const vol = await os.volumes.create({ name: `${run}-data`, sizeGiB: 1, metadata: { [TAG_OWNER]: owner } }, sig());
      cleanups.push(() => os.volumes.delete(vol.id, sig()));
      await os.volumes.wait(vol.id, 'available', sig(), { timeoutMs: 60_000 });
      await os.compute.attachVolume(node.id, vol.id, sig());
      cleanups.push(() => os.compute.detachVolume(node.id, vol.id, sig()).then(() => os.volumes.wait(vol.id, 'available', sig(), { timeoutMs: 60_000 })));
      await os.volumes.wait(vol.id, 'in-use', sig(), { timeoutMs: 60_000 });

      const before = records.length;
      const ref = await d.snapshot!(node.id, { name: `${run}-b1`, tags: { 'nubis-backup': `${run}-b1`, [TAG_OWNER]: owner }, volumes: true }, sig());
      cleanups.push(() => d.deleteSnapshot!(ref, sig()));
      assert.equal(ref.kind, 'image');
      assert.equal(ref.parts?.length, 1, 'one Cinder snapshot for the one attached volume');
      assert.equal(ref.parts?.[0]?.kind, 'volume');
      const vs = await os.volumes.getSnapshot(ref.parts![0]!.id, sig());
      assert.equal(vs?.volume_id, vol.id);
      assert.equal(vs?.metadata?.['nubis-backup'], `${run}-b1`, 'the tags are on the volume snapshot');
      const asSent = records.slice(before);
      assert.equal(asSent.filter((r) => r.method === 'POST' && /\/servers\/[^/]+\/action$/.test(r.path)).length, 1, 'one createImage');
      assert.equal(asSent.filter((r) => r.method === 'POST' && /\/snapshots$/.test(r.path)).length, 1, 'one Cinder snapshot');

      assert.equal(await poll(ref), 'ready');
      const img = await os.images.get(ref.id, sig());
      assert.equal(img?.status, 'active');
      assert.equal(img?.['nubis-backup'], `${run}-b1`, 'the tags are image properties');

      const h = createHash('md5');
      const h2 = createHash(String(img?.['os_hash_algo'] ?? 'sha512'));
      let bytes = 0;
      for await (const c of await d.readSnapshot!(ref, sig())) {
        bytes += c.byteLength;
        h.update(c);
        h2.update(c);
      }
      assert.ok(bytes > 0, 'Glance served bytes');
      assert.equal(bytes, img?.['size'], 'as many bytes as Glance recorded');
      assert.equal(h.digest('hex'), img?.['checksum'], 'md5 as Glance recorded');
      assert.equal(h2.digest('hex'), img?.['os_hash_value'], 'os_hash_value as Glance recorded');
      assert.equal(sent('GET', new RegExp(`/v2/images/${ref.id}/file$`)), 1, 'one download');
      // and as the cloud saw it (the loopback peer's service logs; another cloud's are not readable here)
      const glance = peerLog('glance-api');
      const nova = peerLog('nova-api');
      if (glance && nova) {
        assert.equal(await received(glance, new RegExp(`"GET /v2/images/${ref.id}/file HTTP`)), 1, 'Glance served the file once');
        assert.equal(await received(nova, new RegExp(`"POST /v2\\.1/servers/${node.id}/action HTTP`)), 1, 'Nova got one server action (the createImage)');
      }

      await d.deleteSnapshot!(ref, sig());
      assert.equal(await os.images.get(ref.id, sig()), undefined, 'the image is gone');
      await os.volumes.waitSnapshot(ref.parts![0]!.id, 'gone', sig(), { timeoutMs: 60_000 });
      assert.equal(await d.snapshotStatus!(ref, sig()), 'gone');
      await d.deleteSnapshot!(ref, sig()); // twice: 404s are done
      await assert.rejects(d.readSnapshot!(ref, sig()), { code: 'CLOUD_NOT_FOUND' });

      const ops = events.map((e) => e.op);
      for (const op of ['snapshot', 'snapshotStatus', 'readSnapshot', 'deleteSnapshot'] as const) assert.ok(ops.includes(op), `the wrapper saw ${op}`);
      assert.ok(events.filter((e) => e.op === 'snapshot').every((e) => e.target === node.id && e.outcome === 'ok'));
    });

    it('a snapshot without volumes is the image alone; of a missing server it is CLOUD_NOT_FOUND and makes nothing', { timeout: 120_000 }, async () => {
      const key = `${run}/web-0`;
      const node = await d.create({ key, tags: { [TAG_OWNER]: owner, [TAG_KEY]: key }, idempotencyToken: `${key}#1`, requirements: { cores: 1, memoryMiB: 256 } }, sig());
      cleanups.push(() => d.delete(node.id, sig()));
      await os.waitStatus(node.id, 'running', sig());
      const ref = await d.snapshot!(node.id, { name: `${run}-b2`, tags: {}, volumes: false }, sig());
      cleanups.push(() => d.deleteSnapshot!(ref, sig()));
      assert.equal(ref.parts, undefined);
      assert.equal(await poll(ref), 'ready');
      await d.deleteSnapshot!(ref, sig());

      const imagesBefore = (await os.images.list({ name: `${run}-none` }, sig())).length;
      await assert.rejects(d.snapshot!(randomUUID(), { name: `${run}-none`, tags: {}, volumes: true }, sig()), { code: 'CLOUD_NOT_FOUND', retryable: false });
      assert.equal((await os.images.list({ name: `${run}-none` }, sig())).length, imagesBefore);
      assert.equal(events.filter((e) => e.op === 'snapshot' && e.outcome === 'error').length, 1, 'not retried');
    });
  });
}
