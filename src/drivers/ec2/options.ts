/** The ec2 driver's options (see ./driver.ts for what each one does). Loads nothing of the AWS SDK. */
import { doc, type DriverOptionsSchema } from '../option-types.js';

const strs = { type: 'array', items: { type: 'string' } } as const;

export const EC2_OPTIONS: DriverOptionsSchema = {
  required: ['region'],
  fields: {
    region: doc({ type: 'string', expected: 'a region such as eu-north-1' }, 'the AWS region (required)'),
    endpoint: doc({ type: 'string', pattern: /^https?:\/\//, expected: 'an http(s) URL' }, 'an EC2-compatible endpoint; default the region\'s AWS endpoint'),
    imageId: doc({ type: 'string' }, 'AMI when the placement names none'),
    instanceType: doc({ type: 'string' }, 'instance type when the placement names none'),
    keyName: doc({ type: 'string' }, 'EC2 key pair for the instances'),
    securityGroupIds: doc(strs, 'security groups of the instances (they must let the control plane reach the agent port)'),
    subnetId: doc({ type: 'string' }, 'subnet of the instances'),
    pageSize: doc({ type: 'number', integer: true, min: 1, max: 1000 }, 'DescribeInstances MaxResults (5–1000 on AWS)'),
    agentAddress: doc({ type: 'string', enum: ['private', 'public'] }, 'which address the control plane reaches agents on; default private'),
    agentPath: doc({ type: 'string' }, 'the agent program on the image'),
    prices: doc({ type: 'object', values: { type: 'number', min: 0 } }, 'instance type → USD per hour, over the built-in table'),
    imageOwners: doc(strs, 'owners whose images discovery lists; default self, amazon'),
    imageNamePatterns: doc(strs, 'image name filters for discovery'),
    architecture: doc({ type: 'string' }, 'image architecture for discovery; default x86_64'),
    maxImages: doc({ type: 'number', integer: true, min: 1 }, 'most images discovery keeps; default 100'),
    visibilityGraceMs: doc({ type: 'number', min: 0 }, 'how long after a launch NotFound for the instance is eventual consistency, not gone, in ms; default 60000'),
    agentPort: doc({ type: 'number', integer: true, min: 1, max: 65535 }, 'where the control plane dials agents (the user data starts them on 7430); default 7430'),
    graphitePort: doc({ type: 'number', integer: true, min: 0, max: 65535 }, 'the agent\'s Graphite listener on the VM, on 127.0.0.1 (NUBIS_GRAPHITE), 0 for none; default 2003'),
  },
};
