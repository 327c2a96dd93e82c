/**
 * Opens the long-term store a policy names through the stores' factory (./stores: dir, sftp with
 * a pinned host key, s3), with the secrets of the policy's stored credential. A kind or field the
 * factory refuses fails the backup with its REQUEST_INVALID, never silently. Secrets never leave
 * the store object.
 */
import { NubisError } from '../../errors/index.js';
import type { BackupStoreSpec } from '../../model/index.js';
import { openBackupStore, type BackupStore, type BackupStoreSecrets } from './stores/index.js';

/** The secrets of a stored credential of the tenant (`nubis credentials set`). */
export type CredentialLookup = (tenant: string, name: string) => Record<string, string> | Promise<Record<string, string>>;

/** For people and listings: where a policy's copies go (no secrets). */
export function describeStore(s: BackupStoreSpec): string {
  if (s.kind === 'dir') return `dir:${s.path}`;
  if (s.kind === 'sftp') return `sftp:${s.user}@${s.host}:${s.port ?? 22}${s.path}`;
  return `s3:${s.bucket}${s.prefix ? `/${s.prefix}` : ''}`;
}

/** The store of a policy, opened. */
export async function openPolicyStore(spec: BackupStoreSpec, tenant: string, credential: CredentialLookup | undefined): Promise<BackupStore> {
  let secrets: BackupStoreSecrets = {};
  if (spec.credential) {
    if (!credential) throw new NubisError('CREDENTIAL_KEY_MISMATCH', `the store's credential ${spec.credential} cannot be opened here`);
    secrets = await credential(tenant, spec.credential);
  }
  // the spec takes a prefix with or without its trailing slash; the s3 store wants /-terminated segments
  const config = spec.prefix !== undefined && spec.prefix !== '' && !spec.prefix.endsWith('/') ? { ...spec, prefix: `${spec.prefix}/` } : spec;
  return openBackupStore(config, secrets, 'store');
}
