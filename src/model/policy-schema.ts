/**
 * Spec sections of the operators' controls (issue 11): a node template's `placement` and the
 * deployment's `firewall`. Semantic checks and normalisation are in ./policy.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { PLACEMENT_POLICIES } from '../policy/index.js';

export const Placement = Type.Object(
  {
    policy: Type.Union(PLACEMENT_POLICIES.map((p) => Type.Literal(p)), {
      description: 'packing: fill a host before the next; striping: spread evenly; load-aware: least CPU load first (from the hosts\' metrics); custom: highest `rank` first',
    }),
    rank: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'custom only: an expression over host attributes (free_cores, nodes, load, memory, … and the host\'s own), higher first, e.g. "free_cores * 2 - load / 10"' })),
    antiAffinity: Type.Optional(Type.Boolean({ description: 'never two instances of one component on one host (or cloud); a clear error when there are too few' })),
    loadQuery: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'load-aware: a query whose result elements carry label `host` (or `cloud`) and the CPU load in percent' })),
  },
  { additionalProperties: false, description: 'where this template\'s nodes go among the hosts of its cloud (ssh, sim) or among clouds' },
);

/** Component and port names (./schema.ts NAME_PATTERN; not imported, which would make a cycle). */
const NameKey = Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' });
const Cidr = Type.String({ pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$', description: 'an IPv4 or IPv6 address or network (CIDR)' });

export const Firewall = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'default true when the section is present' })),
    open: Type.Optional(
      Type.Record(NameKey, Type.Record(NameKey, Type.Array(Cidr, { minItems: 1 }), { additionalProperties: false, description: 'provided port → sources' }), {
        additionalProperties: false,
        description: 'component → provided port → sources allowed beyond the channels\' consumers (for ports reached from outside, such as a load balancer\'s)',
      }),
    ),
  },
  { additionalProperties: false, description: 'only the ports channels need are open on the nodes: security groups (openstack, ec2), nftables (ssh)' },
);

export type PlacementDoc = Static<typeof Placement>;
export type FirewallDoc = Static<typeof Firewall>;
