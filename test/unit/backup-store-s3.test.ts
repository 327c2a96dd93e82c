/**
 * The S3 backup store against the S3 stand-in (test/helpers/standin-s3.ts, built from the
 * Amazon S3 API Reference: PutObject, CopyObject, CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload, GetObject, HeadObject, ListObjectsV2,
 * DeleteObject; SigV4 checked): the store conformance suite with 503 SlowDown now and then and a
 * listing that lags, then what was sent for each kind of put, the faults (a source that throws,
 * refused keys, a bucket over quota, throttling that does not stop) and eventual listing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createS3Store, type BackupStore, type S3StoreOptions } from '../../src/operations/backups/stores/index.js';
import { startStandinS3, type StandinS3, type StandinS3Options } from '../helpers/standin-s3.js';
import { failure, pseudoRandom, storeConformance } from '../helpers/store-conformance.js';

const never = new AbortController().signal;
const KEY = { accessKeyId: 'AKIANUBISTEST0000001', secretAccessKey: 'nubis/test/secret+key/0123456789abcdefghij' };
const MiB = 1024 * 1024;

async function s3(opts: Partial<StandinS3Options> = {}, store: Partial<S3StoreOptions> = {}): Promise<{ s: StandinS3; store: BackupStore; close(): Promise<void> }> {
  const s = await startStandinS3({ bucket: 'nubis-backups', ...KEY, ...opts });
  const st = createS3Store({ bucket: 'nubis-backups', prefix: 'prod/', endpoint: s.endpoint, forcePathStyle: true, region: 'eu-west-1', partBytes: 5 * MiB, ...KEY, ...store });
  return { s, store: st, close: async () => { await st.close(); await s.close(); } };
}

let shared: Awaited<ReturnType<typeof s3>> | undefined;
storeConformance('s3', async () => {
  shared = await s3({ slowDownEvery: 101, listLag: 2 });
  return { store: shared.store, close: async () => {} };
});
after(async () => {
  await shared?.close();
});

test('s3 conformance run: SlowDown answers were retried, lists were paged, no upload was left open', () => {
  assert.ok(shared);
  const { s } = shared;
  assert.ok(s.log.filter((l) => l.status === 503).length >= 5, 'the stand-in throttled some requests');
  assert.ok(s.log.some((l) => l.op === 'ListObjectsV2' && l.continued && l.status === 200), 'a ListObjectsV2 page was asked for with a continuation token');
  assert.ok((s.sent['AbortMultipartUpload'] ?? 0) >= 1, 'the multipart upload whose source threw was aborted');
  assert.equal(s.uploads.size, 0, 'no multipart upload left open');
  for (const k of s.objects.keys()) assert.ok(k.startsWith('prod/'), `${k} is under the store's prefix`);
});

let t: Awaited<ReturnType<typeof s3>>;
before(async () => {
  t = await s3({});
});
after(async () => {
  await t?.close();
});
const delta = async (f: () => Promise<unknown>): Promise<Record<string, number>> => {
  const was = { ...t.s.sent };
  await f();
  return Object.fromEntries(Object.entries(t.s.sent).map(([k, v]) => [k, v - (was[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
};

test('s3 store: a one-part object is one PutObject carrying x-amz-meta-sha256', async () => {
  let d;
  const sent = await delta(async () => {
    d = await t.store.put('sent/small.dump', pseudoRandom(100_000), never);
  });
  assert.deepEqual(sent, { PutObject: 1, HeadObject: 1 });
  assert.equal(t.s.objects.get('prod/sent/small.dump')?.meta['sha256'], d!.sha256);
});

test('s3 store: a 12 MiB object is a multipart upload of 3 parts, completed once, its sha256 recorded by a self-copy', async () => {
  let d;
  const sent = await delta(async () => {
    d = await t.store.put('sent/big.img', pseudoRandom(12 * MiB), never);
  });
  assert.deepEqual(sent, { CreateMultipartUpload: 1, UploadPart: 3, CompleteMultipartUpload: 1, HeadObject: 2, CopyObject: 1 });
  const o = t.s.objects.get('prod/sent/big.img')!;
  assert.equal(o.meta['sha256'], d!.sha256);
  assert.equal(o.body.length, 12 * MiB);
  assert.match(o.etag, /-3"$/, 'a multipart ETag');
});

test('s3 store: a multipart put whose source throws is aborted: AbortMultipartUpload sent, never completed, nothing listed', async () => {
  async function* body(): AsyncGenerator<Buffer> {
    let n = 0;
    for await (const b of pseudoRandom(40 * MiB, MiB, 'x')) {
      yield b;
      if ((n += b.length) >= 12 * MiB) throw new Error('the volume snapshot read failed');
    }
  }
  const sent = await delta(async () => {
    const e = await failure(t.store.put('fault/throws.img', body(), never));
    assert.match(e.message, /the volume snapshot read failed/);
  });
  assert.equal(sent['CreateMultipartUpload'], 1);
  assert.equal(sent['AbortMultipartUpload'], 1);
  assert.equal(sent['CompleteMultipartUpload'], undefined);
  assert.equal(t.s.uploads.size, 0);
  assert.deepEqual(await t.store.list('fault/', never), []);
});

test('s3 store: an unknown access key and a wrong secret are BACKUP_STORE_AUTH_FAILED, sent once, not retried', async () => {
  for (const over of [{ accessKeyId: 'AKIAWRONGWRONGWRONG0' }, { secretAccessKey: 'not-the-secret' }]) {
    const st = createS3Store({ bucket: 'nubis-backups', endpoint: t.s.endpoint, forcePathStyle: true, ...KEY, ...over });
    try {
      const n = t.s.log.length;
      const e = await failure(st.list('', never));
      assert.equal(e.code, 'BACKUP_STORE_AUTH_FAILED', e.message);
      assert.equal(e.retryable, false);
      assert.equal(t.s.log.length - n, 1, 'one request');
      assert.ok(!e.message.includes(KEY.secretAccessKey) && !e.message.includes('not-the-secret'), 'no secret in the message');
    } finally {
      await st.close();
    }
  }
});

test('s3 store: a bucket over its quota is BACKUP_STORE_FULL; the upload is aborted and nothing is listed', async () => {
  const q = await s3({ quotaBytes: 8 * MiB });
  try {
    await q.store.put('q/fits', pseudoRandom(MiB), never);
    const e = await failure(q.store.put('q/too-big.img', pseudoRandom(20 * MiB), never));
    assert.equal(e.code, 'BACKUP_STORE_FULL', e.message);
    assert.equal(e.retryable, false);
    assert.equal(q.s.uploads.size, 0);
    assert.equal(q.s.sent['AbortMultipartUpload'], 1);
    assert.deepEqual((await q.store.list('', never)).map((o) => o.key), ['q/fits']);
  } finally {
    await q.close();
  }
});

test('s3 store: throttling that does not stop fails retryable after maxAttempts requests', async () => {
  const q = await s3({ slowDownEvery: 1 }, { maxAttempts: 3 });
  try {
    const e = await failure(q.store.list('', never));
    assert.equal(e.code, 'BACKUP_STORE_FAILED', e.message);
    assert.equal(e.retryable, true);
    assert.match(e.message, /SlowDown/);
    assert.equal(q.s.sent['ListObjectsV2'], 3);
  } finally {
    await q.close();
  }
});

test('s3 store: a lagging listing neither hides a new object nor shows a deleted one (HeadObject confirms)', async () => {
  const q = await s3({ listLag: 3 });
  try {
    await q.store.put('lag/a', pseudoRandom(10), never);
    await q.store.put('lag/b', pseudoRandom(10), never);
    const heads = q.s.sent['HeadObject'] ?? 0;
    assert.deepEqual((await q.store.list('lag/', never)).map((o) => o.key), ['lag/a', 'lag/b']);
    assert.equal((q.s.sent['HeadObject'] ?? 0) - heads, 2, 'both confirmed by HeadObject');
    // A second store (another process) sees what the listing shows: the stand-in really lags.
    const other = createS3Store({ bucket: 'nubis-backups', prefix: 'prod/', endpoint: q.s.endpoint, forcePathStyle: true, ...KEY });
    try {
      assert.deepEqual(await other.list('lag/', never), []);
      await q.store.delete('lag/a', never);
      assert.deepEqual((await q.store.list('lag/', never)).map((o) => o.key), ['lag/b']);
      assert.deepEqual((await other.list('lag/', never)).map((o) => o.key), ['lag/a', 'lag/b'], 'the listing still shows the deleted one');
    } finally {
      await other.close();
    }
  } finally {
    await q.close();
  }
});
