/**
 * Long-term backup stores: a directory (./dir), SFTP and S3-compatible buckets, all behind the
 * BackupStore contract (./types).
 */
export type { BackupStore, ObjectDigest, StoredObject } from './types.js';
export { createDirStore, type DirStoreOptions } from './dir.js';
export { checkKey, storeError } from './keys.js';
