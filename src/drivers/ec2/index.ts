/** The `ec2` driver (AWS SDK v3); see ./driver.ts for options and failure meaning. */
export {
  createEc2Driver, parseEc2Options, ec2ClientToken, ec2Status, parseImageOs,
  type Ec2Driver, type Ec2Options, type IngressRule, type KeyPairInfo,
} from './driver.js';
export { EC2_APPROX_PRICES_USD, EC2_PRICE_SOURCE } from './prices.js';
export { ec2SnapshotCalls, ec2ImageStatus, type Ec2SnapshotDeps } from './snapshots.js';
