/**
 * A stand-in S3 service on loopback, built from the Amazon S3 API Reference (API version
 * 2006-03-01), path-style requests (`/<bucket>/<key>`), for the S3 backup store's tests (no
 * S3-compatible server can run here). Operations, as the reference describes them:
 * - PutObject (PUT /b/k; x-amz-meta-* kept), CopyObject (PUT with x-amz-copy-source;
 *   x-amz-metadata-directive COPY|REPLACE), GetObject, HeadObject (404 without a body),
 *   DeleteObject (204 whether or not the key exists).
 * - CreateMultipartUpload (POST ?uploads → InitiateMultipartUploadResult), UploadPart
 *   (PUT ?partNumber&uploadId → ETag), CompleteMultipartUpload (POST ?uploadId with the part
 *   list: InvalidPart for an unknown part or ETag, InvalidPartOrder, EntityTooSmall for a part
 *   other than the last under 5 MiB), AbortMultipartUpload (DELETE ?uploadId → 204;
 *   NoSuchUpload after). An object exists only once its upload completed.
 * - ListObjectsV2 (GET /b?list-type=2): prefix, max-keys (at most 1000), continuation-token
 *   and NextContinuationToken, IsTruncated, KeyCount, keys in UTF-8 binary order.
 * - Errors as the reference's XML `<Error><Code>…`: NoSuchKey, NoSuchBucket, NoSuchUpload,
 *   SlowDown (503), InvalidAccessKeyId/SignatureDoesNotMatch (403), QuotaExceeded (403, as
 *   Ceph RGW answers a bucket over its quota).
 * Every request must carry a valid SigV4 Authorization header for the expected access key
 * (./standin-s3-sigv4.ts). Awkward parts: every `slowDownEvery`-th request answers 503 SlowDown
 * (the SDK retries it); ListObjectsV2 does not show the last `listLag` objects completed until
 * `listLag` listings have passed since, and still shows a deleted one for `listLag` listings
 * (eventual listing); `quotaBytes` bounds what the bucket holds. `sent` counts every
 * request by operation (retries included), `log` keeps them in order.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { checkSigV4 } from './standin-s3-sigv4.js';

export interface StandinS3Options {
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Every n-th request (counted over all requests) answers 503 SlowDown; 0 never. */
  slowDownEvery?: number;
  /** How far ListObjectsV2 lags: the last `listLag` completed objects, for `listLag` calls (and deletes, for `listLag` calls). */
  listLag?: number;
  /** Bytes the bucket may hold (objects plus parts of open uploads); over it: 403 QuotaExceeded. */
  quotaBytes?: number;
}

interface Obj {
  body: Buffer;
  meta: Record<string, string>;
  etag: string;
  lastModified: Date;
  /** Deleted objects: listings that still show it. */
  hiddenLists: number;
  /** Completion order, and the listing count at completion (for the lag). */
  seq: number;
  listingsAt: number;
}

interface Upload {
  key: string;
  meta: Record<string, string>;
  parts: Map<number, { body: Buffer; etag: string }>;
}

export type S3Op = 'PutObject' | 'CopyObject' | 'GetObject' | 'HeadObject' | 'DeleteObject' | 'CreateMultipartUpload' | 'UploadPart'
  | 'CompleteMultipartUpload' | 'AbortMultipartUpload' | 'ListObjectsV2' | 'Unknown';

export interface StandinS3 {
  endpoint: string;
  /** Requests received by operation (including those answered with an error). */
  sent: Record<string, number>;
  /** Each request: operation, key, status answered, and whether it carried a continuation-token. */
  log: { op: S3Op; key: string; status: number; continued: boolean }[];
  objects: Map<string, Obj>;
  uploads: Map<string, Upload>;
  options: StandinS3Options;
  close(): Promise<void>;
}

const MIN_PART = 5 * 1024 * 1024;
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`;
const xml = (root: string, inner: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
const el = (n: string, v: string | number | boolean): string => `<${n}>${esc(String(v))}</${n}>`;

class S3Fault extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function metaOf(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-amz-meta-') && typeof v === 'string') out[k.slice(11)] = v;
  return out;
}

function opOf(method: string, key: string, q: URLSearchParams, h: http.IncomingHttpHeaders): S3Op {
  if (key === '') return method === 'GET' && q.get('list-type') === '2' ? 'ListObjectsV2' : 'Unknown';
  if (method === 'POST' && q.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'PUT' && q.has('uploadId')) return 'UploadPart';
  if (method === 'DELETE' && q.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'PUT') return h['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  return 'Unknown';
}

export async function startStandinS3(options: StandinS3Options): Promise<StandinS3> {
  const objects = new Map<string, Obj>();
  /** Deleted objects the next `listLag` listings still show (hiddenLists counts them down). */
  const deleted = new Map<string, Obj>();
  const uploads = new Map<string, Upload>();
  const sent: Record<string, number> = {};
  const log: StandinS3['log'] = [];
  const keys = new Map([[options.accessKeyId, options.secretAccessKey]]);
  let requests = 0;
  let completions = 0;
  let listings = 0;
  const lag = options.listLag ?? 0;
  /** Among the last `listLag` completed objects, and fewer than `listLag` listings since. */
  const lagging = (o: Obj): boolean => completions - o.seq < lag && listings - o.listingsAt < lag;

  const used = (): number => {
    let n = 0;
    for (const o of objects.values()) n += o.body.length;
    for (const u of uploads.values()) for (const p of u.parts.values()) n += p.body.length;
    return n;
  };
  const checkQuota = (adding: number, replacing = 0): void => {
    if (options.quotaBytes !== undefined && used() - replacing + adding > options.quotaBytes) {
      throw new S3Fault(403, 'QuotaExceeded', 'The quota for this bucket has been exceeded.');
    }
  };
  const objHeaders = (o: Obj): Record<string, string> => ({
    'content-length': String(o.body.length), etag: o.etag, 'last-modified': o.lastModified.toUTCString(),
    'content-type': 'application/octet-stream', ...Object.fromEntries(Object.entries(o.meta).map(([k, v]) => [`x-amz-meta-${k}`, v])),
  });
  const mustGet = (key: string): Obj => {
    const o = objects.get(key);
    if (!o) throw new S3Fault(404, 'NoSuchKey', 'The specified key does not exist.');
    return o;
  };
  const mustUpload = (id: string | null): Upload => {
    const u = id === null ? undefined : uploads.get(id);
    if (!u) throw new S3Fault(404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
    return u;
  };
  const store = (key: string, body: Buffer, meta: Record<string, string>, etag = md5(body)): Obj => {
    const o: Obj = { body, meta, etag, lastModified: new Date(), hiddenLists: 0, seq: ++completions, listingsAt: listings };
    objects.set(key, o);
    deleted.delete(key);
    return o;
  };

  function listV2(q: URLSearchParams): string {
    const prefix = q.get('prefix') ?? '';
    const max = Math.min(1000, Math.max(0, Number(q.get('max-keys') ?? 1000) || 1000));
    const token = q.get('continuation-token');
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : (q.get('start-after') ?? '');
    const all: [string, Obj][] = [];
    for (const [k, o] of objects) if (!lagging(o) && k.startsWith(prefix) && k > after) all.push([k, o]);
    listings++;
    for (const [k, o] of deleted) {
      if (o.hiddenLists-- <= 0) deleted.delete(k);
      else if (k.startsWith(prefix) && k > after && !objects.has(k)) all.push([k, o]);
    }
    all.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    const page = all.slice(0, max);
    const truncated = all.length > max;
    const contents = page.map(([k, o]) => `<Contents>${el('Key', k)}${el('LastModified', o.lastModified.toISOString())}${el('ETag', o.etag)}${el('Size', o.body.length)}${el('StorageClass', 'STANDARD')}</Contents>`).join('');
    const next = truncated ? el('NextContinuationToken', Buffer.from(page[page.length - 1]![0]).toString('base64url')) : '';
    return xml('ListBucketResult', `${el('Name', options.bucket)}${el('Prefix', prefix)}${el('KeyCount', page.length)}${el('MaxKeys', max)}${el('IsTruncated', truncated)}${token ? el('ContinuationToken', token) : ''}${contents}${next}`);
  }

  function complete(key: string, u: Upload, id: string, body: string): string {
    const parts = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      n: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1]!)?.[1]),
      etag: (/<ETag>([^<]*)<\/ETag>/.exec(m[1]!)?.[1] ?? '').replace(/&quot;/g, '"'),
    }));
    if (parts.length === 0) throw new S3Fault(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    const bodies: Buffer[] = [];
    parts.forEach((p, i) => {
      if (i > 0 && p.n <= parts[i - 1]!.n) throw new S3Fault(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
      const got = u.parts.get(p.n);
      if (!got || got.etag !== p.etag) throw new S3Fault(400, 'InvalidPart', `One or more of the specified parts could not be found (part ${p.n}).`);
      if (i < parts.length - 1 && got.body.length < MIN_PART) throw new S3Fault(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
      bodies.push(got.body);
    });
    const all = Buffer.concat(bodies);
    const etag = `"${createHash('md5').update(Buffer.concat(parts.map((p) => Buffer.from(u.parts.get(p.n)!.etag.slice(1, -1), 'hex')))).digest('hex')}-${parts.length}"`;
    uploads.delete(id);
    store(key, all, u.meta, etag);
    return xml('CompleteMultipartUploadResult', `${el('Location', `/${options.bucket}/${key}`)}${el('Bucket', options.bucket)}${el('Key', key)}${el('ETag', etag)}`);
  }

  function handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, op: S3Op, key: string, q: URLSearchParams): void {
    const send = (status: number, text = '', headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'x-amz-request-id': randomBytes(8).toString('hex'), ...(text ? { 'content-type': 'application/xml' } : {}), ...headers });
      res.end(text);
    };
    switch (op) {
      case 'ListObjectsV2': return send(200, listV2(q));
      case 'PutObject': {
        checkQuota(body.length, objects.get(key)?.body.length ?? 0);
        return send(200, '', { etag: store(key, body, metaOf(req.headers)).etag });
      }
      case 'CopyObject': {
        const src = decodeURIComponent(String(req.headers['x-amz-copy-source']).replace(/^\//, ''));
        if (!src.startsWith(`${options.bucket}/`)) throw new S3Fault(404, 'NoSuchBucket', 'The specified bucket does not exist.');
        const from = mustGet(src.slice(options.bucket.length + 1));
        const replace = req.headers['x-amz-metadata-directive'] === 'REPLACE';
        if (src.slice(options.bucket.length + 1) === key && !replace) throw new S3Fault(400, 'InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata.');
        const o = store(key, from.body, replace ? metaOf(req.headers) : { ...from.meta }, from.etag);
        return send(200, xml('CopyObjectResult', `${el('ETag', o.etag)}${el('LastModified', o.lastModified.toISOString())}`));
      }
      case 'GetObject': {
        const o = mustGet(key);
        res.writeHead(200, objHeaders(o));
        return void res.end(o.body);
      }
      case 'HeadObject': {
        const o = objects.get(key);
        if (!o) return send(404);
        res.writeHead(200, objHeaders(o));
        return void res.end();
      }
      case 'DeleteObject': {
        const o = objects.get(key);
        objects.delete(key);
        if (o && lag > 0) deleted.set(key, { ...o, hiddenLists: lag });
        return send(204);
      }
      case 'CreateMultipartUpload': {
        const id = randomBytes(16).toString('base64url');
        uploads.set(id, { key, meta: metaOf(req.headers), parts: new Map() });
        return send(200, xml('InitiateMultipartUploadResult', `${el('Bucket', options.bucket)}${el('Key', key)}${el('UploadId', id)}`));
      }
      case 'UploadPart': {
        const u = mustUpload(q.get('uploadId'));
        const n = Number(q.get('partNumber'));
        if (!Number.isInteger(n) || n < 1 || n > 10000) throw new S3Fault(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
        checkQuota(body.length, u.parts.get(n)?.body.length ?? 0);
        const etag = md5(body);
        u.parts.set(n, { body, etag });
        return send(200, '', { etag });
      }
      case 'CompleteMultipartUpload': {
        const id = q.get('uploadId')!;
        return send(200, complete(key, mustUpload(id), id, body.toString('utf8')));
      }
      case 'AbortMultipartUpload':
        mustUpload(q.get('uploadId'));
        uploads.delete(q.get('uploadId')!);
        return send(204);
      default:
        throw new S3Fault(501, 'NotImplemented', 'A header or operation you provided implies functionality that is not implemented.');
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const [, bucket = '', ...rest] = url.pathname.split('/');
      const key = rest.map(decodeURIComponent).join('/');
      const op = opOf(req.method ?? 'GET', key, url.searchParams, req.headers);
      sent[op] = (sent[op] ?? 0) + 1;
      const entry = { op, key, status: 0, continued: url.searchParams.has('continuation-token') };
      log.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      try {
        const bad = checkSigV4(req.method ?? 'GET', req.url ?? '/', req.headers, body, keys);
        if (bad) throw new S3Fault(403, bad.code, bad.message);
        requests++;
        if (options.slowDownEvery && requests % options.slowDownEvery === 0) throw new S3Fault(503, 'SlowDown', 'Please reduce your request rate.');
        if (bucket !== options.bucket) throw new S3Fault(404, 'NoSuchBucket', 'The specified bucket does not exist.');
        handle(req, body, res, op, key, url.searchParams);
      } catch (e) {
        const f = e instanceof S3Fault ? e : new S3Fault(500, 'InternalError', String(e));
        res.writeHead(f.status, { 'content-type': 'application/xml' });
        res.end(req.method === 'HEAD' ? undefined : xml('Error', `${el('Code', f.code)}${el('Message', f.message)}${el('Resource', url.pathname)}${el('RequestId', randomBytes(8).toString('hex'))}`));
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    sent, log, objects, uploads, options,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
