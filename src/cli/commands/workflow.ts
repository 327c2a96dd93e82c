/**
 * `nubis workflow <sub> …`: ecFlow-compatible workflows (src/workflows) over the API —
 * load / import a suite, begin it, see its tree with states (`status`, `-w` to watch its
 * progress live), ask why a node waits, the user commands, a task's output per try, export
 * back to .def, delete.
 *
 * A node is named by its absolute path, `/suite/family/task`; its workflow is the path's first
 * part (the suite) unless `--workflow` says otherwise (a definition with several suites is named
 * by its first).
 */
import fs from 'node:fs';
import path from 'node:path';
import { enc, integer, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import { CliError, EXIT, usageError } from '../errors.js';
import type { Style } from '../format.js';
import type { CliContext } from '../context.js';

const SUBS = ['load', 'import', 'list', 'begin', 'status', 'why', 'suspend', 'resume', 'requeue', 'force', 'run', 'kill', 'alter', 'logs', 'export', 'delete'] as const;
type Sub = (typeof SUBS)[number];

interface TreeNode {
  name: string;
  path: string;
  kind: string;
  state: string;
  suspended: boolean;
  tryNo?: number;
  reason?: string;
  meters?: Record<string, number>;
  labels?: Record<string, string>;
  events?: Record<string, boolean>;
  /** ecFlow's flags (late, zombie). */
  flags?: string[];
  children: TreeNode[];
}

interface Progress { tasks: number; complete: number; aborted: number; queued: number; running: number; active: string[] }
interface Summary { name: string; status: string; file: string; version: number; state: string; progress: Progress }
interface StatusView extends Summary { tree: TreeNode }

function colourState(style: Style, s: string): string {
  if (s === 'complete') return style.green(s);
  if (s === 'aborted') return style.red(s);
  if (s === 'active' || s === 'submitted') return style.yellow(s);
  return style.dim(s);
}

export function progressLine(p: Progress): string {
  const parts = [`${p.complete}/${p.tasks} tasks complete`];
  if (p.running > 0) parts.push(`${p.running} running`);
  if (p.aborted > 0) parts.push(`${p.aborted} aborted`);
  if (p.queued > 0) parts.push(`${p.queued} queued`);
  const shown = p.active.slice(0, 5);
  const more = p.running > shown.length ? ` +${p.running - shown.length}` : '';
  return parts.join(', ') + (shown.length > 0 ? ` — active: ${shown.join(' ')}${more}` : '');
}

/** The tree, one node a line, indented by depth, with its state, try and reason. */
export function formatTree(style: Style, v: StatusView): string {
  const lines = [style.bold(`${v.name}  ${v.status}  ${colourState(style, v.state)}  (${progressLine(v.progress)})`)];
  const walk = (n: TreeNode, depth: number): void => {
    const extra: string[] = [];
    if (n.suspended) extra.push(style.yellow('suspended'));
    for (const f of n.flags ?? []) extra.push(style.yellow(`flag:${f}`));
    if (n.kind === 'task' && n.tryNo) extra.push(`try ${n.tryNo}`);
    if (n.reason && n.state !== 'complete') extra.push(n.reason);
    for (const [k, x] of Object.entries(n.meters ?? {})) extra.push(`${k}=${x}`);
    for (const [k, x] of Object.entries(n.events ?? {})) if (x) extra.push(`${k}:set`);
    for (const [k, x] of Object.entries(n.labels ?? {})) if (x) extra.push(`${k}="${x}"`);
    const label = `${'  '.repeat(depth)}${n.kind === 'task' ? n.name : style.bold(n.name)}`;
    lines.push(`${label.padEnd(32)} ${colourState(style, n.state)}${extra.length ? `  ${style.dim(extra.join('  '))}` : ''}`);
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const s of v.tree.children) walk(s, 1);
  return lines.join('\n');
}

/** The workflow a node path belongs to: `--workflow`, else the path's suite. */
function workflowOf(args: Parsed, nodePath: string): string {
  const w = str(args, 'workflow');
  if (w) return w;
  const m = /^\/([^/]+)/.exec(nodePath);
  if (!m) throw usageError(`expected an absolute node path such as /suite/family/task, found ${JSON.stringify(nodePath)}`);
  return m[1]!;
}

function nodePath(p: string | undefined, usage: string): string {
  const v = required(p, `<path>\nusage: ${usage}`);
  if (!v.startsWith('/')) throw usageError(`expected an absolute node path such as /suite/family/task, found ${JSON.stringify(v)}`);
  return v.replace(/\/+$/, '') || '/';
}

async function loadFile(ctx: CliContext, args: Parsed, given: string, withFiles: boolean, json: boolean): Promise<number> {
  const file = path.resolve(ctx.io.cwd, given);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'FILE_UNREADABLE', `cannot read ${given}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  // the def and script units load only for import
  const files = withFiles
    ? (await import('./workflow-files.js')).collectWorkflowFiles(text, path.basename(file), path.dirname(file))
    : { files: {} as Record<string, string>, variables: {} as Record<string, string>, notes: [] as string[] };
  const { status, body } = await ctx.client().request<Summary>('POST', '/v1/workflows', {
    text, file: path.basename(file), ...(Object.keys(files.files).length > 0 ? { files: files.files } : {}),
    ...(Object.keys(files.variables).length > 0 ? { variables: files.variables } : {}),
    ...(args.values['replace'] === true ? { replace: true } : {}),
  });
  if (json) ctx.out(JSON.stringify(body, null, 2));
  else {
    for (const n of files.notes) ctx.err(`nubis: ${n}`);
    const n = Object.keys(files.files).length;
    ctx.out(`${status === 201 ? 'loaded' : 'replaced'} workflow ${body.name} (${body.progress.tasks} tasks${withFiles ? `, ${n} script/include file${n === 1 ? '' : 's'}` : ''}); start it with \`nubis workflow begin ${body.name}\``);
  }
  return 0;
}

/** Follows the workflow's events and prints its progress on each change, until every task is complete. */
async function watch(ctx: CliContext, name: string, json: boolean): Promise<number> {
  const client = ctx.client();
  const get = (): Promise<StatusView> => client.get<StatusView>(`/v1/workflows/${enc(name)}`);
  let last = '';
  const show = (v: StatusView): boolean => {
    const line = json ? JSON.stringify(v.progress) : `${v.name}: ${v.state}  ${progressLine(v.progress)}`;
    if (line !== last) ctx.out(line);
    last = line;
    return v.progress.tasks > 0 && v.progress.complete === v.progress.tasks;
  };
  // the cursor first: a change after it is streamed, so none between the status and the stream is missed
  const lastId = (await client.get<{ events: { id: number }[] }>('/v1/events?limit=1')).events[0]?.id ?? 0;
  const first = await get();
  if (!json) ctx.out(formatTree(ctx.style, first));
  if (show(first)) return 0;
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let pending = false;
  let done = false;
  let failed: unknown;
  const refresh = (): void => {
    if (pending || done) return;
    pending = true;
    // several events of one step make one refresh
    setTimeout(() => {
      pending = false;
      get().then((v) => {
        if (show(v)) {
          done = true;
          ac.abort();
        }
      }, (e: unknown) => {
        failed = e;
        ac.abort();
      });
    }, 100);
  };
  try {
    await client.stream({ kind: 'workflow.*', after: lastId }, (e) => {
      const d = (e as { data?: { workflow?: string } }).data;
      if (d?.workflow === name) refresh();
    }, ac.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (failed) throw failed;
  if (done && !json) ctx.out(formatTree(ctx.style, await get()));
  return done ? 0 : 1;
}

export const workflowCommand: Command = {
  name: 'workflow',
  summary: 'ecFlow-compatible workflows: load, import, begin, status, why, suspend, resume, requeue, force, run, kill, logs, export',
  usage: 'nubis workflow load|import <file> | list | begin|status|export|delete <workflow> | why|suspend|resume|requeue|force|run|kill|logs <path> | alter <path> <variable> <value>',
  help: [
    'load <file>  load a .def or YAML workflow as it is (no script files)',
    'import <suite.def>  load a .def and upload the scripts and includes its ECF_FILES, ECF_INCLUDE and ECF_HOME name on this host',
    '--replace  load over a workflow of the same name (its running tries are killed)',
    'begin <workflow> [path]  begin the workflow (or one suite)',
    'status <workflow> [-w]  the tree with states; -w watches progress until every task is complete',
    'why <path>  every dependency a node still waits for',
    'requeue <path> [--aborted]  requeue a node (only its aborted tasks with --aborted)',
    'force <path> [--state complete|aborted|queued]  force a node\'s state (default complete)',
    'logs <task> [--try N]  a task\'s output (the latest try by default)',
    'export <workflow> [--file <out.def>]  the workflow as .def text',
    '--workflow <name>  the workflow a path belongs to (default: the path\'s suite)',
    outputHelp,
  ],
  options: {
    ...outputOption, replace: { type: 'boolean' }, watch: { type: 'boolean', short: 'w' }, aborted: { type: 'boolean' }, state: { type: 'string' },
    try: { type: 'string' }, workflow: { type: 'string' }, file: { type: 'string' },
  },
  maxPositionals: 4,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, a, b, c] = args.positionals;
    if (!(SUBS as readonly (string | undefined)[]).includes(sub)) {
      throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${workflowCommand.usage}`);
    }
    const s = sub as Sub;
    const client = ctx.client();
    const usage = workflowCommand.usage;
    const print = (body: unknown, text: string): void => ctx.out(json ? JSON.stringify(body, null, 2) : text);
    const command = async (verb: string, name: string, body: Record<string, unknown>, done: string): Promise<number> => {
      const r = await client.request<unknown>('POST', `/v1/workflows/${enc(name)}/${verb}`, body);
      print(r.body, done);
      return 0;
    };
    switch (s) {
      case 'load':
      case 'import':
        return loadFile(ctx, args, required(a, `<file>\nusage: ${usage}`), s === 'import', json);
      case 'list': {
        const body = await client.get<{ workflows: Summary[] }>('/v1/workflows');
        print(body, body.workflows.length === 0 ? 'no workflows' : body.workflows.map((w) => `${w.name}  ${w.status}  ${colourState(ctx.style, w.state)}  ${progressLine(w.progress)}`).join('\n'));
        return 0;
      }
      case 'begin': {
        const name = required(a, `<workflow>\nusage: ${usage}`);
        return command('begin', name, b ? { path: b } : {}, `began ${b ?? name}`);
      }
      case 'status': {
        const name = required(a, `<workflow>\nusage: ${usage}`);
        if (args.values['watch'] === true) return watch(ctx, name, json);
        const v = await client.get<StatusView>(`/v1/workflows/${enc(name)}`);
        print(v, formatTree(ctx.style, v));
        return 0;
      }
      case 'why': {
        const p = nodePath(a, usage);
        const body = await client.get<{ why: { path: string; kind: string; detail: string }[] }>(`/v1/workflows/${enc(workflowOf(args, p))}/why?path=${enc(p)}`);
        print(body, body.why.length === 0 ? `${p} waits for nothing` : body.why.map((w) => `${w.path}  ${w.kind}: ${w.detail}`).join('\n'));
        return 0;
      }
      case 'suspend':
      case 'resume':
      case 'run':
      case 'kill': {
        const p = nodePath(a, usage);
        return command(s, workflowOf(args, p), { path: p }, `${s === 'run' ? 'ran' : s === 'kill' ? 'killed' : `${s}d`} ${p}`);
      }
      case 'requeue': {
        const p = nodePath(a, usage);
        const mode = args.values['aborted'] === true ? 'aborted' : 'all';
        return command('requeue', workflowOf(args, p), { path: p, mode }, `requeued ${mode === 'aborted' ? 'the aborted tasks of ' : ''}${p}`);
      }
      case 'force': {
        const p = nodePath(a, usage);
        const state = str(args, 'state') ?? 'complete';
        if (!['complete', 'aborted', 'queued'].includes(state)) throw usageError(`--state: expected complete, aborted or queued, found ${JSON.stringify(state)}`);
        return command('force', workflowOf(args, p), { path: p, state }, `forced ${p} ${state}`);
      }
      case 'alter': {
        const p = nodePath(a, usage);
        const variable = required(b, `<variable>\nusage: ${usage}`);
        if (c === undefined) throw usageError(`missing <value>\nusage: ${usage}`);
        return command('alter', workflowOf(args, p), { path: p, variable, value: c }, `set ${variable} of ${p}`);
      }
      case 'logs': {
        const p = nodePath(a, usage);
        const t = str(args, 'try');
        const q = `path=${enc(p)}${t !== undefined ? `&try=${integer(t, '--try')}` : ''}`;
        const body = await client.get<{ tryNo: number; tries: number; text: string }>(`/v1/workflows/${enc(workflowOf(args, p))}/logs?${q}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else {
          ctx.err(`nubis: ${p} try ${body.tryNo} of ${body.tries}`);
          ctx.out(body.text);
        }
        return 0;
      }
      case 'export': {
        const name = required(a, `<workflow>\nusage: ${usage}`);
        const body = await client.get<{ text: string }>(`/v1/workflows/${enc(name)}/export`);
        const out = str(args, 'file');
        if (out) {
          fs.writeFileSync(path.resolve(ctx.io.cwd, out), body.text);
          ctx.err(`nubis: wrote ${out}`);
        } else print(body, body.text);
        return 0;
      }
      case 'delete': {
        const name = required(a, `<workflow>\nusage: ${usage}`);
        const r = await client.request<unknown>('DELETE', `/v1/workflows/${enc(name)}`);
        print(r.body, `deleted workflow ${name}`);
        return 0;
      }
    }
  },
};
