/**
 * controls — the cloud operators' controls that admit or refuse work (issue 11): the image
 * marketplace and policy (./images), quotas per tenant (./quotas), address pools with leases
 * and holds (./addresses), and their composition as the engine's admission port
 * (./admission.ts). Each sub-folder is a unit with its own index.ts; other modules import this
 * door only.
 */
export * from './images/index.js';
export * from './quotas/index.js';
export * from './addresses/index.js';
export { createPolicyAdmission, createOperatorControls, holdLeasesOfDeletedNodes, type PolicyAdmissionOptions, type OperatorControls } from './admission.js';
