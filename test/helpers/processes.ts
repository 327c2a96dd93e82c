/** Test helpers for real processes: spawn, read the first line, free ports, stop by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
export const SIM_SERVER = path.join(ROOT, 'dist/src/drivers/sim/server-main.js');

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

/** Starts a sim cloud server process; resolves with its URL. */
export async function startSimServerProcess(args: string[]): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [SIM_SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(buf.slice(0, nl)) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`sim server exited with ${code}`)));
  });
  return {
    url,
    child,
    stop: () => stopProcess(child),
  };
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
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Starts `nubis serve` (with `extraArgs`, such as `--graphite-port 2103`) and waits until it answers /healthz. */
export async function startServe(dataDir: string, port: number, extraEnv: Record<string, string> = {}, extraArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dataDir, '--port', String(port), ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...extraEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nubis serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return child;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('nubis serve did not answer');
    await new Promise((r) => setTimeout(r, 50));
  }
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
