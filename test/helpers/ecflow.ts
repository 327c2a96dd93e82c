/**
 * A real ecFlow server (Debian `ecflow-server` + `ecflow-client`, 5.9.x) as a reference peer for
 * the workflows part: started on a free loopback port with ECF_HOME in a temp dir, suites loaded,
 * begun and watched to the end, and what happened read back (final states from `--get_state`,
 * child commands and state changes from the server log). Stopped by its pid, with every job it
 * left behind reaped through its process group.
 *
 * ecflow_server binds 0.0.0.0 and has no bind option, so it runs with an LD_PRELOAD shim, built
 * here with `cc` into the temp dir, that rewrites a wildcard bind() to loopback; `ss` then
 * checks it listens on loopback only (otherwise it is stopped and the start fails).
 *
 * Failure meaning: a missing package when not root throws naming the packages to install
 * (`ensureEcflow`); a suite that does not complete within the (generous) overall timeout, or
 * that ends aborted, throws with the server's state tree; it never skips.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { createHttpAgentClient, startAgent, type RunningAgent } from '../../src/agent/index.js';
import { createRealClock, type Clock } from '../../src/clock/index.js';
import { createWorkflows, emptyNode, JobDispatcher, type CompareOp, type DefPort, type JobNode, type JobPort, type JobStart, type ScriptPort, type Expr, type RuntimeHooks, type WfChildCommand, type WfChildIdentity, type WfChildResult, type WfDefinition, type WfNodeDef, type WfNodeKind, type WfState, type WfSubmission, type WorkflowRuntime } from '../../src/workflows/index.js';
import { ensureDebianPackage } from './peers-debian.js';
import { CLI, freePort, killGroup, ROOT, runProcess, spawnTracked } from './processes.js';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';

export const ECFLOW_SERVER = '/usr/sbin/ecflow_server';
export const ECFLOW_CLIENT = '/usr/bin/ecflow_client';
/** The project's own .def fixtures, scripts and the two head.h/tail.h flavours. */
export const ECFLOW_FIXTURES = path.join(ROOT, 'test/fixtures/ecflow');

/** Installs the two packages when root; throws naming what is missing otherwise. */
export function ensureEcflow(): void {
  const missing: string[] = [];
  for (const [bin, pkg] of [[ECFLOW_SERVER, 'ecflow-server'], [ECFLOW_CLIENT, 'ecflow-client']] as const) {
    try {
      ensureDebianPackage(bin, pkg);
    } catch (e) {
      if (process.getuid?.() === 0) throw e;
      missing.push(pkg);
    }
  }
  if (missing.length > 0) {
    throw new Error(`ecFlow is missing: install the Debian packages ${missing.join(' ')} (apt-get install --no-install-recommends ${missing.join(' ')})`);
  }
}

/** C source of the shim: bind() on INADDR_ANY / in6addr_any goes to 127.0.0.1 / ::1 instead. */
const LOOPBACK_SHIM_C = String.raw`/* Preloaded into a server that can only bind every interface: keep it on loopback. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_t)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *sa, socklen_t n) {
  static bind_t next;
  if (next == NULL) next = (bind_t)dlsym(RTLD_NEXT, "bind");
  if (sa != NULL && sa->sa_family == AF_INET && n >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in v4;
    memcpy(&v4, sa, sizeof v4);
    if (v4.sin_addr.s_addr == htonl(INADDR_ANY)) {
      v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return next(fd, (const struct sockaddr *)&v4, sizeof v4);
    }
  } else if (sa != NULL && sa->sa_family == AF_INET6 && n >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 v6;
    memcpy(&v6, sa, sizeof v6);
    if (IN6_IS_ADDR_UNSPECIFIED(&v6.sin6_addr)) {
      v6.sin6_addr = in6addr_loopback;
      return next(fd, (const struct sockaddr *)&v6, sizeof v6);
    }
  }
  return next(fd, sa, n);
}
`;

/** Compiles the loopback shim into `dir`; returns the .so path. */
export function buildLoopbackShim(dir: string): string {
  const src = path.join(dir, 'loopback-bind.c');
  const so = path.join(dir, 'loopback-bind.so');
  fs.writeFileSync(src, LOOPBACK_SHIM_C);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', so, src, '-ldl'], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`cannot compile the loopback shim with cc (install a C compiler, e.g. Debian "gcc"): ${err.stderr?.toString() ?? String(e)}`);
  }
  return so;
}

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Final values and what happened, in one shape for ecFlow and for Nubis, so runs compare. */
export interface SuiteRun {
  suite: string;
  /** Begin → complete seen, ms. */
  wallMs: number;
  /** Every node's final state, by absolute path (suite, families, tasks). */
  states: Record<string, string>;
  kinds: Record<string, 'suite' | 'family' | 'task'>;
  /** Final values by `path:name`. */
  events: Record<string, boolean>;
  meters: Record<string, number>;
  labels: Record<string, string>;
  /** Values reported by child commands, in order, by `path:name` (events as `set`/`clear`). */
  history: Record<string, string[]>;
  /** Task state changes, in order (submitted, active, complete, aborted, queued). */
  transitions: { path: string; state: string }[];
}

export interface RunSuiteOptions {
  /** Include flavour under test/fixtures/ecflow/include/ (default `ecflow`). */
  include?: string;
  /** ECF_FILES (default test/fixtures/ecflow/files). */
  files?: string;
  /** More suite variables (`--alter add variable`). */
  variables?: Record<string, string>;
  /** Overall limit before the run is declared hung (default 300 s); never decides a passing result. */
  timeoutMs?: number;
  /** Poll interval of `--query state` (default 100 ms). */
  pollMs?: number;
}

export interface EcflowServer {
  readonly port: number;
  readonly pid: number;
  readonly home: string;
  /** Runs ecflow_client against this server (ECF_HOST=127.0.0.1, ECF_PORT). */
  client(args: string[]): Promise<ClientResult>;
  /** Like `client`, throwing with the output when it fails. */
  must(args: string[]): Promise<string>;
  /** Loads `def` (a path), begins its suite, waits until it is complete, returns what happened. */
  runSuite(def: string, opts?: RunSuiteOptions): Promise<SuiteRun>;
  /** The server log so far. */
  log(): string;
  /** `--terminate=yes`, then SIGKILL the pid and its process group (leftover jobs); removes the home. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function runClient(port: number, args: string[], timeoutMs = 120_000): Promise<ClientResult> {
  return new Promise((resolve) => {
    const child = spawnTracked(ECFLOW_CLIENT, args, {
      env: { ...process.env, ECF_HOST: '127.0.0.1', ECF_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // a safety net for a wedged client, far above any normal call (a few ms)
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The addresses listening on `port` (TCP), as `ss` prints them. */
function listeners(port: number): string[] {
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().split(/\s+/)[3]).filter((a): a is string => a !== undefined && a !== '');
}

/** Kills the server's group (itself and every job it forked) and waits until the pid is gone. */
async function reap(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* no group left */
  }
  await exited;
}

/**
 * Starts ecflow_server on a free loopback port (retrying with another port if one was taken
 * meanwhile), checks it listens on loopback only, and `--restart`s it (a fresh server is HALTED).
 */
export async function startEcflow(opts: { startTimeoutMs?: number } = {}): Promise<EcflowServer> {
  ensureEcflow();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-ecflow-'));
  const cleanupDirs = (): void => fs.rmSync(home, { recursive: true, force: true });
  // the jobs inherit LD_PRELOAD, so the shim stays (in ECF_HOME) until the server is stopped
  let shim: string;
  try {
    shim = buildLoopbackShim(home);
  } catch (e) {
    cleanupDirs();
    throw e;
  }
  const startLimit = opts.startTimeoutMs ?? 60_000;
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawnTracked(ECFLOW_SERVER, ['--port', String(port)], {
      cwd: home,
      env: { ...process.env, ECF_HOME: home, LD_PRELOAD: shim },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString()).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
    const t0 = Date.now();
    let up = false;
    while (!gone() && Date.now() - t0 < startLimit) {
      if ((await runClient(port, ['--ping'], 30_000)).code === 0) {
        up = true;
        break;
      }
      await sleep(100);
    }
    if (!up) {
      lastError = `ecflow_server on port ${port} ${gone() ? `exited (${child.signalCode ?? child.exitCode})` : `did not answer --ping within ${startLimit} ms`}: ${out.slice(-2000)}`;
      await reap(child);
      if (gone()) continue; // most likely the port was taken in between: try another
      break;
    }
    const server = makeServer(port, home, child, () => out);
    try {
      const addrs = listeners(port);
      if (addrs.length === 0 || addrs.some((a) => !/^(127\.0\.0\.1|\[::1\]):\d+$/.test(a))) {
        throw new Error(`ecflow_server is not listening on loopback only (ss shows: ${addrs.join(', ') || 'nothing'}); stopped it`);
      }
      await server.must(['--restart']);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }
  cleanupDirs();
  throw new Error(lastError);
}

function makeServer(port: number, home: string, child: ChildProcess, output: () => string): EcflowServer {
  const pid = child.pid!;
  const client = (args: string[]): Promise<ClientResult> => runClient(port, args);
  const must = async (args: string[]): Promise<string> => {
    const r = await client(args);
    if (r.code !== 0) throw new Error(`ecflow_client ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  };
  const logFile = (): string | undefined => fs.readdirSync(home).find((f) => f.endsWith('.ecf.log'));
  const log = (): string => {
    const f = logFile();
    return f ? fs.readFileSync(path.join(home, f), 'utf8') : '';
  };
  let stopped = false;
  return {
    port,
    pid,
    home,
    client,
    must,
    log,
    async runSuite(def, o = {}) {
      const text = fs.readFileSync(def, 'utf8');
      const suite = /^\s*suite\s+(\S+)/m.exec(text)?.[1];
      if (!suite) throw new Error(`no suite in ${def}`);
      if ((await client(['--query', 'state', `/${suite}`])).code === 0) await must(['--delete=force', 'yes', `/${suite}`]);
      await must([`--load=${def}`]);
      const vars: Record<string, string> = {
        ECF_FILES: o.files ?? path.join(ECFLOW_FIXTURES, 'files'),
        ECF_INCLUDE: path.join(ECFLOW_FIXTURES, 'include', o.include ?? 'ecflow'),
        ...o.variables,
      };
      for (const [k, v] of Object.entries(vars)) await must(['--alter', 'add', 'variable', k, v, `/${suite}`]);
      const logStart = log().length;
      const limit = o.timeoutMs ?? 300_000;
      const poll = o.pollMs ?? 100;
      const t0 = performance.now();
      await must([`--begin=${suite}`]);
      let wallMs = 0;
      for (;;) {
        const state = (await must(['--query', 'state', `/${suite}`])).trim();
        const now = performance.now();
        if (state === 'complete') {
          wallMs = now - t0;
          break;
        }
        if (state === 'aborted') {
          // final once nothing below is still submitted or active (ECF_TRIES may resubmit)
          const tree = await must(['--get_state', `/${suite}`]);
          if (!/state:(submitted|active)/.test(tree)) throw new Error(`suite /${suite} ended aborted:\n${stateSummary(tree)}`);
        }
        if (now - t0 > limit) {
          const tree = await must(['--get_state', `/${suite}`]);
          await client(['--suspend', `/${suite}`]);
          await client(['--kill', `/${suite}`]);
          throw new Error(`suite /${suite} not complete after ${Math.round(limit / 1000)} s (state ${state}):\n${stateSummary(tree)}`);
        }
        await sleep(poll);
      }
      const run = parseGetState(await must(['--get_state', `/${suite}`]), suite);
      const fromLog = parseLog(log().slice(logStart), new Set(Object.keys(run.kinds).filter((p) => run.kinds[p] === 'task')));
      return { ...run, ...fromLog, wallMs };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        await runClient(port, ['--terminate=yes'], 30_000);
        const t0 = Date.now();
        while (child.exitCode === null && child.signalCode === null && Date.now() - t0 < 5000) await sleep(50);
      }
      await reap(child);
      void output;
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The node lines of a `--get_state` tree with their states (for failure messages). */
export function stateSummary(tree: string): string {
  return tree
    .split('\n')
    .filter((l) => /^\s*(suite|family|task)\s/.test(l))
    .map((l) => l.replace(/\s+dur:\S+/, ''))
    .join('\n');
}

/** Reads `--get_state` output: node states and final event/meter/label values. */
export function parseGetState(tree: string, suite: string): Omit<SuiteRun, 'wallMs' | 'history' | 'transitions'> {
  const states: Record<string, string> = {};
  const kinds: SuiteRun['kinds'] = {};
  const events: Record<string, boolean> = {};
  const meters: Record<string, number> = {};
  const labels: Record<string, string> = {};
  const stack: { kind: 'suite' | 'family' | 'task'; path: string }[] = [];
  const top = (): string => stack[stack.length - 1]?.path ?? '';
  for (const raw of tree.split('\n')) {
    const line = raw.trim();
    const [word, name] = line.split(/\s+/);
    const comment = line.includes('#') ? line.slice(line.indexOf('#') + 1).trim() : '';
    if (word === 'suite' || word === 'family' || word === 'task') {
      if (stack[stack.length - 1]?.kind === 'task') stack.pop();
      const p = word === 'suite' ? `/${name}` : `${top()}/${name}`;
      stack.push({ kind: word, path: p });
      kinds[p] = word;
      states[p] = /state:(\w+)/.exec(comment)?.[1] ?? 'unknown';
    } else if (word === 'endfamily' || word === 'endsuite') {
      if (stack[stack.length - 1]?.kind === 'task') stack.pop();
      stack.pop();
    } else if (word === 'event' && stack.length > 0) {
      // `event [number] name [set] # set|clear`
      const parts = line.split('#')[0]!.trim().split(/\s+/).slice(1);
      const evName = /^\d+$/.test(parts[0] ?? '') && parts.length > 1 ? parts[1]! : parts[0]!;
      const initial = parts[parts.length - 1] === 'set' && parts.length > 1;
      events[`${top()}:${evName}`] = comment === '' ? initial : comment === 'set';
    } else if (word === 'meter' && stack.length > 0) {
      // `meter name min max [threshold] # value`
      const parts = line.split('#')[0]!.trim().split(/\s+/);
      meters[`${top()}:${parts[1]}`] = comment === '' ? Number(parts[2]) : Number(comment);
    } else if (word === 'label' && stack.length > 0) {
      // `label name "initial" # "value"`
      const m = /^label\s+(\S+)\s+"((?:[^"\\]|\\.)*)"(?:\s*#\s*"((?:[^"\\]|\\.)*)")?/.exec(line);
      if (m) labels[`${top()}:${m[1]}`] = m[3] ?? m[2]!;
    }
  }
  if (!states[`/${suite}`]) throw new Error(`--get_state shows no suite /${suite}:\n${tree.slice(0, 2000)}`);
  return { suite, states, kinds, events, meters, labels };
}

/** Reads the server log: child-command values in order, and task state changes. */
export function parseLog(text: string, tasks: ReadonlySet<string>): Pick<SuiteRun, 'history' | 'transitions'> {
  const history: Record<string, string[]> = {};
  const transitions: SuiteRun['transitions'] = [];
  const add = (key: string, v: string): void => {
    (history[key] ??= []).push(v);
  };
  for (const line of text.split('\n')) {
    const log = /^LOG:\[[^\]]*\]\s+(\w+):\s+(\/\S*)/.exec(line);
    if (log) {
      if (tasks.has(log[2]!)) transitions.push({ path: log[2]!, state: log[1]! });
      continue;
    }
    const chd = /^MSG:\[[^\]]*\]\s+chd:(event|meter|label)\s+(\S+)\s+(.*)\s+(\/\S+)$/.exec(line);
    if (!chd) continue;
    const [, verb, name, value, p] = chd as unknown as [string, string, string, string, string];
    if (verb === 'event') add(`${p}:${name}`, value.trim() === '1' ? 'set' : 'clear');
    else if (verb === 'meter') add(`${p}:${name}`, value.trim());
    else add(`${p}:${name}`, value.trim().replace(/^'(.*)'$/s, '$1'));
  }
  return { history, transitions };
}

// ---------------------------------------------------------------------------------------------
// Comparing runs (the same checks for ecFlow's and Nubis's)

/** How many times each task was submitted. */
export function runCounts(run: SuiteRun): Record<string, number> {
  const n: Record<string, number> = {};
  for (const t of run.transitions) if (t.state === 'submitted') n[t.path] = (n[t.path] ?? 0) + 1;
  return n;
}

/** The most tasks (among those `which` accepts) submitted or active at once. */
export function maxConcurrent(run: SuiteRun, which: (path: string) => boolean): number {
  const live = new Set<string>();
  let max = 0;
  for (const t of run.transitions) {
    if (!which(t.path)) continue;
    if (t.state === 'submitted' || t.state === 'active') live.add(t.path);
    else live.delete(t.path);
    max = Math.max(max, live.size);
  }
  return max;
}

/**
 * Asserts each `[a, b, reached]`: task `a` had reached `reached` (default `complete`) before `b`
 * was first submitted. Throws naming the pair and both tasks' transitions.
 */
export function checkOrder(run: SuiteRun, pairs: readonly (readonly [string, string, ('active' | 'complete')?])[]): void {
  for (const [a, b, reached = 'complete'] of pairs) {
    const ia = run.transitions.findIndex((t) => t.path === a && t.state === reached);
    const ib = run.transitions.findIndex((t) => t.path === b && t.state === 'submitted');
    if (ia < 0 || ib < 0 || ia > ib) {
      const seen = run.transitions.map((t, i) => `${i} ${t.state} ${t.path}`).filter((l) => l.endsWith(` ${a}`) || l.endsWith(` ${b}`));
      throw new Error(`${a} should be ${reached} before ${b} is submitted:\n${seen.join('\n')}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The same fixtures in Nubis: the scheduler runtime (createRuntime) driven by real processes.
// Each submission is preprocessed (%include, %VAR%), written to a job file and run with bash;
// the Nubis-flavour head.h/tail.h call `nubis child …`, which resolves (through PATH) to a small
// bash stand-in that sends the command over loopback TCP to this process, which relays it to
// `runtime.child(...)`. A job whose process exits without reporting is `runtime.lost(...)`.

/** The workflows unit's entry points this runner needs (resolved at run time, see `loadWorkflows`). */
interface WorkflowsApi {
  parseDef(text: string, file: string): WfDefinition;
  createRuntime(def: WfDefinition, opts: { clock: Clock; hooks: RuntimeHooks; serverVariables?: Record<string, string>; parseExpression?: (text: string) => Expr }): WorkflowRuntime;
  /** For `--wait` expressions; `readExpression` below when absent. */
  parseExpression?(text: string): { expr: Expr };
  /** The script unit's lookup and preprocessing; the helper's own small versions when absent. */
  locateScript?(taskPath: string, vars: Readonly<Record<string, string>>, files: { read(p: string): string | undefined }): { path: string; text: string };
  preprocess?(text: string, vars: Readonly<Record<string, string>>, opts: { file: string; files: { read(p: string): string | undefined }; taskPath?: string }): string;
}

/** The script unit's file access, over the local disk. */
const diskFiles = { read: (p: string): string | undefined => (fs.existsSync(p) && fs.statSync(p).isFile() ? fs.readFileSync(p, 'utf8') : undefined) };

/** A task's job text: the script unit's when built in, else the helper's. */
function jobText(wf: WorkflowsApi, taskPath: string, vars: Readonly<Record<string, string>>): string {
  if (wf.locateScript && wf.preprocess) {
    const s = wf.locateScript(taskPath, vars, diskFiles);
    return wf.preprocess(s.text, vars, { file: s.path, files: diskFiles, taskPath });
  }
  return preprocessScript(locateTaskScript(taskPath, vars), vars);
}

/**
 * The scheduler, and the project's .def parser when it is built in (else `readDefSubset` below,
 * with `parser` saying so); a reason when there is no scheduler (yet).
 */
export async function loadWorkflows(): Promise<(WorkflowsApi & { parser: string }) | string> {
  const m = (await import('../../src/workflows/index.js')) as unknown as Partial<WorkflowsApi>;
  if (typeof m.createRuntime !== 'function') return 'src/workflows has no createRuntime (the scheduler unit is not merged)';
  const script = m.locateScript && m.preprocess ? { locateScript: m.locateScript, preprocess: m.preprocess } : {};
  if (typeof m.parseDef === 'function') return { parseDef: m.parseDef, createRuntime: m.createRuntime, ...(m.parseExpression ? { parseExpression: m.parseExpression } : {}), ...script, parser: 'parseDef' };
  const pe = m.parseExpression;
  if (pe) {
    // the project's expression parser inside the helper's reader
    return { parseDef: (text, file) => readDefSubset(text, file, (t) => pe(t).expr), createRuntime: m.createRuntime, parseExpression: pe, ...script, parser: "the test helper's .def subset reader with src/workflows' parseExpression (no parseDef yet)" };
  }
  return { parseDef: readDefSubset, createRuntime: m.createRuntime, ...script, parser: "the test helper's .def subset reader (src/workflows has no parseDef yet)" };
}

/**
 * Stand-in for `nubis child`, in C (a process start of a few ms, as ecflow_client's): it sends
 * the argument count, the identity (ECF_NAME, ECF_PASS, ECF_TRYNO, ECF_RID) and the arguments,
 * one per line, to 127.0.0.1:$NUBIS_TEST_CHILD_PORT and exits by the one-line answer.
 */
const CHILD_STANDIN_C = String.raw`/* test stand-in for "nubis child": relays one child command to the test's runner */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int put(FILE *f, const char *s) { return fputs(s ? s : "", f) < 0 || fputc('\n', f) < 0; }

int main(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[1], "child") != 0) {
    fprintf(stderr, "this test stand-in only runs 'nubis child --verb ...'\n");
    return 2;
  }
  const char *port = getenv("NUBIS_TEST_CHILD_PORT");
  if (!port) { fprintf(stderr, "nubis child: NUBIS_TEST_CHILD_PORT is not set\n"); return 2; }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("nubis child: connect"); return 1; }
  FILE *out = fdopen(dup(fd), "w");
  FILE *in = fdopen(fd, "r");
  char count[16];
  snprintf(count, sizeof count, "%d", argc - 2);
  int bad = put(out, count) | put(out, getenv("ECF_NAME")) | put(out, getenv("ECF_PASS")) | put(out, getenv("ECF_TRYNO")) | put(out, getenv("ECF_RID"));
  for (int i = 2; i < argc; i++) bad |= put(out, argv[i]);
  if (bad || fclose(out) != 0) { perror("nubis child: send"); return 1; }
  char reply[4096];
  if (!fgets(reply, sizeof reply, in)) { fprintf(stderr, "nubis child: no answer\n"); return 1; }
  reply[strcspn(reply, "\n")] = 0;
  if (strcmp(reply, "ok") == 0) return 0;
  fprintf(stderr, "nubis child: %s\n", reply);
  /* as ecflow_client (and nubis child): a refused event, meter or label is reported and ignored */
  if (!strncmp(argv[2], "--event", 7) || !strncmp(argv[2], "--meter", 7) || !strncmp(argv[2], "--label", 7)) return 0;
  return 1;
}
`;

let standinBin: string | undefined;
/** Compiles the stand-in once per process into a temp dir; returns the dir to put first on PATH. */
function childStandin(): string {
  if (standinBin && fs.existsSync(path.join(standinBin, 'nubis'))) return standinBin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-child-standin-'));
  fs.writeFileSync(path.join(dir, 'nubis-child.c'), CHILD_STANDIN_C);
  try {
    execFileSync('cc', ['-O2', '-o', path.join(dir, 'nubis'), path.join(dir, 'nubis-child.c')], { stdio: 'pipe' });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot compile the nubis child stand-in with cc: ${(e as { stderr?: Buffer }).stderr?.toString() ?? String(e)}`);
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  standinBin = dir;
  return dir;
}

/** ecflow_client-style arguments to a child command; throws on what it does not know. */
export function parseChildArgs(args: readonly string[]): WfChildCommand {
  const [first = '', ...rest] = args;
  const eq = first.indexOf('=');
  const flag = eq < 0 ? first : first.slice(0, eq);
  const val = eq < 0 ? '' : first.slice(eq + 1);
  switch (flag) {
    case '--init':
      return { verb: 'init', rid: val };
    case '--complete':
      return { verb: 'complete' };
    case '--abort':
      return { verb: 'abort', reason: val };
    case '--event':
      return { verb: 'event', name: val, value: rest[0] !== 'clear' };
    case '--meter':
      return { verb: 'meter', name: val, value: Number(rest[0]) };
    case '--label':
      return { verb: 'label', name: val, value: rest.join(' ') };
    case '--wait':
      return { verb: 'wait', expression: val };
    default:
      throw new Error(`unknown child command ${first}`);
  }
}

/** Finds a task's script by its name, as ecFlow does: ECF_FILES then ECF_HOME, longest path first. */
function locateTaskScript(taskPath: string, vars: Readonly<Record<string, string>>): string {
  const parts = taskPath.split('/').filter(Boolean);
  const tried: string[] = [];
  for (const dir of [vars.ECF_FILES, vars.ECF_HOME]) {
    if (!dir) continue;
    for (let i = 0; i < parts.length; i++) {
      const f = path.join(dir, ...parts.slice(i)) + '.ecf';
      tried.push(f);
      if (fs.existsSync(f)) return f;
    }
  }
  throw new Error(`no script for ${taskPath} (tried ${tried.join(', ')})`);
}

/** `%include <f>` (ECF_INCLUDE, then ECF_HOME), `%VAR%`, `%VAR:default%`, `%%`. */
function preprocessScript(file: string, vars: Readonly<Record<string, string>>, depth = 0): string {
  if (depth > 20) throw new Error(`%include nested too deep at ${file}`);
  const out: string[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const inc = /^%include\s+(?:<([^>]+)>|"([^"]+)")\s*$/.exec(line);
    if (inc) {
      const name = inc[1] ?? inc[2]!;
      const dirs = inc[1] !== undefined ? [...(vars.ECF_INCLUDE ?? '').split(':'), vars.ECF_HOME ?? ''] : [path.dirname(file)];
      const found = dirs.filter(Boolean).map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
      if (!found) throw new Error(`${file}: %include ${name} not found in ${dirs.join(':')}`);
      out.push(preprocessScript(found, vars, depth + 1).replace(/\n$/, ''));
      continue;
    }
    out.push(
      line.replace(/%([A-Za-z0-9_]*)(?::([^%]*))?%/g, (_m, name: string, def: string | undefined) => {
        if (name === '' && def === undefined) return '%';
        const v = vars[name] ?? def;
        if (v === undefined) throw new Error(`${file}: variable ${name} is not defined`);
        return v;
      }),
    );
  }
  return out.join('\n');
}

export interface NubisRunOptions {
  /** Include flavour (default `nubis`). */
  include?: string;
  files?: string;
  variables?: Record<string, string>;
  timeoutMs?: number;
  /** Called with every submission as it is made (benchmarks time dispatch). */
  onSubmit?(sub: WfSubmission, atMs: number): void;
  /** Called with every child command as it arrives, before the runtime sees it. */
  onChild?(path: string, verb: WfChildCommand['verb'], atMs: number): void;
  /**
   * How jobs run: `agent` (default): Nubis's own job path, a real local agent (in process, over
   * HTTP) runs each job and its `nubis` shim carries the child commands, relayed by the jobs
   * unit's JobDispatcher; `standin`: bash spawned here, `nubis child` the C stand-in above.
   */
  jobs?: 'agent' | 'standin';
}

/** Loads `def` into the Nubis scheduler, begins it and runs its jobs as real processes until the suite is complete. */
export async function runNubisSuite(wf: WorkflowsApi, def: string, o: NubisRunOptions = {}): Promise<SuiteRun> {
  const viaAgent = (o.jobs ?? 'agent') === 'agent';
  const bin = viaAgent ? '' : childStandin();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-wf-run-'));
  const children = new Map<string, ChildProcess>();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let runtime: WorkflowRuntime | undefined;
  let agent: RunningAgent | undefined;
  let dispatcher: JobDispatcher | undefined;
  try {
    const definition = wf.parseDef(fs.readFileSync(def, 'utf8'), def);
    const kinds: SuiteRun['kinds'] = {};
    const walk = (n: WfNodeDef, parent: string): void => {
      const p = `${parent}/${n.name}`;
      kinds[p] = n.kind;
      for (const c of n.children) walk(c, p);
    };
    for (const s of definition.suites) walk(s, '');
    const suite = definition.suites[0]!.name;
    const history: Record<string, string[]> = {};
    const transitions: SuiteRun['transitions'] = [];
    const last = new Map<string, string>();
    /**
     * Task state changes in order. The runtime reports each step's final states, so a task that
     * completes and is requeued at once (under a repeat) shows only `queued`: the state a child
     * command implies is noted first, as soon as the runtime shows it accepted the command (its
     * first hook call) or when the command returns ok.
     */
    let pending: { path: string; state: string } | undefined;
    const note = (p: string, state: string): void => {
      if (kinds[p] !== 'task' || last.get(p) === state) return;
      last.set(p, state);
      transitions.push({ path: p, state });
    };
    const flush = (): void => {
      if (pending) note(pending.path, pending.state);
      pending = undefined;
    };
    const serverVariables: Record<string, string> = {
      ECF_HOME: work,
      ECF_FILES: o.files ?? path.join(ECFLOW_FIXTURES, 'files'),
      ECF_INCLUDE: path.join(ECFLOW_FIXTURES, 'include', o.include ?? 'nubis'),
      ...o.variables,
    };
    let settle!: (e?: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (e) => (e ? reject(e) : resolve());
    });
    const t0 = performance.now();
    let wallMs = 0;

    /** Every child command goes through here (both job paths), recorded, then to the runtime. */
    const relay = (id: WfChildIdentity, cmd: WfChildCommand): WfChildResult | Promise<WfChildResult> => {
      o.onChild?.(id.path, cmd.verb, performance.now());
      const record = (r: WfChildResult): WfChildResult => {
        if (r.ok && (cmd.verb === 'event' || cmd.verb === 'meter' || cmd.verb === 'label')) (history[`${id.path}:${cmd.name}`] ??= []).push(cmd.verb === 'event' ? (cmd.value ? 'set' : 'clear') : String(cmd.value));
        return r;
      };
      // the state this command implies, noted before anything it causes (see `note`)
      const implied = ({ init: 'active', complete: 'complete', abort: 'aborted' } as Record<string, string>)[cmd.verb];
      pending = implied ? { path: id.path, state: implied } : undefined;
      const res = runtime!.child(id, cmd);
      if (res instanceof Promise) {
        pending = undefined;
        return res.then(record);
      }
      if (res.ok) flush();
      pending = undefined;
      return record(res);
    };

    // child commands from jobs, over loopback TCP (the stand-in path)
    server = net.createServer((sock) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        const n = Number(lines[0]);
        if (lines.length < n + 6) return;
        const [, name = '', password = '', tryNo = '0', rid = '', ...args] = lines.slice(0, n + 5);
        buf = '';
        void (async () => {
          let reply = 'ok';
          try {
            const res = relay({ workflow: definition.name, path: name, password, tryNo: Number(tryNo), ...(rid ? { rid } : {}) }, parseChildArgs(args));
            const r = res instanceof Promise ? await res : res;
            if (!r.ok) reply = `refused: ${r.why}`;
          } catch (e) {
            reply = `error: ${(e as Error).message}`;
          }
          sock.end(`${reply.replace(/\n/g, ' ')}\n`);
        })();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const childPort = (server.address() as net.AddressInfo).port;

    const hooks: RuntimeHooks = {
      submit(sub) {
        flush();
        note(sub.path, 'submitted');
        o.onSubmit?.(sub, performance.now());
        const vars: Record<string, string> = { ECF_NAME: sub.path, ECF_PASS: sub.password, ECF_TRYNO: String(sub.tryNo), ...serverVariables, ...sub.variables };
        const job = path.join(work, `${sub.path.replace(/\//g, '_')}.job${sub.tryNo}`);
        let text: string;
        try {
          text = jobText(wf, sub.path, vars);
        } catch (e) {
          queueMicrotask(() => runtime!.failedToStart(sub.path, sub.tryNo, (e as Error).message));
          return;
        }
        if (dispatcher && node) {
          void dispatcher.start(sub, node, text);
          return;
        }
        fs.writeFileSync(job, text, { mode: 0o755 });
        const out = fs.openSync(job.replace(/\.job(\d+)$/, '.$1'), 'w');
        const child = spawnTracked('/bin/bash', [job], {
          cwd: work,
          env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NUBIS_TEST_CHILD_PORT: String(childPort) },
          stdio: ['ignore', out, out],
        });
        fs.closeSync(out);
        const key = `${sub.path}#${sub.tryNo}`;
        children.set(key, child);
        child.once('exit', (code, signal) => {
          children.delete(key);
          const n = runtime?.node(sub.path);
          if (n && n.tryNo === sub.tryNo && (n.state === 'submitted' || n.state === 'active')) runtime!.lost(sub.path, sub.tryNo, `job exited (${signal ?? code}) without reporting complete`);
        });
      },
      kill(w, p, tryNo) {
        if (dispatcher) void dispatcher.kill(w, p, tryNo);
        const c = children.get(`${p}#${tryNo}`);
        if (c) killGroup(c);
      },
      changed(_w, nodes) {
        for (const n of nodes) {
          flush();
          note(n.path, n.state);
          if (n.path === `/${suite}` && n.state === 'complete' && wallMs === 0) {
            wallMs = performance.now() - t0;
            settle();
          }
        }
      },
      zombie(_w, id, cmd, why) {
        pending = undefined;
        transitions.push({ path: id.path, state: `zombie ${cmd.verb}: ${why}` });
      },
    };
    let node: JobNode | undefined;
    if (viaAgent) {
      const nodeId = `peer-${path.basename(work)}`;
      const token = randomBytes(12).toString('hex');
      fs.mkdirSync(path.join(work, 'agent'));
      agent = await startAgent({ sandbox: path.join(work, 'agent'), nodeId, token, killGraceMs: 300, stopGraceMs: 300, restore: false });
      node = { nodeId, agent: createHttpAgentClient(agent.url, token) };
      // the dispatcher sees the runtime through `relay`, so every child command is recorded
      const rt = (): WorkflowRuntime => runtime!;
      const seen: WorkflowRuntime = {
        get definition() {
          return rt().definition;
        },
        user: (c) => rt().user(c),
        child: (id, cmd) => relay(id, cmd),
        lost: (p, t, d) => rt().lost(p, t, d),
        failedToStart: (p, t, d) => rt().failedToStart(p, t, d),
        node: (p) => rt().node(p),
        nodes: () => rt().nodes(),
        why: (p) => rt().why(p),
        restore: (n) => rt().restore(n),
        close: () => rt().close(),
      };
      dispatcher = new JobDispatcher({ runtime: () => seen, retryMs: 50 });
    }
    runtime = wf.createRuntime(definition, { clock: createRealClock(), hooks, serverVariables, parseExpression: (t) => (wf.parseExpression ? wf.parseExpression(t).expr : readExpression(t)) });
    const limit = o.timeoutMs ?? 300_000;
    const timer = setTimeout(() => settle(new Error(`suite /${suite} not complete in Nubis after ${Math.round(limit / 1000)} s:\n${nubisTree(runtime!)}`)), limit);
    // Ended without completing: nothing submitted or active and no job process left, seen twice
    // in a row. With no time attributes nothing else can free a node, so this is final (a state
    // check, not a deadline).
    const timed = (n: WfNodeDef): boolean => n.times.length + n.todays.length + n.dates.length + n.days.length + n.crons.length > 0 || n.children.some(timed);
    const canWake = definition.suites.some(timed);
    let idleSeen = 0;
    const abortWatch = setInterval(() => {
      const all = [...runtime!.nodes()];
      const top = runtime!.node(`/${suite}`)?.state;
      const idle = top !== 'complete' && children.size === 0 && (dispatcher?.running().length ?? 0) === 0 && !all.some((n) => n.state === 'submitted' || n.state === 'active');
      idleSeen = idle ? idleSeen + 1 : 0;
      if (idleSeen >= 2 && (top === 'aborted' || !canWake)) settle(new Error(`suite /${suite} ended ${top} in Nubis with nothing left to run:\n${nubisTree(runtime!)}`));
    }, 200);
    try {
      const r = runtime.user({ verb: 'begin', path: `/${suite}` });
      if (!r.ok) throw new Error(`begin refused: ${r.why}`);
      await done;
    } finally {
      clearTimeout(timer);
      clearInterval(abortWatch);
    }
    const states: Record<string, string> = {};
    const events: Record<string, boolean> = {};
    const meters: Record<string, number> = {};
    const labels: Record<string, string> = {};
    for (const n of runtime.nodes()) {
      states[n.path] = n.state;
      for (const [k, v] of Object.entries(n.events)) events[`${n.path}:${k}`] = v;
      for (const [k, v] of Object.entries(n.meters)) meters[`${n.path}:${k}`] = v;
      for (const [k, v] of Object.entries(n.labels)) labels[`${n.path}:${k}`] = v;
    }
    return { suite, wallMs, states, kinds, events, meters, labels, history, transitions };
  } finally {
    runtime?.close();
    await dispatcher?.close();
    await agent?.close({ killProcesses: true });
    for (const c of children.values()) killGroup(c);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The runtime's nodes with their states (for failure messages). */
function nubisTree(rt: WorkflowRuntime): string {
  return [...rt.nodes()].map((n) => `${n.path} ${n.state}${n.reason ? ` (${n.reason})` : ''}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Until src/workflows has its own .def parser (parseDef), a small reader for the subset the
// fixtures and the benchmark use, so the scheduler can be compared with ecFlow meanwhile.
// `loadWorkflows` prefers the project's parser whenever it exists.

const STATE_WORDS = new Set(['unknown', 'queued', 'submitted', 'active', 'complete', 'aborted']);
const COMPARE: Record<string, CompareOp> = { '==': '==', eq: '==', '!=': '!=', ne: '!=', '<': '<', lt: '<', '<=': '<=', le: '<=', '>': '>', gt: '>', '>=': '>=', ge: '>=' };

/** Parses a trigger/complete expression of the subset: and/or/not, comparisons, states, set/clear, numbers, `path[:attr]`. */
export function readExpression(text: string): Expr {
  const toks = text.match(/\(|\)|==|!=|<=|>=|<|>|!|[A-Za-z0-9_./]+(?::[A-Za-z0-9_]+)?|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => toks[i];
  const fail = (what: string): never => {
    throw new Error(`cannot read expression "${text}": ${what} at token ${i + 1}`);
  };
  const or = (): Expr => {
    let left = and();
    while (peek() === 'or' || peek() === 'OR' || peek() === '||') {
      i++;
      left = { kind: 'logic', op: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Expr => {
    let left = unary();
    while (peek() === 'and' || peek() === 'AND' || peek() === '&&') {
      i++;
      left = { kind: 'logic', op: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Expr => {
    if (peek() === 'not' || peek() === '!') {
      i++;
      return { kind: 'not', arg: unary() };
    }
    const left = operand();
    const op = COMPARE[peek() ?? ''];
    if (!op) return left;
    i++;
    return { kind: 'compare', op, left, right: operand() };
  };
  const operand = (): Expr => {
    const t = toks[i++] ?? fail('missing operand');
    if (t === '(') {
      const e = or();
      if (toks[i++] !== ')') fail('missing )');
      return e;
    }
    if (/^\d+$/.test(t)) return { kind: 'number', value: Number(t) };
    if (STATE_WORDS.has(t)) return { kind: 'state', value: t as WfState };
    if (t === 'set' || t === 'clear') return { kind: 'eventValue', value: t };
    if (!/^[A-Za-z0-9_./]/.test(t)) fail(`unexpected "${t}"`);
    const colon = t.indexOf(':');
    return colon < 0 ? { kind: 'ref', path: t } : { kind: 'ref', path: t.slice(0, colon), attr: t.slice(colon + 1) };
  };
  const e = or();
  if (i < toks.length) fail('trailing input');
  return e;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

/** Reads the .def subset (suite/family/task, edit, limit, inlimit, trigger, complete, defstatus, event, meter, label, repeat integer). */
export function readDefSubset(text: string, file: string, expression: (text: string) => Expr = readExpression): WfDefinition {
  const suites: WfNodeDef[] = [];
  const stack: Mutable<WfNodeDef>[] = [];
  const unquote = (v: string): string => v.replace(/^'(.*)'$|^"(.*)"$/s, (_m, a?: string, b?: string) => a ?? b ?? '');
  text.split('\n').forEach((raw, n) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    const at = `${file}:${n + 1}`;
    const words = line.split(/\s+/);
    const w = words[0]!;
    const rest = line.slice(w.length).trim();
    const top = stack[stack.length - 1];
    const open = (kind: WfNodeKind): void => {
      if (kind !== 'suite' && stack[stack.length - 1]?.kind === 'task') stack.pop();
      const node = { ...emptyNode(kind, words[1]!), children: [] } as unknown as Mutable<WfNodeDef>;
      for (const k of ['variables', 'events', 'meters', 'labels', 'limits', 'inlimits', 'times', 'todays', 'dates', 'days', 'crons'] as const) (node[k] as unknown[]) = [];
      if (kind === 'suite') suites.push(node);
      else (stack[stack.length - 1]!.children as WfNodeDef[]).push(node);
      stack.push(node);
    };
    if (w === 'suite' || w === 'family' || w === 'task') return open(w);
    if (w === 'endfamily' || w === 'endsuite') {
      if (stack[stack.length - 1]?.kind === 'task') stack.pop();
      stack.pop();
      return;
    }
    if (w === 'endtask') return void stack.pop();
    if (!top) throw new Error(`${at}: ${w} outside a suite`);
    switch (w) {
      case 'edit':
        top.variables.push({ name: words[1]!, value: unquote(rest.slice(words[1]!.length).trim()) });
        return;
      case 'limit':
        top.limits.push({ name: words[1]!, tokens: Number(words[2]) });
        return;
      case 'inlimit': {
        const flags = words.slice(1).filter((x) => x.startsWith('-'));
        const [ref = '', tokens] = words.slice(1).filter((x) => !x.startsWith('-'));
        const colon = ref.lastIndexOf(':');
        top.inlimits.push({ ...(colon >= 0 ? { path: ref.slice(0, colon) } : {}), name: colon >= 0 ? ref.slice(colon + 1) : ref, tokens: tokens ? Number(tokens) : 1, nodeOnly: flags.includes('-n'), submissionOnly: flags.includes('-s') });
        return;
      }
      case 'trigger':
      case 'complete':
        top[w] = { text: rest, expr: expression(rest) };
        return;
      case 'defstatus':
        top.defstatus = words[1] as WfState;
        return;
      case 'event': {
        const numbered = /^\d+$/.test(words[1] ?? '') && words.length > 2;
        const name = numbered ? words[2]! : words[1]!;
        top.events.push({ name, ...(numbered ? { number: Number(words[1]) } : {}), initial: words[numbered ? 3 : 2] === 'set' });
        return;
      }
      case 'meter':
        top.meters.push({ name: words[1]!, min: Number(words[2]), max: Number(words[3]), ...(words[4] ? { threshold: Number(words[4]) } : {}) });
        return;
      case 'label':
        top.labels.push({ name: words[1]!, value: unquote(rest.slice(words[1]!.length).trim()) });
        return;
      case 'repeat':
        if (words[1] !== 'integer') throw new Error(`${at}: this reader knows only repeat integer`);
        top.repeat = { kind: 'integer', name: words[2]!, start: Number(words[3]), end: Number(words[4]), step: words[5] ? Number(words[5]) : 1 };
        return;
      default:
        throw new Error(`${at}: this reader does not know "${w}"`);
    }
  });
  if (suites.length === 0) throw new Error(`${file}: no suite`);
  return { name: suites[0]!.name, suites, externs: [], pools: [], variables: [] };
}

// ---------------------------------------------------------------------------------------------
// Nubis through its public surface: a control plane with the workflows controller and the API
// server (in this process), driven by the real CLI: `nubis workflow import <def>` (which uploads
// the scripts and includes the def names), `begin`, `status -w` until every task is complete,
// then the status tree from `GET /v1/workflows/{name}`. Jobs run as real bash processes behind
// the controller's job port, reporting with the C `nubis child` stand-in; the one pool the
// controller dispatches to is a single node of 8 slots (the fixtures never need more).

/** A loopback TCP server for the stand-in's child commands. */
async function startChildServer(handle: (id: Omit<WfChildIdentity, 'workflow'>, cmd: WfChildCommand) => Promise<WfChildResult> | WfChildResult): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      const n = Number(lines[0]);
      if (lines.length < n + 6) return;
      const [, name = '', password = '', tryNo = '0', rid = '', ...args] = lines.slice(0, n + 5);
      buf = '';
      void (async () => {
        let reply = 'ok';
        try {
          const r = await handle({ path: name, password, tryNo: Number(tryNo), ...(rid ? { rid } : {}) }, parseChildArgs(args));
          if (!r.ok) reply = `refused: ${r.why}`;
        } catch (e) {
          reply = `error: ${(e as Error).message}`;
        }
        sock.end(`${reply.replace(/\n/g, ' ')}\n`);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The workflows controller's job port, running each job as a real bash process. */
class ProcessJobs implements JobPort {
  readonly history: Record<string, string[]> = {};
  readonly transitions: SuiteRun['transitions'] = [];
  private readonly live = new Map<string, { job: JobStart; child?: ChildProcess; reported: boolean }>();
  constructor(private readonly work: string, private readonly bin: string, private port = 0) {}

  setPort(port: number): void {
    this.port = port;
  }

  /** A child command from a job's stand-in, relayed to the controller for that job. */
  async relay(id: Omit<WfChildIdentity, 'workflow'>, cmd: WfChildCommand): Promise<WfChildResult> {
    const l = this.live.get(`${id.path}#${id.tryNo}`);
    if (!l) return { ok: false, zombie: true, why: 'no such job here' };
    // noted before the call: the controller may dispatch what it frees before answering; taken back if refused
    const implied = ({ init: 'active', complete: 'complete', abort: 'aborted' } as Record<string, string>)[cmd.verb];
    const mark = implied ? { path: id.path, state: implied } : undefined;
    if (mark) this.transitions.push(mark);
    const r = await l.job.child({ workflow: l.job.sub.workflow, ...id }, cmd);
    if (!r.ok && mark) this.transitions.splice(this.transitions.indexOf(mark), 1);
    if (r.ok) {
      if (cmd.verb === 'complete' || cmd.verb === 'abort') l.reported = true;
      if (cmd.verb === 'event' || cmd.verb === 'meter' || cmd.verb === 'label') (this.history[`${id.path}:${cmd.name}`] ??= []).push(cmd.verb === 'event' ? (cmd.value ? 'set' : 'clear') : String(cmd.value));
    }
    return r;
  }

  async start(job: JobStart): Promise<void> {
    const key = `${job.sub.path}#${job.sub.tryNo}`;
    this.transitions.push({ path: job.sub.path, state: 'submitted' });
    const file = path.join(this.work, `${job.sub.path.replace(/\//g, '_')}.job${job.sub.tryNo}`);
    fs.writeFileSync(file, job.script, { mode: 0o755 });
    const out = fs.openSync(file.replace(/\.job(\d+)$/, '.$1'), 'w');
    const entry: { job: JobStart; child?: ChildProcess; reported: boolean } = { job, reported: false };
    this.live.set(key, entry);
    const child = spawnTracked('/bin/bash', [file], {
      cwd: this.work,
      env: { ...process.env, PATH: `${this.bin}:${process.env.PATH ?? ''}`, NUBIS_TEST_CHILD_PORT: String(this.port), ECF_NAME: job.sub.path, ECF_PASS: job.sub.password, ECF_TRYNO: String(job.sub.tryNo) },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    entry.child = child;
    child.once('exit', (code, signal) => {
      this.live.delete(key);
      if (!entry.reported) job.lost(`job exited (${signal ?? code}) without reporting complete`);
      job.ended();
    });
  }

  kill(_workflowId: string, p: string, tryNo: number): void {
    const c = this.live.get(`${p}#${tryNo}`)?.child;
    if (c) killGroup(c);
  }

  async logs(): Promise<string | undefined> {
    return undefined;
  }

  async reattach(): Promise<string | undefined> {
    return undefined;
  }

  running(): number {
    return this.live.size;
  }

  killAll(): void {
    for (const l of this.live.values()) if (l.child) killGroup(l.child);
  }
}

/** The def and script units when built in, as the controller's ports; the helper's reader otherwise. */
interface SurfaceUnits {
  parseDef?(text: string, file: string): WfDefinition;
  checkDefinition?(def: WfDefinition): void;
  printDef?(def: WfDefinition): string;
  parseExpression?(text: string): { expr: Expr };
  locateScript?: WorkflowsApi['locateScript'];
  preprocess?: WorkflowsApi['preprocess'];
}

/**
 * Runs `def` through `nubis workflow import|begin|status -w` against an API server in this
 * process; returns what happened in the same shape as the other runs.
 */
export async function runNubisCli(def: string, o: { include?: string; files?: string; timeoutMs?: number } = {}): Promise<SuiteRun & { parser: string }> {
  const m = (await import('../../src/workflows/index.js')) as unknown as SurfaceUnits;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-wf-cli-'));
  const work = path.join(dir, 'jobs');
  fs.mkdirSync(work);
  const jobs = new ProcessJobs(work, childStandin());
  const childServer = await startChildServer((id, cmd) => jobs.relay(id, cmd));
  jobs.setPort(childServer.port);
  // the def as the user would have it: naming its scripts' and includes' folders
  const text = fs.readFileSync(def, 'utf8');
  const files = o.files ?? path.join(ECFLOW_FIXTURES, 'files');
  const include = path.join(ECFLOW_FIXTURES, 'include', o.include ?? 'nubis');
  const defCopy = path.join(dir, path.basename(def));
  fs.writeFileSync(defCopy, text.replace(/^(\s*suite\s+\S+.*)$/m, `$1\n  edit ECF_FILES '${files}'\n  edit ECF_INCLUDE '${include}'`));
  const parse = m.parseDef ?? ((t: string, f: string) => readDefSubset(t, f, m.parseExpression ? (x) => m.parseExpression!(x).expr : readExpression));
  const withPool = (d: WfDefinition): WfDefinition => ({ ...d, pools: d.pools.length > 0 ? d.pools : [{ name: 'peer', deployment: 'peer', component: 'node', slots: 8 }] });
  const defs: DefPort = {
    parseDef: (t, f) => withPool(parse(t, f)),
    parseYaml: () => {
      throw new Error('not used');
    },
    check: (d) => m.checkDefinition?.(d),
    print: (d) => m.printDef?.(d) ?? '',
    ...(m.parseExpression ? { parseExpression: (t: string) => m.parseExpression!(t).expr } : {}),
  };
  const script: ScriptPort = {
    jobText(sub, uploaded) {
      const vars = { ECF_NAME: sub.path, ECF_PASS: sub.password, ECF_TRYNO: String(sub.tryNo), ...sub.variables };
      if (m.locateScript && m.preprocess) {
        // only what import uploaded
        const read = { read: (p: string): string | undefined => uploaded.get(p) ?? uploaded.get(p.replace(/^\//, '')) };
        const s = m.locateScript(sub.path, vars, read);
        return m.preprocess(s.text, vars, { file: s.path, files: read, taskPath: sub.path });
      }
      return preprocessScript(locateTaskScript(sub.path, vars), vars);
    },
  };
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  const workflows = createWorkflows({ controlPlane: cp, store, events, ports: { defs, script, jobs, pools: { members: () => [{ id: 'peer-node' }], watch: () => () => undefined } } });
  let api: ApiServer | undefined;
  try {
    await cp.start();
    await ensureToken(store, dir);
    const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
    api = createApiServer({ controlPlane: cp, store, workflows, heartbeatMs: 50, log: () => undefined });
    const { port } = await api.listen(0);
    const base = `http://127.0.0.1:${port}`;
    const env = { NUBIS_SERVER: base, NUBIS_TOKEN: token, NO_COLOR: '1' };
    const cli = async (...args: string[]): Promise<string> => {
      const r = await runProcess(process.execPath, [CLI, ...args], { env, cwd: dir });
      if (r.code !== 0) throw new Error(`nubis ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
      return r.stdout;
    };
    const suite = /^\s*suite\s+(\S+)/m.exec(text)![1]!;
    await cli('workflow', 'import', defCopy);
    const t0 = performance.now();
    await cli('workflow', 'begin', suite);
    const limit = o.timeoutMs ?? 300_000;
    const watched = cli('workflow', 'status', suite, '-w');
    const ans = async (): Promise<{ state: string; tree: TreeNode }> => {
      const r = await fetch(`${base}/v1/workflows/${suite}`, { headers: { authorization: `Bearer ${token}` } });
      return (await r.json()) as { state: string; tree: TreeNode };
    };
    // status -w ends when every task is complete; a run that stops short (aborted, nothing left
    // running) is seen on the status tree, and the overall limit only catches a hang
    let wallMs = 0;
    for (;;) {
      const done = await Promise.race([watched.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 200))]);
      const st = await ans();
      if (done || st.tree.state === 'complete') {
        wallMs = performance.now() - t0;
        break;
      }
      const tasks = flatten(st.tree).filter((n) => n.kind === 'task');
      if (jobs.running() === 0 && tasks.length > 0 && !tasks.some((n) => n.state === 'submitted' || n.state === 'active' || n.state === 'queued')) {
        throw new Error(`suite /${suite} ended ${st.tree.state} through the CLI:\n${flatten(st.tree).map((n) => `${n.path} ${n.state}${n.reason ? ` (${n.reason})` : ''}`).join('\n')}`);
      }
      if (performance.now() - t0 > limit) throw new Error(`suite /${suite} not complete through the CLI after ${Math.round(limit / 1000)} s`);
    }
    await watched.catch(() => undefined);
    const tree = (await ans()).tree;
    const run: SuiteRun = { suite, wallMs, states: {}, kinds: {}, events: {}, meters: {}, labels: {}, history: jobs.history, transitions: jobs.transitions };
    for (const n of flatten(tree)) {
      if (n.kind === 'workflow') continue;
      run.states[n.path] = n.state;
      run.kinds[n.path] = n.kind as 'suite' | 'family' | 'task';
      for (const [k, v] of Object.entries(n.events ?? {})) run.events[`${n.path}:${k}`] = v;
      for (const [k, v] of Object.entries(n.meters ?? {})) run.meters[`${n.path}:${k}`] = v;
      for (const [k, v] of Object.entries(n.labels ?? {})) run.labels[`${n.path}:${k}`] = v;
    }
    return { ...run, parser: m.parseDef ? 'parseDef' : "the test helper's .def subset reader" };
  } finally {
    jobs.killAll();
    await api?.close();
    await workflows.stop();
    await cp.stop();
    await store.close();
    await childServer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface TreeNode {
  path: string;
  kind: string;
  state: string;
  reason?: string;
  events?: Record<string, boolean>;
  meters?: Record<string, number>;
  labels?: Record<string, string>;
  children: TreeNode[];
}
const flatten = (n: TreeNode): TreeNode[] => [n, ...n.children.flatMap(flatten)];
