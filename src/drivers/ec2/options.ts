/** The ec2 driver's options (see ./driver.ts for what each one does). Loads nothing of the AWS SDK. */
import type { DriverOptionsSchema } from '../options.js';

const strs = { type: 'array', items: { type: 'string' } } as const;

export const EC2_OPTIONS: DriverOptionsSchema = {
  required: ['region'],
  fields: {
    region: { type: 'string', expected: 'a region such as eu-north-1' },
    endpoint: { type: 'string', pattern: /^https?:\/\//, expected: 'an http(s) URL' },
    imageId: { type: 'string' },
    instanceType: { type: 'string' },
    keyName: { type: 'string' },
    securityGroupIds: strs,
    subnetId: { type: 'string' },
    pageSize: { type: 'number', integer: true, min: 1, max: 1000 },
    agentAddress: { type: 'string', enum: ['private', 'public'] },
    agentPath: { type: 'string' },
    prices: { type: 'object', values: { type: 'number', min: 0 } },
    imageOwners: strs,
    imageNamePatterns: strs,
    architecture: { type: 'string' },
    maxImages: { type: 'number', integer: true, min: 1 },
    visibilityGraceMs: { type: 'number', min: 0 },
    agentPort: { type: 'number', integer: true, min: 1, max: 65535 },
  },
};
