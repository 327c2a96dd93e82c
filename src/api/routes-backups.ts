/**
 * Backups (src/operations/backups): a deployment's backup policies, its backups, restores and
 * restore drills, and running them. Declared once for the router and the OpenAPI document, like
 * ./routes.ts. Another tenant's deployment, and so its backups, answers 404 like one that does
 * not exist.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NAME_PATTERN } from '../model/index.js';
import { NubisError } from '../errors/index.js';
import type { BackupPolicyView, BackupRunView, Backups, BackupRunRequest, DrillRequest, RestoreRequest } from '../operations/index.js';
import type { ParamSpec, ResponseSpec, Route, RouteContext } from './router.js';
import { callerDeployment } from './tenant-scope.js';

const INSTANCE_PATTERN = '^[a-z][a-z0-9-]{0,39}-[0-9]{1,9}$';
const RUN_PATTERN = '^(bk|rs|dr)-[0-9a-f]{12}$';
const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const reason = Type.Optional(Type.String({ maxLength: 500, description: 'why, for the audit log' }));
const wait = Type.Optional(Type.Boolean({ description: 'false: answer 202 once it has started; default true: answer when it has ended' }));

const BackupRunRequestSchema = Type.Object({
  policy: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'the backup policy; may be left out when the deployment has one' })),
  instance: Type.Optional(Type.String({ pattern: INSTANCE_PATTERN, description: 'only this instance; default every running instance of the policy\'s component' })),
  reason, wait,
}, { additionalProperties: false, description: 'take a backup now' });

const RestoreRequestSchema = Type.Object({
  instance: Type.Optional(Type.String({ pattern: INSTANCE_PATTERN, description: 'restore onto this instance (a new node); default the backup\'s own instance, in place' })),
  reason, wait,
}, { additionalProperties: false, description: 'restore a good backup' });

const DrillRequestSchema = Type.Object({
  policy: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'the backup policy; may be left out when the deployment has one' })),
  backup: Type.Optional(Type.String({ pattern: RUN_PATTERN, description: 'the backup to drill; default the newest good one of the policy' })),
  reason, wait,
}, { additionalProperties: false, description: 'restore a backup onto a scratch node, check it, remove the node' });

const schedule = Type.Object({ cron: Type.String(), timeZone: Type.String(), next: Type.Optional(Type.String({ format: 'date-time' })) });
const BackupPolicyViewSchema = Type.Object({
  name: Type.String(),
  component: Type.String(),
  schedule: Type.Optional(schedule),
  what: Type.String(),
  store: Type.String({ description: 'where copies go, without secrets' }),
  retention: Type.Object({ last: Type.Integer(), daily: Type.Integer(), weekly: Type.Integer(), monthly: Type.Integer() }),
  drill: Type.Optional(schedule),
  onDestroy: Type.Boolean(),
  lastGood: Type.Optional(Type.String()),
  lastVerified: Type.Optional(Type.String()),
});

const BackupRunViewSchema = Type.Object({
  id: Type.String({ pattern: RUN_PATTERN }),
  kind: lit(['backup', 'restore', 'drill'] as const),
  deployment: Type.String(),
  policy: Type.String(),
  component: Type.String(),
  instance: Type.String(),
  state: lit(['running', 'succeeded', 'failed', 'pruned'] as const, ),
  trigger: Type.String({ description: 'schedule, manual, destroy or recovery' }),
  what: Type.String({ description: 'snapshot or archive' }),
  store: Type.String(),
  key: Type.Optional(Type.String()),
  sizeBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  verified: Type.Boolean({ description: 'a backup: a restore drill of it passed (only verified backups are used by recovery)' }),
  verifiedAt: Type.Optional(Type.String({ format: 'date-time' })),
  backup: Type.Optional(Type.String({ description: 'a restore or drill: the backup it used' })),
  detail: Type.Optional(Type.String({ description: 'why it failed' })),
  actor: Type.String(),
  reason: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Type.Optional(Type.String({ format: 'date-time' })),
});

export const BACKUP_SCHEMAS: Record<string, TSchema> = {
  BackupRunRequest: BackupRunRequestSchema,
  RestoreRequest: RestoreRequestSchema,
  DrillRequest: DrillRequestSchema,
  BackupRunView: BackupRunViewSchema,
  BackupRunList: Type.Object({ runs: Type.Array(BackupRunViewSchema) }),
  BackupPolicyList: Type.Object({ policies: Type.Array(BackupPolicyViewSchema) }),
};

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;
same<Same<Static<typeof BackupRunViewSchema>, BackupRunView>>();
same<Same<Static<typeof BackupPolicyViewSchema>, BackupPolicyView>>();
same<Same<Static<typeof BackupRunRequestSchema>, BackupRunRequest>>();
same<Same<Static<typeof RestoreRequestSchema>, RestoreRequest>>();
same<Same<Static<typeof DrillRequestSchema>, DrillRequest>>();

const named = (description: string, pattern = NAME_PATTERN): ParamSpec => ({ schema: Type.String({ pattern }), description, required: true });
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body (the path of the bad field in details)', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  404: { description: 'no such deployment, policy, instance or backup', schema: 'Error' },
  503: { description: 'this control plane runs no backups', schema: 'Error' },
};
const started = (what: string): Record<number, ResponseSpec> => ({
  202: { description: `${what} started (wait: false); GET its id for the outcome`, schema: 'BackupRunView' },
  409: { description: 'nothing can be backed up or restored now (not running, a run in flight, being destroyed, not a good backup)', schema: 'Error' },
  413: { description: 'body too large', schema: 'Error' },
  415: { description: 'not JSON', schema: 'Error' },
});

export function buildBackupRoutes(backups: Backups | undefined): Route[] {
  const need = (): Backups => {
    if (!backups) throw new NubisError('UNAVAILABLE', 'this control plane runs no backups');
    return backups;
  };
  const dep = (c: RouteContext): string => callerDeployment(c.caller, c.params['name']!);
  const shown = (c: RouteContext): string => c.params['name']!;
  const name = { name: named('deployment name') };
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return [
    {
      method: 'GET', path: '/v1/deployments/{name}/backups', operationId: 'listBackups', summary: 'the deployment\'s backups, restores and drills, newest first',
      auth: true, params: name,
      query: {
        policy: { schema: Type.String({ pattern: NAME_PATTERN }), description: 'only this policy' },
        kind: { schema: lit(['backup', 'restore', 'drill'] as const), description: 'only this kind of run' },
        instance: { schema: Type.String({ pattern: INSTANCE_PATTERN }), description: 'only this instance' },
        limit: { schema: Type.Integer({ minimum: 1, maximum: 1000 }), description: 'at most this many (default 200)' },
      },
      responses: { 200: { description: 'success', schema: 'BackupRunList' }, ...errors },
      handle: async (c) => {
        const kind = str(c.query['kind']) as 'backup' | 'restore' | 'drill' | undefined;
        const f = {
          ...(str(c.query['policy']) ? { policy: str(c.query['policy'])! } : {}), ...(kind ? { kind } : {}),
          ...(str(c.query['instance']) ? { instance: str(c.query['instance'])! } : {}), ...(typeof c.query['limit'] === 'number' ? { limit: c.query['limit'] } : {}),
        };
        return { status: 200, body: { runs: await need().list(dep(c), shown(c), f) } };
      },
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/backups/policies', operationId: 'listBackupPolicies', summary: 'the deployment\'s backup policies: schedule and next run, what, where, retention, the last good and verified backup',
      auth: true, params: name,
      responses: { 200: { description: 'success', schema: 'BackupPolicyList' }, ...errors },
      handle: async (c) => ({ status: 200, body: { policies: await need().policies(dep(c), shown(c)) } }),
    },
    {
      method: 'POST', path: '/v1/deployments/{name}/backups', operationId: 'runBackup', summary: 'back up the running instances of a policy now; each copy verified by size and SHA-256',
      auth: true, params: name, body: 'BackupRunRequest',
      responses: { 200: { description: 'every backup ended (each succeeded or failed, with why)', schema: 'BackupRunList' }, ...started('the backups'), 202: { description: 'the backups started (wait: false)', schema: 'BackupRunList' }, ...errors },
      handle: async (c) => {
        const body = c.body as BackupRunRequest;
        return { status: body.wait === false ? 202 : 200, body: { runs: await need().run(dep(c), body, c.caller, shown(c)) } };
      },
    },
    {
      method: 'POST', path: '/v1/deployments/{name}/backups/drill', operationId: 'drillBackup', summary: 'restore drill: restore a backup onto a scratch node, run the verify handler or health probe, remove the node; a pass marks the backup verified',
      auth: true, params: name, body: 'DrillRequest',
      responses: { 200: { description: 'the drill ended (succeeded: passed)', schema: 'BackupRunView' }, ...started('the drill'), ...errors },
      handle: async (c) => {
        const body = c.body as DrillRequest;
        return { status: body.wait === false ? 202 : 200, body: await need().drill(dep(c), body, c.caller, shown(c)) };
      },
    },
    {
      method: 'GET', path: '/v1/deployments/{name}/backups/{id}', operationId: 'getBackup', summary: 'one backup, restore or drill',
      auth: true, params: { ...name, id: named('run id such as bk-1a2b3c4d5e6f', RUN_PATTERN) },
      responses: { 200: { description: 'success', schema: 'BackupRunView' }, ...errors },
      handle: async (c) => ({ status: 200, body: await need().show(dep(c), c.params['id']!, shown(c)) }),
    },
    {
      method: 'POST', path: '/v1/deployments/{name}/backups/{id}/restore', operationId: 'restoreBackup', summary: 'restore a good backup in place, or onto another instance of its component',
      auth: true, params: { ...name, id: named('backup id such as bk-1a2b3c4d5e6f', '^bk-[0-9a-f]{12}$') }, body: 'RestoreRequest',
      responses: { 200: { description: 'the restore ended', schema: 'BackupRunView' }, ...started('the restore'), ...errors },
      handle: async (c) => {
        const body = c.body as RestoreRequest;
        return { status: body.wait === false ? 202 : 200, body: await need().restore(dep(c), c.params['id']!, body, c.caller, shown(c)) };
      },
    },
  ];
}
