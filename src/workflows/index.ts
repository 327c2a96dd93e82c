/**
 * workflows — ecFlow-compatible suites (see ./README.md). Other modules import this door only.
 */
export type * from './model/types.js';
export type * from './model/runtime.js';
export { emptyNode, STATE_SIGNIFICANCE, WF_STATES } from './model/types.js';
export * from './expr/index.js';
export * from './def/index.js';
export * from './script/index.js';
