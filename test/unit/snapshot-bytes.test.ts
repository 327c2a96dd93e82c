/** Snapshot bytes checked as they stream: a short or altered download never passes; status of an image with parts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { combinedStatus, verifiedBytes } from '../../src/drivers/snapshot-bytes.js';
import { imageSnapshotStatus, volumeSnapshotStatus } from '../../src/drivers/openstack/index.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}
async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of it) n += c.byteLength;
  return n;
}
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha512 = (s: string): string => createHash('sha512').update(s).digest('hex');

test('bytes matching the recorded size, md5 and sha512 pass through unchanged', async () => {
  const n = await drain(verifiedBytes(chunks('hello ', 'world'), { sizeBytes: 11, digests: { md5: md5('hello world'), sha512: sha512('hello world').toUpperCase() } }, 'img'));
  assert.equal(n, 11);
});

test('a truncated download fails with CLOUD_SNAPSHOT_CORRUPT naming both sizes', async () => {
  await assert.rejects(drain(verifiedBytes(chunks('hello '), { sizeBytes: 11, digests: { md5: md5('hello world') } }, 'openstack image x')), (e: unknown) => {
    const err = e as { code: string; message: string; retryable: boolean };
    return err.code === 'CLOUD_SNAPSHOT_CORRUPT' && /6 bytes, the cloud recorded 11/.test(err.message) && err.retryable === false;
  });
});

test('altered bytes of the right size fail on the digest', async () => {
  await assert.rejects(drain(verifiedBytes(chunks('hello World'), { sizeBytes: 11, digests: { md5: md5('hello world') } }, 'img')), /md5 of the 11 bytes read/);
  await assert.rejects(drain(verifiedBytes(chunks('hello World'), { digests: { sha512: sha512('hello world') } }, 'img')), { code: 'CLOUD_SNAPSHOT_CORRUPT' });
});

test('an algorithm this Node does not know is not checked (and not a failure)', async () => {
  assert.equal(await drain(verifiedBytes(chunks('abc'), { digests: { 'no-such-algo': 'ff' } }, 'img')), 3);
});

test('image and parts combine: gone wins, then error (a vanished part too), then pending', () => {
  assert.equal(combinedStatus('ready', ['ready', 'ready']), 'ready');
  assert.equal(combinedStatus('ready', ['pending']), 'pending');
  assert.equal(combinedStatus('pending', ['error']), 'error');
  assert.equal(combinedStatus('ready', ['gone']), 'error');
  assert.equal(combinedStatus('gone', ['error']), 'gone');
});

test('Glance and Cinder statuses map to snapshot statuses', () => {
  assert.deepEqual(['queued', 'saving', 'active', 'killed', 'deleted', 'pending_delete'].map((status) => imageSnapshotStatus({ id: 'i', name: 'n', status })), ['pending', 'pending', 'ready', 'error', 'gone', 'gone']);
  assert.equal(imageSnapshotStatus(undefined), 'gone');
  assert.deepEqual(['creating', 'available', 'error', 'error_deleting', 'deleting'].map((status) => volumeSnapshotStatus({ status })), ['pending', 'ready', 'error', 'error', 'gone']);
});
