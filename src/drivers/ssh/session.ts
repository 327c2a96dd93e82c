/**
 * One SSH session to one pool host (ssh2): key-only login, host key pinned on first use, remote
 * commands with a deadline, file upload over SFTP. A session lives for one driver operation and
 * is closed after it, so every operation sees the host as it is now (a dead sshd or a pulled
 * cable shows at the next operation, not after a cached connection times out).
 *
 * Failure meaning (all NubisErrors):
 * - CLOUD_UNAVAILABLE (retryable): the host did not complete the handshake within
 *   `connectTimeoutMs` (link down, sshd dead or hung), refused or dropped the connection, stopped
 *   answering keepalives, or a command ran past its deadline.
 * - CLOUD_FORBIDDEN (not retryable): the host offered a host key other than the pinned one.
 *   The message names the host, both fingerprints and what an operator must do.
 * - CLOUD_UNAUTHORIZED (not retryable): the host refused the private key.
 * - ABORTED: the caller's signal fired; the connection is torn down.
 */
import { Client, type ConnectConfig } from 'ssh2';
import { NubisError } from '../../errors/index.js';
import { fingerprint, hostSpec, type KnownHosts } from './known-hosts.js';

export interface SshHost {
  /** Pool-unique name (default: the address, or `address:port`). */
  name: string;
  address: string;
  port: number;
  user: string;
}

export interface SessionOptions {
  privateKey: Buffer | string;
  knownHosts: KnownHosts;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Session {
  readonly host: SshHost;
  /** Runs `command` with the login shell; `stdin` is written and closed. Resolves with any exit code. */
  exec(command: string, opts: { stdin?: string; timeoutMs: number }): Promise<ExecResult>;
  /** Uploads local files (creating no directories: make them with exec first). */
  put(files: { local: string; remote: string; mode: number }[], timeoutMs: number): Promise<void>;
}

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

const label = (h: SshHost): string => `ssh host ${h.name} (${h.user}@${hostSpec(h.address, h.port)})`;

export function abortedError(): NubisError {
  return new NubisError('ABORTED', 'the ssh driver call was aborted');
}

/** Opens a session, runs `fn`, and closes the session whatever happens. */
export async function withSession<T>(host: SshHost, opts: SessionOptions, signal: AbortSignal, fn: (s: Session) => Promise<T>): Promise<T> {
  if (signal.aborted) throw abortedError();
  const client = new Client();
  /** The first fatal problem of this connection; every pending operation fails with it. */
  let failure: NubisError | undefined;
  const failed = new Set<(e: NubisError) => void>();
  const fail = (e: NubisError): void => {
    if (failure) return;
    failure = e;
    for (const f of failed) f(e);
    client.end();
    client.destroy();
  };
  const onAbort = (): void => fail(abortedError());
  signal.addEventListener('abort', onAbort, { once: true });

  /** Runs `work` until it settles or the connection fails; `cleanup` on failure. */
  const guarded = <R>(work: (resolve: (v: R) => void, reject: (e: NubisError) => void) => void): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      if (failure) return reject(failure);
      const onFail = (e: NubisError): void => reject(e);
      failed.add(onFail);
      work(
        (v) => {
          failed.delete(onFail);
          resolve(v);
        },
        (e) => {
          failed.delete(onFail);
          reject(e);
        },
      );
    });

  let keyProblem: NubisError | undefined;
  const pinnedTypes = opts.knownHosts.pinnedTypes(host.address, host.port);
  const config: ConnectConfig = {
    host: host.address,
    port: host.port,
    username: host.user,
    privateKey: opts.privateKey,
    readyTimeout: opts.connectTimeoutMs,
    keepaliveInterval: opts.keepaliveIntervalMs,
    keepaliveCountMax: 3,
    tryKeyboard: false,
    agent: undefined,
    hostVerifier: (key: Buffer): boolean => {
      const c = opts.knownHosts.check(host.address, host.port, key);
      if (c.result === 'pinned') return true;
      if (c.result === 'new') {
        opts.knownHosts.pin(host.address, host.port, key);
        return true;
      }
      keyProblem = new NubisError(
        'CLOUD_FORBIDDEN',
        `${label(host)} offered host key ${fingerprint(key)} but ${opts.knownHosts.path} pins ${c.pinned.join(', ')} for it; ` +
          'refusing to connect: this is a man-in-the-middle or a reinstalled host. If the host was re-keyed on purpose, ' +
          `check the new fingerprint on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), remove the line for ` +
          `${hostSpec(host.address, host.port)} from ${opts.knownHosts.path}, and retry`,
        { details: { host: host.name, address: host.address, port: host.port, pinned: c.pinned, offered: fingerprint(key) } },
      );
      return false;
    },
  };
  if (pinnedTypes.length > 0) config.algorithms = { serverHostKey: pinnedTypes.flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? [t]) as never };

  try {
    await guarded<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.on('error', (e: Error & { level?: string }) => {
        const err =
          keyProblem ??
          (e.level === 'client-authentication'
            ? new NubisError('CLOUD_UNAUTHORIZED', `${label(host)} refused the private key (key-only login); add its public key to ~${host.user}/.ssh/authorized_keys on the host`, {
                details: { host: host.name },
              })
            : new NubisError('CLOUD_UNAVAILABLE', `${label(host)} is unreachable: ${e.message}`, { details: { host: host.name }, cause: e }));
        if (failure) return;
        reject(err);
        fail(err);
      });
      client.on('close', () => fail(new NubisError('CLOUD_UNAVAILABLE', `${label(host)} closed the connection`, { details: { host: host.name } })));
      client.connect(config);
    });

    const session: Session = {
      host,
      exec: (command, { stdin, timeoutMs }) =>
        guarded<ExecResult>((resolve, reject) => {
          const timer = setTimeout(
            () => fail(new NubisError('CLOUD_UNAVAILABLE', `${label(host)} did not finish a command within ${timeoutMs} ms`, { details: { host: host.name } })),
            timeoutMs,
          );
          client.exec(command, (err, ch) => {
            if (err) {
              clearTimeout(timer);
              return reject(new NubisError('CLOUD_UNAVAILABLE', `${label(host)} refused a command channel: ${err.message}`, { cause: err }));
            }
            const out: Buffer[] = [];
            const errOut: Buffer[] = [];
            let code: number | null = null;
            ch.on('data', (d: Buffer) => out.push(d));
            ch.stderr.on('data', (d: Buffer) => errOut.push(d));
            ch.on('exit', (c: number | null) => (code = c));
            ch.on('close', () => {
              clearTimeout(timer);
              resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
            });
            ch.end(stdin ?? '');
          });
        }),
      put: (files, timeoutMs) =>
        guarded<void>((resolve, reject) => {
          const timer = setTimeout(
            () => fail(new NubisError('CLOUD_UNAVAILABLE', `${label(host)} did not take the upload within ${timeoutMs} ms`, { details: { host: host.name } })),
            timeoutMs,
          );
          client.sftp((err, sftp) => {
            if (err) {
              clearTimeout(timer);
              return reject(new NubisError('CLOUD_UNAVAILABLE', `${label(host)} has no SFTP subsystem: ${err.message}`, { cause: err }));
            }
            let i = 0;
            const next = (): void => {
              const f = files[i++];
              if (!f) {
                clearTimeout(timer);
                sftp.end();
                return resolve();
              }
              sftp.fastPut(f.local, f.remote, { mode: f.mode, concurrency: 32, chunkSize: 64 * 1024 }, (e) => {
                if (e) {
                  clearTimeout(timer);
                  sftp.end();
                  return reject(new NubisError('CLOUD_UNAVAILABLE', `${label(host)}: upload of ${f.remote} failed: ${e.message}`, { cause: e }));
                }
                next();
              });
            };
            next();
          });
        }),
    };
    return await fn(session);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (!failure) {
      failure = new NubisError('CLOUD_UNAVAILABLE', 'session closed');
      client.end();
    }
    client.destroy();
  }
}
