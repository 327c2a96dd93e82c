/**
 * The leak guard, cost and budgets (issue 11 items 5 and 6; src/engine/leak-api.ts): leaks
 * found, a scan now, leak policies per cloud; cost by day or deployment; monthly budgets. Every
 * route acts in the caller's tenant only; another tenant's deployment answers like one that
 * does not exist (404).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NubisError } from '../errors/index.js';
import type { LeakGuardApi } from '../engine/index.js';
import type { ParamSpec, ResponseSpec, Route, RouteContext } from './router.js';
import { callerTenant } from './tenant-scope.js';

const Iso = Type.String({ format: 'date-time' });
const LeakViewSchema = Type.Object({
  cloud: Type.String(), kind: Type.String(), id: Type.String(), deployment: Type.Optional(Type.String()), key: Type.Optional(Type.String()),
  status: Type.String({ description: 'open | deleted | gone' }), reason: Type.String(), firstSeen: Iso, lastSeen: Iso, endedAt: Type.Optional(Iso),
  node: Type.Optional(Type.String()), pricePerHour: Type.Optional(Type.Number()), deleteAt: Type.Optional(Iso),
});
const ScanReportSchema = Type.Object({
  clouds: Type.Integer(), resources: Type.Integer(), open: Type.Integer(), found: Type.Integer(), ended: Type.Integer(), deleted: Type.Integer(),
  failed: Type.Array(Type.Object({ cloud: Type.String(), error: Type.String() })),
});
const PolicyViewSchema = Type.Object({ cloud: Type.String(), deleteAfterMs: Type.Optional(Type.Integer()), owned: Type.Boolean() });
const BudgetViewSchema = Type.Object({
  amount: Type.Number(), thresholds: Type.Array(Type.Integer()), hardStop: Type.Boolean(), deployment: Type.Optional(Type.String()), month: Type.String(),
  spentMicros: Type.Integer(), spent: Type.String(), percent: Type.Number(), exceeded: Type.Boolean(),
});

export const LEAK_SCHEMAS: Record<string, TSchema> = {
  LeakList: Type.Object({ leaks: Type.Array(LeakViewSchema) }),
  LeakScan: Type.Object({ leaks: Type.Array(LeakViewSchema), report: Type.Optional(ScanReportSchema) }),
  LeakPolicyInput: Type.Object({
    deleteAfter: Type.Optional(Type.Union([Type.String({ description: 'a duration such as 1h' }), Type.Integer({ minimum: 0 }), Type.Null()], { description: 'delete a leak this long after it was first seen; null or absent: report only' })),
    owned: Type.Optional(Type.Boolean({ description: 'Nubis owns the whole project: untagged resources in it are judged too' })),
  }, { additionalProperties: false }),
  LeakPolicyView: PolicyViewSchema,
  LeakPolicyList: Type.Object({ policies: Type.Array(PolicyViewSchema) }),
  CostReport: Type.Object({
    from: Iso, to: Iso, by: Type.Union([Type.Literal('day'), Type.Literal('deployment')]), unit: Type.Literal('micro'),
    totalMicros: Type.Integer({ description: 'integer micro-units of the clouds\' currency' }), total: Type.String(),
    rows: Type.Array(Type.Object({ key: Type.String(), micros: Type.Integer(), ms: Type.Integer() })),
    unpricedMs: Type.Integer({ description: 'node running time of offers without a known price' }),
  }),
  BudgetInput: Type.Object({
    amount: Type.Number({ exclusiveMinimum: 0, description: 'per calendar month (UTC), in the clouds\' currency' }),
    thresholds: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 1000 }), { minItems: 1, maxItems: 10, description: 'percentages that warn; default [80, 100]' })),
    hardStop: Type.Optional(Type.Boolean({ description: 'refuse new nodes while exceeded (running ones keep running)' })),
  }, { additionalProperties: false }),
  BudgetView: BudgetViewSchema,
  BudgetList: Type.Object({ budgets: Type.Array(BudgetViewSchema) }),
};

const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  503: { description: 'this control plane runs no leak guard', schema: 'Error' },
};
const notFound: ResponseSpec = { description: 'no such policy, budget or deployment', schema: 'Error' };
const ok = (schema: string): ResponseSpec => ({ description: 'success', schema });
const cloudParam: Record<string, ParamSpec> = { cloud: { schema: Type.String({ pattern: '^([a-z][a-z0-9-]{0,39}|\\*)$' }), description: 'a cloud name, or * for all the tenant\'s clouds', required: true } };
const depParam: Record<string, ParamSpec> = { name: { schema: Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }), description: 'deployment name', required: true } };

const time = (v: string | number | undefined, name: string, dflt: number): number => {
  if (v === undefined) return dflt;
  const t = Date.parse(String(v));
  if (Number.isNaN(t)) throw new NubisError('REQUEST_INVALID', `query parameter ${name}: expected an ISO 8601 time, found ${JSON.stringify(v)}`, { details: { parameter: name } });
  return t;
};

export function buildLeakRoutes(api: LeakGuardApi | undefined): Route[] {
  const need = (): LeakGuardApi => {
    if (!api) throw new NubisError('UNAVAILABLE', 'this control plane runs no leak guard');
    return api;
  };
  const t = (c: RouteContext): string => callerTenant(c.caller);
  return [
    {
      method: 'GET', path: '/v1/leaks', operationId: 'listLeaks', summary: 'resources the leak guard found billing with nothing of Nubis needing them (open ones; all=true: deleted and gone too)', auth: true,
      query: { all: { schema: Type.Union([Type.Literal('true'), Type.Literal('false')]), description: 'also leaks already deleted or gone' } },
      responses: { 200: ok('LeakList'), ...errors },
      handle: async (c) => ({ status: 200, body: { leaks: await need().list(t(c), c.query['all'] === 'true') } }),
    },
    {
      method: 'POST', path: '/v1/leaks/scan', operationId: 'scanLeaks', summary: 'scan every cloud in use for leaks now; the tenant\'s open leaks after it', auth: true,
      responses: { 200: ok('LeakScan'), ...errors },
      handle: async (c) => ({ status: 200, body: await need().scan(t(c)) }),
    },
    {
      method: 'GET', path: '/v1/leaks/policies', operationId: 'listLeakPolicies', summary: 'the tenant\'s leak policies (a cloud without one: report only)', auth: true,
      responses: { 200: ok('LeakPolicyList'), ...errors },
      handle: async (c) => ({ status: 200, body: { policies: await need().policies(t(c)) } }),
    },
    {
      method: 'PUT', path: '/v1/leaks/policies/{cloud}', operationId: 'putLeakPolicy', summary: 'set what the leak guard does with leaks of a cloud (* for all): delete after a grace period, judge untagged resources', auth: true,
      params: cloudParam, body: 'LeakPolicyInput', responses: { 200: ok('LeakPolicyView'), 201: { description: 'created', schema: 'LeakPolicyView' }, ...errors },
      handle: async (c) => {
        const r = await need().setPolicy(t(c), c.params['cloud']!, c.body, c.caller.actor);
        return { status: r.created ? 201 : 200, body: r.policy };
      },
    },
    {
      method: 'DELETE', path: '/v1/leaks/policies/{cloud}', operationId: 'deleteLeakPolicy', summary: 'remove a leak policy (the cloud is reported only again)', auth: true,
      params: cloudParam, responses: { 200: ok('Health'), ...errors, 404: notFound },
      handle: async (c) => {
        await need().deletePolicy(t(c), c.params['cloud']!, c.caller.actor);
        return { status: 200, body: { ok: true } };
      },
    },
    {
      method: 'GET', path: '/v1/cost', operationId: 'getCost', summary: 'what the tenant\'s nodes (price of their offer × running time) and priced leaked extras cost, by day or by deployment', auth: true,
      query: {
        from: { schema: Iso, description: 'start (default: the start of the current month, UTC)' },
        to: { schema: Iso, description: 'end, exclusive (default: now)' },
        by: { schema: Type.Union([Type.Literal('day'), Type.Literal('deployment')]), description: 'rows per day (default) or per deployment' },
      },
      responses: { 200: ok('CostReport'), ...errors },
      handle: async (c) => {
        const now = Date.now();
        const d = new Date(now);
        const from = time(c.query['from'], 'from', Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
        const to = time(c.query['to'], 'to', now);
        if (to <= from) throw new NubisError('REQUEST_INVALID', 'query parameter to: expected a time after from', { details: { parameter: 'to' } });
        return { status: 200, body: await need().cost(t(c), from, to, c.query['by'] === 'deployment' ? 'deployment' : 'day') };
      },
    },
    {
      method: 'GET', path: '/v1/budgets', operationId: 'listBudgets', summary: 'the tenant\'s monthly budgets with what was spent this month', auth: true,
      responses: { 200: ok('BudgetList'), ...errors },
      handle: async (c) => ({ status: 200, body: { budgets: await need().budgets(t(c)) } }),
    },
    {
      method: 'PUT', path: '/v1/budgets', operationId: 'putTenantBudget', summary: 'set the tenant\'s monthly budget', auth: true,
      body: 'BudgetInput', responses: { 200: ok('BudgetView'), ...errors },
      handle: async (c) => ({ status: 200, body: await need().setBudget(t(c), undefined, c.body, c.caller.actor) }),
    },
    {
      method: 'DELETE', path: '/v1/budgets', operationId: 'deleteTenantBudget', summary: 'remove the tenant\'s monthly budget (done when it has none)', auth: true,
      responses: { 200: ok('Health'), ...errors },
      handle: async (c) => {
        await need().deleteBudget(t(c), undefined, c.caller.actor);
        return { status: 200, body: { ok: true } };
      },
    },
    {
      method: 'PUT', path: '/v1/budgets/{name}', operationId: 'putDeploymentBudget', summary: 'set a deployment\'s monthly budget', auth: true,
      params: depParam, body: 'BudgetInput', responses: { 200: ok('BudgetView'), ...errors, 404: notFound },
      handle: async (c) => ({ status: 200, body: await need().setBudget(t(c), c.params['name']!, c.body, c.caller.actor) }),
    },
    {
      method: 'DELETE', path: '/v1/budgets/{name}', operationId: 'deleteDeploymentBudget', summary: 'remove a deployment\'s monthly budget', auth: true,
      params: depParam, responses: { 200: ok('Health'), ...errors, 404: notFound },
      handle: async (c) => {
        await need().deleteBudget(t(c), c.params['name']!, c.caller.actor);
        return { status: 200, body: { ok: true } };
      },
    },
  ];
}
