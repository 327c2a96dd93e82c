/** The image marketplace and policy (see ./marketplace.ts; the signed form in ./canonical.ts). */
export {
  createImageMarketplace, IMAGE_CHECKS, IMAGE_POLICY_MODES,
  type ImageMarketplace, type ImageCheck, type ImagePolicyMode, type EndorserView, type ImageEntryView, type ImageEntryStatus, type ImagePolicyView,
} from './marketplace.js';
export { canonicalImageMetadata, signImageMetadata, parseImageMetadata, verifySignature, keyFingerprint, type ImageMetadata } from './canonical.js';
