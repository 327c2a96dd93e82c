/**
 * controller — the workflows controller on the engine's reconcile core: every tenant's loaded
 * workflows with their runtimes, persisted step by step, restored after a restart, and the
 * service the API's workflow routes call (./controller.ts). The other workflow units plug in
 * through ./ports.ts.
 */
export { WorkflowsController, WORKFLOW_NAME_PATTERN, LOAD_ALL } from './controller.js';
export type { WorkflowLoadInput, WorkflowSummary, WorkflowStatusView, WorkflowCaller, WorkflowsOptions } from './controller.js';
export type { WorkflowTreeNode, WorkflowProgress } from './view.js';
export type * from './ports.js';
export { createWorkflows, enginePools, scriptJobText, shellRunner, type WorkflowsWiring } from './wiring.js';
