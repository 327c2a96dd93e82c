/**
 * Real Debian servers for the peers tier: make sure a package's binary is there (installing it
 * with apt-get when running as root), start it in the foreground, and stop it by pid.
 *
 * Failure meaning: when the binary is missing and we are not root, `ensureDebianPackage`
 * throws naming the package to install; it never skips.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Ensures `binary` exists, installing Debian package `pkg` (no recommends) when root. */
export function ensureDebianPackage(binary: string, pkg: string): void {
  if (existsSync(binary)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${binary} is missing: install the Debian package "${pkg}" (apt-get install --no-install-recommends ${pkg})`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // tests run two at a time: a second apt-get waits for the first's dpkg and lists locks
  const locks = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Lock::Timeout=600'];
  const install = (): void => {
    execFileSync('apt-get', [...locks, 'install', '-y', '--no-install-recommends', pkg], { env, stdio: 'pipe', timeout: 900_000 });
  };
  try {
    install();
  } catch {
    execFileSync('apt-get', [...locks, 'update'], { env, stdio: 'pipe', timeout: 900_000 });
    install();
  }
  if (!existsSync(binary)) throw new Error(`installed "${pkg}" but ${binary} is still missing`);
}

export interface PeerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** SIGTERM by pid, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a server in the foreground with its output captured. */
export function startPeer(binary: string, args: string[]): PeerProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  if (child.pid === undefined) throw new Error(`cannot start ${binary}`);
  const pid = child.pid;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    pid,
    output: () => out,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
