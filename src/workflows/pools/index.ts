/**
 * pools — where a workflow's jobs run: least-loaded dispatch with per-node slots and the queue
 * of waiting jobs (`PoolQueue`), deadline-aware provisioning (`readyByPlan`: when to start so a
 * pool is ready by a time, from the cloud's measured provisioning), and the queue-driven pool
 * size (`poolAutoscale`). Pure and synchronous; the workflows controller wires them to the
 * engine.
 */
export { choosePoolNode, compareLoad, hasFreeSlot, type PoolNodeLoad } from './dispatch.js';
export { PoolQueue, type PoolDispatch, type PoolQueueOptions } from './queue.js';
export {
  readyByPlan, readyByInstant, provisioningStats, provisionSamplesFromEvents, overlaps, clockText, durationText,
  type ProvisionSample, type ProvisioningStats, type ReadyByInput, type ReadyByPlan,
} from './ready-by.js';
export { measuredProvisioning, type MeasureSources, type MeasureTarget } from './measure.js';
export { poolAutoscale, type AutoscaleInput, type AutoscaleDecision } from './autoscale.js';
export { PoolAutoscaler, type PoolAutoscalerOptions } from './autoscaler.js';
export { parsePoolText, poolsFromVariables, printPool, POOL_VARIABLE_PREFIX, POOL_NAME } from './parse.js';
