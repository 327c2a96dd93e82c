/**
 * Backup throughput to the long-term stores, with hashing, against the plain tools on the same
 * data in the same run (rows interleaved run by run, so load hits all alike):
 *
 * - dir: `tar -cf - data` piped into the directory store's put (SHA-256 in the same pass, written
 *   as a partial, fsync, rename) versus `tar -cf - data | tee out.tar | sha256sum` then
 *   `sync out.tar` (the same archive, hashed, written and made durable);
 * - sftp: the same tar file read into the SFTP store's put (SHA-256 in the same pass, pipelined
 *   WRITEs, fsync@openssh.com, rename) versus OpenSSH's `sftp -b` batch `put` of that file, both
 *   to a real sshd (the netns fixture, test/helpers/ssh-hosts.ts; needs root) with the same
 *   cipher (aes128-gcm@openssh.com, what ssh2 picks here); and `tar -cf -` piped into the SFTP
 *   store, as a backup of directories runs.
 *
 * MB/s = 10^6 bytes of archive per second of wall time, medians over the runs; ratio = the
 * tool's MB/s over the store's (≤ 1.5 is the issue's target: within 1.5× of them).
 *
 *   npm run build && node dist/bench/backups.js [--mib 256] [--runs 5] [--no-sftp]
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDirStore, createSftpStore, type BackupStore } from '../src/operations/backups/stores/index.js';
import { sshHostsUp, type SshHostsFixture } from '../test/helpers/ssh-hosts.js';
import { pseudoRandom } from '../test/helpers/store-conformance.js';
import { median } from './common.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};
const MIB = arg('mib', 256);
const RUNS = Math.max(5, arg('runs', 5));
const ROOT = process.getuid?.() === 0;
const SFTP = !process.argv.includes('--no-sftp') && ROOT;
const CIPHER = 'aes128-gcm@openssh.com';
const never = new AbortController().signal;
const TAR_PEER = '`tar -cf - data \\| tee out.tar \\| sha256sum` + `sync out.tar`';

/** Runs a command; resolves with its stdout, rejects on a non-zero exit with its stderr. */
function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

/** `tar -cf - data` in `base` as a byte stream; fails the iteration when tar fails. */
async function* tarStream(base: string): AsyncGenerator<Buffer> {
  const p = spawn('tar', ['-cf', '-', 'data'], { cwd: base, stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number | null>((r) => p.on('close', r));
  for await (const c of p.stdout) yield c as Buffer;
  const code = await done;
  if (code !== 0) throw new Error(`tar exited ${code}`);
}

async function makeData(base: string): Promise<{ tarFile: string; bytes: number }> {
  const data = path.join(base, 'data');
  fs.mkdirSync(data, { recursive: true });
  const files = Math.max(1, Math.round(MIB / 16));
  for (let i = 0; i < files; i++) {
    const fd = fs.openSync(path.join(data, `part-${i}.bin`), 'w');
    for await (const b of pseudoRandom(Math.round((MIB * 1024 * 1024) / files), 1024 * 1024, `bench-${i}`)) fs.writeSync(fd, b);
    fs.closeSync(fd);
  }
  const tarFile = path.join(base, 'data.tar');
  await run('tar', ['-cf', tarFile, 'data'], { cwd: base });
  return { tarFile, bytes: fs.statSync(tarFile).size };
}

interface Row {
  name: string;
  /** Compared against these rows (the tools' names). */
  peerOf?: string[];
  once(i: number): Promise<void>;
  mbps: number[];
}

async function main(): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-backups-'));
  let fx: SshHostsFixture | undefined;
  const stores: BackupStore[] = [];
  try {
    const { tarFile, bytes } = await makeData(base);
    const out = path.join(base, 'out');
    fs.mkdirSync(out);
    const dir = createDirStore({ path: path.join(out, 'store') });
    stores.push(dir);
    const rows: Row[] = [
      {
        name: TAR_PEER, mbps: [],
        once: async (i) => {
          const f = path.join(out, `peer-${i}.tar`);
          await run('bash', ['-o', 'pipefail', '-c', `tar -cf - data | tee '${f}' | sha256sum >/dev/null && sync '${f}'`], { cwd: base });
          fs.rmSync(f);
        },
      },
      {
        name: 'dir store put of `tar -cf - data` (SHA-256, partial, fsync, rename)', peerOf: [TAR_PEER], mbps: [],
        once: async (i) => {
          const d = await dir.put(`bench/dir-${i}.tar`, tarStream(base), never);
          if (d.sizeBytes !== bytes) throw new Error(`dir store got ${d.sizeBytes} bytes, the archive has ${bytes}`);
          await dir.delete(`bench/dir-${i}.tar`, never);
        },
      },
    ];
    if (SFTP) {
      fx = await sshHostsUp(1);
      const h = fx.hosts[0]!;
      const sftpStore = createSftpStore({ host: h.address, port: h.port, user: fx.user, path: '/opt/bench', hostKeySha256: h.fingerprint, privateKey: fs.readFileSync(fx.privateKey) });
      stores.push(sftpStore);
      await fx.ssh(1, 'mkdir -p /opt/bench');
      const peer = `OpenSSH \`sftp -b\` \`put\` of data.tar (${CIPHER}; no fsync)`;
      const peerF = `OpenSSH \`sftp -b\` \`put -f\` of data.tar (${CIPHER}; fsync@openssh.com)`;
      const sshArgs = ['-F', '/dev/null', '-i', fx.privateKey, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-c', CIPHER];
      rows.push(
        ...([['put', peer], ['put -f', peerF]] as const).map(([cmd, name]): Row => ({
          name, mbps: [],
          once: async (i) => {
            const batch = path.join(base, 'batch');
            fs.writeFileSync(batch, `${cmd} ${tarFile} /opt/bench/peer-${i}.tar\nrm /opt/bench/peer-${i}.tar\n`);
            // The rm runs after put returned (its time is counted; it is one round trip), as the stores' rows delete too.
            await run('sftp', [...sshArgs, '-b', batch, '-P', String(h.port), `${fx!.user}@${h.address}`]);
          },
        })),
        {
          name: `sftp store put of data.tar (SHA-256, pipelined WRITEs, fsync, rename; ${CIPHER})`, peerOf: [peer, peerF], mbps: [],
          once: async (i) => {
            const d = await sftpStore.put(`bench/file-${i}.tar`, createReadStream(tarFile, { highWaterMark: 1024 * 1024 }), never);
            if (d.sizeBytes !== bytes) throw new Error(`sftp store got ${d.sizeBytes} bytes, the file has ${bytes}`);
            await sftpStore.delete(`bench/file-${i}.tar`, never);
          },
        },
        {
          name: 'sftp store put of `tar -cf - data` (as a directory backup runs)', peerOf: [peer, peerF], mbps: [],
          once: async (i) => {
            const d = await sftpStore.put(`bench/tar-${i}.tar`, tarStream(base), never);
            if (d.sizeBytes !== bytes) throw new Error(`sftp store got ${d.sizeBytes} bytes, the archive has ${bytes}`);
            await sftpStore.delete(`bench/tar-${i}.tar`, never);
          },
        },
      );
    }
    // One warm-up round (page cache, connections), then the measured runs, interleaved.
    for (const r of rows) await r.once(-1);
    for (let i = 0; i < RUNS; i++) {
      for (const r of rows) {
        const t0 = performance.now();
        await r.once(i);
        r.mbps.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
      }
    }
    const load = os.loadavg()[0]!.toFixed(1);
    console.log(`\nBackup throughput, ${(bytes / 1e6).toFixed(0)} MB archive of ${MIB} MiB incompressible data, medians of ${RUNS} runs (load ${load}):\n`);
    console.log('| what | MB/s (median) | runs min–max | ratio (tool ÷ store) |');
    console.log('|---|---|---|---|');
    for (const r of rows) {
      const m = median(r.mbps);
      const ratio = r.peerOf
        ? r.peerOf.map((n, k) => `${(median(rows.find((p) => p.name === n)!.mbps) / m).toFixed(2)}×${r.peerOf!.length > 1 ? ` (${['put', 'put -f'][k]})` : ''}`).join(', ')
        : 'the tool';
      console.log(`| ${r.name} | ${m.toFixed(0)} | ${Math.min(...r.mbps).toFixed(0)}–${Math.max(...r.mbps).toFixed(0)} | ${ratio} |`);
    }
    if (!SFTP) console.log(`| sftp rows | not run | | ${ROOT ? '--no-sftp' : 'they need root (the sshd fixture makes network namespaces)'} |`);
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await fx?.down().catch((e: unknown) => console.error(String(e)));
    fs.rmSync(base, { recursive: true, force: true });
  }
}

await main();
