/**
 * `nubis child --init=RID | --complete | --abort[=REASON] | --event=N [set|clear] | --meter=N V |
 * --label=N text… | --wait=EXPR | --queue=Q ACTION [STEP] [PATH]` — a job's child command, as ecflow_client's, so ecFlow's
 * head.h/tail.h work with `ecflow_client` replaced by `nubis child`.
 *
 * Inside a job run by a Nubis agent the `nubis` on PATH is the agent's shell shim, which talks to
 * the agent in a few milliseconds and never reaches this command. This is the slow path for
 * jobs started elsewhere: it posts `{ path, password, tryNo, rid?, command }` to
 * `POST /v1/workflows/{workflow}/child` of the server at NUBIS_URL (else --server, NUBIS_SERVER),
 * the job's identity coming from ECF_NAME, ECF_PASS, ECF_TRYNO and ECF_RID, the workflow from
 * NUBIS_WORKFLOW or ECF_NAME's suite. With NO_ECF set it does nothing and succeeds.
 *
 * Exit status: 0 when accepted. A refusal (a zombie: wrong password, stale try, task not
 * active) exits 1 for init, complete, abort and wait, and 0 with a line on stderr for event,
 * meter and label (ecFlow's defaults: block, and fob). An unreachable server is retried for
 * init, complete, abort and wait for ECF_TIMEOUT seconds (default 600), then exits 3.
 */
import type { WfChildCommand, WfChildResult } from '../../workflows/index.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { enc, type Command, type Parsed } from '../command.js';

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.]{0,127}$/;

function name(v: string, flag: string): string {
  if (!NAME_RE.test(v)) throw usageError(`--${flag}: ${JSON.stringify(v)} is not a name`);
  return v;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

/** The child command the flags ask for (exactly one verb). */
export function childCommandOf(args: Parsed): WfChildCommand {
  const v = args.values as Record<string, unknown>;
  const verbs = ['init', 'complete', 'abort', 'event', 'meter', 'label', 'wait', 'queue'].filter((k) => v[k] !== undefined && v[k] !== false);
  if (verbs.length !== 1) throw usageError(verbs.length === 0 ? 'give one of --init, --complete, --abort, --event, --meter, --label, --wait, --queue' : `give one verb, not ${verbs.map((x) => `--${x}`).join(' and ')}`);
  const rest = args.positionals;
  const value = (k: string): string => (typeof v[k] === 'string' ? (v[k] as string) : '');
  switch (verbs[0]) {
    case 'init': {
      const rid = value('init');
      if (rid === '') throw usageError('--init needs the remote id: --init=$$');
      const pairs = [...list(v['add']), ...rest];
      if (pairs.length === 0) return { verb: 'init', rid };
      if (v['add'] === undefined) throw usageError(`--init: unexpected ${JSON.stringify(rest[0])}; add variables with --add NAME=VALUE`);
      const add: Record<string, string> = {};
      for (const kv of pairs) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw usageError(`--add: expected NAME=VALUE, found ${JSON.stringify(kv)}`);
        add[name(kv.slice(0, eq), 'add')] = kv.slice(eq + 1);
      }
      return { verb: 'init', rid, add };
    }
    case 'complete': {
      const names = [...list(v['remove']), ...rest];
      if (names.length === 0) return { verb: 'complete' };
      if (v['remove'] === undefined) throw usageError(`--complete: unexpected ${JSON.stringify(rest[0])}; remove variables with --remove NAME`);
      return { verb: 'complete', remove: names.map((n) => name(n, 'remove')) };
    }
    case 'abort':
      return { verb: 'abort', reason: [value('abort'), ...rest].filter((s) => s !== '').join(' ') };
    case 'event': {
      const n = name(value('event'), 'event');
      if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'set' && rest[0] !== 'clear')) throw usageError(`--event=${n}: expected set or clear after it`);
      return { verb: 'event', name: n, value: rest[0] !== 'clear' };
    }
    case 'meter': {
      const n = name(value('meter'), 'meter');
      if (rest.length !== 1 || !/^-?[0-9]{1,15}$/.test(rest[0]!)) throw usageError(`--meter=${n}: expected one integer value after it`);
      return { verb: 'meter', name: n, value: Number(rest[0]) };
    }
    case 'label':
      return { verb: 'label', name: name(value('label'), 'label'), value: rest.join(' ') };
    case 'queue': {
      const n = name(value('queue'), 'queue');
      const [action, ...more] = rest;
      if (action !== 'active' && action !== 'complete' && action !== 'aborted' && action !== 'no_of_aborted' && action !== 'reset') {
        throw usageError(`--queue=${n}: expected active, complete STEP, aborted STEP, no_of_aborted or reset after it`);
      }
      const needsStep = action === 'complete' || action === 'aborted';
      if (needsStep && more.length === 0) throw usageError(`--queue=${n} ${action}: give the step`);
      const step = needsStep ? more.shift() : undefined;
      if (more.length > 1) throw usageError(`--queue=${n} ${action}: unexpected ${JSON.stringify(more[1])}`);
      return { verb: 'queue', name: n, action, ...(step !== undefined ? { step } : {}), ...(more[0] !== undefined ? { path: more[0] } : {}) };
    }
    default: {
      const expression = [value('wait'), ...rest].filter((s) => s !== '').join(' ');
      if (expression.trim() === '') throw usageError('--wait needs an expression: --wait="/s/f/t == complete"');
      return { verb: 'wait', expression };
    }
  }
}

/**
 * ecflow_client's forms that node:util parseArgs does not take as they are: a bare `--abort`
 * (no reason) becomes `--abort=`, and from the first argument that starts with a single `-`
 * (a negative value, `--meter=m -5` or `--meter m -5`; a label's text) on, everything is a
 * positional argument (parseArgs would read `-5` as short flags).
 */
export function childArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return [...out, ...argv.slice(i)];
    if (/^-[^-]/.test(a) && a !== '-h') return [...out, '--', ...argv.slice(i)];
    const next = argv[i + 1];
    out.push(a === '--abort' && (next === undefined || next.startsWith('--')) ? '--abort=' : a);
  }
  return out;
}

const blocking = (verb: WfChildCommand['verb']): boolean => verb === 'init' || verb === 'complete' || verb === 'abort' || verb === 'wait' || verb === 'queue';

export const childCommand: Command = {
  name: 'child',
  summary: 'a job\'s child command (ecflow_client\'s --init, --complete, --abort, --event, --meter, --label, --wait)',
  usage: 'nubis child --init=$$ [--add N=V…] | --complete [--remove N…] | --abort[=REASON] | --event=N [set|clear] | --meter=N V | --label=N text… | --wait=EXPR | --queue=Q ACTION [STEP]',
  help: [
    '--init=RID [--add N=V …]  the job started (RID: its pid); optionally adds variables',
    '--complete [--remove N …]  the job finished',
    '--abort[=REASON]  the job failed (retried while ECF_TRYNO < ECF_TRIES)',
    '--event=N [set|clear]  sets (default) or clears an event',
    '--meter=N V  sets a meter (V may be negative)',
    '--label=N text…  sets a label\'s text',
    '--wait=EXPR  blocks until a trigger-style expression holds',
    '--queue=Q active | complete STEP | aborted STEP | no_of_aborted | reset [PATH]  a queue\'s steps (active prints the next step, <NULL> past the last; not in agent jobs\' shim)',
    'identity from ECF_NAME, ECF_PASS, ECF_TRYNO, ECF_RID; server from NUBIS_URL; NO_ECF set: do nothing',
  ],
  options: {
    init: { type: 'string' }, add: { type: 'string', multiple: true }, complete: { type: 'boolean' },
    remove: { type: 'string', multiple: true }, abort: { type: 'string' }, event: { type: 'string' },
    meter: { type: 'string' }, label: { type: 'string' }, wait: { type: 'string' }, queue: { type: 'string' },
  },
  maxPositionals: 1000,
  prepareArgs: childArgv,
  async run(ctx, args) {
    const env = ctx.io.env;
    if (env['NO_ECF'] !== undefined) return 0;
    const command = childCommandOf(args);
    const path = env['ECF_NAME'] ?? '';
    if (!path.startsWith('/')) throw usageError('ECF_NAME must be the task\'s absolute path (/suite/family/task)');
    const password = env['ECF_PASS'] ?? '';
    const tryText = env['ECF_TRYNO'] ?? '';
    if (!/^[0-9]{1,9}$/.test(tryText)) throw usageError('ECF_TRYNO must be the try number');
    const workflow = env['NUBIS_WORKFLOW'] ?? path.split('/')[1]!;
    const rid = command.verb === 'init' ? command.rid : env['ECF_RID'];
    const body = { path, password, tryNo: Number(tryText), ...(rid ? { rid } : {}), command };
    const client = ctx.client(env['NUBIS_URL'] ?? ctx.serverUrl());
    const timeoutS = Number(env['ECF_TIMEOUT'] ?? '600');
    const deadline = Date.now() + (blocking(command.verb) && Number.isFinite(timeoutS) ? timeoutS * 1000 : 0);
    let result: WfChildResult;
    for (;;) {
      try {
        result = (await client.request<WfChildResult>('POST', `/v1/workflows/${enc(workflow)}/child`, body)).body;
        break;
      } catch (e) {
        // only an unreachable server (or a dropped long `--wait`) is worth another try
        const retry = e instanceof CliError && (e.code === 'UNREACHABLE' || e.exitCode === EXIT.UNREACHABLE) && Date.now() < deadline;
        if (!retry) {
          if (!blocking(command.verb) && e instanceof CliError && e.code === 'UNREACHABLE') {
            ctx.err(`nubis child: ${e.message} (--${command.verb} ignored)`);
            return 0;
          }
          throw e;
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    if (result.ok) {
      if (result.value !== undefined) ctx.out(result.value);
      return 0;
    }
    ctx.err(`nubis child: --${command.verb} refused${result.zombie ? ' (zombie)' : ''}: ${result.why}`);
    return blocking(command.verb) ? EXIT.FAILURE : 0;
  },
};
