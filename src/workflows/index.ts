/**
 * workflows — ecFlow-compatible suites (see ./README.md). Other modules import this door only.
 */
export type * from './model/types.js';
export type * from './model/runtime.js';
export { emptyNode, STATE_SIGNIFICANCE, WF_STATES } from './model/types.js';
export * from './jobs/index.js';
export * from './pools/index.js';
export * from './actions/index.js';
export * from './scheduler/index.js';
export * from './controller/index.js';
export * from './expr/index.js';
export * from './def/index.js';
export * from './script/index.js';
