/** Quotas per tenant (see ./quotas.ts; the counting is in src/store/policy.ts). */
export { createQuotas, quotaError, useOf, QUOTA_NAMES, type Quotas, type QuotaView } from './quotas.js';
