/** The operations of the Nubis API, declared once for the router and the OpenAPI document. */
import { Type } from '@sinclair/typebox';
import { HANDLER_NAMES, NAME_PATTERN } from '../model/schema.js';
import type { ControlPlane, SpecInput } from '../engine/views.js';
import type { HandlerName } from '../model/types.js';
import type { Route, ResponseSpec, ParamSpec, RouteContext } from './router.js';
import { callerDeployment, callerTenant, tenantEvents } from './tenant-scope.js';
import type { ScaleRequest } from './schemas.js';
import { streamEvents } from './sse.js';
import { NubisError } from '../errors/index.js';
import type { MetricsService } from '../metrics/index.js';
import type { ScalingService } from '../scaling/index.js';
import { buildMetricsRoutes } from './routes-metrics.js';
import { buildCloudRoutes } from './routes-clouds.js';
import { buildRolloutRoutes } from './routes-rollout.js';
import { buildAccessRoutes } from './routes-access.js';
import { buildWorkflowRoutes } from './routes-workflows.js';
import { buildOperationRoutes } from './routes-operations.js';
import type { WorkflowsController } from '../workflows/index.js';
import { buildRecoveryRoutes } from './routes-recovery.js';
// [backups] entries below (helper h/backups; keep them under this line)
import { buildBackupRoutes } from './routes-backups.js';
import type { Backups } from '../operations/index.js';

// [stores] entries below (helper h/stores; keep them under this line)

// [replicas] entries below (helper h/replicas; keep them under this line)

// [leaks] entries below (helper h/leaks; keep them under this line)

// [images] entries below (helper h/images; keep them under this line)

// [placement] entries below (helper h/placement; keep them under this line)

// [users] entries below (helper h/users; keep them under this line)

// [console] entries below (helper h/console; keep them under this line)

import type { Recovery } from '../operations/index.js';

export interface RouteDeps {
  controlPlane: ControlPlane;
  /** Heartbeat interval of event streams. */
  heartbeatMs: number;
  /** The OpenAPI document, built lazily from the routes themselves. */
  openapi: () => object;
  /** Metrics, rules and schedules; their routes answer 503 without it. */
  metrics?: MetricsService;
  /** Scaling rules and schedules; their routes answer 503 without it. */
  scaling?: ScalingService;
  /** Workflows (src/workflows/controller); their routes answer 503 without it. */
  workflows?: WorkflowsController;
  /** Recovery ladders (src/operations/recovery); their routes answer 503 without it. */
  recovery?: Recovery;
  // [backups] entries below (helper h/backups; keep them under this line)
  /** Backups, restores and drills (src/operations/backups); their routes answer 503 without it. */
  backups?: Backups;

  // [stores] entries below (helper h/stores; keep them under this line)

  // [replicas] entries below (helper h/replicas; keep them under this line)

  // [leaks] entries below (helper h/leaks; keep them under this line)

  // [images] entries below (helper h/images; keep them under this line)

  // [placement] entries below (helper h/placement; keep them under this line)

  // [users] entries below (helper h/users; keep them under this line)

  // [console] entries below (helper h/console; keep them under this line)
}

const NameParam = (description: string): ParamSpec => ({ schema: Type.String({ pattern: NAME_PATTERN }), description, required: true });
const nameParams = { name: NameParam('deployment name') };
const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });

const Cursor: ParamSpec = { schema: Type.Integer({ minimum: 0 }), description: 'only events with an id greater than this' };
const DeploymentFilter: ParamSpec = { schema: Type.String({ pattern: NAME_PATTERN }), description: 'only events of this deployment' };
const KindFilter: ParamSpec = {
  schema: Type.String({ pattern: '^[a-z0-9._-]+\\*?$', maxLength: 100 }),
  description: 'only events of this kind; a trailing * matches a prefix (node.*)',
};

const hostAccessDenied: ResponseSpec = {
  description: 'a cloud of the spec reaches the control-plane host (platform local, file paths in options) and the tenant may not use that',
  schema: 'Error',
};

/** Errors every authenticated operation may answer with, besides its own. */
const authErrors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
};

function optionalString(v: string | number | undefined): string | undefined {
  return v === undefined ? undefined : String(v);
}
function optionalNumber(v: string | number | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** The caller's deployment named by the `name` path parameter: only its own tenant's are addressable. */
const dep = (c: RouteContext): string => callerDeployment(c.caller, c.params['name']!);

export function buildRoutes(deps: RouteDeps): Route[] {
  const cp = deps.controlPlane;
  return [
    {
      method: 'GET', path: '/healthz', operationId: 'health', summary: 'liveness check', auth: false,
      responses: { 200: ok('Health') },
      handle: async () => ({ status: 200, body: { ok: true } }),
    },
    {
      method: 'GET', path: '/openapi.json', operationId: 'openapi', summary: 'this OpenAPI 3.1 document', auth: false,
      responses: { 200: ok('JsonSchema') },
      handle: async () => ({ status: 200, body: deps.openapi() }),
    },
    {
      method: 'GET', path: '/v1/schema/spec.json', operationId: 'specSchema', summary: 'the JSON Schema of application specs', auth: true,
      responses: { 200: ok('JsonSchema'), ...authErrors },
      handle: async () => ({ status: 200, body: cp.specSchema() }),
    },
    {
      method: 'POST', path: '/v1/plan', operationId: 'plan', summary: 'show the actions applying a spec would take', auth: true,
      body: 'SpecInput',
      responses: { 200: ok('PlanResult'), ...authErrors, 403: hostAccessDenied, 413: { description: 'body too large', schema: 'Error' }, 415: { description: 'not JSON', schema: 'Error' } },
      handle: async (c) => ({ status: 200, body: await cp.plan(c.body as SpecInput, c.caller) }),
    },
    {
      method: 'POST', path: '/v1/deployments', operationId: 'apply', summary: 'create or change a deployment from a spec', auth: true,
      body: 'SpecInput',
      responses: {
        200: ok('DeploymentView', 'the deployment changed'),
        201: ok('DeploymentView', 'the deployment was created'),
        ...authErrors,
        403: hostAccessDenied,
        409: { description: 'conflicts with the current state (e.g. being destroyed)', schema: 'Error' },
        413: { description: 'body too large', schema: 'Error' },
        415: { description: 'not JSON', schema: 'Error' },
      },
      handle: async (c) => {
        const before = new Set((await cp.listDeployments(callerTenant(c.caller))).map((d) => d.name));
        const view = await cp.apply(c.body as SpecInput, c.caller);
        return { status: before.has(view.name) ? 200 : 201, body: view };
      },
    },
    {
      method: 'GET', path: '/v1/deployments', operationId: 'listDeployments', summary: 'list deployments', auth: true,
      responses: { 200: ok('DeploymentList'), ...authErrors },
      handle: async (c) => ({ status: 200, body: { deployments: await cp.listDeployments(callerTenant(c.caller)) } }),
    },
    {
      method: 'GET', path: '/v1/deployments/{name}', operationId: 'getDeployment', summary: 'a deployment with its components and instances', auth: true,
      params: nameParams,
      responses: { 200: ok('DeploymentView'), ...authErrors, 404: { description: 'no such deployment', schema: 'Error' } },
      handle: async (c) => ({ status: 200, body: await cp.getDeployment(dep(c)) }),
    },
    {
      method: 'DELETE', path: '/v1/deployments/{name}', operationId: 'destroy', summary: 'start tearing a deployment down', auth: true,
      params: nameParams,
      responses: { 202: ok('DeploymentView', 'teardown started'), ...authErrors, 404: { description: 'no such deployment', schema: 'Error' } },
      handle: async (c) => ({ status: 202, body: await cp.destroy(dep(c), c.caller) }),
    },
    {
      method: 'POST', path: '/v1/deployments/{name}/forget', operationId: 'forget',
      summary: 'drop a deployment being destroyed from the store without waiting for its clouds; lists what may be left there', auth: true,
      params: nameParams,
      responses: {
        200: ok('ForgetResult'), ...authErrors, 404: { description: 'no such deployment', schema: 'Error' },
        409: { description: 'the deployment is not being destroyed', schema: 'Error' },
      },
      handle: async (c) => ({ status: 200, body: await cp.forget(dep(c), c.caller) }),
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/endpoints', operationId: 'endpoints', summary: 'the provided ports of every instance', auth: true,
      params: nameParams,
      responses: { 200: ok('EndpointList'), ...authErrors, 404: { description: 'no such deployment', schema: 'Error' } },
      handle: async (c) => ({ status: 200, body: { endpoints: await cp.endpoints(dep(c)) } }),
    },
    {
      method: 'POST', path: '/v1/deployments/{name}/scale', operationId: 'scale', summary: 'set the instance count of a component', auth: true,
      params: nameParams,
      body: 'ScaleRequest',
      responses: {
        200: ok('DeploymentView'),
        ...authErrors,
        404: { description: 'no such deployment or component', schema: 'Error' },
        413: { description: 'body too large', schema: 'Error' },
        415: { description: 'not JSON', schema: 'Error' },
        422: { description: 'SCALE_OUT_OF_BOUNDS: the count is outside the component\'s min and max; details has component, count, min, max, bound (max or min) and limit', schema: 'Error' },
      },
      handle: async (c) => {
        const b = c.body as ScaleRequest;
        return { status: 200, body: await cp.scale(dep(c), b.component, b.count, c.caller) };
      },
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/instances/{instance}/logs', operationId: 'logs', summary: 'lifecycle step logs of an instance, oldest first', auth: true,
      params: { ...nameParams, instance: NameParam('instance name, such as app-2') },
      query: {
        step: { schema: Type.Union(HANDLER_NAMES.map((h) => Type.Literal(h))), description: 'only this lifecycle step' },
      },
      responses: { 200: ok('LogList'), ...authErrors, 404: { description: 'no such deployment or instance', schema: 'Error' } },
      handle: async (c) => {
        const step = optionalString(c.query['step']) as HandlerName | undefined;
        return { status: 200, body: { logs: await cp.logs(dep(c), c.params['instance']!, step) } };
      },
    },
    {
      method: 'GET', path: '/v1/events', operationId: 'listEvents', summary: 'audit events, oldest first: the newest `limit`, or with `after` the first `limit` after it', auth: true,
      query: {
        deployment: DeploymentFilter,
        kind: KindFilter,
        after: Cursor,
        correlationId: { schema: Type.String({ minLength: 1, maxLength: 128 }), description: 'only events of this request' },
        target: { schema: Type.String({ minLength: 1, maxLength: 300 }), description: 'only events about this resource' },
        limit: { schema: Type.Integer({ minimum: 1, maximum: 10000 }), description: 'at most this many events (default 1000)' },
      },
      responses: { 200: ok('EventList'), ...authErrors },
      handle: async (c) => {
        const q = c.query;
        const filter: Parameters<ControlPlane['events']['list']>[0] = {};
        if (q['deployment'] !== undefined) filter.deployment = String(q['deployment']);
        if (q['kind'] !== undefined) filter.kind = String(q['kind']);
        if (q['after'] !== undefined) filter.afterId = Number(q['after']);
        if (q['correlationId'] !== undefined) filter.correlationId = String(q['correlationId']);
        if (q['target'] !== undefined) filter.target = String(q['target']);
        if (q['limit'] !== undefined) filter.limit = Number(q['limit']);
        // without a cursor the newest events are wanted (like tail); with one, the next page
        if (filter.afterId === undefined) filter.newest = true;
        return { status: 200, body: { events: await tenantEvents(cp.events, callerTenant(c.caller)).list(filter) } };
      },
    },
    {
      method: 'GET', path: '/v1/events/stream', operationId: 'streamEvents',
      summary: 'audit events as Server-Sent Events: stored ones after the cursor, then live ones', auth: true,
      query: { deployment: DeploymentFilter, kind: KindFilter, after: Cursor },
      responses: {
        200: { description: 'an endless text/event-stream; each event has `id:` and one JSON `data:` line', contentType: 'text/event-stream' },
        ...authErrors,
      },
      handle: async (c) => {
        const lastEventId = c.headers['last-event-id'];
        let after = optionalNumber(c.query['after']);
        if (lastEventId !== undefined) {
          const v = Array.isArray(lastEventId) ? lastEventId[0] ?? '' : lastEventId;
          if (!/^\d{1,15}$/.test(v.trim())) {
            throw new NubisError('REQUEST_INVALID', `header "Last-Event-ID": expected an event id (integer ≥ 0), found ${JSON.stringify(v)}`, {
              details: { parameter: 'Last-Event-ID' },
            });
          }
          after = Math.max(after ?? 0, Number(v.trim()));
        }
        const opts: Parameters<typeof streamEvents>[2] = { heartbeatMs: deps.heartbeatMs, signal: c.signal };
        if (after !== undefined) opts.after = after;
        const dep = optionalString(c.query['deployment']);
        const kind = optionalString(c.query['kind']);
        if (dep !== undefined) opts.deployment = dep;
        if (kind !== undefined) opts.kind = kind;
        await streamEvents(tenantEvents(cp.events, callerTenant(c.caller)), c.stream, opts);
        return undefined;
      },
    },
    ...buildMetricsRoutes(deps.metrics, Date.now, deps.scaling),
    ...buildCloudRoutes(cp),
    ...buildRolloutRoutes(cp),
    ...buildAccessRoutes(cp),
    ...buildWorkflowRoutes(deps.workflows),
    ...buildOperationRoutes(cp),
    ...buildRecoveryRoutes(deps.recovery),
    // [backups] entries below (helper h/backups; keep them under this line)
    ...buildBackupRoutes(deps.backups),

    // [stores] entries below (helper h/stores; keep them under this line)

    // [replicas] entries below (helper h/replicas; keep them under this line)

    // [leaks] entries below (helper h/leaks; keep them under this line)

    // [images] entries below (helper h/images; keep them under this line)

    // [placement] entries below (helper h/placement; keep them under this line)

    // [users] entries below (helper h/users; keep them under this line)

    // [console] entries below (helper h/console; keep them under this line)
  ];
}
