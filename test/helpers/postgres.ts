/**
 * A real PostgreSQL server (Debian's `postgresql`) for the peers tier: its own data directory
 * under a temporary folder, listening on 127.0.0.1 at a free port, a socket directory of its
 * own, stopped by pid. As root the server runs as the `postgres` user (PostgreSQL refuses root).
 *
 * `openTestStore()` is what store tests call: a fresh SQLite `:memory:` store normally, a fresh
 * database on the server named by NUBIS_TEST_STORE (an admin URL) when the peers tier runs the
 * store suite on PostgreSQL (test/peers/postgres-store.test.ts).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.js';
import { ensureDebianPackage, startPeer, type PeerProcess } from './peers-debian.js';
import { freePort } from './processes.js';

export interface PostgresServer {
  /** URL of the `postgres` database as role `nubis` (a superuser with a password, over TCP with scram-sha-256). */
  url: string;
  /** Role `nubis`'s password. */
  password: string;
  port: number;
  proc: PeerProcess;
  /** A new, empty database; its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin/postgres'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) {
    ensureDebianPackage('/usr/lib/postgresql/15/bin/postgres', 'postgresql');
    return binDir();
  }
  return path.join(base, versions[0]!, 'bin');
}

/** Runs `argv` as the postgres user when we are root (initdb and postgres refuse root). */
function asOwner(argv: string[]): { cmd: string; args: string[] } {
  if (process.getuid?.() !== 0) return { cmd: argv[0]!, args: argv.slice(1) };
  return { cmd: 'runuser', args: ['-u', 'postgres', '--', ...argv] };
}

/** Connects until the server accepts (it is ready when it does); fails with its log when it exits first. */
async function untilReady(url: string, proc: PeerProcess): Promise<void> {
  for (let i = 0; ; i++) {
    if (proc.child.exitCode !== null) throw new Error(`postgres exited: ${proc.output()}`);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      return;
    } catch {
      await c.end().catch(() => {});
      await new Promise((r) => setTimeout(r, Math.min(50 * (i + 1), 500)));
    }
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-pg-'));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'sock');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.mkdirSync(sock, { mode: 0o755 });
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  // the socket (owner only) needs no password; TCP on loopback does, as a real server's would
  const init = asOwner([path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync']);
  execFileSync(init.cmd, init.args, { stdio: 'pipe' });
  const port = await freePort();
  const run = asOwner([path.join(bin, 'postgres'), '-D', data, '-p', String(port), '-k', sock, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200']);
  const proc = startPeer(run.cmd, run.args);
  const password = crypto.randomBytes(12).toString('hex');
  const url = `postgres://nubis:${password}@127.0.0.1:${port}/postgres`;
  try {
    // over the socket as the bootstrap superuser: the role the tests (and Nubis) use
    const socketUrl = `postgres://postgres@/postgres?host=${encodeURIComponent(sock)}&port=${port}`;
    await untilReady(socketUrl, proc);
    const c = new pg.Client({ connectionString: socketUrl });
    await c.connect();
    try {
      await c.query(`create role nubis login superuser password '${password}'`);
    } finally {
      await c.end();
    }
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    url,
    password,
    port,
    proc,
    async createDatabase(prefix = 't') {
      const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`create database ${name}`);
      } finally {
        await c.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    async stop() {
      await proc.stop(10_000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether store tests run on PostgreSQL (NUBIS_TEST_STORE names its admin URL). */
export const ON_POSTGRES = Boolean(process.env.NUBIS_TEST_STORE);

/**
 * The PostgreSQL URL standing for a SQLite file (the same file, the same database, created on
 * first use), or for a fresh database when no file is given. Undefined on SQLite.
 */
export async function testStoreUrl(file?: string): Promise<string | undefined> {
  const admin = process.env.NUBIS_TEST_STORE;
  if (!admin) return undefined;
  const name = file ? `f_${crypto.createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 16)}` : `t_${crypto.randomBytes(8).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`create database ${name}`);
  } catch (e) {
    if ((e as { code?: string }).code !== '42P04') throw e; // 42P04: it exists (the file was opened before)
  } finally {
    await c.end();
  }
  return admin.replace(/\/[^/]*$/, `/${name}`);
}

/** A store for a test: the SQLite file (default ':memory:'), or its PostgreSQL stand-in under NUBIS_TEST_STORE. */
export async function openTestStore(file = ':memory:'): Promise<Store> {
  return openStore({ path: (await testStoreUrl(file === ':memory:' ? undefined : file)) ?? file });
}
