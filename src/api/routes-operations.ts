/**
 * Custom operations (src/engine/operations): run one on a component's instances, and read the
 * runs back. Declared once for the router and the OpenAPI document, like ./routes.ts. Another
 * tenant's deployment, and so its runs, answers 404 like one that does not exist.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import type { ControlPlane, OperationRunView, RunOperationRequest } from '../engine/index.js';
import type { ParamSpec, ResponseSpec, Route, RouteContext } from './router.js';
import { callerDeployment } from './tenant-scope.js';

const Value = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
const INSTANCE_PATTERN = '^[a-z][a-z0-9-]{0,39}-[0-9]{1,9}$';
const RUN_PATTERN = '^op-[0-9a-f]{12}$';

export const OperationRunRequestSchema = Type.Object(
  {
    instances: Type.Optional(Type.Array(Type.String({ pattern: INSTANCE_PATTERN }), { minItems: 1, maxItems: 1000, description: 'instance names such as app-2; default every instance of the component (those not running are skipped)' })),
    params: Type.Optional(Type.Record(Type.String(), Value, { description: 'parameter values by name; checked against the declaration (a string is read as its parameter\'s type, as the CLI sends it)' })),
    parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'most instances running it at once; default all' })),
    reason: Type.Optional(Type.String({ maxLength: 500, description: 'why, for the audit log' })),
    wait: Type.Optional(Type.Boolean({ description: 'false: answer 202 once it has started; default true: answer when every instance has ended' })),
  },
  { additionalProperties: false, description: 'how to run a custom operation' },
);

const InstanceSchema = Type.Object({
  instance: Type.String(),
  state: Type.Union((['pending', 'running', 'succeeded', 'failed', 'timed-out', 'skipped', 'interrupted'] as const).map((s) => Type.Literal(s))),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  output: Type.String({ description: 'combined stdout and stderr, its last 64 KiB; secrets shown as ***' }),
  detail: Type.Optional(Type.String({ description: 'why it was skipped, or what failed besides the exit code' })),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  endedAt: Type.Optional(Type.String({ format: 'date-time' })),
});

const OperationRunViewSchema = Type.Object({
  id: Type.String({ pattern: RUN_PATTERN }),
  deployment: Type.String(),
  component: Type.String(),
  operation: Type.String(),
  params: Type.Record(Type.String(), Value, { description: 'the values the handler got as NUBIS_PARAM_<NAME>, defaults filled in' }),
  actor: Type.String(),
  reason: Type.String(),
  state: Type.Union((['running', 'succeeded', 'failed', 'partial', 'interrupted'] as const).map((s) => Type.Literal(s)), { description: 'succeeded: every instance did; failed: none did; partial: some did' }),
  createdAt: Type.String({ format: 'date-time' }),
  endedAt: Type.Optional(Type.String({ format: 'date-time' })),
  instances: Type.Array(InstanceSchema),
});

export const OPERATION_SCHEMAS: Record<string, TSchema> = {
  OperationRunRequest: OperationRunRequestSchema,
  OperationRunView: OperationRunViewSchema,
  OperationRunList: Type.Object({ runs: Type.Array(OperationRunViewSchema) }),
};

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;
same<Same<Static<typeof OperationRunViewSchema>, OperationRunView>>();
same<Same<Static<typeof OperationRunRequestSchema>, RunOperationRequest>>();

const named = (description: string, pattern = NAME_PATTERN): ParamSpec => ({ schema: Type.String({ pattern }), description, required: true });
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body; a bad operation parameter names its path (details.problems[].path, such as params.keep)', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  404: { description: 'no such deployment, component, operation, instance or run', schema: 'Error' },
};
const dep = (c: RouteContext): string => callerDeployment(c.caller, c.params['name']!);

export function buildOperationRoutes(cp: ControlPlane): Route[] {
  return [
    {
      method: 'POST', path: '/v1/deployments/{name}/components/{component}/operations/{operation}', operationId: 'runOperation',
      summary: 'run a custom operation on some or all instances of a component; each instance\'s outcome and output in the answer',
      auth: true,
      params: { name: named('deployment name'), component: named('component name'), operation: named('operation name') },
      body: 'OperationRunRequest',
      responses: {
        200: { description: 'the run, every instance ended (state succeeded, failed or partial)', schema: 'OperationRunView' },
        202: { description: 'the run has started (wait: false); GET its id for the outcome', schema: 'OperationRunView' },
        ...errors,
        409: { description: 'a named instance is not running, no instance is, or the deployment is being destroyed', schema: 'Error' },
        413: { description: 'body too large', schema: 'Error' },
        415: { description: 'not JSON', schema: 'Error' },
      },
      handle: async (c) => {
        const body = c.body as RunOperationRequest;
        const run = await cp.runOperation(dep(c), c.params['component']!, c.params['operation']!, body, c.caller);
        return { status: body.wait === false ? 202 : 200, body: run };
      },
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/operations', operationId: 'listOperationRuns', summary: 'the deployment\'s operation runs, newest first',
      auth: true,
      params: { name: named('deployment name') },
      query: { limit: { schema: Type.Integer({ minimum: 1, maximum: 1000 }), description: 'at most this many runs (default 100)' } },
      responses: { 200: { description: 'success', schema: 'OperationRunList' }, ...errors },
      handle: async (c) => {
        const limit = typeof c.query['limit'] === 'number' ? c.query['limit'] : undefined;
        return { status: 200, body: { runs: await cp.operationRuns(dep(c), limit) } };
      },
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/operations/{run}', operationId: 'getOperationRun', summary: 'one operation run: its state and every instance\'s exit code and output',
      auth: true,
      params: { name: named('deployment name'), run: named('run id such as op-1a2b3c4d5e6f', RUN_PATTERN) },
      responses: { 200: { description: 'success', schema: 'OperationRunView' }, ...errors },
      handle: async (c) => ({ status: 200, body: await cp.operationRun(dep(c), c.params['run']!) }),
    },
  ];
}
