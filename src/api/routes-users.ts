/**
 * Users, sessions and personal tokens (src/users). `POST /v1/login` opens a browser session
 * (an HttpOnly, SameSite=Strict cookie and a CSRF token for unsafe requests); `/v1/me` says who
 * the caller is; the installation's administrator manages users and their roles per tenant.
 * Declared once for the router and the OpenAPI document, like ./routes.ts; roles are checked by
 * the router (./access-control.ts), not here.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import { NubisError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import {
  clearedSessionCookie, lesserRole, roleAtLeast, sessionCookie, sessionFromCookie, ROLES, type Identity, type Role, type UserService,
} from '../users/index.js';
import { mintToken } from './auth.js';
import type { ResponseSpec, Route, RouteContext } from './router.js';

/** User names: letters, digits and . _ @ + - (an e-mail address fits), 1 to 100 characters. */
export const USER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)), { description: 'admin | operator | viewer in the tenant' });
const RoleGrant = Type.Object({ tenant: Type.String(), role: RoleSchema });

export const USER_SCHEMAS: Record<string, TSchema> = {
  LoginInput: Type.Object({
    user: Type.String({ minLength: 1, maxLength: 200 }),
    password: Type.String({ minLength: 1, maxLength: 1024, writeOnly: true }),
    tenant: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'the tenant to act in; default the user\'s only one, else default, else the first by name' })),
  }, { additionalProperties: false }),
  Session: Type.Object({
    user: Type.String({ description: 'the user; for a bearer token its user or its name' }),
    tenant: Type.String(),
    role: RoleSchema,
    csrfToken: Type.Optional(Type.String({ description: 'session callers: send it as X-CSRF-Token on POST, PUT, PATCH and DELETE' })),
    via: Type.Optional(Type.Union([Type.Literal('session'), Type.Literal('token')])),
    token: Type.Optional(Type.String({ description: 'the bearer token\'s name' })),
    tenants: Type.Optional(Type.Array(RoleGrant, { description: 'every tenant the user has a role in (log in again with `tenant` to switch)' })),
  }),
  PasswordChange: Type.Object({
    current: Type.String({ minLength: 1, maxLength: 1024, writeOnly: true }),
    password: Type.String({ minLength: 1, maxLength: 1024, writeOnly: true }),
  }, { additionalProperties: false }),
  PersonalTokenInput: Type.Object({
    name: Type.String({ pattern: NAME_PATTERN, description: 'the token\'s name (unique in the tenant)' }),
    role: Type.Optional(RoleSchema),
  }, { additionalProperties: false, description: 'a personal token in the caller\'s tenant; its role (default the user\'s) never exceeds the user\'s' }),
  TokenList: Type.Object({
    tokens: Type.Array(Type.Object({
      name: Type.String(), tenant: Type.String(), role: RoleSchema, user: Type.Optional(Type.String()), createdAt: Type.String({ format: 'date-time' }),
    })),
  }),
  UserInput: Type.Object({
    password: Type.String({ minLength: 1, maxLength: 1024, writeOnly: true, description: 'at least 8 characters' }),
    roles: Type.Optional(Type.Record(Type.String({ pattern: NAME_PATTERN }), RoleSchema, { description: 'tenant → role, added to (or changing) the user\'s roles' })),
  }, { additionalProperties: false }),
  RoleInput: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
  UserView: Type.Object({
    name: Type.String(), roles: Type.Array(RoleGrant), createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
  }),
  UserList: Type.Object({ users: Type.Array(Type.Object({ name: Type.String(), roles: Type.Array(RoleGrant), createdAt: Type.String(), updatedAt: Type.String() })) }),
};

const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token or session', schema: 'Error' },
  403: { description: 'the role is too low, or a session caller sent no X-CSRF-Token', schema: 'Error' },
};
const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const userParam = { user: { schema: Type.String({ pattern: USER_PATTERN }), description: 'user name', required: true } };
const tenantParam = { tenant: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'tenant', required: true } };

function identity(c: RouteContext): Identity {
  if (!c.identity) throw new Error('an authenticated route ran without an identity');
  return c.identity;
}

/** The caller's user: sessions and personal tokens have one; the administrator's tokens do not. */
function ownUser(c: RouteContext): string {
  const who = identity(c);
  if (who.user === undefined) throw new NubisError('FORBIDDEN', `${who.actor} is a token, not a user: only users (sessions, personal tokens) have a password and personal tokens`);
  return who.user;
}

async function mustUser(store: Store, name: string): Promise<void> {
  if (!(await store.users.get(name))) throw new NubisError('NOT_FOUND', `no user ${JSON.stringify(name)}`);
}

export function buildUserRoutes(users: UserService, store: Store, events?: EventLog): Route[] {
  const actor = (c: RouteContext): string => c.caller.actor;
  const cid = (c: RouteContext): Record<string, string> => (c.caller.correlationId ? { correlationId: c.caller.correlationId } : {});
  return [
    {
      method: 'POST', path: '/v1/login', operationId: 'login', auth: false,
      summary: 'log in with a password: sets the HttpOnly session cookie nubis_session and answers the CSRF token for unsafe requests',
      body: 'LoginInput',
      responses: {
        200: ok('Session', 'logged in; Set-Cookie carries the session'),
        400: errors[400]!,
        401: { description: 'unknown user, wrong password or no role in the tenant (one message for all)', schema: 'Error' },
        429: { description: 'RATE_LIMITED: too many failed logins for this user from this address; Retry-After says when', schema: 'Error' },
      },
      handle: async (c) => {
        const b = c.body as { user: string; password: string; tenant?: string };
        const r = await users.login(b.user, b.password, b.tenant, c.client.address, c.caller.correlationId);
        return {
          status: 200,
          body: { user: r.user, tenant: r.tenant, role: r.role, csrfToken: r.csrfToken, via: 'session' },
          headers: { 'set-cookie': sessionCookie(r.secret, c.client.tls, r.maxAgeS) },
        };
      },
    },
    {
      method: 'POST', path: '/v1/logout', operationId: 'logout', role: 'viewer', auth: true,
      summary: 'end the session (its cookie no longer works); for a bearer token nothing changes',
      responses: { 204: { description: 'the session is deleted' }, ...errors },
      handle: async (c) => {
        const secret = identity(c).via === 'session' ? sessionFromCookie(typeof c.headers['cookie'] === 'string' ? c.headers['cookie'] : undefined) : undefined;
        if (secret !== undefined) await users.logout(secret, c.caller.correlationId);
        const headers: Record<string, string> = secret !== undefined ? { 'set-cookie': clearedSessionCookie(c.client.tls) } : {};
        return { status: 204, body: undefined, headers };
      },
    },
    {
      method: 'GET', path: '/v1/me', operationId: 'me', auth: true,
      summary: 'who the caller is: user (or token name), tenant, role, and for a session its CSRF token and the user\'s tenants',
      responses: { 200: ok('Session'), ...errors },
      handle: async (c) => {
        const who = identity(c);
        const body: Record<string, unknown> = { user: who.user ?? who.token ?? who.actor, tenant: who.tenant, role: who.role, via: who.via };
        if (who.csrfToken !== undefined) body['csrfToken'] = who.csrfToken;
        if (who.token !== undefined) body['token'] = who.token;
        if (who.user !== undefined) body['tenants'] = await users.roles(who.user);
        return { status: 200, body };
      },
    },
    {
      method: 'POST', path: '/v1/me/password', operationId: 'changePassword', role: 'viewer', auth: true,
      summary: 'change the caller\'s own password (the current one is required); the user\'s other sessions end',
      body: 'PasswordChange',
      responses: { 204: { description: 'changed' }, ...errors },
      handle: async (c) => {
        const b = c.body as { current: string; password: string };
        const keep = sessionFromCookie(typeof c.headers['cookie'] === 'string' ? c.headers['cookie'] : undefined);
        await users.changeOwnPassword(ownUser(c), b.current, b.password, identity(c).via === 'session' ? keep : undefined);
        return { status: 204, body: undefined };
      },
    },
    {
      method: 'GET', path: '/v1/me/tokens', operationId: 'listPersonalTokens', auth: true,
      summary: 'the caller\'s personal tokens (names and roles; never the tokens)',
      responses: { 200: ok('TokenList'), ...errors },
      handle: async (c) => {
        const who = identity(c);
        const rows = who.user === undefined ? [] : await store.users.tokens({ user: who.user });
        return { status: 200, body: { tokens: rows.map((t) => ({ name: t.name, tenant: t.tenant, role: t.role, ...(t.user ? { user: t.user } : {}), createdAt: new Date(t.createdAt).toISOString() })) } };
      },
    },
    {
      method: 'POST', path: '/v1/me/tokens', operationId: 'createPersonalToken', role: 'viewer', auth: true,
      summary: 'mint a personal token in the caller\'s tenant (for the CLI: `nubis login`); it never acts with more than the user\'s role; shown once',
      body: 'PersonalTokenInput',
      responses: { 201: ok('TokenCreated', 'the token, shown this once'), ...errors, 409: { description: 'the tenant has a token of that name', schema: 'Error' } },
      handle: async (c) => {
        const user = ownUser(c);
        const who = identity(c);
        const b = c.body as { name: string; role?: Role };
        const role = b.role ?? who.role;
        if (!roleAtLeast(who.role, role)) throw new NubisError('FORBIDDEN', `$.role: a personal token cannot have more than the user's role (${who.role})`);
        const token = await mintToken(store, b.name, who.tenant, lesserRole(role, who.role), user);
        await events?.append({ actor: actor(c), ...cid(c), kind: 'token.created', target: b.name, outcome: 'ok', tenant: who.tenant, data: { name: b.name, tenant: who.tenant, role, user } });
        return { status: 201, body: { name: b.name, tenant: who.tenant, role, token } };
      },
    },
    {
      method: 'DELETE', path: '/v1/me/tokens/{name}', operationId: 'deletePersonalToken', role: 'viewer', auth: true,
      summary: 'revoke one of the caller\'s personal tokens in its tenant',
      params: { name: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'token name', required: true } },
      responses: { 204: { description: 'revoked' }, ...errors, 404: { description: 'no such personal token', schema: 'Error' } },
      handle: async (c) => {
        const user = ownUser(c);
        const who = identity(c);
        if (!(await store.users.deleteToken(c.params['name']!, who.tenant, user))) throw new NubisError('NOT_FOUND', `no personal token named ${JSON.stringify(c.params['name'])}`);
        await events?.append({ actor: actor(c), ...cid(c), kind: 'token.revoked', target: c.params['name']!, outcome: 'ok', tenant: who.tenant, data: { name: c.params['name']!, user } });
        return { status: 204, body: undefined };
      },
    },
    {
      method: 'GET', path: '/v1/users', operationId: 'listUsers', role: 'admin', installation: true, auth: true,
      summary: 'every user with its roles (the installation administrator only)',
      responses: { 200: ok('UserList'), ...errors },
      handle: async () => ({ status: 200, body: { users: await users.list() } }),
    },
    {
      method: 'GET', path: '/v1/users/{user}', operationId: 'getUser', role: 'admin', installation: true, auth: true,
      summary: 'one user with its roles', params: userParam,
      responses: { 200: ok('UserView'), ...errors, 404: { description: 'no such user', schema: 'Error' } },
      handle: async (c) => {
        const u = (await users.list()).find((x) => x.name === c.params['user']);
        if (!u) throw new NubisError('NOT_FOUND', `no user ${JSON.stringify(c.params['user'])}`);
        return { status: 200, body: u };
      },
    },
    {
      method: 'PUT', path: '/v1/users/{user}', operationId: 'putUser', role: 'admin', installation: true, auth: true,
      summary: 'create a user or set its password (its sessions end), with roles per tenant', params: userParam, body: 'UserInput',
      responses: { 200: ok('UserView', 'the password was set'), 201: ok('UserView', 'the user was created'), ...errors },
      handle: async (c) => {
        const b = c.body as { password: string; roles?: Record<string, Role> };
        const created = await users.setPassword(c.params['user']!, b.password, actor(c), b.roles);
        const u = (await users.list()).find((x) => x.name === c.params['user'])!;
        return { status: created ? 201 : 200, body: u };
      },
    },
    {
      method: 'DELETE', path: '/v1/users/{user}', operationId: 'deleteUser', role: 'admin', installation: true, auth: true,
      summary: 'remove a user: its roles, sessions and personal tokens go too', params: userParam,
      responses: { 204: { description: 'removed' }, ...errors, 404: { description: 'no such user', schema: 'Error' } },
      handle: async (c) => {
        await users.remove(c.params['user']!, actor(c));
        return { status: 204, body: undefined };
      },
    },
    {
      method: 'PUT', path: '/v1/users/{user}/roles/{tenant}', operationId: 'putUserRole', role: 'admin', installation: true, auth: true,
      summary: 'give a user a role in a tenant (or change it)', params: { ...userParam, ...tenantParam }, body: 'RoleInput',
      responses: { 200: ok('UserView'), ...errors, 404: { description: 'no such user', schema: 'Error' } },
      handle: async (c) => {
        await users.setRole(c.params['user']!, c.params['tenant']!, (c.body as { role: Role }).role, actor(c));
        return { status: 200, body: (await users.list()).find((x) => x.name === c.params['user'])! };
      },
    },
    {
      method: 'DELETE', path: '/v1/users/{user}/roles/{tenant}', operationId: 'deleteUserRole', role: 'admin', installation: true, auth: true,
      summary: 'take a user\'s role in a tenant away (its sessions there end)', params: { ...userParam, ...tenantParam },
      responses: { 200: ok('UserView'), ...errors, 404: { description: 'no such user or role', schema: 'Error' } },
      handle: async (c) => {
        await mustUser(store, c.params['user']!);
        await users.dropRole(c.params['user']!, c.params['tenant']!, actor(c));
        return { status: 200, body: (await users.list()).find((x) => x.name === c.params['user'])! };
      },
    },
  ];
}
