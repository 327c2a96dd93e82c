/**
 * Long-term backup stores: a directory (./dir), SFTP and S3-compatible buckets, all behind the
 * BackupStore contract (./types).
 */
export type { BackupStore, ObjectDigest, StoredObject } from './types.js';
export { createDirStore, type DirStoreOptions } from './dir.js';
export { checkKey, storeError } from './keys.js';
export { createSftpStore, type SftpStoreOptions } from './sftp.js';
export { sshFingerprint } from './sftp-session.js';
export { createS3Store, type S3StoreOptions } from './s3.js';
export { openBackupStore, type BackupStoreConfig, type BackupStoreSecrets } from './factory.js';
