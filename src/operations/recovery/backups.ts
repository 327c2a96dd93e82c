/**
 * What recovery needs of backups for its "recreate from the latest verified backup" step
 * (src/operations/backups provides it; the composition root wires it in). Without it, or when
 * an instance has no verified backup, the node is recreated fresh and the step's event says so.
 */

/** A backup a restore drill has passed. */
export interface RecoveryBackupRef {
  id: string;
  /** Clock time it was taken. */
  takenAt: number;
  /** A cloud image to boot the new node from (a node snapshot), when the backup is one. */
  image?: string;
  /** For people: what it holds and where it is. */
  description?: string;
}

export interface RecoveryTarget {
  tenant: string;
  deployment: string;
  component: string;
  instance: string;
}

export interface RecoveryBackups {
  /** The newest verified backup of the instance (or of its component), or undefined. */
  latestVerified(target: RecoveryTarget, signal: AbortSignal): Promise<RecoveryBackupRef | undefined>;
  /** Restores the backup onto the instance's (new) node; rejects when it could not. */
  restoreOnto(ref: RecoveryBackupRef, target: RecoveryTarget, signal: AbortSignal): Promise<void>;
}
