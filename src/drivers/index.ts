/**
 * drivers — one folder per cloud platform behind one `Driver` interface (./driver.ts), the
 * runtime wrapper every driver runs inside (./runtime.ts), creation limiters (./limiter.ts)
 * and the conformance suite every driver passes (./conformance.ts, imported by tests only).
 */
import type { Platform } from '../model/types.js';
import type { DriverFactory } from './driver.js';
import { createLocalDriver } from './local/index.js';
import { createSimDriver } from './sim/index.js';
import { createSshDriver } from './ssh/index.js';
import { createOpenStackDriver } from './openstack/index.js';
import { lazyDriverFactory } from './lazy.js';
import { createCloudSigmaDriver } from './cloudsigma/index.js';
import { DRIVER_OPTIONS, withOptionsSchema } from './options.js';

export * from './driver.js';
export { wrapDriver, type DriverCallEvent, type RuntimeDriver } from './runtime.js';
export {
  createCloudHealth, STOPPING_CODES, type CloudHealth, type CloudHealthChange, type CloudHealthOptions, type CloudHealthState, type CloudHealthView, type HealthOp,
} from './cloud-health.js';
export {
  validateDriverOptions, optionsSchemaOf, withOptionsSchema, DRIVER_OPTIONS, platformOptionsJsonSchemas, driverOptionsJsonSchema, type DescribedFactory, type DriverOptionsSchema, type OptionType,
} from './options.js';
export { createAdaptiveLimiter, createFixedLimiter, type ConcurrencyLimiter, type LimitOutcome, type LimitRelease } from './limiter.js';
export { createLocalDriver } from './local/index.js';
export { createSimDriver, createSimCloud, startSimServer, simFaults, type SimCloud, type SimServer, type SimFaults } from './sim/index.js';
export { simFirewalls, SIM_HOST_TAG } from './sim/index.js';
export { createOpenStackDriver, type OpenStackDriver } from './openstack/index.js';
/** The ec2 driver is loaded on first use (the AWS SDK is large); import it from './ec2/index.js'. */
export type { Ec2Driver } from './ec2/index.js';
export { createCloudSigmaDriver, type CloudSigmaDriver, type BilledResource, type BilledResources } from './cloudsigma/index.js';
export { explainCloudError, classifyHttpError, classifyEc2Error, explanationCatalogue, codeRunbook, type CloudErrorExplanation } from './explain.js';
export { composeUserData, userDataParts, assertUserDataFits, type UserDataPart } from './user-data.js';
export { AGENT_PORT, GRAPHITE_PORT, DEFAULT_AGENT_PATH, agentSecrets, agentToken, agentUserData, cloudAgentClient, loadAgentSecret } from './cloud-agent.js';
export { createSshDriver, readSshOptions, type SshCloudNode, type SshDriverOptions, type SshHost } from './ssh/index.js';

/** Every platform this build has a driver for. */
export function defaultDriverFactories(): Partial<Record<Platform, DriverFactory>> {
  const o = DRIVER_OPTIONS;
  return {
    local: withOptionsSchema(createLocalDriver, o.local),
    sim: withOptionsSchema(createSimDriver, o.sim),
    ssh: withOptionsSchema(createSshDriver, o.ssh),
    openstack: withOptionsSchema(createOpenStackDriver, o.openstack),
    ec2: withOptionsSchema(lazyDriverFactory('ec2', async () => (await import('./ec2/index.js')).createEc2Driver), o.ec2),
    cloudsigma: withOptionsSchema(createCloudSigmaDriver, o.cloudsigma),
  };
}
