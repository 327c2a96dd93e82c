/**
 * Workflows (src/workflows): load or import a suite, list, status tree, why, the user commands
 * (begin, suspend, resume, requeue, force, run, kill, alter), a task's output per try, export
 * back to .def, delete; and the child endpoint jobs report through, authenticated by the job's
 * one-time password instead of a bearer token. Declared once for the router and the OpenAPI
 * document, like ./routes.ts. A caller names its own tenant's workflows only; another tenant's
 * answer exactly like ones that do not exist (404).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { NubisError } from '../errors/index.js';
import type { WfChildCommand, WfUserCommand, WorkflowsController } from '../workflows/index.js';
import type { Route, ResponseSpec, RouteContext, ParamSpec } from './router.js';
import { callerTenant } from './tenant-scope.js';

/** Workflow names: the first suite's name (ecFlow allows upper case and `_`; never `.`). */
const WF_NAME = '^[A-Za-z_][A-Za-z0-9_-]{0,79}$';
/** A workflow id as jobs know it (NUBIS_WORKFLOW): `<name>` or `<tenant>.<name>`. */
const WF_ID = '^(?:[a-z][a-z0-9-]{0,39}\\.)?[A-Za-z_][A-Za-z0-9_-]{0,79}$';
const NODE_PATH = '^(/[A-Za-z0-9_.-]+)+$';

const opts = { additionalProperties: false } as const;

const WorkflowLoadSchema = Type.Object({
  text: Type.String({ maxLength: 16 * 1024 * 1024, description: 'the definition: ecFlow .def text, or the YAML spec' }),
  file: Type.String({ minLength: 1, maxLength: 255, description: 'its file name, for error locations; `.yaml`/`.yml` is read as YAML, anything else as .def' }),
  files: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 500 }), Type.String(), {
    description: 'script (.ecf) and include (.h) files by path relative to ECF_FILES, ECF_INCLUDE or ECF_HOME, as `nubis workflow import` finds them',
  })),
  replace: Type.Optional(Type.Boolean({ description: 'replace a loaded workflow of the same name (its running tries are killed)' })),
  variables: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 200 }), Type.String({ maxLength: 10_000 }), {
    description: 'server-level variables below the definition\'s own (ECF_HOME, …)',
  })),
}, { ...opts, description: 'a workflow to load' });

const ProgressSchema = Type.Object({
  tasks: Type.Integer(), complete: Type.Integer(), aborted: Type.Integer(), queued: Type.Integer(),
  running: Type.Integer({ description: 'submitted or active' }),
  active: Type.Array(Type.String(), { description: 'paths of submitted and active tasks (at most 50)' }),
});

const SummaryProps = {
  name: Type.String(),
  status: Type.Union([Type.Literal('loaded'), Type.Literal('begun')]),
  file: Type.String(),
  format: Type.Union([Type.Literal('def'), Type.Literal('yaml')]),
  version: Type.Integer(),
  state: Type.String({ description: 'the most significant state of its suites' }),
  progress: ProgressSchema,
  loadedAt: Type.String({ format: 'date-time' }),
};
const WorkflowSummarySchema = Type.Object(SummaryProps);

const STATES = ['unknown', 'queued', 'submitted', 'active', 'complete', 'aborted'] as const;
const TreeNodeSchema = Type.Recursive((This) => Type.Object({
  name: Type.String(),
  path: Type.String(),
  kind: Type.Union([Type.Literal('workflow'), Type.Literal('suite'), Type.Literal('family'), Type.Literal('task')]),
  state: Type.Union(STATES.map((s) => Type.Literal(s))),
  suspended: Type.Boolean(),
  tryNo: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
  changedAt: Type.Optional(Type.String({ format: 'date-time' })),
  events: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
  meters: Type.Optional(Type.Record(Type.String(), Type.Number())),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  flags: Type.Optional(Type.Array(Type.String(), { description: 'ecFlow flags set on the node: late, zombie' })),
  queues: Type.Optional(Type.Record(Type.String(), Type.Object({ index: Type.Integer(), states: Type.Array(Type.String()) }), { description: 'each queue: the next step\'s index and every step\'s state' })),
  children: Type.Array(This),
}), { $id: 'WorkflowTreeNode' });

const WorkflowStatusSchema = Type.Object({ ...SummaryProps, tree: TreeNodeSchema });

const WhyListSchema = Type.Object({
  path: Type.String(),
  why: Type.Array(Type.Object({ path: Type.String(), kind: Type.String(), detail: Type.String() })),
});

const CommandSchema = Type.Object({
  path: Type.Optional(Type.String({ pattern: NODE_PATH, maxLength: 1000, description: 'absolute node path, /suite/family/task' })),
  mode: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('aborted')], { description: 'requeue: every node below (default) or aborted ones only' })),
  state: Type.Optional(Type.Union([Type.Literal('complete'), Type.Literal('aborted'), Type.Literal('queued')], { description: 'force: the state to set (default complete)' })),
  variable: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 200, description: 'alter: the variable' })),
  value: Type.Optional(Type.String({ maxLength: 100_000, description: 'alter: its new value' })),
}, { ...opts, description: 'the node a command is about, and its options' });

const CommandResultSchema = Type.Object({
  ok: Type.Boolean(),
  zombie: Type.Optional(Type.Boolean()),
  why: Type.Optional(Type.String()),
  value: Type.Optional(Type.String({ description: 'a child command\'s answer: the step of `queue active`, the count of `queue no_of_aborted`' })),
});

const LogSchema = Type.Object({ path: Type.String(), tryNo: Type.Integer(), tries: Type.Integer(), text: Type.String() });
const ExportSchema = Type.Object({ name: Type.String(), file: Type.String(), text: Type.String({ description: 'the .def text' }) });
const WorkflowListSchema = Type.Object({ workflows: Type.Array(WorkflowSummarySchema) });

const ChildCommandSchema = Type.Union([
  Type.Object({ verb: Type.Literal('init'), rid: Type.String({ maxLength: 200 }), add: Type.Optional(Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 10_000 }))) }, opts),
  Type.Object({ verb: Type.Literal('complete'), remove: Type.Optional(Type.Array(Type.String({ maxLength: 200 }))) }, opts),
  Type.Object({ verb: Type.Literal('abort'), reason: Type.String({ maxLength: 10_000 }) }, opts),
  Type.Object({ verb: Type.Literal('event'), name: Type.String({ minLength: 1, maxLength: 200 }), value: Type.Boolean() }, opts),
  Type.Object({ verb: Type.Literal('meter'), name: Type.String({ minLength: 1, maxLength: 200 }), value: Type.Number() }, opts),
  Type.Object({ verb: Type.Literal('label'), name: Type.String({ minLength: 1, maxLength: 200 }), value: Type.String({ maxLength: 100_000 }) }, opts),
  Type.Object({ verb: Type.Literal('wait'), expression: Type.String({ minLength: 1, maxLength: 10_000 }) }, opts),
  Type.Object({
    verb: Type.Literal('queue'), name: Type.String({ minLength: 1, maxLength: 200 }),
    action: Type.Union([Type.Literal('active'), Type.Literal('complete'), Type.Literal('aborted'), Type.Literal('no_of_aborted'), Type.Literal('reset')]),
    step: Type.Optional(Type.String({ maxLength: 1000 })), path: Type.Optional(Type.String({ maxLength: 1000 })),
  }, opts),
]);

const ChildRequestSchema = Type.Object({
  path: Type.String({ pattern: NODE_PATH, maxLength: 1000, description: 'the task (ECF_NAME)' }),
  password: Type.String({ minLength: 1, maxLength: 200, description: 'the try\'s one-time password (ECF_PASS)' }),
  tryNo: Type.Integer({ minimum: 0, description: 'ECF_TRYNO' }),
  rid: Type.Optional(Type.String({ maxLength: 200, description: 'ECF_RID' })),
  command: ChildCommandSchema,
}, { ...opts, description: 'a child command of a running job, as `nubis child` sends it' });

export const WORKFLOW_SCHEMAS: Record<string, TSchema> = {
  WorkflowLoad: WorkflowLoadSchema,
  WorkflowSummary: WorkflowSummarySchema,
  WorkflowList: WorkflowListSchema,
  WorkflowStatus: WorkflowStatusSchema,
  WorkflowWhy: WhyListSchema,
  WorkflowCommand: CommandSchema,
  WorkflowCommandResult: CommandResultSchema,
  WorkflowLog: LogSchema,
  WorkflowExport: ExportSchema,
  WorkflowChildRequest: ChildRequestSchema,
};

const ok = (schema: string, description = 'success'): ResponseSpec => ({ description, schema });
const errors: Record<number, ResponseSpec> = {
  400: { description: 'invalid parameters or body', schema: 'Error' },
  401: { description: 'missing or invalid bearer token', schema: 'Error' },
  404: { description: 'no such workflow or node', schema: 'Error' },
};
const nameParam: Record<string, ParamSpec> = { name: { schema: Type.String({ pattern: WF_NAME }), description: 'workflow name', required: true } };
const pathQuery = (what: string, required = true): ParamSpec => ({ schema: Type.String({ pattern: NODE_PATH, maxLength: 1000 }), description: what, required });

type CommandBody = { path?: string; mode?: 'all' | 'aborted'; state?: 'complete' | 'aborted' | 'queued'; variable?: string; value?: string };

/** The user command a verb and its body make; REQUEST_INVALID naming the missing field. */
function userCommand(verb: WfUserCommand['verb'], b: CommandBody): WfUserCommand {
  const need = (field: keyof CommandBody): string => {
    const v = b[field];
    if (v === undefined) throw new NubisError('REQUEST_INVALID', `$.${field}: required for ${verb}`, { details: { parameter: field } });
    return v;
  };
  switch (verb) {
    case 'begin':
      return b.path !== undefined ? { verb, path: b.path } : { verb };
    case 'suspend':
    case 'resume':
    case 'run':
    case 'kill':
      return { verb, path: need('path') };
    case 'requeue':
      return { verb, path: need('path'), mode: b.mode ?? 'all' };
    case 'force':
      return { verb, path: need('path'), state: b.state ?? 'complete' };
    case 'alter':
      return { verb, path: need('path'), variable: need('variable'), value: need('value') };
  }
}

const unavailable = (): never => {
  throw new NubisError('UNAVAILABLE', 'this control plane runs no workflows');
};

export function buildWorkflowRoutes(wf: WorkflowsController | undefined): Route[] {
  const svc = (): WorkflowsController => wf ?? unavailable();
  const tenant = (c: RouteContext): string => callerTenant(c.caller);
  const name = (c: RouteContext): string => c.params['name']!;
  const command = (verb: WfUserCommand['verb'], summary: string): Route => ({
    method: 'POST', path: `/v1/workflows/{name}/${verb}`, operationId: `workflow${verb[0]!.toUpperCase()}${verb.slice(1)}`, summary, auth: true,
    params: nameParam, body: 'WorkflowCommand',
    responses: { 200: ok('WorkflowCommandResult'), ...errors, 409: { description: 'the command does not apply to the node in its state', schema: 'Error' } },
    handle: async (c) => {
      // the workflow first: another tenant's answers 404 whatever the body says
      await svc().mustExist(tenant(c), name(c));
      const r = await svc().command(tenant(c), name(c), userCommand(verb, c.body as CommandBody), c.caller);
      if (!r.ok) throw new NubisError('CONFLICT', r.why);
      return { status: 200, body: r };
    },
  });
  return [
    {
      method: 'POST', path: '/v1/workflows', operationId: 'loadWorkflow',
      summary: 'load a workflow (ecFlow .def or YAML) with its script and include files; nothing is stored when any part is wrong', auth: true,
      body: 'WorkflowLoad',
      responses: {
        200: ok('WorkflowSummary', 'an existing workflow was replaced'), 201: ok('WorkflowSummary', 'the workflow was loaded'), ...errors,
        409: { description: 'a workflow of that name is loaded (load with replace)', schema: 'Error' },
        413: { description: 'body too large', schema: 'Error' }, 415: { description: 'not JSON', schema: 'Error' },
      },
      handle: async (c) => {
        const r = await svc().load(tenant(c), c.body as { text: string; file: string }, c.caller);
        return { status: r.created ? 201 : 200, body: r.view };
      },
    },
    {
      method: 'GET', path: '/v1/workflows', operationId: 'listWorkflows', summary: 'the caller\'s workflows with their progress', auth: true,
      responses: { 200: ok('WorkflowList'), ...errors },
      handle: async (c) => ({ status: 200, body: { workflows: await svc().list(tenant(c)) } }),
    },
    {
      method: 'GET', path: '/v1/workflows/{name}', operationId: 'getWorkflow', summary: 'a workflow\'s tree of nodes with their states, and its progress', auth: true,
      params: nameParam, responses: { 200: ok('WorkflowStatus'), ...errors },
      handle: async (c) => ({ status: 200, body: await svc().status(tenant(c), name(c)) }),
    },
    {
      method: 'DELETE', path: '/v1/workflows/{name}', operationId: 'deleteWorkflow', summary: 'delete a workflow (its running tries are killed)', auth: true,
      params: nameParam, responses: { 200: ok('WorkflowCommandResult'), ...errors },
      handle: async (c) => {
        await svc().remove(tenant(c), name(c), c.caller);
        return { status: 200, body: { ok: true } };
      },
    },
    {
      method: 'GET', path: '/v1/workflows/{name}/why', operationId: 'workflowWhy', summary: 'every dependency a node still waits for', auth: true,
      params: nameParam, query: { path: pathQuery('the node, /suite/family/task') },
      responses: { 200: ok('WorkflowWhy'), ...errors },
      handle: async (c) => {
        const path = String(c.query['path']);
        return { status: 200, body: { path, why: await svc().why(tenant(c), name(c), path) } };
      },
    },
    command('begin', 'begin the workflow (or one suite): its nodes are queued and free ones start'),
    command('suspend', 'suspend a node: nothing below it is submitted until it is resumed'),
    command('resume', 'resume a suspended node'),
    command('requeue', 'requeue a node and everything below it (mode all), or only its aborted tasks (mode aborted)'),
    command('force', 'force a node\'s state (complete by default)'),
    command('run', 'run a task now, ignoring its dependencies'),
    command('kill', 'kill a task\'s running try'),
    command('alter', 'set a variable of a node'),
    {
      method: 'GET', path: '/v1/workflows/{name}/logs', operationId: 'workflowLogs', summary: 'the output of one try of a task (the latest by default)', auth: true,
      params: nameParam,
      query: { path: pathQuery('the task'), try: { schema: Type.Integer({ minimum: 1 }), description: 'the try (ECF_TRYNO); default the latest' } },
      responses: { 200: ok('WorkflowLog'), ...errors },
      handle: async (c) => {
        const t = c.query['try'];
        return { status: 200, body: await svc().logs(tenant(c), name(c), String(c.query['path']), typeof t === 'number' ? t : undefined) };
      },
    },
    {
      method: 'GET', path: '/v1/workflows/{name}/export', operationId: 'exportWorkflow', summary: 'the workflow as an ecFlow .def text', auth: true,
      params: nameParam, responses: { 200: ok('WorkflowExport'), ...errors },
      handle: async (c) => ({ status: 200, body: { name: name(c), file: `${name(c)}.def`, text: await svc().exportDef(tenant(c), name(c)) } }),
    },
    {
      method: 'POST', path: '/v1/workflows/{name}/child', operationId: 'workflowChild',
      summary: 'a child command of a running job (init, complete, abort, event, meter, label, wait, queue), authenticated by the try\'s one-time password; a refusal (zombie) is 200 with ok false',
      auth: false,
      params: { name: { schema: Type.String({ pattern: WF_ID }), description: 'the workflow as jobs know it (NUBIS_WORKFLOW: `<name>` or `<tenant>.<name>`)', required: true } },
      body: 'WorkflowChildRequest',
      responses: { 200: ok('WorkflowCommandResult'), 400: errors[400]!, 404: { description: 'no such workflow', schema: 'Error' } },
      handle: async (c) => {
        const b = c.body as { path: string; password: string; tryNo: number; rid?: string; command: WfChildCommand };
        const r = await svc().child(name(c), { path: b.path, password: b.password, tryNo: b.tryNo, ...(b.rid !== undefined ? { rid: b.rid } : {}) }, b.command);
        return { status: 200, body: r };
      },
    },
  ];
}
