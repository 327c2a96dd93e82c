/**
 * The operators' controls (src/policy): the image marketplace (entries, endorser keys, image
 * policies), quotas and address pools. Declared once for the router and the OpenAPI document,
 * like ./routes.ts. Everything is the caller's tenant's; what an operator decides (endorser
 * keys, image policies, quotas, pools) only the administrator sets, for any tenant with
 * `?tenant=` (403 for anyone else). Another tenant's objects answer like ones that do not exist.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import { NubisError } from '../errors/index.js';
import { IMAGE_CHECKS, IMAGE_POLICY_MODES, type AddressPools, type ImageMarketplace, type Quotas } from '../controls/index.js';
import type { Route, ResponseSpec, RouteContext } from './router.js';
import { callerTenant } from './tenant-scope.js';
import { INSTALLATION_TENANT } from '../users/index.js';

export interface PolicyRouteDeps {
  images: ImageMarketplace;
  quotas: Quotas;
  addresses: AddressPools;
}

const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const Name = Type.String({ pattern: NAME_PATTERN });
const Time = Type.String({ format: 'date-time' });

const ImageMetadataSchema = Type.Object({
  id: Name, image: Type.String(), os: Type.String(), osVersion: Type.Optional(Type.String()), sizeBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), endorser: Name, created: Time, expires: Time,
}, { description: 'what the endorser signs: ed25519 over the UTF-8 of this object as JSON with sorted keys and no whitespace' });
const Limit = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);

const ImageEntryViewSchema = Type.Object({
    id: Type.String(), metadata: ImageMetadataSchema, signature: Type.String(),
    status: lit(['valid', 'expired', 'revoked', 'unknown-endorser-key', 'bad-signature'] as const),
    addedAt: Time, addedBy: Type.String(), revokedAt: Type.Optional(Time), revokedBy: Type.Optional(Type.String()),
  });
const EndorserViewSchema = Type.Object({ name: Type.String(), publicKey: Type.String(), fingerprint: Type.String(), createdAt: Time, createdBy: Type.String() });
const ImagePolicyViewSchema = Type.Object({ cloud: Type.String({ description: 'a cloud, or * for every cloud' }), mode: lit(IMAGE_POLICY_MODES), updatedAt: Time, updatedBy: Type.String() });
const AddressPoolViewSchema = Type.Object({
    name: Type.String(), ranges: Type.Array(Type.String()), size: Type.Integer(), holdMs: Type.Integer(), floatingNetwork: Type.Optional(Type.String()),
    leased: Type.Integer(), held: Type.Integer(), free: Type.Integer(),
  });
const AddressLeaseViewSchema = Type.Object({
    pool: Type.String(), address: Type.String(), deployment: Type.String(), node: Type.String(), state: lit(['leased', 'held'] as const), leasedAt: Time, heldUntil: Type.Optional(Time),
  });

export const POLICY_SCHEMAS: Record<string, TSchema> = {
  ImageEndorsement: Type.Object({
    metadata: Type.Object({}, { additionalProperties: true, description: 'the image metadata (ImageMetadata), checked field by field' }),
    signature: Type.String({ minLength: 1, maxLength: 200, description: 'base64 ed25519 signature by the endorser over the canonical metadata' }),
  }, { additionalProperties: false }),
  ImageEntryView: ImageEntryViewSchema,
  ImageEntryList: Type.Object({ entries: Type.Array(ImageEntryViewSchema) }),
  EndorserInput: Type.Object({ publicKey: Type.String({ minLength: 1, maxLength: 4096, description: 'ed25519 public key, PEM (SPKI)' }) }, { additionalProperties: false }),
  EndorserView: EndorserViewSchema,
  EndorserList: Type.Object({ endorsers: Type.Array(EndorserViewSchema) }),
  ImagePolicyInput: Type.Object({
    cloud: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'absent: every cloud of the tenant' })),
    mode: lit(IMAGE_POLICY_MODES),
  }, { additionalProperties: false }),
  ImagePolicyView: ImagePolicyViewSchema,
  ImagePolicyList: Type.Object({ policies: Type.Array(ImagePolicyViewSchema), checks: Type.Array(lit(IMAGE_CHECKS)) }),
  QuotaInput: Type.Object({ nodes: Type.Optional(Limit), cores: Type.Optional(Limit), memory: Type.Optional(Limit), deployments: Type.Optional(Limit) }, { additionalProperties: false, description: 'limits to set; null removes one; memory in MiB' }),
  QuotaView: Type.Object({
    tenant: Type.String(),
    limits: Type.Object({ nodes: Limit, cores: Limit, memory: Limit, deployments: Limit }),
    used: Type.Object({ nodes: Type.Integer(), cores: Type.Integer(), memory: Type.Integer(), deployments: Type.Integer() }),
    deployments: Type.Array(Type.Object({ name: Type.String(), nodes: Type.Integer(), cores: Type.Integer(), memory: Type.Integer() })),
  }),
  AddressPoolInput: Type.Object({
    ranges: Type.Array(Type.String(), { minItems: 1, maxItems: 100, description: 'IPv4 CIDR ranges (10.0.0.0/28) or address ranges (10.0.1.5-10.0.1.9)' }),
    holdMs: Type.Optional(Type.Integer({ minimum: 0, description: 'how long a gone node\'s address is held for its deployment; default 3 600 000' })),
    floatingNetwork: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  }, { additionalProperties: false }),
  AddressPoolView: AddressPoolViewSchema,
  AddressPoolList: Type.Object({ pools: Type.Array(AddressPoolViewSchema) }),
  AddressLeaseView: AddressLeaseViewSchema,
  AddressLeaseList: Type.Object({ leases: Type.Array(AddressLeaseViewSchema) }),
  AddressHoldInput: Type.Object({ address: Type.String({ maxLength: 15 }), forMs: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
  AddressReleaseInput: Type.Object({ address: Type.String({ maxLength: 15 }) }, { additionalProperties: false }),
};

const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  404: { description: 'no such object in the tenant', schema: 'Error' },
  503: { description: 'this control plane runs no operators\' controls', schema: 'Error' },
};
const adminOnly: ResponseSpec = { description: 'only the administrator sets this (for any tenant with ?tenant=)', schema: 'Error' };
const body = { 413: { description: 'body too large', schema: 'Error' }, 415: { description: 'not JSON', schema: 'Error' } } satisfies Record<number, ResponseSpec>;
const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const nameParam = (description: string) => ({ name: { schema: Name, description, required: true } });
const tenantQuery = { tenant: { schema: Name, description: 'administrator only: act in this tenant (default: the caller\'s)' } };

export function buildPolicyRoutes(deps: PolicyRouteDeps | undefined): Route[] {
  const need = (): PolicyRouteDeps => {
    if (!deps) throw new NubisError('UNAVAILABLE', 'this control plane runs no operators\' controls');
    return deps;
  };
  /** The installation's administrator (an admin of tenant `default`). */
  const admin = (c: RouteContext): boolean => c.identity?.tenant === INSTALLATION_TENANT && c.identity.role === 'admin';
  /** The tenant acted in: `?tenant=` for the administrator only. */
  const tenantOf = (c: RouteContext): string => {
    const t = c.query['tenant'];
    if (t === undefined) return callerTenant(c.caller);
    if (!admin(c)) throw new NubisError('FORBIDDEN', 'only the administrator may act in another tenant (?tenant=)');
    return String(t);
  };
  /** Operator decisions: the administrator's alone. */
  const operator = (c: RouteContext, what: string): string => {
    if (!admin(c)) throw new NubisError('FORBIDDEN', `only the administrator sets ${what}`);
    return tenantOf(c);
  };
  const by = (c: RouteContext) => ({ actor: c.caller.actor, ...(c.caller.correlationId ? { correlationId: c.caller.correlationId } : {}) });
  const p = (c: RouteContext): string => c.params['name']!;
  return [
    {
      method: 'GET', path: '/v1/images', operationId: 'listImageEntries', summary: 'the image marketplace: entries endorsed in the tenant, with how each stands', auth: true,
      query: tenantQuery, responses: { 200: ok('ImageEntryList'), ...errors, 403: adminOnly },
      handle: async (c) => ({ status: 200, body: { entries: await need().images.list(tenantOf(c)) } }),
    },
    {
      method: 'POST', path: '/v1/images', operationId: 'endorseImage',
      summary: 'add a signed image entry; the signature is verified against the endorser\'s registered key before it is stored', auth: true,
      body: 'ImageEndorsement', responses: { 200: ok('ImageEntryView', 'the entry was replaced'), 201: ok('ImageEntryView', 'the entry was added'), ...errors, ...body },
      handle: async (c) => {
        const r = await need().images.endorse(callerTenant(c.caller), c.body as { metadata: unknown; signature: unknown }, by(c));
        return { status: r.created ? 201 : 200, body: r.entry };
      },
    },
    {
      method: 'GET', path: '/v1/images/{name}', operationId: 'getImageEntry', summary: 'one image entry', auth: true,
      params: nameParam('image entry id'), responses: { 200: ok('ImageEntryView'), ...errors },
      handle: async (c) => ({ status: 200, body: await need().images.get(callerTenant(c.caller), p(c)) }),
    },
    {
      method: 'POST', path: '/v1/images/{name}/revoke', operationId: 'revokeImageEntry', summary: 'revoke an entry: its image may no longer run under an endorsed-only policy', auth: true,
      params: nameParam('image entry id'), responses: { 200: ok('ImageEntryView'), ...errors },
      handle: async (c) => ({ status: 200, body: await need().images.revoke(callerTenant(c.caller), p(c), by(c)) }),
    },
    {
      method: 'GET', path: '/v1/image-endorsers', operationId: 'listEndorsers', summary: 'endorser public keys registered in the tenant', auth: true,
      query: tenantQuery, responses: { 200: ok('EndorserList'), ...errors, 403: adminOnly },
      handle: async (c) => ({ status: 200, body: { endorsers: await need().images.endorsers(tenantOf(c)) } }),
    },
    {
      method: 'PUT', path: '/v1/image-endorsers/{name}', operationId: 'putEndorser', role: 'admin', installation: true, summary: 'register or replace an endorser\'s ed25519 public key (administrator)', auth: true,
      params: nameParam('endorser name'), query: tenantQuery, body: 'EndorserInput',
      responses: { 200: ok('EndorserView', 'the key was replaced'), 201: ok('EndorserView', 'the key was registered'), ...errors, 403: adminOnly, ...body },
      handle: async (c) => {
        const r = await need().images.putEndorser(operator(c, 'endorser keys'), p(c), (c.body as { publicKey: unknown }).publicKey, by(c));
        return { status: r.created ? 201 : 200, body: r.endorser };
      },
    },
    {
      method: 'DELETE', path: '/v1/image-endorsers/{name}', operationId: 'deleteEndorser', role: 'admin', installation: true, summary: 'remove an endorser\'s key (its entries then fail with unknown-endorser-key)', auth: true,
      params: nameParam('endorser name'), query: tenantQuery, responses: { 200: ok('Removed'), ...errors, 403: adminOnly },
      handle: async (c) => {
        await need().images.deleteEndorser(operator(c, 'endorser keys'), p(c), by(c));
        return { status: 200, body: { removed: p(c) } };
      },
    },
    {
      method: 'GET', path: '/v1/image-policies', operationId: 'listImagePolicies', summary: 'the tenant\'s image policies (per cloud, and * for every cloud; none: open)', auth: true,
      query: tenantQuery, responses: { 200: ok('ImagePolicyList'), ...errors, 403: adminOnly },
      handle: async (c) => ({ status: 200, body: { policies: await need().images.policies(tenantOf(c)), checks: [...IMAGE_CHECKS] } }),
    },
    {
      method: 'PUT', path: '/v1/image-policies', operationId: 'setImagePolicy', role: 'admin', installation: true, summary: 'set the image policy of a tenant or of one of its clouds (administrator)', auth: true,
      query: tenantQuery, body: 'ImagePolicyInput', responses: { 200: ok('ImagePolicyView'), ...errors, 403: adminOnly, ...body },
      handle: async (c) => {
        const b = c.body as { cloud?: string; mode: string };
        return { status: 200, body: await need().images.setPolicy(operator(c, 'image policies'), b.cloud ?? '*', b.mode, by(c)) };
      },
    },
    {
      method: 'DELETE', path: '/v1/image-policies', operationId: 'deleteImagePolicy', role: 'admin', installation: true, summary: 'remove the image policy of a tenant (no cloud) or of one cloud (administrator)', auth: true,
      query: { ...tenantQuery, cloud: { schema: Name, description: 'the cloud; absent: the tenant-wide policy' } },
      responses: { 200: ok('Removed'), ...errors, 403: adminOnly },
      handle: async (c) => {
        const cloud = c.query['cloud'] === undefined ? '*' : String(c.query['cloud']);
        await need().images.deletePolicy(operator(c, 'image policies'), cloud, by(c));
        return { status: 200, body: { removed: cloud } };
      },
    },
    {
      method: 'GET', path: '/v1/quotas', operationId: 'getQuotas', summary: 'the tenant\'s quotas, what it uses and what each deployment reserves', auth: true,
      query: tenantQuery, responses: { 200: ok('QuotaView'), ...errors, 403: adminOnly },
      handle: async (c) => ({ status: 200, body: await need().quotas.show(tenantOf(c)) }),
    },
    {
      method: 'PUT', path: '/v1/quotas', operationId: 'setQuotas', role: 'admin', installation: true, summary: 'set a tenant\'s quotas (administrator); null removes a limit', auth: true,
      query: tenantQuery, body: 'QuotaInput', responses: { 200: ok('QuotaView'), ...errors, 403: adminOnly, ...body },
      handle: async (c) => ({ status: 200, body: await need().quotas.set(operator(c, 'quotas'), c.body, by(c)) }),
    },
    {
      method: 'GET', path: '/v1/address-pools', operationId: 'listAddressPools', summary: 'the tenant\'s address pools with their leased, held and free counts', auth: true,
      query: tenantQuery, responses: { 200: ok('AddressPoolList'), ...errors, 403: adminOnly },
      handle: async (c) => ({ status: 200, body: { pools: await need().addresses.pools(tenantOf(c)) } }),
    },
    {
      method: 'PUT', path: '/v1/address-pools/{name}', operationId: 'putAddressPool', role: 'admin', installation: true, summary: 'create or change an address pool (administrator)', auth: true,
      params: nameParam('pool name'), query: tenantQuery, body: 'AddressPoolInput',
      responses: { 200: ok('AddressPoolView', 'the pool changed'), 201: ok('AddressPoolView', 'the pool was created'), ...errors, 403: adminOnly, 409: { description: 'a leased address would fall outside', schema: 'Error' }, ...body },
      handle: async (c) => {
        const r = await need().addresses.putPool(operator(c, 'address pools'), p(c), c.body, by(c));
        return { status: r.created ? 201 : 200, body: r.pool };
      },
    },
    {
      method: 'DELETE', path: '/v1/address-pools/{name}', operationId: 'deleteAddressPool', role: 'admin', installation: true, summary: 'remove an address pool with nothing leased or held (administrator)', auth: true,
      params: nameParam('pool name'), query: tenantQuery, responses: { 200: ok('Removed'), ...errors, 403: adminOnly, 409: { description: 'addresses are leased or held', schema: 'Error' } },
      handle: async (c) => {
        await need().addresses.deletePool(operator(c, 'address pools'), p(c), by(c));
        return { status: 200, body: { removed: p(c) } };
      },
    },
    {
      method: 'GET', path: '/v1/address-leases', operationId: 'listAddressLeases', summary: 'leased and held addresses of the tenant (of one pool with ?pool=)', auth: true,
      query: { ...tenantQuery, pool: { schema: Name, description: 'only this pool' } }, responses: { 200: ok('AddressLeaseList'), ...errors, 403: adminOnly },
      handle: async (c) => ({ status: 200, body: { leases: await need().addresses.leases(tenantOf(c), c.query['pool'] === undefined ? undefined : String(c.query['pool'])) } }),
    },
    {
      method: 'POST', path: '/v1/address-pools/{name}/hold', operationId: 'holdAddress', summary: 'hold a leased address for its deployment (default: the pool\'s hold time)', auth: true,
      params: nameParam('pool name'), query: tenantQuery, body: 'AddressHoldInput', responses: { 200: ok('AddressLeaseView'), ...errors, 403: adminOnly, ...body },
      handle: async (c) => {
        const b = c.body as { address: string; forMs?: number };
        return { status: 200, body: await need().addresses.hold(tenantOf(c), p(c), b.address, b.forMs, by(c)) };
      },
    },
    {
      method: 'POST', path: '/v1/address-pools/{name}/release', operationId: 'releaseAddress', summary: 'free a leased or held address now', auth: true,
      params: nameParam('pool name'), query: tenantQuery, body: 'AddressReleaseInput', responses: { 200: ok('Removed', 'released'), ...errors, 403: adminOnly, ...body },
      handle: async (c) => {
        const address = (c.body as { address: string }).address;
        await need().addresses.release(tenantOf(c), p(c), address, by(c));
        return { status: 200, body: { removed: address } };
      },
    },
  ];
}
