/** The `cloudsigma` driver (API 2.0); see ./driver.ts for options and failure meaning. */
export {
  createCloudSigmaDriver, parseCloudSigmaOptions, cloudSigmaStatus,
  type CloudSigmaDriver, type CloudSigmaOptions, type BilledResource, type BilledResources, type CsServer,
} from './driver.js';
export { nubisName, parseNubisName, tagsFromName, type NubisName } from './naming.js';
export { waitForClones, isCloning, type CloneWait } from './clones.js';
export { cloudSigmaSnapshotCalls, cloudSigmaSnapshotStatus, type CloudSigmaSnapshotDeps } from './snapshots.js';
