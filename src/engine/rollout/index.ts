/** Rolling updates and what survives a re-apply: the door of src/engine/rollout. */
export { carryCounts, type CarriedCounts } from './counts.js';
