/**
 * An actuator carries out the planner's actions of some kinds on one resource; the
 * deployments controller starts each ready action on the actuator registered for its kind.
 */
import type { Deployment, InstanceRec } from '../state.js';
import type { Action } from '../planner.js';
import type { PlanActionKind } from '../views.js';

export interface Actuator {
  /** The action kinds this actuator carries out. */
  readonly kinds: readonly PlanActionKind[];
  /** Runs one action on `inst` (the action's target); resolves when it has ended, recorded. */
  execute(d: Deployment, inst: InstanceRec, a: Action): Promise<void>;
}
