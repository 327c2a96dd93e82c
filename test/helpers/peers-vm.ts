/**
 * Starts a real VictoriaMetrics server (Debian package `victoria-metrics`) for peer tests and
 * benchmarks: on loopback, on free ports, with its own temporary data directory; stopped by
 * pid. When the binary is missing and we run as root, installs the package with apt-get
 * (running `apt-get update` first if the plain install fails); otherwise fails naming it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './processes.js';
import { ensureDebianPackage } from './peers-debian.js';

export const VM_BINARY = '/usr/bin/victoria-metrics';
export const VM_PACKAGE = 'victoria-metrics';

export interface VictoriaMetricsServer {
  url: string;
  httpPort: number;
  /** Set when started with `graphite: true`. */
  graphitePort?: number;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

/** Makes sure the binary exists; installs the Debian package as root; throws naming the package otherwise. */
export function ensureVictoriaMetrics(): string {
  if (fs.existsSync(VM_BINARY)) return VM_BINARY;
  if (process.getuid?.() !== 0) throw new Error(`${VM_BINARY} is missing: install the Debian package "${VM_PACKAGE}" (apt-get install -y ${VM_PACKAGE})`);
  ensureDebianPackage(VM_BINARY, VM_PACKAGE);
  return VM_BINARY;
}

/** Starts the server and resolves once /health answers. `args` are extra command-line flags. */
export async function startVictoriaMetrics(opts: { graphite?: boolean; args?: string[] } = {}): Promise<VictoriaMetricsServer> {
  const bin = ensureVictoriaMetrics();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-vm-'));
  const httpPort = await freePort();
  const graphitePort = opts.graphite ? await freePort() : undefined;
  const args = [`-storageDataPath=${dataDir}`, `-httpListenAddr=127.0.0.1:${httpPort}`, '-search.latencyOffset=0s', ...(graphitePort ? [`-graphiteListenAddr=127.0.0.1:${graphitePort}`] : []), ...(opts.args ?? [])];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`victoria-metrics exited with ${child.exitCode}: ${log}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`victoria-metrics did not answer on ${url}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    httpPort,
    ...(graphitePort !== undefined ? { graphitePort } : {}),
    pid: child.pid!,
    dataDir,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          process.kill(child.pid!, 'SIGTERM');
        });
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
