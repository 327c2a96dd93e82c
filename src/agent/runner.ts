/**
 * The agent's work, without HTTP: runs lifecycle handlers in instance directories, keeps
 * per-step logs, supervises start processes, runs health probes, and remembers what it
 * started in `<sandbox>/agent-state.json` so a restarted agent starts it again.
 *
 * Layout under the sandbox:
 *   instances/<instance>/           working directory of every handler (wiring.json, artefacts)
 *   logs/<instance>/<step>.log      combined stdout+stderr, appended, one header line per run
 *   agent-state.json                start processes to restore after a restart
 *
 * A start process that dies after its grace period with a non-zero status or a signal has its
 * remaining children killed too; one that exits 0 (a start script that daemonised) does not.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync, chmodSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync,
  renameSync, statSync, writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { HandlerName } from '../model/types.js';
import { childCage, killCage } from './cgroup.js';
import { killTree } from './proc.js';
import type { AgentStatus, HealthProbe, InstanceStatus, StepRequest, StepResult } from './protocol.js';
import { STEP_NAMES } from './validate.js';

/** Most of a step's output returned in StepResult.output. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Environment variable marking every process a handler run spawns, so its tree can be found. */
export const RUN_TAG_ENV = 'NUBIS_RUN_TAG';

export interface RunnerOptions {
  sandbox: string;
  nodeId: string;
  /** How long a start process must stay alive to count as started. Default 300. */
  startGraceMs?: number;
  /** Between SIGTERM and SIGKILL when killing a handler's tree on timeout. Default 2000. */
  killGraceMs?: number;
  /** Between SIGTERM and SIGKILL when stopping an instance. Default 2000. */
  stopGraceMs?: number;
  /**
   * The node's cgroup v2 cage (./cgroup.ts), when the agent runs in one: each instance's
   * handlers then run in a child cage, and stopping the instance kills everything in it, even
   * processes that left the session and cleared their environment (`setsid env -i …`).
   */
  cage?: string;
  log?: (line: string) => void;
}

interface Run {
  req: StepRequest;
  result: StepResult;
  done: Promise<void>;
}

interface Supervised {
  pid: number;
  tag: string;
  state: 'running' | 'exited';
  exitCode?: number | null;
  signal?: string | null;
  exited: Promise<void>;
}

interface Probe {
  spec: HealthProbe;
  env: Record<string, string>;
  failures: number;
  /** Probes run since it started, by outcome. */
  passed: number;
  failed: number;
  stopped: boolean;
  timer?: NodeJS.Timeout;
}

interface Instance {
  name: string;
  dir: string;
  queue: Promise<void>;
  proc?: Supervised;
  probe?: Probe;
  health: InstanceStatus['health'];
  healthDetail?: string;
  lastRun?: Run;
  /** Tags of handler runs in flight, killed on close. */
  inFlight: Set<string>;
}

interface PersistedStart {
  command: string;
  env: Record<string, string>;
  health?: HealthProbe;
  tag: string;
}

interface PersistedState {
  version: 1;
  instances: Record<string, PersistedStart>;
}

export interface NodeRunner {
  /** Registers the run (or finds it by runId) and waits up to `waitMs` for it to end. */
  runStep(req: StepRequest, waitMs: number): Promise<StepResult>;
  /** The run's state after waiting up to `waitMs`, or undefined when the runId is unknown. */
  getRun(runId: string, waitMs: number): Promise<StepResult | undefined>;
  stopInstance(instance: string): Promise<void>;
  status(): AgentStatus;
  /** A step's latest run, or every step's whole log in lifecycle order; undefined when none. */
  logs(instance: string, step: HandlerName | undefined): string | undefined;
  /** Restarts the start processes recorded in agent-state.json (after an agent restart). */
  restore(): Promise<void>;
  /** Stops probes; with `killProcesses` also kills supervised processes and running handlers. */
  close(killProcesses: boolean): Promise<void>;
}

const MAX_FINISHED_RUNS = 1000;

export function createNodeRunner(opts: RunnerOptions): NodeRunner {
  const startGraceMs = opts.startGraceMs ?? 300;
  const killGraceMs = opts.killGraceMs ?? 2000;
  const stopGraceMs = opts.stopGraceMs ?? 2000;
  const log = opts.log ?? (() => {});
  const startedAt = Date.now();
  const statePath = join(opts.sandbox, 'agent-state.json');
  const instances = new Map<string, Instance>();
  const runs = new Map<string, Run>();
  let closed = false;

  mkdirSync(join(opts.sandbox, 'instances'), { recursive: true });
  mkdirSync(join(opts.sandbox, 'logs'), { recursive: true });

  const instance = (name: string): Instance => {
    let inst = instances.get(name);
    if (!inst) {
      inst = { name, dir: join(opts.sandbox, 'instances', name), queue: Promise.resolve(), health: 'unknown', inFlight: new Set() };
      instances.set(name, inst);
    }
    return inst;
  };

  // --- persistence -------------------------------------------------------------------------

  const readState = (): PersistedState => {
    try {
      const parsed = JSON.parse(readFileSync(statePath, 'utf8')) as PersistedState;
      if (parsed && typeof parsed.instances === 'object' && parsed.instances !== null) return parsed;
    } catch {
      // missing or corrupt: start empty
    }
    return { version: 1, instances: {} };
  };

  const writeState = (update: (s: PersistedState) => void): void => {
    const s = readState();
    update(s);
    const tmp = `${statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
    renameSync(tmp, statePath);
  };

  // --- logs --------------------------------------------------------------------------------

  const logPath = (inst: string, step: HandlerName): string => join(opts.sandbox, 'logs', inst, `${step}.log`);

  /** Appends the run header and returns the offset where the run's own output starts. */
  const beginLog = (req: StepRequest): { path: string; offset: number } => {
    const path = logPath(req.instance, req.step);
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, `=== nubis ${new Date().toISOString()} run=${req.runId} step=${req.step} ===\n`);
    return { path, offset: statSync(path).size };
  };

  const readTail = (path: string, offset: number, max = OUTPUT_TAIL_BYTES): string => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return '';
    }
    try {
      const size = fstatSync(fd).size;
      const from = Math.max(offset, size - max);
      const buf = Buffer.alloc(Math.max(0, size - from));
      readSync(fd, buf, 0, buf.length, from);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  };

  // --- processes -----------------------------------------------------------------------------

  const newTag = (inst: string, what: string): string => `${opts.nodeId}/${inst}/${what}/${randomBytes(6).toString('hex')}`;

  /** The handler environment: the request's env plus PATH with node's directory, node id, wiring file, run tag. */
  const handlerEnv = (inst: Instance, step: HandlerName, env: Record<string, string>, tag: string): Record<string, string> => {
    const basePath = env['PATH'] ?? process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
    const nodeDir = dirname(process.execPath);
    return {
      HOME: process.env['HOME'] ?? inst.dir,
      NUBIS_STEP: step,
      NUBIS_WIRING_FILE: join(inst.dir, 'wiring.json'),
      ...env,
      PATH: basePath.split(':').includes(nodeDir) ? basePath : `${nodeDir}:${basePath}`,
      NUBIS_NODE_ID: opts.nodeId,
      [RUN_TAG_ENV]: tag,
    };
  };

  /** The instance's cage directory (made on demand), or undefined without cgroups. */
  const instanceCage = (inst: Instance): string | undefined => (opts.cage ? childCage(opts.cage, `i-${inst.name}`) : undefined);

  /**
   * Spawns `/bin/sh -c command` in the instance dir, output appended to `logFile`, in the agent's
   * process group. With a cage, the shell first moves itself into the instance's cage and then
   * execs the command, so nothing it forks can be outside it.
   */
  const spawnShell = (inst: Instance, command: string, env: Record<string, string>, logFile: string | undefined) => {
    const fd = logFile === undefined ? 'ignore' : openSync(logFile, 'a');
    const cage = instanceCage(inst);
    const argv = cage ? ['-c', 'echo $$ >"$0" 2>/dev/null; exec /bin/sh -c "$1"', join(cage, 'cgroup.procs'), command] : ['-c', command];
    try {
      return spawn('/bin/sh', argv, { cwd: inst.dir, env, stdio: ['ignore', fd, fd], detached: false });
    } finally {
      if (typeof fd === 'number') closeSync(fd);
    }
  };

  const prepare = (inst: Instance, req: StepRequest): void => {
    mkdirSync(inst.dir, { recursive: true });
    for (const f of req.files ?? []) {
      const target = join(inst.dir, f.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, Buffer.from(f.base64, 'base64'));
      if (f.mode !== undefined) chmodSync(target, f.mode);
    }
    if (req.wiring !== undefined) {
      const target = join(inst.dir, 'wiring.json');
      const tmp = `${target}.tmp`;
      writeFileSync(tmp, JSON.stringify(req.wiring, null, 2));
      renameSync(tmp, target);
    }
  };

  /** Runs a one-shot handler to its end, killing its tree on timeout. */
  const runHandler = (inst: Instance, run: Run, env: Record<string, string>, tag: string, out: { path: string; offset: number }): Promise<void> =>
    new Promise<void>((resolve) => {
      const { req, result } = run;
      const child = spawnShell(inst, req.command!, env, out.path);
      inst.inFlight.add(tag);
      let killing: Promise<boolean> | undefined;
      const timer = setTimeout(() => {
        log(`run ${req.runId} timed out after ${req.timeoutMs} ms; killing its tree`);
        killing = killTree(child.pid, { name: RUN_TAG_ENV, value: tag }, killGraceMs);
      }, req.timeoutMs);
      const finish = async (state: StepResult['state'], code: number | null, signal: string | null, extra = ''): Promise<void> => {
        clearTimeout(timer);
        if (killing) await killing;
        inst.inFlight.delete(tag);
        if (extra) appendFileSync(out.path, extra);
        Object.assign(result, { state, exitCode: code, signal, output: readTail(out.path, out.offset), endedAt: Date.now() });
        resolve();
      };
      child.once('error', (err) => void finish('failed', null, null, `nubis-agent: cannot run handler: ${err.message}\n`));
      child.once('exit', (code, signal) => {
        if (killing) void finish('timed-out', code, signal, `nubis-agent: timed out after ${req.timeoutMs} ms\n`);
        else void finish(code === 0 ? 'succeeded' : 'failed', code, signal);
      });
    });

  /** Launches the supervised start process; the run ends after the grace period or when it exits. */
  const launch = (inst: Instance, command: string, env: Record<string, string>, tag: string, logFile: string): Supervised => {
    const child = spawnShell(inst, command, env, logFile);
    let onExit: () => void = () => {};
    const proc: Supervised = {
      pid: child.pid ?? -1,
      tag,
      state: 'running',
      exited: new Promise<void>((r) => (onExit = r)),
    };
    const launchedAt = Date.now();
    const exit = (code: number | null, signal: string | null): void => {
      if (proc.state === 'exited') return;
      Object.assign(proc, { state: 'exited', exitCode: code, signal });
      log(`instance ${inst.name}: start process ${proc.pid} exited (code ${code}, signal ${signal})`);
      // A long-running process that died (not a start script that daemonised and exited 0):
      // take its leftover children with it, so nothing holds its ports when it is started again.
      if (code !== 0 && Date.now() - launchedAt >= startGraceMs) void killTree(undefined, { name: RUN_TAG_ENV, value: tag }, stopGraceMs);
      onExit();
    };
    child.once('error', (err) => {
      appendFileSync(logFile, `nubis-agent: cannot start: ${err.message}\n`);
      exit(null, null);
    });
    child.once('exit', exit);
    return proc;
  };

  const stopProbe = (inst: Instance): void => {
    if (inst.probe) {
      inst.probe.stopped = true;
      clearTimeout(inst.probe.timer);
      inst.probe = undefined;
    }
    inst.health = 'unknown';
    inst.healthDetail = undefined;
  };

  /** Kills the supervised process tree; the instance then reports `process: none`. */
  const killSupervised = async (inst: Instance): Promise<void> => {
    const proc = inst.proc;
    inst.proc = undefined;
    if (proc) await killTree(proc.state === 'running' ? proc.pid : undefined, { name: RUN_TAG_ENV, value: proc.tag }, stopGraceMs);
  };

  const runStart = async (inst: Instance, run: Run, env: Record<string, string>, tag: string, out: { path: string; offset: number }): Promise<void> => {
    const { req, result } = run;
    stopProbe(inst);
    await killSupervised(inst);
    const proc = launch(inst, req.command!, env, tag, out.path);
    inst.proc = proc;
    const stored: PersistedStart = { command: req.command!, env: req.env, tag };
    if (req.health) stored.health = req.health;
    writeState((s) => (s.instances[inst.name] = stored));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([proc.exited, new Promise<void>((r) => (timer = setTimeout(r, Math.min(startGraceMs, req.timeoutMs))))]);
    clearTimeout(timer);
    const ok = proc.state === 'running' || proc.exitCode === 0;
    if (!ok) writeState((s) => delete s.instances[inst.name]);
    Object.assign(result, {
      state: ok ? 'succeeded' : 'failed',
      exitCode: proc.state === 'exited' ? proc.exitCode : undefined,
      signal: proc.state === 'exited' ? proc.signal : undefined,
      output: readTail(out.path, out.offset),
      endedAt: Date.now(),
    });
    if (ok && req.health) startProbe(inst, req.health, env);
  };

  const execute = async (inst: Instance, run: Run): Promise<void> => {
    const { req, result } = run;
    let out: { path: string; offset: number };
    try {
      out = beginLog(req);
      prepare(inst, req);
    } catch (e) {
      Object.assign(result, { state: 'failed', exitCode: null, output: `nubis-agent: cannot prepare the step: ${(e as Error).message}\n`, endedAt: Date.now() });
      return;
    }
    if (req.command === undefined) {
      if (req.step === 'start' && req.health) startProbe(inst, req.health, handlerEnv(inst, 'start', req.env, newTag(inst.name, 'probe')));
      Object.assign(result, { state: 'succeeded', exitCode: 0, output: '', endedAt: Date.now() });
      return;
    }
    const tag = newTag(inst.name, req.step);
    const env = handlerEnv(inst, req.step, req.env, tag);
    if (req.step === 'start') await runStart(inst, run, env, tag, out);
    else await runHandler(inst, run, env, tag, out);
  };

  // --- health probes -----------------------------------------------------------------------

  const probeOnce = (inst: Instance, p: Probe): Promise<{ ok: boolean; detail?: string }> => {
    const { spec } = p;
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean, detail?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(detail === undefined ? { ok } : { ok, detail });
      };
      let cleanup: () => void = () => {};
      const timer = setTimeout(() => {
        cleanup();
        done(false, `${spec.kind} probe timed out after ${spec.timeoutMs} ms`);
      }, spec.timeoutMs);
      if (spec.kind === 'tcp') {
        const host = spec.host ?? '127.0.0.1';
        const sock = connect({ host, port: spec.port! });
        cleanup = () => sock.destroy();
        sock.once('connect', () => {
          sock.destroy();
          done(true);
        });
        sock.once('error', (e) => done(false, `tcp ${host}:${spec.port}: ${e.message}`));
      } else if (spec.kind === 'http') {
        const path = spec.path ?? '/';
        const req = httpRequest({ host: spec.host ?? '127.0.0.1', port: spec.port!, path, method: 'GET', agent: false }, (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          done(status >= 200 && status < 300, status >= 200 && status < 300 ? undefined : `http GET ${path}: status ${status}`);
        });
        cleanup = () => req.destroy();
        req.once('error', (e) => done(false, `http GET ${path}: ${e.message}`));
        req.end();
      } else {
        const tag = newTag(inst.name, 'probe');
        const env = { ...p.env, [RUN_TAG_ENV]: tag };
        const child = spawnShell(inst, spec.command!, env, undefined);
        cleanup = () => void killTree(child.pid, { name: RUN_TAG_ENV, value: tag }, 200);
        child.once('error', (e) => done(false, `probe command: ${e.message}`));
        child.once('exit', (code, signal) => done(code === 0, code === 0 ? undefined : `probe command exited ${code ?? signal}`));
      }
    });
  };

  /** Probes now and then every `intervalMs`; `retries` consecutive failures make it unhealthy. */
  const startProbe = (inst: Instance, spec: HealthProbe, env: Record<string, string>): void => {
    stopProbe(inst);
    const p: Probe = { spec, env, failures: 0, passed: 0, failed: 0, stopped: false };
    inst.probe = p;
    const tick = async (): Promise<void> => {
      if (p.stopped || closed) return;
      const r = await probeOnce(inst, p);
      if (p.stopped || closed) return;
      if (r.ok) {
        p.passed++;
        p.failures = 0;
        inst.health = 'healthy';
        inst.healthDetail = undefined;
      } else {
        p.failures++;
        p.failed++;
        inst.healthDetail = r.detail;
        if (p.failures >= Math.max(1, spec.retries)) inst.health = 'unhealthy';
      }
      p.timer = setTimeout(() => void tick(), spec.intervalMs);
    };
    p.timer = setTimeout(() => void tick(), 0);
  };

  // --- runs --------------------------------------------------------------------------------

  const waitRun = async (run: Run, waitMs: number): Promise<StepResult> => {
    if (run.result.state === 'running' && waitMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([run.done, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    return { ...run.result };
  };

  const prune = (): void => {
    if (runs.size <= MAX_FINISHED_RUNS) return;
    for (const [id, run] of runs) {
      if (runs.size <= MAX_FINISHED_RUNS) break;
      if (run.result.state !== 'running') runs.delete(id);
    }
  };

  return {
    runStep(req, waitMs) {
      const existing = runs.get(req.runId);
      if (existing) return waitRun(existing, waitMs);
      const inst = instance(req.instance);
      const run: Run = { req, result: { runId: req.runId, state: 'running', output: '', startedAt: Date.now() }, done: Promise.resolve() };
      run.done = inst.queue.then(() => execute(inst, run)).catch((e: unknown) => {
        Object.assign(run.result, { state: 'failed', exitCode: null, output: `nubis-agent: internal error: ${(e as Error).message}\n`, endedAt: Date.now() });
      });
      inst.queue = run.done;
      inst.lastRun = run;
      runs.set(req.runId, run);
      prune();
      return waitRun(run, waitMs);
    },

    async getRun(runId, waitMs) {
      const run = runs.get(runId);
      return run ? waitRun(run, waitMs) : undefined;
    },

    async stopInstance(name) {
      const inst = instances.get(name);
      if (inst) {
        stopProbe(inst);
        await killSupervised(inst);
        // whatever its handlers left running, daemons included
        if (opts.cage) await killCage(join(opts.cage, `i-${inst.name}`), stopGraceMs + 5000);
      }
      if (readState().instances[name]) writeState((s) => delete s.instances[name]);
    },

    status() {
      const list: InstanceStatus[] = [...instances.values()].map((inst) => {
        const s: InstanceStatus = { instance: inst.name, process: inst.proc ? inst.proc.state : 'none', health: inst.health };
        if (inst.proc) {
          s.pid = inst.proc.pid;
          if (inst.proc.state === 'exited') s.exitCode = inst.proc.exitCode ?? null;
        }
        if (inst.healthDetail !== undefined) s.healthDetail = inst.healthDetail;
        if (inst.probe) s.probes = { passed: inst.probe.passed, failed: inst.probe.failed };
        if (inst.lastRun) s.lastStep = { step: inst.lastRun.req.step, runId: inst.lastRun.req.runId, state: inst.lastRun.result.state };
        return s;
      });
      return { node: opts.nodeId, startedAt, instances: list };
    },

    logs(name, step) {
      const read = (s: HandlerName): string | undefined => {
        const p = logPath(name, s);
        return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
      };
      if (step !== undefined) {
        const text = read(step);
        if (text === undefined) return undefined;
        const at = text.lastIndexOf('=== nubis ');
        return at < 0 ? text : text.slice(at);
      }
      const parts = STEP_NAMES.map(read).filter((t): t is string => t !== undefined);
      return parts.length === 0 ? undefined : parts.join('');
    },

    async restore() {
      const saved = readState();
      for (const [name, s] of Object.entries(saved.instances)) {
        const inst = instance(name);
        // Anything left from before the restart would hold the ports: kill it first.
        await killTree(undefined, { name: RUN_TAG_ENV, value: s.tag }, stopGraceMs);
        mkdirSync(inst.dir, { recursive: true });
        const tag = newTag(name, 'start');
        const env = handlerEnv(inst, 'start', s.env, tag);
        const path = logPath(name, 'start');
        mkdirSync(dirname(path), { recursive: true });
        appendFileSync(path, `=== nubis ${new Date().toISOString()} restart-after-agent-restart step=start ===\n`);
        inst.proc = launch(inst, s.command, env, tag, path);
        writeState((st) => (st.instances[name] = { ...s, tag }));
        if (s.health) startProbe(inst, s.health, env);
        log(`instance ${name}: restarted start process ${inst.proc.pid}`);
      }
    },

    async close(killProcesses) {
      closed = true;
      for (const inst of instances.values()) {
        if (inst.probe) {
          inst.probe.stopped = true;
          clearTimeout(inst.probe.timer);
        }
      }
      if (!killProcesses) return;
      await Promise.all(
        [...instances.values()].flatMap((inst) => [
          ...(inst.proc ? [killTree(inst.proc.state === 'running' ? inst.proc.pid : undefined, { name: RUN_TAG_ENV, value: inst.proc.tag }, stopGraceMs)] : []),
          ...[...inst.inFlight].map((tag) => killTree(undefined, { name: RUN_TAG_ENV, value: tag }, killGraceMs)),
          ...(opts.cage ? [killCage(join(opts.cage, `i-${inst.name}`), stopGraceMs + 5000)] : []),
        ]),
      );
    },
  };
}
