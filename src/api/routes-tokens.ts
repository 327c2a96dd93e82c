/**
 * API tokens: the administrator (the bootstrap `admin` token of tenant `default`) mints a
 * token for a tenant. The answer carries the token once; only its sha256 is stored, and no
 * operation shows it again. Declared once for the router and the OpenAPI document, like ./routes.ts.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/schema.js';
import { NubisError } from '../errors/index.js';
import type { EventLog } from '../events/index.js';
import type { Store } from '../store/index.js';
import { BOOTSTRAP_TOKEN_NAME, isAdmin, mintToken } from './auth.js';
import type { Route } from './router.js';
import { DEFAULT_TENANT } from '../registry/types.js';

export const TOKEN_SCHEMAS: Record<string, TSchema> = {
  TokenInput: Type.Object(
    {
      name: Type.String({ pattern: NAME_PATTERN, description: 'the token\'s name; its caller acts as user:<name>' }),
      tenant: Type.String({ pattern: NAME_PATTERN, description: 'the tenant whose registries (clouds, credentials…) the token sees' }),
    },
    { additionalProperties: false, description: 'a token to mint' },
  ),
  TokenCreated: Type.Object({
    name: Type.String(),
    tenant: Type.String(),
    token: Type.String({ description: 'shown this once; only its hash is stored' }),
  }),
};

export function buildTokenRoutes(store: Store, events?: EventLog): Route[] {
  return [
    {
      method: 'POST', path: '/v1/tokens', operationId: 'createToken',
      summary: 'mint a token for a tenant (administrator only); the answer shows the token once', auth: true,
      body: 'TokenInput',
      responses: {
        201: { description: 'the token, shown this once', schema: 'TokenCreated' },
        400: { description: 'invalid parameters or body', schema: 'Error' },
        401: { description: 'missing or invalid bearer token', schema: 'Error' },
        403: { description: `only the ${BOOTSTRAP_TOKEN_NAME} token of tenant ${DEFAULT_TENANT} may mint tokens`, schema: 'Error' },
        409: { description: 'the tenant already has a token of that name', schema: 'Error' },
        413: { description: 'body too large', schema: 'Error' },
        415: { description: 'not JSON', schema: 'Error' },
      },
      handle: async (c) => {
        const name = c.caller.actor.startsWith('user:') ? c.caller.actor.slice('user:'.length) : '';
        if (!isAdmin(name, c.caller.tenant ?? DEFAULT_TENANT)) {
          throw new NubisError('FORBIDDEN', `only the ${BOOTSTRAP_TOKEN_NAME} token of tenant ${DEFAULT_TENANT} may mint tokens`);
        }
        const body = c.body as { name: string; tenant: string };
        const token = await mintToken(store, body.name, body.tenant);
        await events?.append({
          actor: c.caller.actor, ...(c.caller.correlationId ? { correlationId: c.caller.correlationId } : {}),
          kind: 'token.created', target: body.name, outcome: 'ok', data: { name: body.name, tenant: body.tenant },
        });
        return { status: 201, body: { name: body.name, tenant: body.tenant, token } };
      },
    },
  ];
}
