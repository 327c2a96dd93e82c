/**
 * Opens the long-term store a policy names. `dir` is in this build; a kind whose store is not
 * (sftp and s3 land in ./stores from parallel work: one line each in STORE_FACTORIES) fails the
 * backup with CLOUD_UNSUPPORTED, never silently. Secrets come from the named stored credential
 * and never leave the store object.
 */
import { NubisError } from '../../errors/index.js';
import type { BackupStoreSpec } from '../../model/index.js';
import { createDirStore, type BackupStore } from './stores/index.js';

/** The secrets of a stored credential of the tenant (`nubis credentials set`). */
export type CredentialLookup = (tenant: string, name: string) => Record<string, string> | Promise<Record<string, string>>;

type StoreFactory = (spec: BackupStoreSpec, secrets: Record<string, string>) => BackupStore;

/** Store kinds this build can open. */
export const STORE_FACTORIES: Partial<Record<BackupStoreSpec['kind'], StoreFactory>> = {
  dir: (s) => createDirStore({ path: s.path! }),
};

/** For people and listings: where a policy's copies go (no secrets). */
export function describeStore(s: BackupStoreSpec): string {
  if (s.kind === 'dir') return `dir:${s.path}`;
  if (s.kind === 'sftp') return `sftp:${s.user}@${s.host}:${s.port ?? 22}${s.path}`;
  return `s3:${s.bucket}${s.prefix ? `/${s.prefix}` : ''}`;
}

export async function openBackupStore(spec: BackupStoreSpec, tenant: string, credential: CredentialLookup | undefined): Promise<BackupStore> {
  const f = STORE_FACTORIES[spec.kind];
  if (!f) throw new NubisError('CLOUD_UNSUPPORTED', `this build has no ${spec.kind} backup store (${describeStore(spec)})`);
  let secrets: Record<string, string> = {};
  if (spec.credential) {
    if (!credential) throw new NubisError('CREDENTIAL_KEY_MISMATCH', `the store's credential ${spec.credential} cannot be opened here`);
    secrets = await credential(tenant, spec.credential);
  }
  return f(spec, secrets);
}
