/**
 * S3 error responses as store errors. The code in the error body decides first (a quota error
 * comes as 403 QuotaExceeded from Ceph RGW and as 507 XMinioStorageFull from MinIO), then the
 * HTTP status: 403 and bad credentials are not retried, 5xx and SlowDown are.
 */
import { NubisError, isNubisError } from '../../../errors/index.js';
import { storeError } from './keys.js';

type SdkError = Error & { $metadata?: { httpStatusCode?: number }; Code?: string };

const FULL = new Set(['QuotaExceeded', 'XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded', 'InsufficientStorage', 'StorageFull', 'TooManyBuckets']);
const AUTH = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled', 'AccountProblem']);
const RETRY = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed', 'Throttling', 'ThrottlingException']);

/** The HTTP status of an SDK error (undefined for network errors). */
export const httpStatus = (e: unknown): number | undefined => (e as SdkError | undefined)?.$metadata?.httpStatusCode;

export function s3Error(e: unknown, what: string): NubisError {
  if (isNubisError(e)) return e;
  const err = e as SdkError;
  if (err instanceof Error && err.name === 'AbortError') return storeError(e, what);
  const status = httpStatus(e);
  const code = err?.Code ?? err?.name ?? '';
  const msg = err instanceof Error ? err.message : String(e);
  const details = { httpStatus: status, s3Code: code };
  if (FULL.has(code) || status === 507) return new NubisError('BACKUP_STORE_FULL', `${what}: the bucket is full or over quota (${code}: ${msg})`, { cause: e, details });
  if (AUTH.has(code) || status === 403 || status === 401) {
    return new NubisError('BACKUP_STORE_AUTH_FAILED', `${what}: the S3 service refused the credentials or forbids this (${code || status}: ${msg}); not retried — check the access key and the bucket policy`, { cause: e, details });
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || status === 404 && code !== 'NoSuchBucket') return new NubisError('NOT_FOUND', `${what}: no such object`, { cause: e, details });
  if (code === 'NoSuchBucket') return new NubisError('BACKUP_STORE_FAILED', `${what}: the bucket does not exist`, { cause: e, details, retryable: false });
  if (RETRY.has(code) || (status !== undefined && status >= 500)) return new NubisError('BACKUP_STORE_FAILED', `${what}: the S3 service failed (${code || status}: ${msg})`, { cause: e, details, retryable: true });
  if (status !== undefined && status >= 400) return new NubisError('BACKUP_STORE_FAILED', `${what}: the S3 service rejected the request (${code || status}: ${msg})`, { cause: e, details, retryable: false });
  return storeError(e, what);
}
