/**
 * Test helpers for real processes: spawn, read the first line, free ports, stop by pid.
 * Every child is spawned as the leader of a process group of its own and tracked: when this
 * test process exits (or is told to stop by SIGTERM, SIGINT or SIGHUP, as the test runner does
 * on a timeout) every group still running is killed, so a failing test leaves nothing behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
export const SIM_SERVER = path.join(ROOT, 'dist/src/drivers/sim/server-main.js');

const live = new Set<ChildProcess>();

/** SIGKILLs (or sends `signal` to) the child's whole process group; the child alone when it has none. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) killGroup(c);
  });
  for (const [sig, n] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]] as const) {
    process.once(sig, () => {
      for (const c of live) killGroup(c);
      process.exit(128 + n);
    });
  }
}

/**
 * Spawns a child as a new process group, tracked until it exits (see the module comment).
 * Kill it with `killGroup` or stop it gracefully with `stopProcess`.
 */
export function spawnTracked(command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  hookExit();
  const child = spawn(command, args, { ...opts, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Runs a command to completion (its own process group, tracked), with NO_COLOR and `env` over this process's environment. */
export function runProcess(command: string, args: readonly string[], o: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnTracked(command, args, { cwd: o.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...TEST_ENV, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (e) => resolve({ code: -1, stdout, stderr: stderr + String(e) }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Environment every spawned `nubis` gets: no Graphite listener unless a test asks for one (no fixed port 2003). */
export const TEST_ENV: Record<string, string> = { NUBIS_GRAPHITE_PORT: 'off' };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Resolves with the first stdout line of `child` that `match` accepts (the readiness signal);
 * rejects when the child exits first. Later output is drained.
 */
export function firstLine<T>(child: ChildProcess, what: string, match: (line: string) => T | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buf = '';
    let done = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (!done) reject(new Error(`${what} exited (${signal ?? code}) before it was ready`));
    };
    child.once('exit', onExit);
    child.once('error', (e) => !done && reject(e));
    child.stdout!.on('data', (d: Buffer) => {
      if (done) return;
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const v = match(line);
        if (v !== undefined) {
          done = true;
          child.off('exit', onExit);
          return resolve(v);
        }
      }
    });
  });
}

/** Starts a sim cloud server process; resolves with its URL once it printed it. */
export async function startSimServerProcess(args: string[]): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawnTracked(process.execPath, [SIM_SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await firstLine(child, 'the sim server', (l) => (JSON.parse(l) as { url: string }).url);
    return { url, child, stop: () => stopProcess(child) };
  } catch (e) {
    killGroup(child);
    throw e;
  }
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [CLI, ...args], { env, cwd });
}

/**
 * Starts `nubis serve` (with `extraArgs`, such as `--graphite-port 0`) and resolves once it
 * says it is listening (its readiness line), with no deadline of its own: the test's timeout
 * bounds the wait. Port 0 picks a free port; read it from `serveUrl(child)`. When the server
 * exits before it is ready this rejects; when the caller fails later, the child is killed with
 * this process (see the module comment).
 */
export async function startServe(dataDir: string, port: number, extraEnv: Record<string, string> = {}, extraArgs: string[] = []): Promise<ChildProcess> {
  // the peers tier runs server tests on PostgreSQL too: one database per data directory
  if (process.env.NUBIS_TEST_STORE && !extraArgs.includes('--store')) {
    const { testStoreUrl } = await import('./postgres.js');
    extraArgs = [...extraArgs, '--store', (await testStoreUrl(path.join(dataDir, 'nubis.db')))!];
  }
  const child = spawnTracked(process.execPath, [CLI, 'serve', '--data', dataDir, '--port', String(port), ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...TEST_ENV, ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await firstLine(child, 'nubis serve', (l) => /^nubis listening on (\S+)/.exec(l)?.[1]);
    SERVE_URLS.set(child, url);
    return child;
  } catch (e) {
    killGroup(child);
    throw e;
  }
}

const SERVE_URLS = new WeakMap<ChildProcess, string>();
/** The URL a server started by `startServe` said it listens on. */
export function serveUrl(child: ChildProcess): string {
  const u = SERVE_URLS.get(child);
  if (u === undefined) throw new Error('not a server started by startServe');
  return u;
}

/** One HTTP API call to a `nubis serve` on `port`, with the token from its data directory. */
export async function serveApi(port: number, dataDir: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const token = fs.readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
  const r = await fetch(`http://127.0.0.1:${port}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: await r.json() };
}

/** A one-component spec on the local cloud: `instances` and `lifecycle` are YAML flow/block text for the component. */
export function localAppSpec(name: string, portBase: number, instances: string, lifecycle: string): string {
  return `name: ${name}
clouds:
  local: { platform: local, options: { portBase: ${portBase} } }
nodeTemplates:
  n: { cloud: local }
components:
  app:
    nodeTemplate: n
    instances: ${instances}
    lifecycle:
${lifecycle}`;
}
