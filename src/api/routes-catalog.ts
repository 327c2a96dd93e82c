/**
 * The service catalog (src/catalog): the installation's administrator publishes templates; a
 * tenant's viewers see those offered to it, its operators order them. Declared once for the
 * router and the OpenAPI document, like ./routes.ts; roles are checked by the router.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import { NubisError } from '../errors/index.js';
import type { CatalogService, TemplateInput } from '../catalog/index.js';
import { INSTALLATION_TENANT } from '../users/index.js';
import type { ResponseSpec, Route, RouteContext } from './router.js';
import { callerTenant } from './tenant-scope.js';

const Json = Type.Unsafe<Record<string, unknown>>({ type: 'object', description: 'a JSON Schema' });
const Template = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  description: Type.String(),
  parameters: Json,
  spec: Type.Optional(Type.String({ description: 'the installation administrator only' })),
  tenants: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'offered to (null: every tenant); the administrator only' })),
  publishedBy: Type.Optional(Type.String()),
  publishedAt: Type.String({ format: 'date-time' }),
});
const Order = Type.Object({
  id: Type.String(), template: Type.String(), version: Type.Integer(), deployment: Type.String(),
  params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { description: 'write-only (secret) values as "***"' }),
  actor: Type.String(), createdAt: Type.String({ format: 'date-time' }),
});

export const CATALOG_SCHEMAS: Record<string, TSchema> = {
  CatalogTemplateInput: Type.Object({
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    spec: Type.String({ minLength: 1, maxLength: 1_000_000, description: 'the application spec (YAML) with ${params.x} references' }),
    parameters: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of the parameters: type object, properties of type string, integer, number or boolean (README: the catalog)' }),
    tenants: Type.Optional(Type.Array(Type.String({ pattern: NAME_PATTERN }), { maxItems: 1000, description: 'offered to these tenants only; absent: every tenant' })),
    artefacts: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'relative path → base64 content, as in an apply' })),
  }, { additionalProperties: false }),
  CatalogTemplate: Template,
  CatalogTemplateList: Type.Object({ templates: Type.Array(Template) }),
  CatalogOrderInput: Type.Object({
    deployment: Type.String({ pattern: NAME_PATTERN, description: 'the new deployment\'s name in the caller\'s tenant' }),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'parameter values, checked against the template\'s schema' })),
  }, { additionalProperties: false }),
  CatalogOrder: Order,
  CatalogOrderResult: Type.Object({ order: Order, deployment: Type.Unsafe({ $ref: '#/components/schemas/DeploymentView' }) }),
  CatalogOrderList: Type.Object({ orders: Type.Array(Order) }),
};

const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token or session', schema: 'Error' },
  403: { description: 'the role is too low, or a session caller sent no X-CSRF-Token', schema: 'Error' },
  503: { description: 'this server has no catalog', schema: 'Error' },
};
const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const nameParam = { name: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'template name', required: true } };
const notFound: ResponseSpec = { description: 'no such template offered to the tenant', schema: 'Error' };

/** Whether the caller is the installation's administrator (sees every template and its spec). */
const isInstallationAdmin = (c: RouteContext): boolean => c.identity?.role === 'admin' && c.identity.tenant === INSTALLATION_TENANT;

export function buildCatalogRoutes(catalog: CatalogService | undefined): Route[] {
  const svc = (): CatalogService => {
    if (!catalog) throw new NubisError('UNAVAILABLE', 'this server has no service catalog');
    return catalog;
  };
  return [
    {
      method: 'GET', path: '/v1/catalog', operationId: 'listCatalog', auth: true,
      summary: 'the catalog templates offered to the caller\'s tenant, with their parameter schemas',
      responses: { 200: ok('CatalogTemplateList'), ...errors },
      handle: async (c) => ({ status: 200, body: { templates: await svc().list(callerTenant(c.caller), isInstallationAdmin(c)) } }),
    },
    {
      method: 'GET', path: '/v1/catalog/{name}', operationId: 'getCatalogTemplate', auth: true,
      summary: 'one template: its description and parameter schema (an order form is generated from it)', params: nameParam,
      responses: { 200: ok('CatalogTemplate'), ...errors, 404: notFound },
      handle: async (c) => ({ status: 200, body: await svc().show(callerTenant(c.caller), c.params['name']!, isInstallationAdmin(c)) }),
    },
    {
      method: 'PUT', path: '/v1/catalog/{name}', operationId: 'publishCatalogTemplate', role: 'admin', installation: true, auth: true,
      summary: 'publish or re-publish a template (the installation administrator); the spec and parameter schema are checked whole', params: nameParam,
      body: 'CatalogTemplateInput',
      responses: { 200: ok('CatalogTemplate', 're-published (version + 1)'), 201: ok('CatalogTemplate', 'published'), ...errors },
      handle: async (c) => {
        const r = await svc().publish(c.params['name']!, c.body as TemplateInput, c.caller);
        return { status: r.created ? 201 : 200, body: r.view };
      },
    },
    {
      method: 'DELETE', path: '/v1/catalog/{name}', operationId: 'withdrawCatalogTemplate', role: 'admin', installation: true, auth: true,
      summary: 'withdraw a template: no new orders; deployments ordered from it stay', params: nameParam,
      responses: { 204: { description: 'withdrawn' }, ...errors, 404: notFound },
      handle: async (c) => {
        await svc().withdraw(c.params['name']!, c.caller);
        return { status: 204, body: undefined };
      },
    },
    {
      method: 'POST', path: '/v1/catalog/{name}/orders', operationId: 'orderCatalogTemplate', auth: true,
      summary: 'order a template: the values are checked against its schema, then a new deployment is applied in the caller\'s tenant; nothing is created when any check fails',
      params: nameParam, body: 'CatalogOrderInput',
      responses: {
        201: ok('CatalogOrderResult', 'the deployment is being created; its access details follow when it is ready (GET /v1/deployments/{name}/access)'),
        ...errors, 404: notFound,
        409: { description: 'the tenant has a deployment of that name', schema: 'Error' },
        422: { description: 'CATALOG_PARAMS_INVALID: details.problems names each wrong value by JSON path; or PLACEMENT_NO_FIT', schema: 'Error' },
      },
      handle: async (c) => {
        const b = c.body as { deployment: string; params?: unknown };
        return { status: 201, body: await svc().order(callerTenant(c.caller), c.params['name']!, b, c.caller) };
      },
    },
    {
      method: 'GET', path: '/v1/orders', operationId: 'listOrders', auth: true,
      summary: 'the caller\'s tenant\'s catalog orders, newest first',
      responses: { 200: ok('CatalogOrderList'), ...errors },
      handle: async (c) => ({ status: 200, body: { orders: await svc().orders(callerTenant(c.caller)) } }),
    },
  ];
}
