/**
 * registry — the cloud, specification and credential registries (seed 004 §2.1.1): registered
 * clouds with their discovered or hand-entered locations, hardware offers and images; sealed
 * credentials and the key that opens them (kept outside the database); requirement-based
 * selection across clouds; and provider-call accounting with SLA reports.
 *
 * Depends on store, drivers (interface only), errors, clock and model types; the engine uses
 * it through the small `PlacementSource` view the control plane builds from it.
 */
export * from './types.js';
export { createRegistry, cleanEntry, type Registry, type RegistryOptions, type RegistryChange, type Actor } from './registry.js';
export {
  choosePlacement, rankCandidates, noFitError, describeCandidate, placementOf, osWithin, versionWithin, imageMatches, OS_PARENTS,
  type Candidate, type Choice, type Spread,
} from './selection.js';
export { accountedCloud, createCallAccounting, parseSince, percentile, PROVIDER_SIDE_CODES, type CallAccounting, type CallRecord } from './accounting.js';
export { resolveKey, parseKey, keyId, seal, open, credentialAad, keyFilePath, writeKeyFile, KEY_ENV, KEY_FILE, type SecretKey } from './keys.js';
export { rotateKey, settleKeyFiles, type RotationResult } from './rotate.js';
