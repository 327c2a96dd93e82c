/** The reconcile core: keyed work queues on the Clock, and the controller interface. */
export { WorkQueue, type WorkQueueOptions, type TerminalRecord } from './work-queue.js';
export { ReconcileCore, type ReconcileCoreOptions, type ControllerStats } from './core.js';
export { done, requeueAfter, retry, terminal, type Controller, type ReconcileResult, type Pacing } from './controller.js';
