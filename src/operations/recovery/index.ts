/**
 * Recovery (DESIGN story 2, seed 002): per component, detection over a window of probe
 * failures and a ladder — restart the component, reboot the node, recreate it from the latest
 * verified backup, alert a person — with give-up limits so it never flaps.
 *
 *   const recovery = await createRecovery({ engine: cp.engine, store, events, clock });
 *   // registered with the engine's reconcile core; the API's recovery routes call `recovery`
 */
import { createRecoveryController, type Recovery, type RecoveryOptions } from './service.js';

export { createRecoveryController as createRecovery, type Recovery, type RecoveryOptions };
export type { RecoveryBackups, RecoveryBackupRef, RecoveryTarget } from './backups.js';
export type { LadderState, LadderStatus, FailureKind, LadderEvent, Sighting } from './ladder.js';
export { freshLadder, transition, stepEnded, nextRung, reset as resetLadder, stepBlocked } from './ladder.js';
export type { RecoveryView, RecoveryInstanceView } from './views.js';
export { recoveryLine } from './views.js';
