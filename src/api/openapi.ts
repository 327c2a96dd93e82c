/**
 * The OpenAPI 3.1 document, generated from the route table and the TypeBox schemas, so
 * every operation the router knows is documented and nothing else is.
 */
import type { TSchema } from '@sinclair/typebox';
import { ERROR_CODES } from '../errors/index.js';
import type { Route } from './router.js';
import { NAMED_SCHEMAS } from './schemas.js';
import { requiredRole } from './access-control.js';

/** Plain JSON of a TypeBox schema (drops TypeBox's symbol keys). */
function plain(s: TSchema): object {
  return JSON.parse(JSON.stringify(s)) as object;
}

const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });

export function buildOpenApi(routes: readonly Route[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const parameters: object[] = [];
    for (const [name, p] of Object.entries(r.params ?? {})) {
      parameters.push({ name, in: 'path', required: true, description: p.description, schema: plain(p.schema) });
    }
    for (const [name, p] of Object.entries(r.query ?? {})) {
      parameters.push({ name, in: 'query', required: p.required === true, description: p.description, schema: plain(p.schema) });
    }
    const responses: Record<string, object> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      const contentType = resp.contentType ?? 'application/json';
      responses[status] = {
        description: resp.description,
        content: { [contentType]: { schema: resp.schema ? ref(resp.schema) : { type: 'string' } } },
      };
    }
    responses['default'] = { description: 'any other error', content: { 'application/json': { schema: ref('Error') } } };
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      parameters,
      responses,
    };
    if (r.body) op['requestBody'] = { required: true, content: { 'application/json': { schema: ref(r.body) } } };
    if (!r.auth) op['security'] = [];
    // [users] the least role in the caller's tenant (enforced by ./access-control.ts)
    else {
      op['x-nubis-role'] = requiredRole(r);
      if (r.installation) op['x-nubis-installation'] = true;
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  const schemas: Record<string, object> = {};
  for (const [name, s] of Object.entries(NAMED_SCHEMAS)) schemas[name] = plain(s);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Nubis API',
      version,
      description:
        'Runs applications on IaaS clouds. Every error is `{ "error": { code, message, retryable, details? } }`; codes: ' +
        Object.keys(ERROR_CODES).join(', ') +
        '. Every response carries `x-correlation-id` (the client\'s, or a new one). Each operation\'s `x-nubis-role` is the least role (viewer < operator < admin) it needs in the caller\'s tenant; `x-nubis-installation` marks those for the installation administrator (an admin of tenant default).',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the token in <data>/token, one from POST /v1/tokens, or a personal one (nubis login)' },
        session: { type: 'apiKey', in: 'cookie', name: 'nubis_session', description: 'from POST /v1/login; unsafe methods also need the header X-CSRF-Token' },
      },
    },
  };
}
