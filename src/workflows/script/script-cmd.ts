/**
 * ECF_FETCH and ECF_SCRIPT_CMD: a task's script produced by a command run on the control plane
 * at job creation (ecFlow's `locatedEcfFile` order: ECF_SCRIPT, then ECF_FETCH, then
 * ECF_SCRIPT_CMD, then ECF_FILES and ECF_HOME). The command's stdout is the script, which is
 * then preprocessed as any other (its includes come from the uploaded files).
 * - `ECF_FETCH`: run as `<ECF_FETCH> -s <task><ECF_EXTN>` (ecFlow's fetch of a script);
 * - `ECF_SCRIPT_CMD`: run as written.
 * Both have `%VAR%` substituted first, and run through `/bin/sh -c`.
 *
 * These run a user's command on the control plane, so they are refused unless the server was
 * started with `nubis serve --allow-script-commands` (`allowed`); refused, failed (a non-zero
 * exit, a timeout) or empty, the try fails to start with JOB_CREATION_FAILED naming the
 * variable, the command and the tail of its stderr.
 */
import { NubisError } from '../../errors/index.js';
import { preprocess, type ScriptFiles } from './script.js';

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
export function scriptCommandOf(taskPath: string, vars: Readonly<Record<string, string>>, files: ScriptFiles): { variable: string; command: string } | undefined {
  const script = vars['ECF_SCRIPT'];
  if (script !== undefined && script !== '' && files.read(script) !== undefined) return undefined;
  const subst = (v: string, variable: string): string => preprocess(v, vars, { file: variable, files }).replace(/\n$/, '');
  const fetch = vars['ECF_FETCH'];
  if (fetch !== undefined && fetch.trim() !== '') {
    const task = taskPath.slice(taskPath.lastIndexOf('/') + 1);
    return { variable: 'ECF_FETCH', command: `${subst(fetch, 'ECF_FETCH')} -s ${task}${vars['ECF_EXTN'] ?? '.ecf'}` };
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
  taskPath: string, found: { variable: string; command: string }, vars: Readonly<Record<string, string>>, opts: ScriptCommandOptions,
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
