/** The `cloudsigma` driver (API 2.0); see ./driver.ts for options and failure meaning. */
export {
  createCloudSigmaDriver, parseCloudSigmaOptions, cloudSigmaStatus,
  type CloudSigmaDriver, type CloudSigmaOptions, type BilledResource, type BilledResources, type CsServer,
} from './driver.js';
