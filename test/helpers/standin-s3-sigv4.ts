/**
 * AWS Signature Version 4 checking for the S3 stand-in, from the Amazon S3 API Reference,
 * "Authenticating Requests (AWS Signature Version 4)" → "Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk": the canonical request (method,
 * the URI path as sent — S3 does not encode it twice —, the sorted RFC 3986-encoded query,
 * the signed headers lowercase and trimmed, x-amz-content-sha256), the string to sign
 * (AWS4-HMAC-SHA256, x-amz-date, the credential scope, the hex SHA-256 of the canonical
 * request) and the signing key HMAC chain AWS4<secret> → date → region → s3 → aws4_request.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Failure {
  code: 'AccessDenied' | 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'XAmzContentSHA256Mismatch';
  message: string;
}

const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256hex = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const hmac = (k: Buffer | string, s: string): Buffer => createHmac('sha256', k).update(s).digest();

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery.split('&').filter((p) => p !== '').map((p) => {
    const i = p.indexOf('=');
    const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, '%20'));
    const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, '%20'));
    return [enc(k), enc(v)] as const;
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Checks the request's Authorization header against `keys` (access key → secret); undefined when it is good. */
export function checkSigV4(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, keys: Map<string, string>): SigV4Failure | undefined {
  const auth = headers['authorization'];
  if (typeof auth !== 'string' || !auth.startsWith('AWS4-HMAC-SHA256 ')) return { code: 'AccessDenied', message: 'a SigV4 Authorization header (AWS4-HMAC-SHA256) is required' };
  const m = /Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})/.exec(auth);
  if (!m) return { code: 'AccessDenied', message: `malformed Authorization header` };
  const [, accessKey, date, region, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string];
  const secret = keys.get(accessKey);
  if (secret === undefined) return { code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  const amzDate = headers['x-amz-date'];
  const payload = headers['x-amz-content-sha256'];
  if (typeof amzDate !== 'string' || !amzDate.startsWith(date) || typeof payload !== 'string') return { code: 'AccessDenied', message: 'x-amz-date and x-amz-content-sha256 are required' };
  if (payload !== 'UNSIGNED-PAYLOAD' && payload !== sha256hex(body)) return { code: 'XAmzContentSHA256Mismatch', message: 'The provided x-amz-content-sha256 header does not match what was computed.' };
  const q = url.indexOf('?');
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return { code: 'AccessDenied', message: 'host and x-amz-date must be signed' };
  const canonHeaders = names.map((n) => {
    const v = headers[n];
    return `${n}:${(Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ')}\n`;
  }).join('');
  const canonical = [method, q < 0 ? url : url.slice(0, q), canonicalQuery(q < 0 ? '' : url.slice(q + 1)), canonHeaders, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
  if (createHmac('sha256', key).update(toSign).digest('hex') !== signature) {
    return { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return undefined;
}
