/**
 * The openstack platform: Keystone v3 sessions (./session.ts), Nova (./compute.ts), Glance,
 * Cinder and Neutron (./services.ts), and the Driver over them (./driver.ts).
 */
export {
  createOpenStackDriver, nodeStatusOf, serverTagFor, FIP_DESCRIPTION_PREFIX, META_TOKEN, type OpenStackDriver,
} from './driver.js';
export {
  createKeystoneSession, classifyAnswer, providerMessage, SERVICE_TYPES,
  type Answer, type EndpointInterface, type KeystoneOptions, type OpenStackSession, type RequestRecord, type ServiceName, type ServiceRequest,
} from './session.js';
export {
  createCompute, compareMicroversions, parseMicroversion, MAX_COMPUTE_MICROVERSION,
  type Compute, type ComputeOptions, type ComputeVersion, type CreateServerInput, type Microversion, type NovaFlavor, type NovaServer, type NovaServerGroup, type ServerGroupPolicy,
} from './compute.js';
export {
  createImages, createNetworks, createVolumes, waitUntil,
  type CinderSnapshot, type CinderVolume, type GlanceImage, type Images, type NeutronFloatingIp, type NeutronNetwork, type NeutronPort,
  type NeutronSecurityGroup, type NeutronSecurityGroupRule, type Networks, type SecurityGroupRuleInput, type Volumes, type WaitOptions,
} from './services.js';
export { openStackSnapshotCalls, imageSnapshotStatus, volumeSnapshotStatus, type OpenStackSnapshotDeps } from './snapshots.js';
export { downloadImage } from './image-download.js';
