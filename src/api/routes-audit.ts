/**
 * The audit log for forensics (issue 11 item 8): the filters of `GET /v1/events` (actor,
 * resource, correlation id, time; another tenant's log for the administrator only), an export
 * of every matching event as JSON lines, and the verification of each tenant's hash chain
 * (src/store/event-chain.ts). A tenant sees and verifies its own log only.
 */
import { Type } from '@sinclair/typebox';
import { NubisError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { EventFilter } from '../store/index.js';
import { ADMIN_TENANT, deploymentId, type ControlPlane } from '../engine/index.js';
import type { ParamSpec, ResponseSpec, Route, RouteContext } from './router.js';
import { callerTenant, tenantEvents } from './tenant-scope.js';

/** Query parameters every audit read takes, besides those of /v1/events itself. */
export const AUDIT_QUERY: Record<string, ParamSpec> = {
  actor: { schema: Type.String({ minLength: 1, maxLength: 200 }), description: 'only events of this actor (user:alice, engine); a trailing * matches a prefix' },
  tenant: { schema: Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }), description: 'the log of this tenant (administrator only; others may name only their own)' },
  since: { schema: Type.String({ format: 'date-time' }), description: 'only events at or after this time (ISO 8601)' },
  until: { schema: Type.String({ format: 'date-time' }), description: 'only events before this time (ISO 8601)' },
};

const time = (v: string | number | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const t = Date.parse(String(v));
  if (Number.isNaN(t)) throw new NubisError('REQUEST_INVALID', `query parameter ${name}: expected an ISO 8601 time, found ${JSON.stringify(v)}`, { details: { parameter: name } });
  return t;
};

/**
 * The log a caller reads: its own tenant's (names shown bare), or, for the administrator naming
 * `tenant`, that tenant's as stored. FORBIDDEN when another tenant names one not its own.
 */
export function auditLog(events: EventLog, c: Pick<RouteContext, 'caller' | 'query'>): { log: EventLog; tenant: string } {
  const own = callerTenant(c.caller);
  const asked = c.query['tenant'] === undefined ? own : String(c.query['tenant']);
  if (asked !== own && own !== ADMIN_TENANT) throw new NubisError('FORBIDDEN', `only the administrator reads another tenant's events (this token is of tenant ${own})`);
  if (asked === own) return { log: tenantEvents(events, own), tenant: own };
  const scoped = (f: EventFilter): EventFilter => ({ ...f, tenant: asked, ...(f.deployment !== undefined ? { deployment: deploymentId(asked, f.deployment) } : {}) });
  return {
    tenant: asked,
    log: {
      append: (...e) => events.append(...e),
      stage: (...e) => events.stage(...e),
      list: (f) => events.list(scoped(f)),
      subscribe: (f, fn) => events.subscribe(scoped(f), fn),
      verify: () => events.verify(asked),
    },
  };
}

/** The filter of an audit read from its query (the parameters of /v1/events and AUDIT_QUERY). */
export function auditFilter(q: RouteContext['query']): EventFilter {
  const f: EventFilter = {};
  if (q['deployment'] !== undefined) f.deployment = String(q['deployment']);
  if (q['kind'] !== undefined) f.kind = String(q['kind']);
  if (q['after'] !== undefined) f.afterId = Number(q['after']);
  if (q['correlationId'] !== undefined) f.correlationId = String(q['correlationId']);
  if (q['target'] !== undefined) f.target = String(q['target']);
  if (q['actor'] !== undefined) f.actor = String(q['actor']);
  const since = time(q['since'], 'since');
  const until = time(q['until'], 'until');
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  return f;
}

const authErrors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  403: { description: 'another tenant\'s log, asked by a token that is not the administrator\'s', schema: 'Error' },
};

const ChainReportSchema = Type.Object({
  tenant: Type.String(),
  checked: Type.Integer({ description: 'chained events checked' }),
  unchained: Type.Integer({ description: 'events written before the chain existed (not verified)' }),
  head: Type.Optional(Type.String({ description: 'hash of the newest event: keep a copy elsewhere to detect a rewrite of the whole tail' })),
  anchoredAfter: Type.Optional(Type.Integer({ description: 'id of the last event retention pruned; the first kept event links to its hash' })),
  broken: Type.Optional(Type.Object({ id: Type.Integer(), reason: Type.String() })),
});
export const AUDIT_SCHEMAS = { ChainReportList: Type.Object({ ok: Type.Boolean(), chains: Type.Array(ChainReportSchema) }) };

const FILTERS: Record<string, ParamSpec> = {
  deployment: { schema: Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }), description: 'only events of this deployment' },
  kind: { schema: Type.String({ pattern: '^[a-z0-9._-]+\\*?$', maxLength: 100 }), description: 'only events of this kind; a trailing * matches a prefix' },
  after: { schema: Type.Integer({ minimum: 0 }), description: 'only events with an id greater than this' },
  correlationId: { schema: Type.String({ minLength: 1, maxLength: 128 }), description: 'only events of this request' },
  target: { schema: Type.String({ minLength: 1, maxLength: 300 }), description: 'only events about this resource' },
  ...AUDIT_QUERY,
};

const PAGE = 5000;

export function buildAuditRoutes(cp: ControlPlane): Route[] {
  return [
    {
      method: 'GET', path: '/v1/events/export', operationId: 'exportEvents',
      summary: 'every matching audit event, oldest first, as JSON lines (one event per line, with its hash and the previous one\'s)', auth: true,
      query: FILTERS,
      responses: { 200: { description: 'application/x-ndjson: one JSON event per line', contentType: 'application/x-ndjson' }, ...authErrors },
      handle: async (c) => {
        const { log } = auditLog(cp.events, c);
        const filter = auditFilter(c.query);
        c.stream.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
        let after = filter.afterId ?? 0;
        while (!c.signal.aborted) {
          const page = await log.list({ ...filter, afterId: after, limit: PAGE });
          if (page.length > 0) c.stream.write(page.map((e) => JSON.stringify(e)).join('\n') + '\n');
          if (page.length < PAGE) break;
          after = page[page.length - 1]!.id;
        }
        c.stream.end();
        return undefined;
      },
    },
    {
      method: 'GET', path: '/v1/events/verify', operationId: 'verifyEvents',
      summary: 'walk the tenant\'s hash chain of events (the administrator: every tenant\'s, or `tenant`\'s) and report the first broken link', auth: true,
      query: { tenant: AUDIT_QUERY['tenant']! },
      responses: { 200: { description: 'one report per chain; ok when none is broken', schema: 'ChainReportList' }, ...authErrors },
      handle: async (c) => {
        const own = callerTenant(c.caller);
        const all = own === ADMIN_TENANT && c.query['tenant'] === undefined;
        const chains = all ? await cp.events.verify() : await auditLog(cp.events, c).log.verify();
        return { status: 200, body: { ok: chains.every((r) => !r.broken), chains } };
      },
    },
  ];
}
