/**
 * operations — what keeps a service running for months without a person watching it:
 * backups and stores, recovery policies (./recovery), alerts and channels (./alerts). Each part
 * keeps its exports in its own folder's index; this door re-exports them.
 */
export * from './alerts/index.js';
export * from './recovery/index.js';
export * from './backups/index.js';
