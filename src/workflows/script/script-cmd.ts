/**
 * ECF_FETCH and ECF_SCRIPT_CMD: a task's script produced by a command run on the control plane
 * at job creation (ecFlow's `locatedEcfFile` order: ECF_SCRIPT, then ECF_FETCH, then
 * ECF_SCRIPT_CMD, then ECF_FILES and ECF_HOME). The command's stdout is the script, which is
 * then preprocessed as any other (its includes come from the uploaded files).
 * - `ECF_FETCH`: run as `<ECF_FETCH> -s <task><ECF_EXTN>` (ecFlow's fetch of a script), and each
 *   `%include` of what it prints — nested ones too — fetched the same way, `<ECF_FETCH> -i <name>`
 *   (the name as written, without `<>` or quotes), once per job (`fetchedJobText`). This is the
 *   protocol ecFlow documents for ECF_FETCH; ecflow_server 5.9.2 itself runs the include's
 *   ECF_INCLUDE path as the command (`/inc/head.h -i `, measured here: the job fails), an
 *   untested path in its EcfFile.cpp. Nubis follows the documented form;
 * - `ECF_SCRIPT_CMD`: run as written; its output's includes are found in the uploaded files.
 * Both have `%VAR%` substituted first, and run through `/bin/sh -c`.
 *
 * These run a user's command on the control plane, so they are refused unless the server was
 * started with `nubis serve --allow-script-commands` (`allowed`); refused, failed (a non-zero
 * exit, a timeout) or empty, the try fails to start with JOB_CREATION_FAILED naming the
 * variable, the command and the tail of its stderr.
 */
import { NubisError } from '../../errors/index.js';
import { preprocess, type PreprocessOptions, type ScriptFiles } from './script.js';

/** A task's script command: ECF_FETCH (with `fetch`, the command includes are fetched with) or ECF_SCRIPT_CMD. */
export interface ScriptCommand {
  readonly variable: string;
  readonly command: string;
  /** ECF_FETCH with its variables substituted: `<fetch> -i <name>` fetches an include. */
  readonly fetch?: string;
}

/** Runs a shell command line; the control plane's is node:child_process (../controller/wiring.ts). */
export type CommandRunner = (command: string, opts: { timeoutMs: number }) => Promise<{ code: number | null; signal?: string | null; stdout: string; stderr: string }>;

export interface ScriptCommandOptions {
  /** `--allow-script-commands`. */
  readonly allowed: boolean;
  readonly run: CommandRunner;
  /** Longest a command may run. Default 60 s (NUBIS_SCRIPT_CMD_TIMEOUT in seconds overrides it per task). */
  readonly timeoutMs?: number;
}

/** The command that makes a task's script, when its ECF_SCRIPT file is absent and ECF_FETCH or ECF_SCRIPT_CMD is set. */
export function scriptCommandOf(taskPath: string, vars: Readonly<Record<string, string>>, files: ScriptFiles): ScriptCommand | undefined {
  const script = vars['ECF_SCRIPT'];
  if (script !== undefined && script !== '' && files.read(script) !== undefined) return undefined;
  const subst = (v: string, variable: string): string => preprocess(v, vars, { file: variable, files }).replace(/\n$/, '');
  const fetch = vars['ECF_FETCH'];
  if (fetch !== undefined && fetch.trim() !== '') {
    const task = taskPath.slice(taskPath.lastIndexOf('/') + 1);
    const base = subst(fetch, 'ECF_FETCH');
    return { variable: 'ECF_FETCH', command: `${base} -s ${task}${vars['ECF_EXTN'] ?? '.ecf'}`, fetch: base };
  }
  const cmd = vars['ECF_SCRIPT_CMD'];
  if (cmd !== undefined && cmd.trim() !== '') return { variable: 'ECF_SCRIPT_CMD', command: subst(cmd, 'ECF_SCRIPT_CMD') };
  return undefined;
}

const tail = (s: string): string => {
  const t = s.trim();
  return t.length > 500 ? `…${t.slice(-500)}` : t;
};

/** Runs the command and answers the script text; throws JOB_CREATION_FAILED saying why not. */
export async function runScriptCommand(
  taskPath: string, found: ScriptCommand, vars: Readonly<Record<string, string>>, opts: ScriptCommandOptions,
): Promise<string> {
  const what = `${taskPath}: ${found.variable} '${found.command}'`;
  if (!opts.allowed) {
    throw new NubisError('JOB_CREATION_FAILED', `${what}: script commands are off on this server (they run on the control plane; start it with 'nubis serve --allow-script-commands' to allow them)`);
  }
  const t = vars['NUBIS_SCRIPT_CMD_TIMEOUT'];
  const timeoutMs = t !== undefined && /^\d+$/.test(t.trim()) ? Number(t.trim()) * 1000 : opts.timeoutMs ?? 60_000;
  let r: Awaited<ReturnType<CommandRunner>>;
  try {
    r = await opts.run(found.command, { timeoutMs });
  } catch (e) {
    throw new NubisError('JOB_CREATION_FAILED', `${what} could not run: ${(e as Error).message}`);
  }
  if (r.code !== 0) {
    const how = r.signal ? `was stopped by ${r.signal}${r.signal === 'SIGTERM' ? ` (timeout ${Math.round(timeoutMs / 1000)} s?)` : ''}` : `failed with exit code ${r.code}`;
    throw new NubisError('JOB_CREATION_FAILED', `${what} ${how}${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}`);
  }
  if (r.stdout.trim() === '') throw new NubisError('JOB_CREATION_FAILED', `${what} printed no script`);
  return r.stdout;
}

/** A word for /bin/sh: as it is when plain, else single-quoted. */
const shellWord = (w: string): string => (/^[\w./@%+=:,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** Most fetch rounds (each fetches the includes the previous one found: nesting depth). */
const MAX_FETCH_ROUNDS = 50;

/**
 * The job text of a fetched script (ECF_FETCH): the script from `<fetch> -s`, every include it
 * names — and those name — from `<fetch> -i <name>`, one command per distinct name, then
 * preprocessed as any script. A failing include fetch fails the try as the script's would.
 */
export async function fetchedJobText(
  taskPath: string, found: ScriptCommand, vars: Readonly<Record<string, string>>, opts: ScriptCommandOptions, pp: Omit<PreprocessOptions, 'files' | 'includesByName'>,
): Promise<string> {
  const script = await runScriptCommand(taskPath, found, vars, opts);
  if (found.fetch === undefined) return preprocess(script, vars, { ...pp, files: { read: () => undefined } });
  const fetched = new Map<string, string>();
  for (let round = 0; round < MAX_FETCH_ROUNDS; round++) {
    // a pass that notes the names not fetched yet (read as empty, variables left as written)
    const missing = new Set<string>();
    preprocess(script, vars, {
      ...pp, includesByName: true, undefinedVariables: 'keep',
      files: { read: (name) => fetched.get(name) ?? (missing.add(name), '') },
    });
    if (missing.size === 0) break;
    for (const name of missing) {
      const include: ScriptCommand = { variable: 'ECF_FETCH', command: `${found.fetch} -i ${shellWord(name)}` };
      fetched.set(name, await runScriptCommand(taskPath, include, vars, opts));
    }
  }
  return preprocess(script, vars, { ...pp, includesByName: true, files: { read: (name) => fetched.get(name) } });
}
