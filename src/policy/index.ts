/**
 * policy — the cloud operators' controls (issue 11): the image marketplace and policy
 * (./images), quotas per tenant (./quotas), address pools with leases and holds
 * (./addresses), and their composition as the engine's admission port (./admission.ts).
 */
// [images] entries below (helper h/images; keep them under this line)
export * from './images/index.js';
export * from './quotas/index.js';
export * from './addresses/index.js';
export { createPolicyAdmission, createOperatorControls, holdLeasesOfDeletedNodes, type PolicyAdmissionOptions, type OperatorControls } from './admission.js';
