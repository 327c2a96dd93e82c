/**
 * The operators' controls as the engine's admission port (src/engine/admission.ts): the image
 * policy and quotas checked at plan and apply, the quota reserved with every desired-state
 * write, and around each node create the image check again (the cloud's image may have changed
 * since plan) and the address lease of a template that asks for one. Nodes that are deleted
 * hand their leases over as holds (from the `instance.deleted` events).
 */
import { TAG_DEPLOYMENT, TAG_TENANT, type CreateNodeRequest, type Driver, type RuntimeDriver } from '../drivers/index.js';
import { ADMIN_TENANT, imageOfDemand, localText, type Admission, type Deployment } from '../engine/index.js';
import type { EventLog } from '../events/index.js';
import type { CloudSpec } from '../model/index.js';
import type { Clock } from '../clock/index.js';
import type { Store } from '../store/index.js';
import { createImageMarketplace, type ImageMarketplace } from './images/index.js';
import { createQuotas, type Quotas } from './quotas/index.js';
import { createAddressPools, type AddressPools } from './addresses/index.js';

export interface PolicyAdmissionOptions {
  images: ImageMarketplace;
  quotas: Quotas;
  addresses: AddressPools;
  /** The deployment of this id, for the node template of a create. */
  deployment: (id: string) => Deployment | undefined;
}

/** The component of a resource key `<deployment>/<component>-<ordinal>`. */
const componentOf = (key: string): string => key.slice(key.lastIndexOf('/') + 1).replace(/-\d+$/, '');

export function createPolicyAdmission(o: PolicyAdmissionOptions): Admission {
  /** The checks a create must pass before the cloud is called. */
  async function beforeCreate(d: Driver, cloud: CloudSpec, req: CreateNodeRequest, signal: AbortSignal): Promise<void> {
    const tenant = req.tags[TAG_TENANT] ?? ADMIN_TENANT;
    await o.images.checkCreate(tenant, cloud.name, imageOfDemand(req.placement, cloud), d, `node ${localText(tenant, req.key)}`, signal);
    const dep = o.deployment(req.tags[TAG_DEPLOYMENT] ?? '');
    const comp = dep?.spec.components[componentOf(req.key)];
    const pool = comp ? dep!.spec.nodeTemplates[comp.nodeTemplate]?.address?.pool : undefined;
    if (dep && pool) await o.addresses.lease(tenant, pool, dep.name, req.key);
  }
  const guard = (d: Driver, cloud: CloudSpec): Driver => ({
    ...d,
    create: async (req, signal) => {
      await beforeCreate(d, cloud, req, signal);
      return d.create(req, signal);
    },
  });
  return {
    async check(req) {
      await o.quotas.check(req);
      await o.images.check(req, AbortSignal.timeout(10 * 60_000));
    },
    reserve: (d) => o.quotas.reserve(d),
    guardDriver: (rt: RuntimeDriver, cloud: CloudSpec): RuntimeDriver => ({
      ...rt,
      ...guard(rt, cloud),
      withCorrelation: (id) => guard(rt.withCorrelation(id), cloud),
      replace: (next) => rt.replace(next),
    }),
  };
}

/** Leases of deleted nodes become holds: subscribes to `instance.deleted`; returns the unsubscribe. */
export function holdLeasesOfDeletedNodes(events: EventLog, addresses: AddressPools): () => void {
  const nodes = events.subscribe({ kind: 'instance.deleted' }, (e) => {
    if (e.target) void addresses.nodeGone(e.target).catch(() => undefined);
  });
  const deployments = events.subscribe({ kind: 'deployment.forgotten' }, (e) => {
    if (e.deployment) void addresses.deploymentGone(e.deployment).catch(() => undefined);
  });
  return () => {
    nodes();
    deployments();
  };
}

/** The three controls and their admission port, as the server's composition root wires them. */
export interface OperatorControls {
  images: ImageMarketplace;
  quotas: Quotas;
  addresses: AddressPools;
  admission: Admission;
  /** Starts the hold expiry loop and hands deleted nodes' leases over as holds. */
  start(): void;
  stop(): Promise<void>;
}

export function createOperatorControls(o: { store: Store; events: EventLog; clock: Clock; deployment: (id: string) => Deployment | undefined; holdIntervalMs?: number }): OperatorControls {
  const images = createImageMarketplace(o);
  const quotas = createQuotas(o);
  const addresses = createAddressPools({ ...o, ...(o.holdIntervalMs !== undefined ? { intervalMs: o.holdIntervalMs } : {}) });
  const admission = createPolicyAdmission({ images, quotas, addresses, deployment: o.deployment });
  let unsubscribe: (() => void) | undefined;
  return {
    images, quotas, addresses, admission,
    start() {
      unsubscribe ??= holdLeasesOfDeletedNodes(o.events, addresses);
      addresses.start();
    },
    async stop() {
      unsubscribe?.();
      await addresses.stop();
    },
  };
}
