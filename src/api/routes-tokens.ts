/**
 * API tokens: the installation's administrator (an admin of tenant `default`, such as the
 * bootstrap `admin` token) mints a token for any tenant with a role (default operator). The
 * answer carries the token once; only its sha256 is stored, and no operation shows it again.
 * Declared once for the router and the OpenAPI document, like ./routes.ts.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/schema.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import { ROLES, type Role } from '../users/index.js';
import { BOOTSTRAP_TOKEN_NAME, mintToken } from './auth.js';
import type { Route } from './router.js';
import { DEFAULT_TENANT } from '../registry/types.js';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)), { description: 'admin | operator | viewer in the tenant' });

export const TOKEN_SCHEMAS: Record<string, TSchema> = {
  Role: RoleSchema,
  TokenInput: Type.Object(
    {
      name: Type.String({ pattern: NAME_PATTERN, description: 'the token\'s name; its caller acts as user:<name>' }),
      tenant: Type.String({ pattern: NAME_PATTERN, description: 'the tenant whose registries (clouds, credentials…) the token sees' }),
      role: Type.Optional(RoleSchema),
    },
    { additionalProperties: false, description: 'a token to mint (role default operator)' },
  ),
  TokenCreated: Type.Object({
    name: Type.String(),
    tenant: Type.String(),
    role: RoleSchema,
    token: Type.String({ description: 'shown this once; only its hash is stored' }),
  }),
};

export function buildTokenRoutes(store: Store, events?: EventLog): Route[] {
  return [
    {
      method: 'POST', path: '/v1/tokens', operationId: 'createToken', role: 'admin', installation: true,
      summary: 'mint a token for a tenant with a role (the installation administrator only); the answer shows the token once', auth: true,
      body: 'TokenInput',
      responses: {
        201: { description: 'the token, shown this once', schema: 'TokenCreated' },
        400: { description: 'invalid parameters or body', schema: 'Error' },
        401: { description: 'missing or invalid bearer token', schema: 'Error' },
        403: { description: `only an admin of tenant ${DEFAULT_TENANT} (such as the ${BOOTSTRAP_TOKEN_NAME} token) may mint tokens`, schema: 'Error' },
        409: { description: 'the tenant already has a token of that name', schema: 'Error' },
        413: { description: 'body too large', schema: 'Error' },
        415: { description: 'not JSON', schema: 'Error' },
      },
      handle: async (c) => {
        const body = c.body as { name: string; tenant: string; role?: Role };
        const role = body.role ?? 'operator';
        const token = await mintToken(store, body.name, body.tenant, role);
        await events?.append({
          actor: c.caller.actor, ...(c.caller.correlationId ? { correlationId: c.caller.correlationId } : {}),
          kind: 'token.created', target: body.name, outcome: 'ok', data: { name: body.name, tenant: body.tenant, role },
        });
        return { status: 201, body: { name: body.name, tenant: body.tenant, role, token } };
      },
    },
  ];
}
