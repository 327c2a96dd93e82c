/**
 * Recovery (src/operations/recovery): where each instance's ladder stands, and the reset a
 * person runs after a give-up. Declared once for the router and the OpenAPI document, like
 * ./routes.ts. Another tenant's deployment answers exactly like one that does not exist (404).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN, RECOVERY_ACTIONS, RECOVERY_STEPS } from '../model/index.js';
import { NubisError } from '../errors/index.js';
import type { Recovery, RecoveryView } from '../operations/index.js';
import type { Route, ResponseSpec, RouteContext } from './router.js';
import { callerDeployment } from './tenant-scope.js';

const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

const RecoveryViewSchema = Type.Object({
  deployment: Type.String(),
  instances: Type.Array(Type.Object({
    instance: Type.String(),
    component: Type.String(),
    status: lit(['watching', 'recovering', 'gave-up'] as const),
    ladder: Type.Array(lit(RECOVERY_STEPS)),
    step: Type.Optional(lit(RECOVERY_STEPS)),
    rung: Type.Optional(Type.Integer({ minimum: 1, description: 'the place of `step` in the ladder, from 1' })),
    failure: Type.Optional(lit(['component', 'unreachable', 'gone'] as const)),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    reason: Type.Optional(Type.String()),
    failures: Type.Integer({ description: 'failures counted in the window now' }),
    failuresToDetect: Type.Integer(),
    windowMs: Type.Integer(),
    limits: Type.Array(Type.Object({ step: lit(RECOVERY_ACTIONS), taken: Type.Integer(), max: Type.Integer(), withinMs: Type.Integer() })),
    gaveUp: Type.Optional(Type.Object({ at: Type.String({ format: 'date-time' }), reason: Type.String() })),
    line: Type.String({ description: 'for people, in one line' }),
  })),
});

export const RECOVERY_SCHEMAS: Record<string, TSchema> = { RecoveryView: RecoveryViewSchema };

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;
same<Same<Static<typeof RecoveryViewSchema>, RecoveryView>>();

const ok: ResponseSpec = { description: 'success', schema: 'RecoveryView' };
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  404: { description: 'no such deployment, or no such instance with a recovery policy', schema: 'Error' },
  503: { description: 'this control plane runs no recovery', schema: 'Error' },
};
const name = { schema: Type.String({ pattern: NAME_PATTERN }), description: 'deployment name', required: true };
const instance = { schema: Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}-[0-9]{1,9}$' }), description: 'instance name, such as app-2', required: true };

export function buildRecoveryRoutes(recovery: Recovery | undefined): Route[] {
  const need = (): Recovery => {
    if (!recovery) throw new NubisError('UNAVAILABLE', 'this control plane runs no recovery');
    return recovery;
  };
  const dep = (c: RouteContext): string => callerDeployment(c.caller, c.params['name']!);
  return [
    {
      method: 'GET', path: '/v1/deployments/{name}/recovery', operationId: 'getRecovery',
      summary: 'where the recovery ladder of each instance with a recovery policy stands', auth: true,
      params: { name }, responses: { 200: ok, ...errors },
      handle: async (c) => ({ status: 200, body: need().view(dep(c), c.params['name']!) }),
    },
    {
      method: 'POST', path: '/v1/deployments/{name}/recovery/{instance}/reset', operationId: 'resetRecovery',
      summary: 'a person acted: the instance\'s ladder starts again from its first step, its limits cleared (ends a give-up)', auth: true,
      params: { name, instance }, responses: { 200: ok, ...errors },
      handle: async (c) => ({ status: 200, body: await need().reset(dep(c), c.params['instance']!, c.caller.actor, c.params['name']!) }),
    },
  ];
}
