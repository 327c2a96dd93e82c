/**
 * actions — engine-action tasks: start/stop a component, scale a component or pool to N and
 * wait until N run, destroy a pool, wait for a metric condition, back up (once backups exist).
 * `runAction(action, ports, opts)` resolves with what was done or rejects with a NubisError;
 * `controlPlanePorts(...)` builds the ports over a ControlPlane.
 */
export { runAction, actionTimeout, actionOptions, type ActionPorts, type ActionResult, type RunActionOptions } from './run.js';
export { controlPlanePorts, actionRunner, type ControlPlanePortsOptions, type ActionRunContext } from './ports.js';
export { parseActionText, printAction, ACTION_VERBS } from './parse.js';
