/**
 * Errors with stable codes. Retryability is data on the error, not a class tree:
 * drivers and agents classify what went wrong, the engine decides what happens next.
 * The catalogue below is the only place codes are defined; a test keeps it honest.
 */

export const ERROR_CODES = {
  // input (never retryable)
  SPEC_INVALID: { status: 400, retryable: false, summary: 'the application spec is invalid' },
  WORKFLOW_INVALID: { status: 400, retryable: false, summary: 'the workflow definition (.def or YAML) is invalid or uses an unsupported construct' },
  JOB_CREATION_FAILED: { status: 422, retryable: false, summary: 'a job script could not be located or preprocessed (missing file, undefined %VAR%, include cycle)' },
  REQUEST_INVALID: { status: 400, retryable: false, summary: 'the request body or parameters are invalid' },
  BODY_TOO_LARGE: { status: 413, retryable: false, summary: 'the request body is larger than allowed' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, summary: 'the request body must be JSON' },
  UNAUTHORIZED: { status: 401, retryable: false, summary: 'a valid bearer token is required' },
  FORBIDDEN: { status: 403, retryable: false, summary: 'the token is valid but may not do this' },
  NOT_FOUND: { status: 404, retryable: false, summary: 'no such resource' },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false, summary: 'the method is not allowed on this resource' },
  CONFLICT: { status: 409, retryable: false, summary: 'the request conflicts with the current state' },
  SCALE_OUT_OF_BOUNDS: { status: 422, retryable: false, summary: 'the count is outside the component\'s min and max' },
  // server side
  INTERNAL: { status: 500, retryable: true, summary: 'an unexpected error inside Nubis' },
  UNAVAILABLE: { status: 503, retryable: true, summary: 'the server is not ready' },
  STORE_UNAVAILABLE: { status: 503, retryable: true, summary: 'the database under the store (PostgreSQL) cannot be reached or refused the connection' },
  // cloud (driver) errors, classified from provider responses
  CLOUD_BAD_REQUEST: { status: 502, retryable: false, summary: 'the cloud rejected the request as malformed (400)' },
  CLOUD_UNAUTHORIZED: { status: 502, retryable: false, summary: 'the cloud rejected the credentials (401)' },
  CLOUD_PAYMENT_REQUIRED: { status: 502, retryable: false, summary: 'the cloud account has run out of credit (402)' },
  CLOUD_FORBIDDEN: { status: 502, retryable: false, summary: 'the cloud forbids this operation for these credentials (403)' },
  CLOUD_NOT_FOUND: { status: 502, retryable: false, summary: 'the cloud resource does not exist (404)' },
  CLOUD_RATE_LIMITED: { status: 502, retryable: true, summary: 'the cloud is throttling requests (429)' },
  CLOUD_INTERNAL: { status: 502, retryable: true, summary: 'the cloud failed internally (500)' },
  CLOUD_UNAVAILABLE: { status: 502, retryable: true, summary: 'the cloud is unavailable (503) or unreachable' },
  CLOUD_QUOTA_EXCEEDED: { status: 502, retryable: false, summary: 'the cloud quota for this account is exhausted' },
  CLOUD_TIMEOUT: { status: 502, retryable: true, summary: 'the cloud did not answer in time' },
  CLOUD_CONFLICT: { status: 502, retryable: false, summary: 'the cloud refused the request as conflicting with an earlier one or with the resource\'s state' },
  CLOUD_SNAPSHOT_FAILED: { status: 502, retryable: false, summary: 'the cloud failed the snapshot (it went to an error state)' },
  CLOUD_SNAPSHOT_CORRUPT: { status: 502, retryable: false, summary: 'the snapshot\'s bytes do not match the checksum or size the cloud recorded' },
  CLOUD_UNSUPPORTED: { status: 501, retryable: false, summary: 'this cloud platform cannot do the operation (for example export snapshot bytes)' },
  // agent / handlers
  AGENT_UNREACHABLE: { status: 502, retryable: true, summary: 'the node agent did not answer' },
  HANDLER_FAILED: { status: 502, retryable: true, summary: 'a lifecycle handler exited non-zero' },
  HANDLER_TIMEOUT: { status: 502, retryable: true, summary: 'a lifecycle handler ran past its timeout' },
  HEALTH_FAILED: { status: 502, retryable: true, summary: 'the health check did not pass' },
  ABORTED: { status: 503, retryable: true, summary: 'the operation was cancelled' },
  // registries and credentials
  PLACEMENT_NO_FIT: { status: 422, retryable: false, summary: 'no registered offer satisfies the node requirements' },
  CREDENTIAL_KEY_MISMATCH: { status: 503, retryable: false, summary: 'the credential was sealed with another key than the one this server holds' },
  CREDENTIAL_TAMPERED: { status: 503, retryable: false, summary: 'a stored credential failed its integrity check' },
  CREDENTIAL_KEY_INVALID: { status: 500, retryable: false, summary: 'the credential key (NUBIS_KEY or the key file) is malformed' },
  // [backups] entries below (helper h/backups; keep them under this line)
  BACKUP_STORE_FULL: { status: 507, retryable: false, summary: 'the long-term backup store is full (no space left or over quota)' },
  BACKUP_STORE_FAILED: { status: 502, retryable: true, summary: 'the long-term backup store refused or failed a read or write' },
  BACKUP_VERIFY_FAILED: { status: 502, retryable: true, summary: 'the copy in the long-term store does not match the size and SHA-256 recorded at the source' },
  BACKUP_INTERRUPTED: { status: 503, retryable: true, summary: 'the control plane stopped during the backup, restore or drill; it counts as failed' },
  BACKUP_FINAL_FAILED: { status: 409, retryable: true, summary: 'the final backup a policy asks for before destroy failed; nothing was destroyed' },

  // [stores] entries below (helper h/stores; keep them under this line)
  BACKUP_STORE_AUTH_FAILED: { status: 502, retryable: false, summary: 'the long-term backup store refused the credentials (SFTP user, key or password; S3 access key) or forbids the operation' },
  BACKUP_STORE_HOST_KEY_MISMATCH: { status: 502, retryable: false, summary: 'the SFTP backup server presented a host key whose fingerprint differs from the pinned one' },

  // [replicas] entries below (helper h/replicas; keep them under this line)

  // [leaks] entries below (helper h/leaks; keep them under this line)

  // [images] entries below (helper h/images; keep them under this line)

  // [placement] entries below (helper h/placement; keep them under this line)
  PLACEMENT_ANTI_AFFINITY: { status: 422, retryable: false, summary: 'anti-affinity cannot hold: fewer hosts (or clouds) with room than instances of the component' },
  PLACEMENT_HOST_FULL: { status: 422, retryable: false, summary: 'no host of the cloud has room for the node (capacity in nodes, cores or memory)' },
  FIREWALL_FAILED: { status: 502, retryable: true, summary: 'the firewall rules the channels need could not be applied on a cloud or host' },

  // [users] entries below (helper h/users; keep them under this line)
  RATE_LIMITED: { status: 429, retryable: true, summary: 'too many tries (failed logins from this address); details.retryAfterMs says when to try again' },
  CATALOG_PARAMS_INVALID: { status: 422, retryable: false, summary: 'the order\'s parameters do not fit the template\'s parameter schema; details.problems lists each JSON path' },

  // [console] entries below (helper h/console; keep them under this line)
} as const satisfies Record<string, { status: number; retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface NubisErrorOptions {
  /** Overrides the catalogue's default. */
  retryable?: boolean;
  /** Structured detail safe to show to a user (never secrets). */
  details?: unknown;
  cause?: unknown;
}

/** The one error type Nubis throws across module boundaries. */
export class NubisError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: NubisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NubisError';
    this.code = code;
    const entry = ERROR_CODES[code];
    this.retryable = options.retryable ?? entry.retryable;
    this.status = entry.status;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details?: unknown } {
    const out: { code: ErrorCode; message: string; retryable: boolean; details?: unknown } = {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
    };
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

export function isNubisError(e: unknown): e is NubisError {
  return e instanceof NubisError;
}

/** Wraps anything thrown into a NubisError; unknown errors become INTERNAL (retryable). */
export function toNubisError(e: unknown): NubisError {
  if (e instanceof NubisError) return e;
  if (e instanceof Error && e.name === 'AbortError') return new NubisError('ABORTED', e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new NubisError('INTERNAL', message, { cause: e });
}

/** Maps a provider HTTP status to a stable cloud error code. */
export function cloudErrorFromStatus(status: number, message: string): NubisError {
  const code: ErrorCode =
    status === 400 ? 'CLOUD_BAD_REQUEST'
    : status === 401 ? 'CLOUD_UNAUTHORIZED'
    : status === 402 ? 'CLOUD_PAYMENT_REQUIRED'
    : status === 403 ? 'CLOUD_FORBIDDEN'
    : status === 404 ? 'CLOUD_NOT_FOUND'
    : status === 429 ? 'CLOUD_RATE_LIMITED'
    : status === 503 || status === 502 || status === 504 ? 'CLOUD_UNAVAILABLE'
    : status >= 500 ? 'CLOUD_INTERNAL'
    : 'CLOUD_BAD_REQUEST';
  return new NubisError(code, `${message} (HTTP ${status})`, { details: { httpStatus: status } });
}
