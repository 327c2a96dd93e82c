/**
 * Access delivery (src/engine/access.ts): a deployment's endpoints and generated credentials,
 * the values in the first read after it became ready only. Declared once for the router and
 * the OpenAPI document, like ./routes.ts.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import type { AccessView, ControlPlane } from '../engine/index.js';
import { NubisError } from '../errors/index.js';
import type { Route, RouteContext } from './router.js';
import { callerDeployment } from './tenant-scope.js';

const AccessViewSchema = Type.Object({
  deployment: Type.String(),
  state: Type.Union((['applying', 'ready', 'degraded', 'destroying'] as const).map((s) => Type.Literal(s))),
  readyAt: Type.Optional(Type.String({ format: 'date-time', description: 'when it first became ready' })),
  endpoints: Type.Array(Type.Object({ instance: Type.String(), component: Type.String(), port: Type.String(), address: Type.String({ description: 'host:port' }) })),
  credentials: Type.Array(Type.Object({
    name: Type.String(),
    component: Type.String(),
    env: Type.String({ description: 'the variable the component gets it in' }),
    value: Type.Optional(Type.String({ description: 'only in the first read after the deployment became ready' })),
    shownAt: Type.Optional(Type.String({ description: 'when the value was shown, on later reads' })),
    note: Type.String(),
  })),
});

export const ACCESS_SCHEMAS: Record<string, TSchema> = { AccessView: AccessViewSchema };

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;
same<Same<Static<typeof AccessViewSchema>, AccessView>>();

const dep = (c: RouteContext): string => callerDeployment(c.caller, c.params['name']!);

export function buildAccessRoutes(cp: ControlPlane): Route[] {
  return [
    {
      method: 'GET', path: '/v1/deployments/{name}/access', operationId: 'getAccess', role: 'operator',
      summary: 'endpoints and generated credentials of a deployment; the credential values only in the first read after it became ready', auth: true,
      params: { name: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'deployment name', required: true } },
      responses: {
        200: { description: 'success', schema: 'AccessView' },
        401: { description: 'missing or invalid bearer token', schema: 'Error' },
        404: { description: 'no such deployment', schema: 'Error' },
      },
      handle: async (c) => {
        if (!cp.access) throw new NubisError('UNAVAILABLE', 'this control plane does not deliver access details');
        return { status: 200, body: await cp.access(dep(c), c.caller) };
      },
    },
  ];
}
