/**
 * Test helper over the project's own sshd-host fixture (test/fixtures/ssh-hosts/sshd-hosts.sh):
 * N sshd hosts, each in its own network namespace on a bridge this machine can reach. Needs
 * root; `requireRoot()` fails the test with what is needed otherwise.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './processes.js';

const run = promisify(execFile);
export const SSHD_HOSTS = path.join(ROOT, 'test/fixtures/ssh-hosts/sshd-hosts.sh');

export interface FixtureHost {
  name: string;
  index: number;
  address: string;
  port: number;
  netns: string;
  link: string;
  fingerprint: string;
  sshdPid: number | null;
}

export interface SshHostsFixture {
  stateDir: string;
  subnet: string;
  gateway: string;
  user: string;
  privateKey: string;
  hosts: FixtureHost[];
  /** Runs a fixture command on host `i` (1-based): link-down, link-up, kill-sshd, start-sshd, rekey, pids. */
  host(cmd: 'link-down' | 'link-up' | 'kill-sshd' | 'start-sshd' | 'rekey' | 'pids', i: number): Promise<string>;
  /** Runs `command` on host `i` as root with the fixture's key (OpenSSH client, no host-key checks). */
  ssh(i: number, command: string): Promise<string>;
  /** Removes every host, link, namespace and process; removes the state dir. Idempotent. */
  down(): Promise<void>;
}

/** Throws a clear error unless the tests can make network namespaces. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the ssh peer tests need root (they create network namespaces, veth links, a bridge and mount namespaces with ip netns and unshare); run them as root, e.g. sudo npm run test:peers');
  }
}

/** Makes `n` hosts. With `noNode`, `node` is hidden inside the hosts, so the driver ships its own. */
export async function sshHostsUp(n: number, opts: { noNode?: boolean } = {}): Promise<SshHostsFixture> {
  requireRoot();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-sshd-'));
  const args = ['up', String(n), stateDir, ...(opts.noNode ? ['--no-node'] : [])];
  let out: string;
  try {
    out = (await run(SSHD_HOSTS, args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (e) {
    await run(SSHD_HOSTS, ['down', stateDir]).catch(() => {});
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`${SSHD_HOSTS} up failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  const inv = JSON.parse(out) as Omit<SshHostsFixture, 'host' | 'ssh' | 'down'>;
  let isDown = false;
  return {
    ...inv,
    async host(cmd, i) {
      return (await run(SSHD_HOSTS, [cmd, stateDir, String(i)], { timeout: 60_000 })).stdout;
    },
    async ssh(i, command) {
      const h = inv.hosts[i - 1]!;
      const r = await run('ssh', [
        '-F', '/dev/null', '-i', inv.privateKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', '-p', String(h.port), `root@${h.address}`, command,
      ], { timeout: 30_000 });
      return r.stdout;
    },
    async down() {
      if (isDown) return;
      isDown = true;
      await run(SSHD_HOSTS, ['down', stateDir], { timeout: 60_000 });
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Command lines of every process of host `i`, sorted (pids differ between runs; command lines do not). */
export async function hostProcesses(f: SshHostsFixture, i: number): Promise<string[]> {
  const pids = (await f.host('pids', i)).split('\n').filter((p) => /^\d+$/.test(p));
  const out: string[] = [];
  for (const pid of pids) {
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      /* gone */
    }
  }
  return out.filter((c) => c !== '').sort();
}
