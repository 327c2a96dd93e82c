/**
 * Active checks: TCP connect latency and mount-point health.
 *
 * The mount check reads the directory in a child process, never in the agent: a hung NFS server
 * leaves a reader stuck in an uninterruptible system call, and a stuck child is harmless where a
 * stuck agent thread (the libuv pool has four) would stall every file operation of the agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

export interface TcpTarget {
  host: string;
  port: number;
}

/** Parses `host:port` or `[v6addr]:port`; undefined when malformed. */
export function parseHostPort(s: string): TcpTarget | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Milliseconds to establish one TCP connection (closed at once); rejects on error or timeout. */
export function tcpConnectMs(target: TcpTarget, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${target.host}:${target.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      socket.destroy();
      resolve(ms);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
  });
}

export interface TcpLatencyResult {
  /** Mean of the successful tries; undefined when none succeeded. */
  avgMs?: number;
  ok: number;
  failed: number;
  lastError?: string;
}

/** Connects `tries` times one after another and averages the successful ones. */
export async function tcpLatency(target: TcpTarget, tries: number, timeoutMs: number): Promise<TcpLatencyResult> {
  let sum = 0;
  let ok = 0;
  let lastError: string | undefined;
  for (let i = 0; i < tries; i++) {
    try {
      sum += await tcpConnectMs(target, timeoutMs);
      ok++;
    } catch (e) {
      lastError = (e as Error).message;
    }
  }
  return { ...(ok > 0 ? { avgMs: sum / ok } : {}), ok, failed: tries - ok, ...(lastError ? { lastError } : {}) };
}

export interface MountCheckResult {
  /** The path is a mount point in /proc/mounts. */
  mounted: boolean;
  /** A directory entry could be read within the timeout. */
  readable: boolean;
  fstype?: string;
  /** Time the read took (or the timeout). */
  ms: number;
  error?: string;
}

const READER = `
const fs = require('node:fs');
try { const d = fs.opendirSync(process.argv[1]); d.readSync(); d.closeSync(); process.exit(0); }
catch (e) { process.stderr.write(String(e && e.message)); process.exit(1); }
`;

/**
 * Reads one entry of `path` in a child process. A check still hung from before is not
 * duplicated: `previous` is the child of the last check, and while it lives the result is
 * "not readable, previous check still hung".
 */
export function readDirInChild(path: string, timeoutMs: number, previous: { child?: ChildProcess }): Promise<{ readable: boolean; ms: number; error?: string }> {
  const old = previous.child;
  if (old && old.exitCode === null && old.signalCode === null) {
    return Promise.resolve({ readable: false, ms: 0, error: 'the previous read of this path is still hung' });
  }
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', READER, path], { stdio: ['ignore', 'ignore', 'pipe'] });
    previous.child = child;
    let err = '';
    let done = false;
    const finish = (r: { readable: boolean; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < 500) err += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      child.unref();
      finish({ readable: false, error: `reading ${path} did not finish within ${timeoutMs} ms` });
    }, timeoutMs);
    child.once('error', (e) => finish({ readable: false, error: e.message }));
    child.once('exit', (code) => finish(code === 0 ? { readable: true } : { readable: false, error: err.trim() || `reader exited ${code}` }));
  });
}
