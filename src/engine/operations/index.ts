/** Custom operations (Brooklyn's effectors): run on a component's instances through their agents (./runner.ts). */
export { createOperationRunner, type OperationRunner } from './runner.js';
export type * from './types.js';
