/** Sim snapshots: latency on the virtual clock, failure rate and injected faults, bytes checked, calls counted, options validated. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVirtualClock } from '../../src/clock/index.js';
import type { Driver, SnapshotRef } from '../../src/drivers/driver.js';
import { createSimCloud, createSimDriver, parseSimModel, type SimCloud } from '../../src/drivers/sim/index.js';

const sig = (): AbortSignal => new AbortController().signal;
const T0 = 1_700_000_000_000;

async function readAll(d: Driver, ref: SnapshotRef): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of await d.readSnapshot!(ref, sig())) chunks.push(c);
  return Buffer.concat(chunks);
}

function setup(opts: Parameters<typeof createSimCloud>[0] = {}): { cloud: SimCloud; driver: Driver; clock: ReturnType<typeof createVirtualClock> } {
  const clock = createVirtualClock(T0);
  const cloud = createSimCloud({ name: 's', path: ':memory:', clock, ...opts });
  const driver = createSimDriver({ cloud: 's', options: { cloud }, dataDir: '/nonexistent', clock });
  return { cloud, driver, clock };
}

test('a snapshot is pending for its latency on the sim clock, then ready with the bytes it recorded', async () => {
  const { cloud, driver, clock } = setup({ snapshot: { latencyMs: 120_000, sizeBytes: 40_000 } });
  const node = await driver.create({ key: 'd/a-0', tags: {}, idempotencyToken: 't1', requirements: { cores: 1, memoryMiB: 256 } }, sig());
  const ref = await driver.snapshot!(node.id, { name: 'b1', tags: { 'nubis-backup': 'b1' }, volumes: true }, sig());
  assert.equal(ref.kind, 'image');
  assert.equal(ref.parts?.length, 1, 'one volume snapshot part');
  assert.equal(ref.parts?.[0]?.kind, 'volume');
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'pending');
  await clock.advance(119_999);
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'pending');
  await clock.advance(1);
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'ready');
  const bytes = await readAll(driver, ref);
  assert.equal(bytes.length, 40_000);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), ref.sha256);
  assert.deepEqual(await readAll(driver, ref), bytes, 'the same bytes on every read');
  await driver.deleteSnapshot!(ref, sig());
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'gone');
  assert.ok(cloud.snapshots.all().every((s) => s.state === 'gone'), 'image and volume part removed');
  const c = cloud.counters();
  assert.deepEqual([c.calls.snapshot, c.calls.snapshotStatus, c.calls.readSnapshot, c.calls.deleteSnapshot], [1, 4, 2, 1], 'calls as sent to the cloud');
  cloud.close();
});

test('a failure rate of 1 fails every snapshot: error at its ready time, never ready; reading it is refused', async () => {
  const { cloud, driver, clock } = setup({ snapshot: { latencyMs: 1000, failureRate: 1 } });
  const node = await driver.create({ key: 'd/a-0', tags: {}, idempotencyToken: 't1', requirements: { cores: 1, memoryMiB: 256 } }, sig());
  const ref = await driver.snapshot!(node.id, { name: 'b1', tags: {}, volumes: false }, sig());
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'pending');
  await clock.advance(1000);
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'error');
  await assert.rejects(driver.readSnapshot!(ref, sig()), { code: 'CLOUD_NOT_FOUND' });
  cloud.close();
});

test('a truncated download fails the read with CLOUD_SNAPSHOT_CORRUPT after the bytes it got', async () => {
  const { cloud, driver } = setup({ snapshot: { sizeBytes: 50_000 } });
  const node = await driver.create({ key: 'd/a-0', tags: {}, idempotencyToken: 't1', requirements: { cores: 1, memoryMiB: 256 } }, sig());
  cloud.snapshots.inject('truncate');
  const ref = await driver.snapshot!(node.id, { name: 'b1', tags: {}, volumes: false }, sig());
  assert.equal(await driver.snapshotStatus!(ref, sig()), 'ready', 'the cloud says ready; only the bytes tell');
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const c of await driver.readSnapshot!(ref, sig())) got += c.byteLength;
    })(),
    (e: unknown) => (e as { code?: string }).code === 'CLOUD_SNAPSHOT_CORRUPT' && /25000 bytes.*50000/.test((e as Error).message),
  );
  assert.equal(got, 25_000);
  const next = await driver.snapshot!(node.id, { name: 'b2', tags: {}, volumes: false }, sig());
  assert.equal((await readAll(driver, next)).length, 50_000, 'the fault was for one snapshot');
  cloud.close();
});

test('injected HTTP errors on snapshot calls are classified and counted; an injected error fails the volume part too', async () => {
  const { cloud, driver } = setup({ errors: { snapshot: [{ rate: 1, status: 503 }] } });
  const node = await driver.create({ key: 'd/a-0', tags: {}, idempotencyToken: 't1', requirements: { cores: 1, memoryMiB: 256 } }, sig());
  await assert.rejects(driver.snapshot!(node.id, { name: 'b1', tags: {}, volumes: false }, sig()), { code: 'CLOUD_UNAVAILABLE', retryable: true });
  assert.equal(cloud.counters().errors.snapshot, 1);
  assert.equal(cloud.snapshots.all().length, 0, 'a refused snapshot leaves nothing');
  cloud.close();
  const b = setup();
  const n2 = await b.driver.create({ key: 'd/a-0', tags: {}, idempotencyToken: 't1', requirements: { cores: 1, memoryMiB: 256 } }, sig());
  b.cloud.snapshots.inject('error');
  const ref = await b.driver.snapshot!(n2.id, { name: 'b1', tags: {}, volumes: true }, sig());
  assert.equal(await b.driver.snapshotStatus!(ref, sig()), 'error');
  await assert.rejects(b.driver.snapshot!('srv-none', { name: 'x', tags: {}, volumes: false }, sig()), { code: 'CLOUD_NOT_FOUND' });
  b.cloud.close();
});

test('snapshots outlive the process: a reopened inventory file knows them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-simsnap-'));
  try {
    const path = join(dir, 'sim.db');
    const a = setup({ path, snapshot: { latencyMs: 10 } });
    const node = await a.driver.create({ key: 'd/a-0', tags: {}, idempotencyToken: 't1', requirements: { cores: 1, memoryMiB: 256 } }, sig());
    const ref = await a.driver.snapshot!(node.id, { name: 'b1', tags: {}, volumes: false }, sig());
    const bytes = (await a.clock.advance(10), await readAll(a.driver, ref));
    a.cloud.close();
    const clock = createVirtualClock(T0 + 10);
    const cloud = createSimCloud({ name: 's', path, clock });
    const driver = createSimDriver({ cloud: 's', options: { cloud }, dataDir: dir, clock });
    assert.equal(await driver.snapshotStatus!(ref, sig()), 'ready');
    assert.deepEqual(await readAll(driver, ref), bytes);
    cloud.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad snapshot options are refused naming the option', () => {
  assert.throws(() => parseSimModel({ snapshot: { failureRate: 2 } }), /snapshot\.failureRate: expected a number in \[0, 1\]/);
  assert.throws(() => parseSimModel({ snapshot: { latency: { minMs: 5, maxMs: 1 } } }), /snapshot\.latency: expected \{minMs ≤ maxMs\}/);
  assert.throws(() => parseSimModel({ snapshot: 3 }), /sim option snapshot: expected/);
  assert.throws(() => parseSimModel({ errors: { snapshott: [] } }), /errors\.snapshott: expected one of .*snapshot/);
});
