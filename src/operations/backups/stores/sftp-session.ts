/**
 * One SSH connection with its SFTP channel for the SFTP store, opened on first use and again
 * after it dropped. The server's host key must match the pinned SHA-256 fingerprint (OpenSSH's
 * `SHA256:<base64>` form); a mismatch refuses the connection and names both fingerprints.
 * Credentials are used for the handshake only: never logged, never in an error message.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { NubisError } from '../../../errors/index.js';

export interface SftpEndpoint {
  host: string;
  port: number;
  user: string;
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -l -E sha256` prints it. */
  hostKeySha256: string;
  privateKey?: string | Buffer;
  passphrase?: string;
  password?: string;
  /** Handshake deadline (ms); default 20 000. */
  connectTimeoutMs?: number;
}

export interface SftpSession {
  readonly sftp: SFTPWrapper;
  /** True once the connection is gone; operations then fail and the next one reconnects. */
  readonly lost: () => boolean;
  /** Rejects when the connection is gone: race requests against it (ssh2 never answers one sent after the drop). */
  readonly gone: Promise<never>;
  /** The TCP socket under the connection: a burst of requests is corked into one writev. */
  readonly sock: net.Socket;
}

/** The OpenSSH SHA-256 fingerprint of a public key blob. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Accepts `SHA256:` + 43 base64 characters; REQUEST_INVALID otherwise. */
export function checkFingerprint(fp: string, field = 'hostKeySha256'): string {
  if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(fp)) {
    throw new NubisError('REQUEST_INVALID', `${field} must be an OpenSSH SHA-256 host key fingerprint like SHA256:<43 base64 characters> (ssh-keygen -l -E sha256 -f key.pub), not ${JSON.stringify(fp)}`);
  }
  return fp;
}

/** Opens (and reopens after a drop) the store's one connection. */
export function sftpConnector(ep: SftpEndpoint): { session(signal: AbortSignal): Promise<SftpSession>; close(): Promise<void> } {
  const where = `sftp:${ep.user}@${ep.host}:${ep.port}`;
  let current: { client: Client; session: SftpSession } | undefined;
  let opening: Promise<SftpSession> | undefined;
  let closed = false;

  function open(signal: AbortSignal): Promise<SftpSession> {
    return new Promise<SftpSession>((resolve, reject) => {
      const client = new Client();
      // Our own socket, so bursts of WRITE requests can be corked (see pipelinedWrite).
      const sock = net.connect({ host: ep.host, port: ep.port });
      sock.setNoDelay(true);
      let seen: string | undefined;
      let lost = false;
      let settled = false;
      let markGone: (e: Error) => void = () => {};
      const gone = new Promise<never>((_, reject) => (markGone = reject));
      gone.catch(() => {});
      const drop = (why: string): void => {
        lost = true;
        markGone(new Error(`the SSH connection closed (${why})`));
      };
      const fail = (e: NubisError): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        client.end();
        reject(e);
      };
      const onAbort = (): void => fail(new NubisError('ABORTED', `connecting to ${where}: cancelled`));
      signal.addEventListener('abort', onAbort, { once: true });
      client.on('error', (e: Error & { level?: string }) => {
        drop(e.message);
        fail(connectError(e, where, ep.hostKeySha256, seen));
      });
      client.on('end', () => drop('ended'));
      client.on('close', () => {
        drop('closed');
        if (current?.client === client) current = undefined;
        fail(new NubisError('BACKUP_STORE_FAILED', `${where}: the connection closed during the handshake`));
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(new NubisError('BACKUP_STORE_FAILED', `${where}: the server refused the sftp subsystem: ${err.message}`, { cause: err }));
          if (settled) return void client.end();
          settled = true;
          signal.removeEventListener('abort', onAbort);
          const session: SftpSession = { sftp, lost: () => lost, gone, sock };
          const end = (): void => {
            drop('the sftp channel ended');
            client.end();
          };
          sftp.on('end', end);
          sftp.on('close', end);
          current = { client, session };
          resolve(session);
        });
      });
      const cfg: ConnectConfig = {
        sock,
        host: ep.host,
        port: ep.port,
        username: ep.user,
        readyTimeout: ep.connectTimeoutMs ?? 20_000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          seen = sshFingerprint(key);
          return seen === ep.hostKeySha256;
        },
        ...(ep.privateKey !== undefined ? { privateKey: ep.privateKey } : {}),
        ...(ep.passphrase !== undefined ? { passphrase: ep.passphrase } : {}),
        ...(ep.password !== undefined ? { password: ep.password } : {}),
        // Try what was given once each; never fall back to keyboard-interactive prompts.
        tryKeyboard: false,
      };
      try {
        client.connect(cfg);
      } catch (e) {
        fail(new NubisError('BACKUP_STORE_FAILED', `${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, retryable: false }));
      }
    });
  }

  return {
    async session(signal) {
      if (closed) throw new NubisError('BACKUP_STORE_FAILED', `${where}: the store is closed`, { retryable: false });
      if (current && !current.session.lost()) return current.session;
      opening ??= open(signal).finally(() => {
        opening = undefined;
      });
      return opening;
    },
    async close() {
      closed = true;
      const c = current;
      current = undefined;
      if (!c) return;
      await new Promise<void>((resolve) => {
        c.client.once('close', () => resolve());
        c.client.end();
        setTimeout(resolve, 2000).unref();
      });
    },
  };
}

/** What a failed handshake means: host key mismatch, refused credentials, or (retryable) the network. */
function connectError(e: Error & { level?: string; code?: string }, where: string, pinned: string, seen: string | undefined): NubisError {
  if (seen !== undefined && seen !== pinned) {
    return new NubisError('BACKUP_STORE_HOST_KEY_MISMATCH',
      `${where}: the server's host key is ${seen}, but the store pins ${pinned}; refusing to connect (if the host was re-keyed on purpose, pin the new fingerprint)`,
      { cause: e, details: { pinned, presented: seen } });
  }
  if (e.level === 'client-authentication') {
    return new NubisError('BACKUP_STORE_AUTH_FAILED', `${where}: the server refused the credentials (${e.message}); not retried — check the user and its key or password`, { cause: e });
  }
  const net = e.code ? ` (${e.code})` : '';
  return new NubisError('BACKUP_STORE_FAILED', `${where}: cannot connect${net}: ${e.message}`, { cause: e });
}
