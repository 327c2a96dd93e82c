/**
 * The engine's controllers and where they are registered with the reconcile core.
 *
 * To add a controller (scaling, workflows, backups, recovery, …): put it in a folder of its
 * own under this one, exporting a `Controller` (../core) built from the `EngineContext`, and
 * add one line to `EXTRA_CONTROLLERS` below. Nothing else in the engine changes.
 */
import type { Controller } from '../core/index.js';
import type { EngineContext } from '../context.js';

export { NodesController } from './nodes/index.js';
export { InstancesController, ObserveController, healthProbe } from './instances/index.js';
export { OBSERVE_KEY } from './instances/observe.js';
export { WiringController, WIRING } from './wiring/index.js';
export { ResourcesController, RESOURCES } from './resources/index.js';
export { SweepController, SWEEP_ALL, SWEEP_UNSYNCED } from './sweep/index.js';
export { DeploymentsController, DEPLOYMENTS } from './deployments/index.js';
export type { Actuator } from './actuator.js';

/** Builds a controller from the engine's shared context. */
export type ControllerFactory = (ctx: EngineContext) => Controller;

/** Controllers beyond the built-in ones; each registers with one line here. */
export const EXTRA_CONTROLLERS: readonly ControllerFactory[] = [
  // scaling, workflows, backups, recovery: one line each, e.g. (ctx) => new WorkflowsController(ctx),
];
