/**
 * Registry operations: clouds with their locations, offers and images, credentials, and the
 * provider SLA. Declared once for the router and the OpenAPI document, like ./routes.ts.
 *
 * Secrets: `PUT /v1/credentials/{name}` is the only operation that takes secret values, and
 * no operation returns one — credential views carry names and field names only. The body of
 * that PUT is checked here rather than by a schema, so no validation message can echo a value.
 *
 * Tenancy: every operation works in the caller's tenant (the tenant of its token, `default`
 * for the bootstrap token). Another tenant's clouds and credentials are invisible: their names
 * answer 404 as if they did not exist.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN, PLATFORMS } from '../model/schema.js';
import type { ControlPlane } from '../engine/views.js';
import { checkHostAccess } from '../engine/index.js';
import { NubisError } from '../errors/index.js';
import { DEFAULT_TENANT, parseSince, type CloudInput, type Registry } from '../registry/index.js';
import type { RegEntryKind } from '../store/index.js';
import type { ParamSpec, ResponseSpec, Route } from './router.js';

const Name = (description: string): ParamSpec => ({ schema: Type.String({ pattern: NAME_PATTERN }), description, required: true });
const EntryId: ParamSpec = { schema: Type.String({ minLength: 1, maxLength: 200 }), description: 'the provider\'s id (percent-encode slashes)', required: true };
const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
};
const notFound = (what: string): Record<number, ResponseSpec> => ({ 404: { description: `no such ${what}`, schema: 'Error' } });
const bodyErrors: Record<number, ResponseSpec> = {
  413: { description: 'body too large', schema: 'Error' },
  415: { description: 'not JSON', schema: 'Error' },
};

// ---- schemas (published under components.schemas through NAMED_SCHEMAS) ----

const Source = Type.Union([Type.Literal('discovered'), Type.Literal('manual')], { description: 'manual entries survive discovery refreshes' });

const LocationSchema = Type.Object({
  id: Type.String(),
  region: Type.Optional(Type.String()),
  zone: Type.Optional(Type.String()),
  geography: Type.Optional(Type.String({ description: 'ISO 3166 country code or a place' })),
  source: Source,
});
const OfferSchema = Type.Object({
  id: Type.String(),
  cores: Type.Integer({ minimum: 1 }),
  memoryMiB: Type.Integer({ minimum: 1 }),
  diskGiB: Type.Optional(Type.Number({ minimum: 0 })),
  pricePerHour: Type.Optional(Type.Number({ minimum: 0 })),
  locations: Type.Optional(Type.Array(Type.String(), { description: 'absent: every location' })),
  source: Source,
});
const ImageSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  os: Type.Optional(Type.String({ description: 'OS family or distribution, lower case: linux, ubuntu, debian…' })),
  osVersion: Type.Optional(Type.String()),
  locations: Type.Optional(Type.Array(Type.String())),
  source: Source,
});

const closed = { additionalProperties: false } as const;

const CloudViewSchema = Type.Object({
  name: Type.String(),
  platform: Type.String(),
  options: Type.Record(Type.String(), Type.Unknown()),
  credential: Type.Optional(Type.String()),
  discovery: Type.Boolean({ description: 'whether the driver discovers offers (else they are entered by hand)' }),
  lastDiscoveredAt: Type.Optional(Type.String({ format: 'date-time' })),
  lastDiscoveryError: Type.Optional(Type.String()),
  counts: Type.Object({ locations: Type.Integer(), offers: Type.Integer(), images: Type.Integer() }),
});
const DiscoveryReportSchema = Type.Object({
  cloud: Type.String(),
  supported: Type.Boolean(),
  ok: Type.Boolean(),
  error: Type.Optional(Type.String()),
  counts: Type.Object({ locations: Type.Integer(), offers: Type.Integer(), images: Type.Integer() }),
});
const CredentialViewSchema = Type.Object({
  name: Type.String(),
  fields: Type.Array(Type.String(), { description: 'field names only' }),
  usedBy: Type.Array(Type.String()),
  updatedAt: Type.String({ format: 'date-time' }),
});
const SlaOpSchema = Type.Object({
  op: Type.String(),
  calls: Type.Integer(),
  errors: Type.Integer(),
  providerErrors: Type.Integer({ description: 'failed with a provider-side error (5xx, unavailable, timeout, throttled)' }),
  availability: Type.Number({ minimum: 0, maximum: 1 }),
  p50Ms: Type.Number(),
  p95Ms: Type.Number(),
  p99Ms: Type.Number(),
});

export const CLOUD_SCHEMAS: Record<string, TSchema> = {
  CloudInput: Type.Object(
    {
      platform: Type.Union(PLATFORMS.map((p) => Type.Literal(p))),
      options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'driver options: endpoint, region… never secrets' })),
      credential: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'name of a stored credential' })),
    },
    { ...closed, description: 'a cloud: a platform at an endpoint with the credential it uses' },
  ),
  CloudView: CloudViewSchema,
  CloudList: Type.Object({ clouds: Type.Array(CloudViewSchema) }),
  DiscoveryReport: DiscoveryReportSchema,
  CloudRegistration: Type.Object({ cloud: CloudViewSchema, discovery: DiscoveryReportSchema }),
  LocationInput: Type.Object({ region: Type.Optional(Type.String()), zone: Type.Optional(Type.String()), geography: Type.Optional(Type.String()) }, closed),
  OfferInput: Type.Object(
    {
      cores: Type.Integer({ minimum: 1 }),
      memoryMiB: Type.Integer({ minimum: 1 }),
      diskGiB: Type.Optional(Type.Number({ minimum: 0 })),
      pricePerHour: Type.Optional(Type.Number({ minimum: 0 })),
      locations: Type.Optional(Type.Array(Type.String())),
    },
    closed,
  ),
  ImageInput: Type.Object(
    { name: Type.Optional(Type.String()), os: Type.Optional(Type.String()), osVersion: Type.Optional(Type.String()), locations: Type.Optional(Type.Array(Type.String())) },
    closed,
  ),
  Location: LocationSchema,
  Offer: OfferSchema,
  Image: ImageSchema,
  LocationList: Type.Object({ locations: Type.Array(LocationSchema) }),
  OfferList: Type.Object({ offers: Type.Array(OfferSchema) }),
  ImageList: Type.Object({ images: Type.Array(ImageSchema) }),
  CredentialInput: Type.Object({}, {
    additionalProperties: true,
    description: '{ "fields": { "<name>": "<secret value>", … } }: string values only; stored sealed, never returned',
  }),
  CredentialView: CredentialViewSchema,
  CredentialList: Type.Object({ credentials: Type.Array(CredentialViewSchema) }),
  Removed: Type.Object({ removed: Type.String() }),
  SlaReport: Type.Object({
    cloud: Type.String(),
    since: Type.String({ format: 'date-time' }),
    until: Type.String({ format: 'date-time' }),
    total: SlaOpSchema,
    ops: Type.Array(SlaOpSchema),
    codes: Type.Array(Type.Object({ code: Type.String(), count: Type.Integer() })),
  }),
  SlaOp: SlaOpSchema,
};

const KINDS: { kind: RegEntryKind; plural: 'locations' | 'offers' | 'images'; input: string; one: string; list: string }[] = [
  { kind: 'location', plural: 'locations', input: 'LocationInput', one: 'Location', list: 'LocationList' },
  { kind: 'offer', plural: 'offers', input: 'OfferInput', one: 'Offer', list: 'OfferList' },
  { kind: 'image', plural: 'images', input: 'ImageInput', one: 'Image', list: 'ImageList' },
];

/** Checks the credential body without ever echoing a value. */
function credentialFields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new NubisError('REQUEST_INVALID', '$: expected an object { "fields": { name: value, … } }');
  const keys = Object.keys(body);
  const extra = keys.filter((k) => k !== 'fields');
  if (extra.length > 0) throw new NubisError('REQUEST_INVALID', `$: only "fields" is accepted; found ${extra.length} other key${extra.length === 1 ? '' : 's'}`);
  const fields = (body as { fields?: unknown }).fields;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new NubisError('REQUEST_INVALID', '$.fields: expected an object of field name → string value');
  return fields as Record<string, unknown>;
}

export function buildCloudRoutes(cp: ControlPlane): Route[] {
  const reg = (): Registry => {
    if (!cp.registry) throw new NubisError('UNAVAILABLE', 'this control plane has no registry');
    return cp.registry;
  };
  const tenantOf = (c: { caller: { tenant?: string } }): string => c.caller.tenant ?? DEFAULT_TENANT;
  const name = { name: Name('cloud name') };
  const routes: Route[] = [
    {
      method: 'GET', path: '/v1/clouds', operationId: 'listClouds', summary: 'registered clouds', auth: true,
      responses: { 200: ok('CloudList'), ...errors },
      handle: async (c) => ({ status: 200, body: { clouds: reg().listClouds(tenantOf(c)) } }),
    },
    {
      method: 'GET', path: '/v1/clouds/{name}', operationId: 'getCloud', summary: 'a registered cloud', auth: true,
      params: name,
      responses: { 200: ok('CloudView'), ...errors, ...notFound('cloud') },
      handle: async (c) => ({ status: 200, body: reg().getCloud(tenantOf(c), c.params['name']!) }),
    },
    {
      method: 'PUT', path: '/v1/clouds/{name}', operationId: 'putCloud', role: 'admin', summary: 'register or change a cloud, then discover its offers', auth: true,
      params: name,
      body: 'CloudInput',
      responses: {
        200: ok('CloudRegistration', 'the cloud changed'), 201: ok('CloudRegistration', 'the cloud was registered'), ...errors, ...bodyErrors,
        403: { description: 'the cloud reaches the control-plane host (platform local, file paths in options) and the tenant may not use that', schema: 'Error' },
      },
      handle: async (c) => {
        const input = c.body as CloudInput;
        // a cloud that reaches this host is refused before discovery runs on it
        checkHostAccess(tenantOf(c), { name: c.params['name']!, platform: input.platform, options: input.options ?? {} }, cp.tenancy ?? {});
        const r = await reg().putCloud(tenantOf(c), c.params['name']!, input, c.caller);
        return { status: r.created ? 201 : 200, body: { cloud: r.cloud, discovery: r.discovery } };
      },
    },
    {
      method: 'DELETE', path: '/v1/clouds/{name}', operationId: 'deleteCloud', role: 'admin', summary: 'remove a registered cloud and its entries', auth: true,
      params: name,
      responses: { 200: ok('Removed'), ...errors, ...notFound('cloud'), 409: { description: 'nodes are placed on it', schema: 'Error' } },
      handle: async (c) => {
        await reg().deleteCloud(tenantOf(c), c.params['name']!, c.caller);
        return { status: 200, body: { removed: c.params['name']! } };
      },
    },
    {
      method: 'POST', path: '/v1/clouds/{name}/discover', operationId: 'discoverCloud', role: 'admin', summary: 'run discovery now', auth: true,
      params: name,
      responses: { 200: ok('DiscoveryReport'), ...errors, ...notFound('cloud') },
      handle: async (c) => ({ status: 200, body: await reg().discover(tenantOf(c), c.params['name']!, c.caller) }),
    },
    {
      method: 'GET', path: '/v1/clouds/{name}/sla', operationId: 'cloudSla',
      summary: 'availability and p50/p95/p99 latency of the cloud\'s API per operation, with the error codes seen', auth: true,
      params: name,
      query: { since: { schema: Type.String({ pattern: '^[0-9]{1,6}(s|m|h|d)$' }), description: 'window, such as 30m, 24h (default) or 7d' } },
      responses: { 200: ok('SlaReport'), ...errors, ...notFound('cloud') },
      handle: async (c) => {
        const windowMs = parseSince(typeof c.query['since'] === 'string' ? c.query['since'] : '24h');
        return { status: 200, body: await reg().sla(tenantOf(c), c.params['name']!, windowMs) };
      },
    },
    {
      method: 'GET', path: '/v1/credentials', operationId: 'listCredentials', summary: 'stored credentials: names and field names, never values', auth: true,
      responses: { 200: ok('CredentialList'), ...errors },
      handle: async (c) => ({ status: 200, body: { credentials: reg().listCredentials(tenantOf(c)) } }),
    },
    {
      method: 'GET', path: '/v1/credentials/{name}', operationId: 'getCredential', summary: 'a credential\'s name and field names', auth: true,
      params: { name: Name('credential name') },
      responses: { 200: ok('CredentialView'), ...errors, ...notFound('credential') },
      handle: async (c) => {
        const v = reg().listCredentials(tenantOf(c)).find((x) => x.name === c.params['name']);
        if (!v) throw new NubisError('NOT_FOUND', `no credential named ${JSON.stringify(c.params['name'])}`);
        return { status: 200, body: v };
      },
    },
    {
      method: 'PUT', path: '/v1/credentials/{name}', operationId: 'putCredential', role: 'admin', summary: 'store a credential sealed (the answer names its fields only)', auth: true,
      params: { name: Name('credential name') },
      body: 'CredentialInput',
      responses: { 200: ok('CredentialView', 'the credential changed'), 201: ok('CredentialView', 'the credential was stored'), ...errors, ...bodyErrors },
      handle: async (c) => {
        const r = await reg().setCredential(tenantOf(c), c.params['name']!, credentialFields(c.body), c.caller);
        return { status: r.created ? 201 : 200, body: r.credential };
      },
    },
    {
      method: 'DELETE', path: '/v1/credentials/{name}', operationId: 'deleteCredential', role: 'admin', summary: 'remove a credential', auth: true,
      params: { name: Name('credential name') },
      responses: { 200: ok('Removed'), ...errors, ...notFound('credential'), 409: { description: 'a cloud uses it', schema: 'Error' } },
      handle: async (c) => {
        await reg().deleteCredential(tenantOf(c), c.params['name']!, c.caller);
        return { status: 200, body: { removed: c.params['name']! } };
      },
    },
  ];
  for (const k of KINDS) {
    const cap = k.kind[0]!.toUpperCase() + k.kind.slice(1);
    routes.push(
      {
        method: 'GET', path: `/v1/clouds/{name}/${k.plural}`, operationId: `list${cap}s`, summary: `the cloud's ${k.plural}, discovered and by hand`, auth: true,
        params: name,
        responses: { 200: ok(k.list), ...errors, ...notFound('cloud') },
        handle: async (c) => ({ status: 200, body: { [k.plural]: reg()[k.plural](tenantOf(c), c.params['name']!) } }),
      },
      {
        method: 'PUT', path: `/v1/clouds/{name}/${k.plural}/{id}`, operationId: `put${cap}`, role: 'admin', summary: `add or replace a ${k.kind} by hand (kept across discovery refreshes)`, auth: true,
        params: { ...name, id: EntryId },
        body: k.input,
        responses: { 200: ok(k.one), ...errors, ...notFound('cloud'), ...bodyErrors },
        handle: async (c) => ({ status: 200, body: await reg().putEntry(tenantOf(c), c.params['name']!, k.kind, c.params['id']!, c.body, c.caller) }),
      },
      {
        method: 'DELETE', path: `/v1/clouds/{name}/${k.plural}/{id}`, operationId: `delete${cap}`, role: 'admin', summary: `remove a ${k.kind}`, auth: true,
        params: { ...name, id: EntryId },
        responses: { 200: ok('Removed'), ...errors, ...notFound(k.kind) },
        handle: async (c) => {
          await reg().deleteEntry(tenantOf(c), c.params['name']!, k.kind, c.params['id']!, c.caller);
          return { status: 200, body: { removed: c.params['id']! } };
        },
      },
    );
  }
  return routes;
}
