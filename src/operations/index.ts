/**
 * operations — what keeps a service running for months without a person watching it:
 * recovery policies (./recovery), and (from their own helpers) backups and alerts. Each part
 * keeps its exports in its own folder's index; this door re-exports them.
 */
export * from './recovery/index.js';
