/**
 * How a workflow job's process is set up: its interpreter, its environment and the files the
 * launcher writes (./launcher.ts). A job runs its script's `#!` interpreter on the script in its
 * run directory, with its output to `jobs/out/<workflow>/<path>.<try>`; ECF_RID is the job's own
 * pid (bash sets it from BASH_ENV, other interpreters get a /bin/sh wrapper that sets it and
 * execs them in place). With a job port, bash jobs get the `nubis` shell function
 * (./job-port.ts); every job gets the shim first on its PATH and its FIFO channel.
 */
import { dirname, join } from 'node:path';
import { BASH_FUNCTION, BASH_FUNCTION_ENV } from './job-port.js';
import { shq } from './job-shim.js';
import type { JobRequest } from './protocol.js';
import type { SpawnSpec } from './spawner.js';

/** Set in every job's environment: the job's id (also how its leftover processes are found). */
export const JOB_ID_ENV = 'NUBIS_JOB_ID';

/**
 * The script's `#!` interpreter and its optional argument, as the kernel reads them (none:
 * /bin/sh). A job runs its interpreter on the script rather than exec'ing the script: the
 * script was just written, and a fork on another spawner thread can hold its descriptor open
 * until that child's exec, which would fail an exec of the script itself with ETXTBSY; an
 * interpreter only reads it.
 */
export function interpreterOf(script: string): { file: string; arg?: string } {
  const m = /^#![ \t]*(\S+)(?:[ \t]+([^\n]*?))?[ \t]*\r?(?:\n|$)/.exec(script);
  if (!m) return { file: '/bin/sh' };
  return m[2] ? { file: m[1]!, arg: m[2] } : { file: m[1]! };
}

/** The output file's stem for a task path, inside `jobs/out/<workflow>`. */
export function outStem(sandbox: string, workflow: string, path: string): string {
  return join(sandbox, 'jobs', 'out', workflow, ...path.split('/').filter((p) => p !== ''));
}

export interface JobExec {
  readonly req: JobRequest;
  readonly sandbox: string;
  readonly nodeId: string;
  /** jobs/bin: the shim's directory, first on PATH. */
  readonly binDir: string;
  /** jobs/bin/bash-env. */
  readonly bashEnv: string;
  readonly runDir: string;
  readonly outFile: string;
  /** The job port and the job's key on it; undefined: no port (bash jobs use the shim too). */
  readonly port?: { port: number; key: string };
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

/** What the launcher is asked to start for the job. */
export function jobSpawnSpec(x: JobExec): SpawnSpec {
  const { req } = x;
  const stem = outStem(x.sandbox, req.workflow, req.path);
  const scriptPath = join(x.runDir, 'job');
  const basePath = req.env['PATH'] ?? process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
  const env: Record<string, string> = {
    HOME: process.env['HOME'] ?? dirname(stem),
    ...req.env,
    PATH: `${x.binDir}:${basePath}`,
    NUBIS_NODE_ID: x.nodeId,
    NUBIS_JOB_CHANNEL: join(x.runDir, 'ch'),
    NUBIS_JOB_DIR: x.runDir,
    [JOB_ID_ENV]: req.jobId,
    ECF_TRYNO: req.env['ECF_TRYNO'] ?? String(req.tryNo),
    ECF_NAME: req.env['ECF_NAME'] ?? req.path,
  };
  if (x.port) Object.assign(env, { NUBIS_JOB_PORT: String(x.port.port), NUBIS_JOB_KEY: x.port.key, [BASH_FUNCTION_ENV]: BASH_FUNCTION });
  const interp = interpreterOf(req.script);
  const withArg = interp.arg === undefined ? [] : [interp.arg];
  let file = '/bin/sh';
  let args = ['-c', `ECF_RID=$$; export ECF_RID; exec ${[interp.file, ...withArg].map(shq).join(' ')} "$0"`, scriptPath];
  const bash = (interp.file.startsWith('/') && interp.file.endsWith('/bash')) || (interp.file.endsWith('/env') && interp.arg === 'bash');
  if (bash) {
    file = interp.file;
    args = [...withArg, scriptPath];
    if (env['BASH_ENV'] !== undefined) env['NUBIS_BASH_ENV'] = env['BASH_ENV'];
    env['BASH_ENV'] = x.bashEnv;
  }
  // the script and a fresh output (a try number seen before, after a requeue, starts afresh)
  // are written by the launcher (or a spawner thread), which also forks
  return {
    file, args, cwd: dirname(stem), env, output: x.outFile,
    mkdirs: [dirname(stem)], files: [{ path: scriptPath, text: req.script, mode: 0o755 }],
    onExit: x.onExit,
  };
}
