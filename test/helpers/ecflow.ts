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
 * The same fixtures in Nubis, in the same `SuiteRun` shape: ./ecflow-nubis.ts.
 *
 * Failure meaning: a missing package when not root throws naming the packages to install
 * (`ensureEcflow`); a suite that does not complete within the (generous) overall timeout, or
 * that ends aborted, throws with the server's state tree; it never skips.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackage } from './peers-debian.js';
import { freePort, killGroup, ROOT, spawnTracked } from './processes.js';

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
export async function startEcflow(opts: { startTimeoutMs?: number; ecfInterval?: number } = {}): Promise<EcflowServer> {
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
    // --ecfinterval below 60 is ecFlow's test mode: each tick moves every suite clock one minute
    const args = ['--port', String(port), ...(opts.ecfInterval === undefined ? [] : ['--ecfinterval', String(opts.ecfInterval)])];
    const child = spawnTracked(ECFLOW_SERVER, args, {
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
    if (!tasks.has(p)) continue; // another suite's, running at the same time
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
