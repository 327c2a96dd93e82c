/**
 * The admission port: what the operators' controls (src/policy: image policy, quotas, address
 * pools) see of a desired state before it is accepted, and the hooks they add to the engine.
 * The engine defines the shape; the composition root passes an implementation
 * (`ControlPlaneOptions.admission`). Without one, everything is admitted.
 */
import type { CloudSpec, NodeRequirements } from '../model/index.js';
import type { Driver, RuntimeDriver } from '../drivers/index.js';
import type { WriteOp } from '../store/index.js';
import type { Placement } from './clouds.js';
import type { Deployment } from './state.js';

/** The nodes one component asks for, and where they would go. */
export interface NodeDemand {
  component: string;
  /** Desired nodes (0 for a deployment being destroyed). */
  count: number;
  cloud: string;
  cloudSpec: CloudSpec;
  requirements: NodeRequirements;
  /** Selection's choice, for a template without a cloud. */
  placement?: Placement;
  /** The image the nodes boot: the placement's, else the cloud's `image` option; absent: the driver's default. */
  image?: string;
}

export interface AdmissionRequest {
  /** `plan` shows a refusal; `apply` refuses the spec whole. */
  phase: 'plan' | 'apply';
  tenant: string;
  /** The deployment id. */
  deployment: string;
  /** The deployment's name as its tenant writes it. */
  name: string;
  demands: NodeDemand[];
  /** The (wrapped) driver of a cloud the deployment names or selection chose; building it calls nothing. */
  driverFor(cloud: string): Driver;
}

export interface Admission {
  /** Throws a NubisError naming the policy and the failing check when the desired state may not be. */
  check(req: AdmissionRequest): Promise<void>;
  /**
   * Guarded write ops joined to every desired-state write of the deployment (apply, scale,
   * destroy), in the same transaction (Store.writeGuarded): the quota reservation. An op that
   * throws refuses the write and leaves nothing changed.
   */
  reserve?(d: Deployment): WriteOp[];
  /** The create-time checks around a cloud's driver (the image a node boots, its address lease). */
  guardDriver?(driver: RuntimeDriver, cloud: CloudSpec): RuntimeDriver;
}

/** The image a component's nodes boot: the placement's, else the cloud's `image` option. */
export function imageOfDemand(placement: Pick<Placement, 'image'> | undefined, cloud: CloudSpec): string | undefined {
  if (placement?.image) return placement.image;
  const o = cloud.options['image'];
  return typeof o === 'string' && o.length > 0 ? o : undefined;
}
