/**
 * The ecFlow peer fixtures (./ecflow.ts) in Nubis, read back in the same `SuiteRun` shape:
 *
 * - `runNubisSuite`: the scheduler (createRuntime) on the project's parseDef, each submission
 *   located and preprocessed by the script unit and run as a real bash job, by default on a
 *   real local agent (its `nubis` shim, relayed by the jobs unit's JobDispatcher), or
 *   (`jobs: 'standin'`) spawned here with a small C `nubis child` over loopback TCP;
 * - `runNubisCli`: the public surface, `nubis workflow import|begin|status -w` against the API
 *   server and the workflows controller in this process, jobs behind its job port.
 *
 * Failure meaning: a run that ends with nothing left to run, or hangs past the overall limit,
 * throws with the node tree and states.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { agentProgramPath, createHttpAgentClient, startAgent, type RunningAgent } from '../../src/agent/index.js';
import { createRealClock, type VirtualClock } from '../../src/clock/index.js';
import { checkDefinition, createRuntime, createWorkflows, JobDispatcher, locateScript, parseDef, parseExpression, preprocess, printDef, type DefPort, type JobNode, type JobPort, type JobStart, type RuntimeHooks, type ScriptFiles, type ScriptPort, type WfChildCommand, type WfChildIdentity, type WfChildResult, type WfDefinition, type WfNodeDef, type WfSubmission, type WorkflowRuntime } from '../../src/workflows/index.js';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';
import { createJobSpawner } from '../../src/agent/launcher.js';
import type { Spawner } from '../../src/agent/spawner.js';
import { CLI, killGroup, runProcess, spawnTracked } from './processes.js';
import { ECFLOW_FIXTURES, type SuiteRun } from './ecflow.js';

/** Kills a job's process group (its pid leads it). */
function killPid(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** The script unit's file access, over the local disk. */
const diskFiles = { read: (p: string): string | undefined => (fs.existsSync(p) && fs.statSync(p).isFile() ? fs.readFileSync(p, 'utf8') : undefined) };

/** A task's job text, located and preprocessed by the script unit. */
function jobText(taskPath: string, vars: Readonly<Record<string, string>>, files: ScriptFiles = diskFiles): string {
  const s = locateScript(taskPath, vars, files);
  return preprocess(s.text, vars, { file: s.path, files, taskPath });
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
  /**
   * With `jobs: 'agent'`: run the agent as its own program (dist/src/agent/main.js, as on a
   * node) instead of in this process. Default false.
   */
  agentProcess?: boolean;
  /**
   * Run the suite on this virtual clock instead of the wall clock, as ecflow_server runs it in
   * its test mode (`--ecfinterval` below 60: every tick moves the suite clock one minute): the
   * clock moves one minute at a time, each time nothing is submitted or active any more and no
   * job process is left, so jobs take no suite time. Start it on a minute boundary.
   */
  clock?: VirtualClock;
  /** With `clock`: the most suite minutes to step before the run is declared hung (default 2 days). */
  maxMinutes?: number;
  /** Called once the suite is complete, before anything is stopped (benchmarks read the agent's CPU). */
  beforeStop?(info: { agentPid?: number }): void;
}

/** Starts the agent program on a free loopback port; resolves once it listens. */
async function startAgentProcess(sandbox: string, nodeId: string, token: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnTracked(process.execPath, [agentProgramPath(), '--sandbox', sandbox, '--port', '0', '--node', nodeId], {
    env: { ...process.env, NUBIS_AGENT_TOKEN: token }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.once('exit', (code, signal) => reject(new Error(`the agent exited (${signal ?? code}) before it listened: ${buf.trim()}`)));
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = / listening on (http\S+?),?\s/.exec(buf);
      if (m) resolve(m[1]!);
    });
  });
  return { child, url };
}

/** Loads `def` into the Nubis scheduler, begins it and runs its jobs as real processes until the suite is complete. */
export async function runNubisSuite(def: string, o: NubisRunOptions = {}): Promise<SuiteRun> {
  const viaAgent = (o.jobs ?? 'agent') === 'agent';
  const bin = viaAgent ? '' : childStandin();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-wf-run-'));
  const children = new Map<string, { pid?: number; killed?: boolean }>();
  let spawner: Spawner | undefined;
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let runtime: WorkflowRuntime | undefined;
  let agent: RunningAgent | undefined;
  let agentChild: ChildProcess | undefined;
  let dispatcher: JobDispatcher | undefined;
  try {
    const definition = parseDef(fs.readFileSync(def, 'utf8'), def);
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
          text = jobText(sub.path, vars);
        } catch (e) {
          queueMicrotask(() => runtime!.failedToStart(sub.path, sub.tryNo, (e as Error).message));
          return;
        }
        if (dispatcher && node) {
          void dispatcher.start(sub, node, text);
          return;
        }
        // started as the agent starts its jobs (its launcher writes the files and forks), so
        // this path differs from the agent's only by the agent and the child-command client
        const key = `${sub.path}#${sub.tryNo}`;
        const entry: { pid?: number; killed?: boolean } = {};
        children.set(key, entry);
        const ended = (detail: string): void => {
          children.delete(key);
          const n = runtime?.node(sub.path);
          if (n && n.tryNo === sub.tryNo && (n.state === 'submitted' || n.state === 'active')) runtime!.lost(sub.path, sub.tryNo, detail);
        };
        spawner ??= createJobSpawner();
        spawner.start({
          file: '/bin/bash', args: [job], cwd: work, output: job.replace(/\.job(\d+)$/, '.$1'), files: [{ path: job, text, mode: 0o755 }],
          env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NUBIS_TEST_CHILD_PORT: String(childPort) } as Record<string, string>,
          onExit: (code, signal) => ended(`job exited (${signal ?? code}) without reporting complete`),
        }).then((pid) => {
          entry.pid = pid;
          if (entry.killed) killPid(pid);
        }, (e: unknown) => ended(`job could not be started: ${(e as Error).message}`));
      },
      kill(w, p, tryNo) {
        if (dispatcher) void dispatcher.kill(w, p, tryNo);
        const c = children.get(`${p}#${tryNo}`);
        if (c) {
          c.killed = true;
          if (c.pid !== undefined) killPid(c.pid);
        }
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
      let url: string;
      if (o.agentProcess) ({ child: agentChild, url } = await startAgentProcess(path.join(work, 'agent'), nodeId, token));
      else ({ url } = agent = await startAgent({ sandbox: path.join(work, 'agent'), nodeId, token, killGraceMs: 300, stopGraceMs: 300, restore: false }));
      node = { nodeId, agent: createHttpAgentClient(url, token) };
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
    runtime = createRuntime(definition, { clock: o.clock ?? createRealClock(), hooks, serverVariables, parseExpression: (t) => parseExpression(t).expr });
    const limit = o.timeoutMs ?? 300_000;
    const timer = setTimeout(() => settle(new Error(`suite /${suite} not complete in Nubis after ${Math.round(limit / 1000)} s:\n${nubisTree(runtime!)}`)), limit);
    // Ended without completing: nothing submitted or active and no job process left, seen twice
    // in a row. With no time attributes nothing else can free a node, so this is final (a state
    // check, not a deadline).
    const timed = (n: WfNodeDef): boolean => n.times.length + n.todays.length + n.dates.length + n.days.length + n.crons.length > 0 || n.children.some(timed);
    const canWake = definition.suites.some(timed);
    let idleSeen = 0;
    let stepping = true;
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
      if (o.clock) void stepMinutes(o.clock, runtime, () => children.size + (dispatcher?.running().length ?? 0), () => wallMs > 0 || !stepping, o.maxMinutes ?? 2 * 1440).catch((e: Error) => settle(e));
      await done;
      o.beforeStop?.({ ...(agentChild?.pid === undefined ? {} : { agentPid: agentChild.pid }) });
    } finally {
      stepping = false;
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
    // the suite is complete once its last jobs reported; their processes are still in their tail
    // (the answer to --complete, the exit). They run in sessions of their own, outside the agent's
    // group, so they must end before the agent stops, or they outlive it waiting for an answer.
    // Bounded: a job that does not end here is killed after the agent (killUnder).
    for (let i = 0; i < 200 && (dispatcher?.running().length ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    runtime?.close();
    await dispatcher?.close();
    await agent?.close({ killProcesses: true });
    if (agentChild) {
      // a clean stop first (its own jobs are over by now), then whatever is left
      const gone = new Promise<void>((r) => (agentChild!.exitCode !== null || agentChild!.signalCode !== null ? r() : agentChild!.once('exit', () => r())));
      agentChild.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000).unref())]);
      killGroup(agentChild);
    }
    for (const c of children.values()) if (c.pid !== undefined) killPid(c.pid);
    killUnder(work);
    await spawner?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Moves `clock` one minute at a time while the suite runs: each step waits until no task is
 * submitted or active and no job is running (two looks in a row, a few ms apart: a state wait,
 * not a deadline), then advances. Rejects after `maxMinutes` steps with the node tree.
 */
async function stepMinutes(clock: VirtualClock, rt: WorkflowRuntime, jobs: () => number, finished: () => boolean, maxMinutes: number): Promise<void> {
  const busy = (): boolean => jobs() > 0 || [...rt.nodes()].some((n) => n.state === 'submitted' || n.state === 'active');
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  for (let minute = 0; ; minute++) {
    for (let quiet = 0; quiet < 2;) {
      await turn();
      if (finished()) return;
      quiet = busy() ? 0 : quiet + 1;
      await new Promise((r) => setTimeout(r, busy() ? 10 : 2));
    }
    if (minute >= maxMinutes) throw new Error(`suite not complete in Nubis after ${maxMinutes} virtual minutes:\n${nubisTree(rt)}`);
    await clock.advance(60_000);
  }
}

/** Kills what still runs with its working directory under `dir` (jobs whose agent is gone: they run in sessions of their own). */
function killUnder(dir: string): void {
  for (const e of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/cwd`).startsWith(dir)) process.kill(Number(e), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

/** The runtime's nodes with their states (for failure messages). */
function nubisTree(rt: WorkflowRuntime): string {
  return [...rt.nodes()].map((n) => `${n.path} ${n.state}${n.reason ? ` (${n.reason})` : ''}`).join('\n');
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

/**
 * Runs `def` through `nubis workflow import|begin|status -w` against an API server in this
 * process; returns what happened in the same shape as the other runs.
 */
export async function runNubisCli(def: string, o: { include?: string; files?: string; timeoutMs?: number } = {}): Promise<SuiteRun> {
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
  const withPool = (d: WfDefinition): WfDefinition => ({ ...d, pools: d.pools.length > 0 ? d.pools : [{ name: 'peer', deployment: 'peer', component: 'node', slots: 8 }] });
  const defs: DefPort = {
    parseDef: (t, f) => withPool(parseDef(t, f)),
    parseYaml: () => {
      throw new Error('not used');
    },
    check: (d) => checkDefinition(d),
    print: (d) => printDef(d),
    parseExpression: (t: string) => parseExpression(t).expr,
  };
  const script: ScriptPort = {
    jobText(sub, uploaded) {
      const vars = { ECF_NAME: sub.path, ECF_PASS: sub.password, ECF_TRYNO: String(sub.tryNo), ...sub.variables };
      // only what import uploaded
      return jobText(sub.path, vars, { read: (p: string): string | undefined => uploaded.get(p) ?? uploaded.get(p.replace(/^\//, '')) });
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
    return run;
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
