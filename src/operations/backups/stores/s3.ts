/**
 * An S3-compatible bucket as the long-term store (AWS SDK v3). put streams through a multipart
 * Upload (@aws-sdk/lib-storage): the object appears only on CompleteMultipartUpload (or, for one
 * part, as one PutObject), and a failed or aborted upload is aborted (AbortMultipartUpload), so
 * nothing partial is ever listed. The SHA-256 counted while sending is recorded as
 * x-amz-meta-sha256 (in the PutObject of a one-part object; by a metadata-replacing self-copy
 * after completing a multipart one, up to S3's 5 GiB copy limit) and the stored size is checked
 * with HeadObject. digest reads the object back (GetObject) and hashes it. list pages through
 * ListObjectsV2; objects this store just wrote or deleted are confirmed with HeadObject, so a
 * listing that lags behind (eventually consistent S3-compatible servers) neither hides a new
 * object nor shows a deleted one. Throttling (503 SlowDown) and 5xx are retried by the SDK.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NubisError } from '../../../errors/index.js';
import { digestOf } from './hashing.js';
import { checkKey } from './keys.js';
import { httpStatus, s3Error } from './s3-errors.js';
import type { BackupStore, ObjectDigest, StoredObject } from './types.js';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket: `""` or `/`-terminated segments (`backups/prod/`). */
  prefix?: string;
  /** Default us-east-1. */
  region?: string;
  /** An S3-compatible service's URL (MinIO, Ceph RGW, …); AWS's own when absent. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), as most S3-compatible services need. */
  forcePathStyle?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Multipart part size (default 16 MiB; S3's minimum is 5 MiB). */
  partBytes?: number;
  /** Parts uploaded at once per put (default 4). */
  partsInFlight?: number;
  /** Attempts per request, for throttling and 5xx (default 6). */
  maxAttempts?: number;
}

const MAX_COPY = 5 * 1024 ** 3;
/** Keys this store wrote or deleted and a listing may not reflect yet (bounded). */
const RECENT_MAX = 20_000;

export function createS3Store(o: S3StoreOptions): BackupStore {
  const base = o.prefix ?? '';
  if (base !== '' && !/^([A-Za-z0-9._-]+\/)+$/.test(base)) throw new NubisError('REQUEST_INVALID', `an s3 store's prefix must be "" or /-terminated segments of letters, digits, . _ -, not ${JSON.stringify(base)}`);
  const partSize = Math.max(5 * 1024 * 1024, o.partBytes ?? 16 * 1024 * 1024);
  const describe = `s3:${o.bucket}/${base}`;
  const client = new S3Client({
    region: o.region ?? 'us-east-1',
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle ?? false,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}) },
    maxAttempts: o.maxAttempts ?? 6,
    // Checksums only where S3 requires them: many S3-compatible services reject the SDK's
    // default CRC32 trailers (aws-chunked bodies); integrity is our own SHA-256 read-back.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const recent = new Map<string, 'put' | 'deleted'>();
  const remember = (k: string, s: 'put' | 'deleted'): void => {
    recent.delete(k);
    recent.set(k, s);
    if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value!);
  };
  const full = (key: string): string => base + checkKey(key);

  async function head(Key: string, signal: AbortSignal): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await client.send(new HeadObjectCommand({ Bucket: o.bucket, Key }), { abortSignal: signal });
    } catch (e) {
      if (httpStatus(e) === 404) return undefined;
      throw e;
    }
  }

  async function put(key: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<ObjectDigest> {
    const Key = full(key);
    const what = `writing ${key} to ${describe}`;
    const h = createHash('sha256');
    let size = 0;
    let sha256 = '';
    // Filled in when the body ends — before lib-storage sends a one-part object's PutObject.
    const Metadata: Record<string, string> = {};
    async function* hashed(): AsyncGenerator<Uint8Array> {
      for await (const c of body) {
        signal.throwIfAborted();
        h.update(c);
        size += c.byteLength;
        yield c;
      }
      signal.throwIfAborted();
      sha256 = h.digest('hex');
      Metadata['sha256'] = sha256;
    }
    try {
      const upload = new Upload({
        client,
        params: { Bucket: o.bucket, Key, Body: Readable.from(hashed()), Metadata, ContentType: 'application/octet-stream' },
        partSize,
        queueSize: o.partsInFlight ?? 4,
        leavePartsOnError: false,
      });
      await upload.done();
      let stored = await head(Key, signal);
      if (stored && stored.Metadata?.['sha256'] !== sha256 && size <= MAX_COPY) {
        await client.send(new CopyObjectCommand({
          Bucket: o.bucket, Key, CopySource: `${o.bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE', Metadata: { sha256 }, ContentType: 'application/octet-stream',
        }), { abortSignal: signal });
        stored = await head(Key, signal);
      }
      if (!stored) throw new NubisError('BACKUP_STORE_FAILED', `${what}: the completed object is not there (HeadObject 404)`);
      if (stored.ContentLength !== size) throw new NubisError('BACKUP_STORE_FAILED', `${what}: the stored object has ${stored.ContentLength} bytes, ${size} were sent`, { retryable: true });
      remember(Key, 'put');
      return { sizeBytes: size, sha256 };
    } catch (e) {
      throw s3Error(e, what);
    }
  }

  async function* get(key: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const what = `reading ${key} from ${describe}`;
    try {
      const r = await client.send(new GetObjectCommand({ Bucket: o.bucket, Key: full(key) }), { abortSignal: signal });
      for await (const c of r.Body as AsyncIterable<Uint8Array>) yield c;
    } catch (e) {
      throw s3Error(e, what);
    }
  }

  const digest = (key: string, signal: AbortSignal): Promise<ObjectDigest> => digestOf(get(key, signal));

  async function list(prefix: string, signal: AbortSignal): Promise<StoredObject[]> {
    const want = base + prefix;
    const found = new Map<string, StoredObject>();
    try {
      let token: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket: o.bucket, Prefix: want, MaxKeys: 1000, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: signal });
        for (const c of r.Contents ?? []) {
          if (!c.Key || c.Key.endsWith('/')) continue;
          found.set(c.Key, { key: c.Key.slice(base.length), sizeBytes: c.Size ?? 0, storedAt: c.LastModified?.getTime() ?? 0 });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
        if (r.IsTruncated && !token) throw new NubisError('BACKUP_STORE_FAILED', `listing ${describe}: a truncated page without NextContinuationToken`);
      } while (token);
      await reconcile(want, found, signal);
    } catch (e) {
      throw s3Error(e, `listing ${describe}`);
    }
    return [...found.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Confirms this store's own recent writes and deletes that the listing does not reflect yet. */
  async function reconcile(want: string, found: Map<string, StoredObject>, signal: AbortSignal): Promise<void> {
    const doubt = [...recent].filter(([k, s]) => k.startsWith(want) && (s === 'put') !== found.has(k));
    for (const [k, s] of recent) if (k.startsWith(want) && (s === 'put') === found.has(k)) recent.delete(k); // the listing caught up
    const queue = [...doubt];
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        const [k] = d;
        const hd = await head(k, signal);
        if (hd) found.set(k, { key: k.slice(base.length), sizeBytes: hd.ContentLength ?? 0, storedAt: hd.LastModified?.getTime() ?? 0 });
        else found.delete(k);
      }
    }));
  }

  async function remove(key: string, signal: AbortSignal): Promise<void> {
    const Key = full(key);
    try {
      await client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key }), { abortSignal: signal });
    } catch (e) {
      if (httpStatus(e) !== 404) throw s3Error(e, `deleting ${key} from ${describe}`);
    }
    remember(Key, 'deleted');
  }

  return {
    kind: 's3', describe, put, digest, get, list, delete: remove,
    close: async () => {
      client.destroy();
    },
  };
}
