/**
 * Alerts (src/operations/alerts): the tenant's alerts (list, one, acknowledge), a test alert
 * through a channel, and run-time alert rules and channels. Declared once for the router and
 * the OpenAPI document, like ./routes.ts. Every operation acts in the caller's tenant only.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { AlertRule, NAME_PATTERN } from '../model/index.js';
import { AlertChannelInput, type AlertsService } from '../operations/index.js';
import { NubisError } from '../errors/index.js';
import type { Route, ResponseSpec, RouteContext } from './router.js';
import { callerDeployment, callerTenant } from './tenant-scope.js';

const Explanation = Type.Object({
  meaning: Type.String(), whatToDo: Type.String(), runbook: Type.String(), runbookUrl: Type.String(),
  code: Type.Optional(Type.String()), httpStatus: Type.Optional(Type.Integer()), providerCode: Type.Optional(Type.String()),
});
const AlertViewSchema = Type.Object({
  id: Type.String(), rule: Type.String(), subject: Type.String(), deployment: Type.Optional(Type.String()),
  state: Type.Union([Type.Literal('open'), Type.Literal('acked'), Type.Literal('resolved')]),
  severity: Type.String(), title: Type.String(), what: Type.String({ description: 'what broke' }), kind: Type.String({ description: 'the failure kind (a runbook section)' }),
  explanation: Explanation, count: Type.Integer({ description: 'how often the rule fired for this subject while open' }),
  openedAt: Type.String({ format: 'date-time' }), lastSeenAt: Type.String({ format: 'date-time' }),
  notifiedAt: Type.Optional(Type.String({ format: 'date-time' })), resolvedAt: Type.Optional(Type.String({ format: 'date-time' })),
  resolution: Type.Optional(Type.String()), ackedAt: Type.Optional(Type.String({ format: 'date-time' })), ackedBy: Type.Optional(Type.String()),
  event: Type.Optional(Type.Object({ id: Type.Integer(), kind: Type.String(), target: Type.Optional(Type.String()) })),
  deliveries: Type.Optional(Type.Array(Type.Object({ channel: Type.String(), message: Type.String(), state: Type.String(), attempts: Type.Integer(), lastError: Type.Optional(Type.String()) }))),
});
const AlertRuleViewSchema = Type.Object({
  name: Type.String(), source: Type.Union([Type.Literal('builtin'), Type.Literal('api'), Type.Literal('spec')]), deployment: Type.Optional(Type.String()),
  rule: Type.Unknown({ description: 'the rule, normalised (durations in ms)' }),
});
const AlertChannelViewSchema = Type.Object({
  name: Type.String(), source: Type.Union([Type.Literal('api'), Type.Literal('spec')]), deployment: Type.Optional(Type.String()), kind: Type.String(), default: Type.Boolean(),
  secret: Type.Union([Type.Literal('sealed'), Type.Literal('credential'), Type.Literal('none')], { description: 'how the secret is kept; it is never shown' }),
  url: Type.Optional(Type.String()), host: Type.Optional(Type.String()), port: Type.Optional(Type.Integer()), to: Type.Optional(Type.Array(Type.String())), credential: Type.Optional(Type.String()),
});
const AlertTestInput = Type.Object(
  { channel: Type.String({ pattern: NAME_PATTERN, description: 'the channel (or log)' }), deployment: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'whose spec channels to look in too' })) },
  { additionalProperties: false },
);
const AlertTestResultSchema = Type.Object({ channel: Type.String(), delivered: Type.Boolean(), error: Type.Optional(Type.String()) });

export const ALERT_API_SCHEMAS: Record<string, TSchema> = {
  AlertView: AlertViewSchema,
  AlertList: Type.Object({ alerts: Type.Array(AlertViewSchema) }),
  AlertRuleInput: AlertRule,
  AlertRuleView: AlertRuleViewSchema,
  AlertRuleList: Type.Object({ rules: Type.Array(AlertRuleViewSchema) }),
  AlertChannelInput,
  AlertChannelView: AlertChannelViewSchema,
  AlertChannelList: Type.Object({ channels: Type.Array(AlertChannelViewSchema) }),
  AlertTestInput,
  AlertTestResult: AlertTestResultSchema,
};

const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
};
const notFound: ResponseSpec = { description: 'no such alert, rule or channel (in the caller\'s tenant)', schema: 'Error' };
const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const name = { name: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'the rule or channel name', required: true } };
const depQuery = { deployment: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'only alerts of (or also the spec objects of) this deployment' } };
const who = (c: RouteContext): string => c.caller.actor;
const depOf = (c: RouteContext): string | undefined => (c.query['deployment'] !== undefined ? callerDeployment(c.caller, String(c.query['deployment'])) : undefined);

export function buildAlertRoutes(alerts: AlertsService | undefined): Route[] {
  const svc = (): AlertsService => {
    if (!alerts) throw new NubisError('UNAVAILABLE', 'alerts are not running on this server');
    return alerts;
  };
  return [
    {
      method: 'GET', path: '/v1/alerts/rules', operationId: 'listAlertRules', summary: 'alert rules in force: built-in, run-time, and a deployment\'s spec rules', auth: true,
      query: depQuery, responses: { 200: ok('AlertRuleList'), ...errors },
      handle: async (c) => ({ status: 200, body: { rules: svc().listRules(callerTenant(c.caller), depOf(c)) } }),
    },
    {
      method: 'PUT', path: '/v1/alerts/rules/{name}', operationId: 'putAlertRule', summary: 'create or change a run-time alert rule (a built-in\'s name adjusts it)', auth: true,
      params: name, body: 'AlertRuleInput', responses: { 200: ok('AlertRuleView', 'changed'), 201: ok('AlertRuleView', 'created'), ...errors },
      handle: async (c) => {
        const r = await svc().putRule(callerTenant(c.caller), c.params['name']!, c.body, who(c));
        return { status: r.created ? 201 : 200, body: r.view };
      },
    },
    {
      method: 'DELETE', path: '/v1/alerts/rules/{name}', operationId: 'deleteAlertRule', summary: 'remove a run-time alert rule', auth: true,
      params: name, responses: { 200: ok('Health', 'removed'), ...errors, 404: notFound },
      handle: async (c) => {
        await svc().deleteRule(callerTenant(c.caller), c.params['name']!, who(c));
        return { status: 200, body: { ok: true } };
      },
    },
    {
      method: 'GET', path: '/v1/alerts/channels', operationId: 'listAlertChannels', summary: 'alert channels (secrets never shown)', auth: true,
      query: depQuery, responses: { 200: ok('AlertChannelList'), ...errors },
      handle: async (c) => ({ status: 200, body: { channels: svc().listChannels(callerTenant(c.caller), depOf(c)) } }),
    },
    {
      method: 'PUT', path: '/v1/alerts/channels/{name}', operationId: 'putAlertChannel', role: 'admin', summary: 'create or change an alert channel; an inline secret is sealed at rest', auth: true,
      params: name, body: 'AlertChannelInput', responses: { 200: ok('AlertChannelView', 'changed'), 201: ok('AlertChannelView', 'created'), ...errors },
      handle: async (c) => {
        const r = await svc().putChannel(callerTenant(c.caller), c.params['name']!, c.body, who(c));
        return { status: r.created ? 201 : 200, body: r.view };
      },
    },
    {
      method: 'DELETE', path: '/v1/alerts/channels/{name}', operationId: 'deleteAlertChannel', role: 'admin', summary: 'remove an alert channel', auth: true,
      params: name, responses: { 200: ok('Health', 'removed'), ...errors, 404: notFound },
      handle: async (c) => {
        await svc().deleteChannel(callerTenant(c.caller), c.params['name']!, who(c));
        return { status: 200, body: { ok: true } };
      },
    },
    {
      method: 'POST', path: '/v1/alerts/test', operationId: 'testAlert', summary: 'send a test alert through a channel now (one attempt)', auth: true,
      body: 'AlertTestInput', responses: { 200: ok('AlertTestResult', 'sent or not: see delivered and error'), ...errors, 404: notFound },
      handle: async (c) => {
        const b = c.body as { channel: string; deployment?: string };
        const d = b.deployment !== undefined ? callerDeployment(c.caller, b.deployment) : undefined;
        return { status: 200, body: await svc().test(callerTenant(c.caller), b.channel, who(c), d) };
      },
    },
    {
      method: 'GET', path: '/v1/alerts', operationId: 'listAlerts', summary: 'the tenant\'s alerts, newest first (default: open and acknowledged ones)', auth: true,
      query: {
        ...depQuery,
        state: { schema: Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('all')]), description: 'open (default; with acknowledged), resolved or all' },
      },
      responses: { 200: ok('AlertList'), ...errors },
      handle: async (c) => {
        const f: { state?: 'open' | 'resolved' | 'all'; deployment?: string } = {};
        if (c.query['state'] !== undefined) f.state = c.query['state'] as 'open' | 'resolved' | 'all';
        const d = depOf(c);
        if (d !== undefined) f.deployment = d;
        return { status: 200, body: { alerts: await svc().list(callerTenant(c.caller), f) } };
      },
    },
    {
      method: 'GET', path: '/v1/alerts/{id}', operationId: 'getAlert', summary: 'one alert with its deliveries', auth: true,
      params: { id: { schema: Type.String({ pattern: '^al-[0-9a-f]{16}$' }), description: 'the alert id', required: true } },
      responses: { 200: ok('AlertView'), ...errors, 404: notFound },
      handle: async (c) => ({ status: 200, body: await svc().get(callerTenant(c.caller), c.params['id']!) }),
    },
    {
      method: 'POST', path: '/v1/alerts/{id}/ack', operationId: 'ackAlert', summary: 'acknowledge an alert: no reminders until it resolves', auth: true,
      params: { id: { schema: Type.String({ pattern: '^al-[0-9a-f]{16}$' }), description: 'the alert id', required: true } },
      responses: { 200: ok('AlertView'), ...errors, 404: notFound, 409: { description: 'the alert is resolved already', schema: 'Error' } },
      handle: async (c) => ({ status: 200, body: await svc().ack(callerTenant(c.caller), c.params['id']!, who(c)) }),
    },
  ];
}
