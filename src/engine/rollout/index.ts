/** Rolling updates and what survives a re-apply: the door of src/engine/rollout. */
export { carryCounts, type CarriedCounts } from './counts.js';
export { RolloutController, DEFAULT_STRATEGY, type RolloutHost } from './controller.js';
export { prepareRollout, type Prepared, type PrepareInput } from './begin.js';
export { rolloutSummary, rolloutView, setPaused, type RolloutFacadeDeps } from './facade.js';
export { computeRevisions, type ArtefactFile, type SecretDigest } from './revision.js';
