/**
 * Recovery as the server uses it: the controller registered with the engine's reconcile core,
 * and the tenant-scoped view and reset the API's recovery routes call.
 */
import { NubisError } from '../../errors/index.js';
import { RecoveryController, type RecoveryControllerOptions } from './controller.js';
import { freshLadder } from './ladder.js';
import { instanceView, type RecoveryView } from './views.js';

export type RecoveryOptions = RecoveryControllerOptions;

export interface Recovery {
  /** Every instance of the deployment whose component has a recovery policy, with its ladder. NOT_FOUND: no such deployment. */
  view(deployment: string, shownAs?: string): RecoveryView;
  /** A person resets an instance's ladder (after a give-up): limits cleared, the next failure starts at the first step. */
  reset(deployment: string, instance: string, by: string, shownAs?: string): Promise<RecoveryView>;
  /** The controller (for tests). */
  readonly controller: RecoveryController;
}

/** Builds the controller, loads the persisted ladders and registers it with the engine. Call before the control plane starts. */
export async function createRecoveryController(o: RecoveryOptions): Promise<Recovery> {
  const controller = new RecoveryController(o);
  await controller.load();
  o.engine.register(controller);
  const deployment = (name: string) => {
    const d = o.engine.deployments.get(name);
    if (!d) throw new NubisError('NOT_FOUND', `no deployment ${name}`);
    return d;
  };
  const view = (name: string, shownAs = name): RecoveryView => {
    const d = deployment(name);
    const now = o.clock.now();
    const instances = [];
    for (const inst of o.engine.instancesOf(name).sort((a, b) => a.component.localeCompare(b.component) || a.ordinal - b.ordinal)) {
      const p = controller.policyOf(inst);
      if (!p) continue;
      instances.push(instanceView(shownAs, inst.name, inst.component, p, controller.ladder(inst.key) ?? freshLadder(), now));
    }
    return { deployment: shownAs, instances };
  };
  return {
    controller,
    view,
    async reset(name, instance, by, shownAs) {
      deployment(name);
      await controller.reset(`${name}/${instance}`, by);
      return view(name, shownAs);
    },
  };
}
