/**
 * Backups (DESIGN story 2, seed 002): policies that back up a component's instances on a
 * schedule to a long-term store (a node snapshot through the driver, or an archive of the
 * instance's dump and directories streamed from its agent), verified by size and SHA-256 after
 * the copy; restores in place or onto a new node; restore drills on a scratch node that mark a
 * backup verified; retention; a final backup before destroy. Stores are in ./stores.
 *
 *   const backups = await createBackups({ engine: cp.engine, store, events, clock });
 *   await createRecovery({ ..., backups: backups.recovery });
 */
export { createBackups, type Backups, type BackupRunRequest, type RestoreRequest, type DrillRequest, type BackupListFilter } from './service.js';
export type { BackupsOptions, RunCause } from './context.js';
export type { BackupRunView, BackupPolicyView, BackupRunKind, BackupRunState } from './views.js';
export { runLine } from './views.js';
export { toPrune, type RetentionRule } from './retention.js';
export { STORE_FACTORIES, describeStore, openBackupStore, type CredentialLookup } from './open-store.js';
export { BACKUPS, BackupsController } from './controller.js';
export { DUMP_DIR } from './handlers.js';
export { TAG_DRILL } from './restore.js';
export * from './stores/index.js';
