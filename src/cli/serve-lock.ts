/**
 * One control plane per data directory: a lock the kernel releases when its holder dies, even
 * by SIGKILL (a pid file alone is not a lock: it outlives a killed process).
 *
 * On Linux the lock is a listening unix socket in the abstract namespace, named after the data
 * directory's real path (`\0nubis-serve-<sha256>`): binding it is atomic, there is no file that
 * can go stale, and the name is gone the moment the holder's last descriptor closes. Elsewhere it
 * is a socket file `<dataDir>/serve.lock.sock`; a file nobody listens on (connect refused) is
 * stale and taken over — two processes taking over the same stale file at the same instant can
 * both win there, a window the abstract name does not have.
 *
 * The holder answers every connection with `{"pid":N}`, so a refused start can name it.
 * Limits: the abstract namespace is per network namespace, so two `serve` in different network
 * namespaces over one directory are not kept apart.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NubisError } from '../errors/index.js';

export interface ServeLock {
  /** Where the lock lives: the abstract name (printable form) or the socket file. */
  readonly name: string;
  release(): Promise<void>;
}

/** How long a refused start waits for the holder to say its pid before refusing without it. */
const PID_READ_MS = 2000;

function lockAddress(dataDir: string): { listen: string; name: string; file?: string } {
  if (process.platform === 'linux') {
    const digest = createHash('sha256').update(fs.realpathSync(dataDir)).digest('hex').slice(0, 40);
    return { listen: `\0nubis-serve-${digest}`, name: `@nubis-serve-${digest}` };
  }
  const file = path.join(dataDir, 'serve.lock.sock');
  return { listen: file, name: file, file };
}

function listen(address: string): Promise<net.Server | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end(`${JSON.stringify({ pid: process.pid })}\n`);
    });
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    server.listen(address, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      server.unref();
      resolve(server);
    });
  });
}

/** Connects to a held lock and reads the holder's pid: a number, `undefined` (it said nothing), or the connect error. */
function askHolder(address: string): Promise<{ pid?: number } | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    let text = '';
    let connected = false;
    const done = (): void => {
      socket.destroy();
      const pid = Number((/"pid":(\d+)/.exec(text) ?? [])[1]);
      resolve(Number.isInteger(pid) && pid > 0 ? { pid } : {});
    };
    socket.setTimeout(PID_READ_MS, done);
    socket.on('connect', () => (connected = true));
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.on('end', done);
    socket.on('error', (e: NodeJS.ErrnoException) => (connected ? done() : resolve(e)));
  });
}

function refused(dataDir: string, pid: number | undefined): NubisError {
  const who = pid === undefined ? 'another nubis serve' : `nubis serve pid ${pid}`;
  return new NubisError('CONFLICT', `${who} already runs on data directory ${dataDir}; stop it first or choose another --data`, {
    details: { ...(pid === undefined ? {} : { pid }) },
  });
}

/**
 * Takes the data directory's lock, or throws CONFLICT naming the running holder's pid.
 * The directory is created (mode 0700) when missing.
 */
export async function acquireServeLock(dataDir: string): Promise<ServeLock> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const addr = lockAddress(dataDir);
  for (let attempt = 0; attempt < 5; attempt++) {
    const got = await listen(addr.listen);
    if (got instanceof net.Server) {
      return {
        name: addr.name,
        release: () =>
          new Promise<void>((resolve) => {
            got.close(() => resolve());
          }),
      };
    }
    if (got.code !== 'EADDRINUSE') throw got;
    const holder = await askHolder(addr.listen);
    if (!(holder instanceof Error)) throw refused(dataDir, holder.pid);
    // a socket file nobody listens on: its holder died; take it over
    if (addr.file && holder.code === 'ECONNREFUSED') fs.rmSync(addr.file, { force: true });
  }
  throw refused(dataDir, undefined);
}
