/**
 * The metrics, rules and schedules operations: query (Prometheus-like JSON), series, push,
 * definitions/rules/schedules CRUD, and `GET /metrics`, the control plane's own health in
 * Prometheus text format.
 *
 * `GET /metrics` needs no token (like /healthz): it shows only counters and gauges of the
 * control plane itself (no deployment data beyond platform and operation names), and scrapers
 * can read it without a secret. Everything under /v1 needs the bearer token.
 *
 * Everything is per tenant (the caller's token's): series and queries see only the tenant's
 * series, and definitions, rules, schedules, scrape targets and monitors of other tenants are
 * 404 as if they did not exist.
 *
 * Without a metrics service (an API built for tests without one) every operation here answers
 * 503 UNAVAILABLE, so the route table and the OpenAPI document are the same either way.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { METRIC_NAME_PATTERN, NAME_PATTERN } from '../model/schema.js';
import { MONITOR_KINDS } from '../agent/index.js';
import type { MetricDefDoc, RuleDoc, ScheduleDoc, ScrapeTargetDoc } from '../model/schema.js';
import { NubisError } from '../errors/index.js';
import type { MetricsService, PushInput } from '../metrics/index.js';
import type { ScalingService } from '../scaling/index.js';
import type { QueryResult } from '../metrics/types.js';
import type { ParamSpec, ResponseSpec, Route } from './router.js';
import type { Caller } from '../engine/views.js';
import { DEFAULT_TENANT } from '../registry/types.js';

const tenantOf = (c: Caller): string => c.tenant ?? DEFAULT_TENANT;

const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  503: { description: 'the metrics service is not running', schema: 'Error' },
};
const notFound = { 404: { description: 'no such object (or deployment)', schema: 'Error' } };
const conflict = { 409: { description: 'ambiguous name (give deployment), or defined in a spec', schema: 'Error' } };
const bodyErrors = { 413: { description: 'body too large', schema: 'Error' }, 415: { description: 'not JSON', schema: 'Error' } };

const DeploymentQuery: ParamSpec = { schema: Type.String({ pattern: NAME_PATTERN }), description: 'only objects of this deployment (needed when a name is used in several)' };
const TimeParam = (d: string): ParamSpec => ({ schema: Type.String({ minLength: 1, maxLength: 40 }), description: `${d}: RFC 3339 or Unix seconds` });

/** RFC 3339 or Unix seconds (fractions allowed) → ms; REQUEST_INVALID naming the parameter. */
export function parseTime(v: string, param: string): number {
  const ms = /^-?\d+(\.\d+)?$/.test(v) ? Math.round(Number(v) * 1000) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    throw new NubisError('REQUEST_INVALID', `query parameter "${param}": expected RFC 3339 or Unix seconds, found ${JSON.stringify(v)}`, { details: { parameter: param } });
  }
  return ms;
}

/** `30s`, `5m`, `1h`, `250ms`, or seconds (`15`, `0.5`) → ms. */
export function parseStep(v: string, param: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m?.[2] ?? 's') as 'ms'];
  const ms = m ? Number(m[1]) * unit : NaN;
  if (!(ms >= 1)) throw new NubisError('REQUEST_INVALID', `query parameter "${param}": expected a duration such as 30s or seconds, found ${JSON.stringify(v)}`, { details: { parameter: param } });
  return Math.round(ms);
}

const fmt = (v: number): string => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

/** A query result in the Prometheus HTTP API shape (times in seconds, values as strings). */
export function promJson(r: QueryResult): { status: 'success'; data: { resultType: string; result: unknown } } {
  switch (r.resultType) {
    case 'vector':
      return { status: 'success', data: { resultType: 'vector', result: r.result.map((e) => ({ metric: e.labels, value: [e.t / 1000, fmt(e.v)] })) } };
    case 'scalar':
      return { status: 'success', data: { resultType: 'scalar', result: [r.result.t / 1000, fmt(r.result.v)] } };
    case 'matrix':
      return { status: 'success', data: { resultType: 'matrix', result: r.result.map((s) => ({ metric: s.labels, values: s.points.map((p) => [p.t / 1000, fmt(p.v)]) })) } };
  }
}

const MonitorIdPattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const MonitorSpecSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  intervalMs: Type.Integer(),
  instance: Type.Optional(Type.String()),
  target: Type.Optional(Type.String()),
  tries: Type.Optional(Type.Integer()),
  timeoutMs: Type.Optional(Type.Integer()),
}, { description: 'the monitor as the node agent keeps it' });
const MonitorViewSchema = Type.Object({
  id: Type.String(),
  scope: Type.Union([Type.Literal('instance'), Type.Literal('node')], { description: 'instance: its process tree (or cgroup); node: the whole node' }),
  spec: MonitorSpecSchema,
  lastRun: Type.Optional(Type.String({ format: 'date-time' })),
  lastSamples: Type.Integer(),
  lastError: Type.Optional(Type.String()),
  info: Type.Optional(Type.String({ description: 'how it measures (e.g. "measured by process-tree") or why a probe failed' })),
  runs: Type.Integer(),
});
/** Monitor schemas, published with the others (see ./schemas.ts). */
export const MONITOR_SCHEMAS: Record<string, TSchema> = {
  MonitorInput: Type.Object({
    id: Type.Optional(Type.String({ pattern: MonitorIdPattern, description: 'when given, equals the id in the path' })),
    kind: Type.Union(MONITOR_KINDS.map((k) => Type.Literal(k))),
    intervalMs: Type.Integer({ minimum: 100, maximum: 86_400_000, description: 'how often it measures' }),
    scope: Type.Optional(Type.Union([Type.Literal('instance'), Type.Literal('node')], {
      description: 'default: instance for cpu, memory and disk-io without a target (the instance\'s process tree or cgroup), else node',
    })),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'tcp-latency: host:port; mount: path; disk-io: device; disk-free: mount point; network: interface' })),
    tries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'tcp-latency: connects per reading' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, description: 'tcp-latency, mount: per try / per read' })),
  }, { additionalProperties: false, description: 'a monitor of a component instance, run by its node\'s agent (MonitorSpec without instance)' }),
  MonitorView: MonitorViewSchema,
  MonitorList: Type.Object({ node: Type.String(), monitors: Type.Array(MonitorViewSchema) }),
};

export function buildMetricsRoutes(metrics: MetricsService | undefined, now: () => number = Date.now, scaling?: ScalingService): Route[] {
  const svc = (): MetricsService => {
    if (!metrics) throw new NubisError('UNAVAILABLE', 'the metrics service is not running on this server');
    return metrics;
  };
  const policies = (): ScalingService => {
    if (!scaling) throw new NubisError('UNAVAILABLE', 'the scaling service is not running on this server');
    return scaling;
  };
  const dep = (q: Record<string, string | number | undefined>): string | undefined => (q['deployment'] === undefined ? undefined : String(q['deployment']));

  /** GET list, GET one, PUT, DELETE for one kind of object. */
  function crud(o: {
    base: string; what: string; plural: string; nameSchema: ParamSpec; input: string; view: string; list: string; idPrefix: string;
    doList: (t: string, d?: string) => unknown[]; doGet: (t: string, n: string, d?: string) => unknown;
    doPut: (n: string, body: unknown, c: { actor: string; correlationId?: string }) => Promise<{ created: boolean; view: unknown }>;
    doDelete: (n: string, d: string | undefined, c: { actor: string; correlationId?: string }) => Promise<void>;
  }): Route[] {
    const params = { name: o.nameSchema };
    return [
      {
        method: 'GET', path: o.base, operationId: `list${o.idPrefix}s`, summary: `list ${o.plural} (spec and run time)`, auth: true,
        query: { deployment: DeploymentQuery },
        responses: { 200: ok(o.list), ...errors },
        handle: async (c) => ({ status: 200, body: { [o.plural]: o.doList(tenantOf(c.caller), dep(c.query)) } }),
      },
      {
        method: 'GET', path: `${o.base}/{name}`, operationId: `get${o.idPrefix}`, summary: `one ${o.what}`, auth: true,
        params, query: { deployment: DeploymentQuery },
        responses: { 200: ok(o.view), ...errors, ...notFound, ...conflict },
        handle: async (c) => ({ status: 200, body: o.doGet(tenantOf(c.caller), c.params['name']!, dep(c.query)) }),
      },
      {
        method: 'PUT', path: `${o.base}/{name}`, operationId: `put${o.idPrefix}`, summary: `add or change a ${o.what} at run time (no redeploy)`, auth: true,
        params, body: o.input,
        responses: { 200: ok(o.view, 'changed'), 201: ok(o.view, 'created'), ...errors, ...notFound, ...bodyErrors },
        handle: async (c) => {
          const r = await o.doPut(c.params['name']!, c.body, c.caller);
          return { status: r.created ? 201 : 200, body: r.view };
        },
      },
      {
        method: 'DELETE', path: `${o.base}/{name}`, operationId: `delete${o.idPrefix}`, summary: `remove a run-time ${o.what}`, auth: true,
        params, query: { deployment: DeploymentQuery },
        responses: { 200: ok('Health', 'removed'), ...errors, ...notFound, ...conflict },
        handle: async (c) => {
          await o.doDelete(c.params['name']!, dep(c.query), c.caller);
          return { status: 200, body: { ok: true } };
        },
      },
    ];
  }

  return [
    {
      method: 'GET', path: '/metrics', operationId: 'selfMetrics', summary: 'the control plane\'s own health in Prometheus text format (no token needed)', auth: false,
      responses: { 200: { description: 'Prometheus text exposition format 0.0.4', contentType: 'text/plain' }, 503: errors[503]! },
      handle: async (c) => {
        const text = await svc().selfMetrics();
        c.stream.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
        c.stream.write(text);
        c.stream.end();
        return undefined;
      },
    },
    {
      method: 'GET', path: '/v1/metrics/series', operationId: 'listSeries', summary: 'series (label sets) matching a selector', auth: true,
      query: {
        match: { schema: Type.String({ minLength: 1, maxLength: 4000 }), description: 'a series selector such as {__name__=~"instance.cpu.*"}; all series when absent' },
        limit: { schema: Type.Integer({ minimum: 1, maximum: 100000 }), description: 'at most this many (default 10000)' },
      },
      responses: { 200: ok('SeriesList'), ...errors },
      handle: async (c) => {
        const match = c.query['match'] === undefined ? undefined : String(c.query['match']);
        const limit = c.query['limit'] === undefined ? 10_000 : Number(c.query['limit']);
        return { status: 200, body: { status: 'success', data: await svc().series(match, limit, tenantOf(c.caller)) } };
      },
    },
    {
      method: 'GET', path: '/v1/metrics/query', operationId: 'queryMetrics',
      summary: 'evaluate a query (PromQL subset): instant at `time`, or a range with `start`, `end` and `step`', auth: true,
      query: {
        query: { schema: Type.String({ minLength: 1, maxLength: 4000 }), description: 'the expression', required: true },
        time: TimeParam('instant query time (default now)'),
        start: TimeParam('range start'),
        end: TimeParam('range end (default now)'),
        step: { schema: Type.String({ minLength: 1, maxLength: 20 }), description: 'range step: 30s, 5m or seconds' },
      },
      responses: { 200: ok('QueryResponse'), ...errors },
      handle: async (c) => {
        const q = c.query;
        const expr = String(q['query']);
        const isRange = q['start'] !== undefined || q['step'] !== undefined;
        if (isRange) {
          if (q['time'] !== undefined) throw new NubisError('REQUEST_INVALID', 'query parameter "time": not with start/end/step (a range query)', { details: { parameter: 'time' } });
          if (q['start'] === undefined || q['step'] === undefined) {
            const missing = q['start'] === undefined ? 'start' : 'step';
            throw new NubisError('REQUEST_INVALID', `query parameter "${missing}" is required for a range query`, { details: { parameter: missing } });
          }
          const start = parseTime(String(q['start']), 'start');
          const end = q['end'] === undefined ? now() : parseTime(String(q['end']), 'end');
          const step = parseStep(String(q['step']), 'step');
          if (end < start) throw new NubisError('REQUEST_INVALID', 'query parameter "end": must not be before start', { details: { parameter: 'end' } });
          return { status: 200, body: promJson(await svc().range(expr, start, end, step, tenantOf(c.caller))) };
        }
        if (q['end'] !== undefined) throw new NubisError('REQUEST_INVALID', 'query parameter "end": only with start and step', { details: { parameter: 'end' } });
        const t = q['time'] === undefined ? now() : parseTime(String(q['time']), 'time');
        return { status: 200, body: promJson(await svc().instant(expr, t, tenantOf(c.caller))) };
      },
    },
    {
      method: 'POST', path: '/v1/metrics/push', operationId: 'pushMetrics', summary: 'ingest samples (JSON, Graphite plaintext or Prometheus text inside JSON)', auth: true,
      body: 'MetricPush',
      responses: { 200: ok('PushResult', 'accepted; malformed lines are counted and listed'), ...errors, ...bodyErrors },
      handle: async (c) => ({ status: 200, body: svc().push(c.body as PushInput, tenantOf(c.caller)) }),
    },
    ...monitorRoutes(svc),
    ...crud({
      base: '/v1/metrics/definitions', what: 'metric definition', plural: 'definitions', idPrefix: 'MetricDefinition',
      nameSchema: { schema: Type.String({ pattern: METRIC_NAME_PATTERN }), description: 'the metric (series) name', required: true },
      input: 'MetricDefinitionInput', view: 'MetricDefinitionView', list: 'MetricDefinitionList',
      doList: (t, d) => svc().listDefinitions(t, d),
      doGet: (t, n, d) => svc().getDefinition(t, n, d),
      doPut: (n, b, c) => svc().putDefinition(n, b as MetricDefDoc & { deployment?: string }, c),
      doDelete: (n, d, c) => svc().deleteDefinition(n, d, c),
    }),
    ...crud({
      base: '/v1/metrics/scrape', what: 'scrape target', plural: 'targets', idPrefix: 'ScrapeTarget',
      nameSchema: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'the scrape target name', required: true },
      input: 'ScrapeTargetInput', view: 'ScrapeTargetView', list: 'ScrapeTargetList',
      doList: (t, d) => svc().listScrapeTargets(t, d),
      doGet: (t, n, d) => svc().getScrapeTarget(t, n, d),
      doPut: (n, b, c) => svc().putScrapeTarget(n, b as ScrapeTargetDoc & { deployment?: string }, c),
      doDelete: (n, d, c) => svc().deleteScrapeTarget(n, d, c),
    }),
    ...crud({
      base: '/v1/rules', what: 'rule', plural: 'rules', idPrefix: 'Rule',
      nameSchema: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'the rule name', required: true },
      input: 'RuleInput', view: 'RuleView', list: 'RuleList',
      doList: (t, d) => policies().listRules(t, d),
      doGet: (t, n, d) => policies().getRule(t, n, d),
      doPut: (n, b, c) => policies().putRule(n, b as RuleDoc & { deployment: string }, c),
      doDelete: (n, d, c) => policies().deleteRule(n, d, c),
    }),
    ...crud({
      base: '/v1/schedules', what: 'schedule', plural: 'schedules', idPrefix: 'Schedule',
      nameSchema: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'the schedule name', required: true },
      input: 'ScheduleInput', view: 'ScheduleView', list: 'ScheduleList',
      doList: (t, d) => policies().listSchedules(t, d),
      doGet: (t, n, d) => policies().getSchedule(t, n, d),
      doPut: (n, b, c) => policies().putSchedule(n, b as ScheduleDoc & { deployment: string }, c),
      doDelete: (n, d, c) => policies().deleteSchedule(n, d, c),
    }),
  ];
}

/** An instance's monitors: forwarded to the agent of the instance's node (the token stays on the server). */
function monitorRoutes(svc: () => MetricsService): Route[] {
  const base = '/v1/deployments/{name}/instances/{instance}/monitors';
  const NameP = (d: string): ParamSpec => ({ schema: Type.String({ pattern: NAME_PATTERN }), description: d, required: true });
  const params = { name: NameP('deployment name'), instance: NameP('instance name, such as app-2') };
  const idParam = { id: { schema: Type.String({ pattern: MonitorIdPattern }), description: 'the monitor id', required: true } as ParamSpec };
  const agentErrors: Record<number, ResponseSpec> = {
    404: { description: 'no such deployment, instance (or monitor)', schema: 'Error' },
    409: { description: 'the instance\'s node has no agent (sim cloud) or is not running yet', schema: 'Error' },
    502: { description: 'the node agent did not answer (AGENT_UNREACHABLE, retryable)', schema: 'Error' },
  };
  return [
    {
      method: 'GET', path: base, operationId: 'listMonitors', summary: 'the monitors measuring an instance (and its node), with their last readings', auth: true,
      params,
      responses: { 200: ok('MonitorList'), ...errors, ...agentErrors },
      handle: async (c) => ({ status: 200, body: await svc().listMonitors(c.params['name']!, c.params['instance']!, c.caller) }),
    },
    {
      method: 'PUT', path: `${base}/{id}`, operationId: 'putMonitor', summary: 'add or change a monitor of an instance at run time (each has its own interval)', auth: true,
      params: { ...params, ...idParam }, body: 'MonitorInput',
      responses: { 200: ok('MonitorView', 'changed'), 201: ok('MonitorView', 'created'), ...errors, ...agentErrors, ...bodyErrors },
      handle: async (c) => {
        const r = await svc().setMonitor(c.params['name']!, c.params['instance']!, c.params['id']!, c.body, c.caller);
        return { status: r.created ? 201 : 200, body: r.monitor };
      },
    },
    {
      method: 'DELETE', path: `${base}/{id}`, operationId: 'deleteMonitor', summary: 'remove a monitor of an instance', auth: true,
      params: { ...params, ...idParam },
      responses: { 200: ok('Health', 'removed'), ...errors, ...agentErrors },
      handle: async (c) => {
        await svc().removeMonitor(c.params['name']!, c.params['instance']!, c.params['id']!, c.caller);
        return { status: 200, body: { ok: true } };
      },
    },
  ];
}
