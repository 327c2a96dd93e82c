/**
 * Rolling updates (src/engine/rollout): status, pause and resume of a deployment's rollout.
 * Declared once for the router and the OpenAPI document, like ./routes.ts.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import type { ControlPlane, RolloutLine, RolloutView } from '../engine/index.js';
import type { Route, ResponseSpec, RouteContext } from './router.js';
import { callerDeployment } from './tenant-scope.js';

export const RolloutLineSchema = Type.Object({
  instance: Type.String(),
  component: Type.String(),
  action: Type.Union([Type.Literal('restart'), Type.Literal('replace')], { description: 'restart: same node, steps run again; replace: a new node, then the old one removed' }),
  batch: Type.Integer({ minimum: 1 }),
  batches: Type.Integer({ minimum: 1 }),
  reason: Type.String(),
});

const RolloutViewSchema = Type.Object({
  deployment: Type.String(),
  status: Type.Union((['none', 'running', 'paused', 'completed', 'failed'] as const).map((s) => Type.Literal(s))),
  version: Type.Integer(),
  reason: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  endedAt: Type.Optional(Type.String({ format: 'date-time' })),
  components: Type.Array(Type.Object({
    name: Type.String(),
    batch: Type.Integer({ description: 'batches started' }),
    outdated: Type.Integer({ description: 'wanted instances not at the revision yet' }),
    instances: Type.Integer(),
    maxUnavailable: Type.Integer(),
    maxSurge: Type.Integer(),
    healthGateTimeoutMs: Type.Integer(),
    gating: Type.Boolean({ description: 'a batch waits for its health gate' }),
  })),
});

export const ROLLOUT_SCHEMAS: Record<string, TSchema> = { RolloutView: RolloutViewSchema, RolloutLine: RolloutLineSchema };

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;
same<Same<Static<typeof RolloutViewSchema>, RolloutView>>();
same<Same<Static<typeof RolloutLineSchema>, RolloutLine>>();

const ok: ResponseSpec = { description: 'success', schema: 'RolloutView' };
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  404: { description: 'no such deployment', schema: 'Error' },
};
const params = { name: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'deployment name', required: true } };
const dep = (c: RouteContext): string => callerDeployment(c.caller, c.params['name']!);

export function buildRolloutRoutes(cp: ControlPlane): Route[] {
  const toggle = (paused: boolean): Route => ({
    method: 'POST', path: `/v1/deployments/{name}/rollout/${paused ? 'pause' : 'resume'}`, operationId: paused ? 'pauseRollout' : 'resumeRollout',
    summary: paused ? 'pause the rolling update: the running batch finishes, no new one starts' : 'resume the rolling update (a failed one tries its batch again)',
    auth: true, params,
    responses: { 200: ok, ...errors, 409: { description: 'no rolling update in progress', schema: 'Error' } },
    handle: async (c) => ({ status: 200, body: await cp.setRolloutPaused(dep(c), paused, c.caller) }),
  });
  return [
    {
      method: 'GET', path: '/v1/deployments/{name}/rollout', operationId: 'getRollout', summary: 'the rolling update of a deployment, per component', auth: true,
      params, responses: { 200: ok, ...errors },
      handle: async (c) => ({ status: 200, body: await cp.rollout(dep(c)) }),
    },
    toggle(true),
    toggle(false),
  ];
}
