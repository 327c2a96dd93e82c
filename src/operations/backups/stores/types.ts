/**
 * The long-term store contract every backup store (directory, SFTP, S3) implements. An object is
 * listed and readable only once it is complete: a store writes under a temporary name (or an
 * unfinished multipart upload) and makes it visible in one step at the end, so a crash or a
 * failed copy never leaves a partial object that looks like a backup.
 */

/** Size and SHA-256 of bytes, as counted while they passed. */
export interface ObjectDigest {
  sizeBytes: number;
  /** Lowercase hex. */
  sha256: string;
}

/** One complete object in a store. */
export interface StoredObject {
  key: string;
  sizeBytes: number;
  /** Clock ms the store says the object was completed (its mtime or LastModified). */
  storedAt: number;
}

export interface BackupStore {
  /** dir | sftp | s3. */
  readonly kind: string;
  /** Where it is, for people (no secrets): `dir:/srv/backups`, `sftp:backup@host:22/srv`, `s3:bucket/prefix`. */
  readonly describe: string;
  /**
   * Writes `body` under `key` (relative, `/`-separated; no `..`) and makes it visible only when all
   * bytes arrived; returns the size and SHA-256 of what was sent. Fails (leaving nothing listed)
   * when the store refuses, fills up (BACKUP_STORE_FULL) or `signal` aborts.
   */
  put(key: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<ObjectDigest>;
  /** Reads the stored object back and digests it (verification after the copy). NOT_FOUND when absent. */
  digest(key: string, signal: AbortSignal): Promise<ObjectDigest>;
  /** The object's bytes. NOT_FOUND when absent. */
  get(key: string, signal: AbortSignal): AsyncIterable<Uint8Array>;
  /** Complete objects whose key starts with `prefix`, in key order (every page, for paginated stores). */
  list(prefix: string, signal: AbortSignal): Promise<StoredObject[]>;
  /** Removes the object; one already gone is done. */
  delete(key: string, signal: AbortSignal): Promise<void>;
  /** Closes connections the store holds. */
  close(): Promise<void>;
}
