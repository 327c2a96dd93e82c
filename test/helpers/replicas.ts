/**
 * Control-plane replicas for the peers tier: `nubis serve --replica` processes over one
 * PostgreSQL, each with its own data directory, their stderr kept (the log lines a test
 * waits on: "leads", "steps down", "FENCED"), killed with the test on failure (spawnTracked).
 * Plus a TCP proxy between one replica and the database that a test can cut and heal (a
 * network partition made of real connections failing, not a mock).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CLI, ROOT, TEST_ENV, firstLine, killGroup, spawnTracked, stopProcess } from './processes.js';

export interface ReplicaProcess {
  id: string;
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** Resolves once its stderr has a line matching `re` (no deadline: the test's timeout bounds it). */
  untilLog(re: RegExp): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A key all replicas share (secrets sealed by one are opened by another). */
export const SHARED_KEY = crypto.randomBytes(32).toString('base64');

export async function startReplicaProcess(o: { dataDir: string; store: string; id: string; leaseMs: number; extraArgs?: string[]; port?: number }): Promise<ReplicaProcess> {
  fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const child = spawnTracked(process.execPath, [CLI, 'serve', '--replica', '--data', o.dataDir, '--port', String(o.port ?? 0), '--store', o.store, '--lease-ms', String(o.leaseMs), '--replica-id', o.id, ...(o.extraArgs ?? [])], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...TEST_ENV, NUBIS_KEY: SHARED_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of [...waiters]) {
      const m = err.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  // a replica that dies on its own (not killed by the test) says why, for the failure message
  child.once('exit', (code) => {
    if (code !== null && code !== 0) console.log(`replica ${o.id} exited with code ${code}:\n${err.slice(-4000)}`);
  });
  try {
    const url = await firstLine(child, 'nubis serve --replica', (l) => /^nubis replica \S+ listening on (\S+)/.exec(l)?.[1]);
    child.stdout!.resume();
    return {
      id: o.id, url, dataDir: o.dataDir, child,
      log: () => err,
      untilLog(re) {
        const m = err.split('\n').find((l) => re.test(l));
        if (m !== undefined) return Promise.resolve(m);
        return new Promise((resolve, reject) => {
          waiters.push({ re, resolve });
          child.once('exit', () => reject(new Error(`replica ${o.id} exited before logging ${re}:\n${err}`)));
        });
      },
      stop: (signal = 'SIGTERM') => stopProcess(child, signal),
    };
  } catch (e) {
    killGroup(child);
    throw new Error(`replica ${o.id} did not start: ${String(e)}\n${err}`);
  }
}

/** The admin token, from whichever data directory the first leader wrote it into. */
export function findToken(dirs: string[]): string | undefined {
  for (const d of dirs) {
    const f = path.join(d, 'token');
    if (fs.existsSync(f)) return fs.readFileSync(f, 'utf8').trim();
  }
  return undefined;
}

/** One API call with a bearer token; never throws on a refused connection (status 0). */
export async function call(base: string, token: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  try {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { text };
    }
    return { status: r.status, json };
  } catch (e) {
    return { status: 0, json: { error: { message: String(e) } } };
  }
}

export interface CuttableProxy {
  port: number;
  /** Drops every connection and refuses new ones. */
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

/** A TCP proxy to 127.0.0.1:`port` that a test can cut. */
export async function startCuttableProxy(port: number): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    const up = net.connect(port, '127.0.0.1');
    sockets.add(client).add(up);
    const drop = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    heal() {
      cut = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
