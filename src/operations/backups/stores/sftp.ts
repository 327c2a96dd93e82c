/**
 * An SFTP server as the long-term store (ssh2). put writes `<key>.partial-<random>` with pipelined
 * WRITEs (hashing in the same pass), fsyncs it where the server offers fsync@openssh.com and
 * renames it into place (posix-rename@openssh.com where offered), so only complete objects are
 * ever listed. A full remote disk is BACKUP_STORE_FULL; a host key other than the pinned one is
 * BACKUP_STORE_HOST_KEY_MISMATCH; refused credentials BACKUP_STORE_AUTH_FAILED (not retried). A
 * dropped connection fails what was in flight (a put leaves at most an unlisted partial) and the
 * next operation reconnects; reads and listings retry once on a fresh connection.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { NubisError, isNubisError } from '../../../errors/index.js';
import { createFixedLimiter } from '../../../drivers/index.js';
import { digestOf } from './hashing.js';
import { checkKey, storeError } from './keys.js';
import { checkFingerprint, sftpConnector, type SftpEndpoint, type SftpSession } from './sftp-session.js';
import { FX, hasExt, isDir, isFile, mkdirp, pipelinedRead, pipelinedWrite, sftpOps, type PipelineOptions, type SftpError } from './sftp-io.js';
import type { BackupStore, ObjectDigest, StoredObject } from './types.js';

const PARTIAL = '.partial-';

export interface SftpStoreOptions extends Omit<SftpEndpoint, 'port'> {
  port?: number;
  /** Absolute remote directory the objects live under; made when missing. */
  path: string;
  /** Store operations running at once over the one connection (default 4). */
  concurrency?: number;
  /** WRITE/READ requests in flight per transfer (default 16). */
  requestsInFlight?: number;
  /** Bytes per WRITE/READ request (default 255 KiB: under OpenSSH's 256 KiB packet limit with framing). */
  requestBytes?: number;
}

export function createSftpStore(o: SftpStoreOptions): BackupStore {
  if (!path.posix.isAbsolute(o.path)) throw new NubisError('REQUEST_INVALID', `an sftp store needs an absolute remote path, not ${JSON.stringify(o.path)}`);
  checkFingerprint(o.hostKeySha256);
  if (o.privateKey === undefined && o.password === undefined) throw new NubisError('REQUEST_INVALID', 'an sftp store needs a private key or a password');
  const port = o.port ?? 22;
  const root = path.posix.normalize(o.path);
  const describe = `sftp:${o.user}@${o.host}:${port}${root}`;
  const conn = sftpConnector({ ...o, port });
  const limiter = createFixedLimiter({ limit: o.concurrency ?? 4 });
  const io: PipelineOptions = { chunkBytes: o.requestBytes ?? 255 * 1024, inFlight: o.requestsInFlight ?? 16 };
  const knownDirs = new Set<string>();
  const remote = (key: string): string => path.posix.join(root, checkKey(key));

  /** `attempt` under one of the store's `concurrency` permits. */
  async function withSession<T>(signal: AbortSignal, what: string, retry: boolean, f: (s: SftpSession) => Promise<T>): Promise<T> {
    const release = await limiter.acquire(signal);
    try {
      return await attempt(signal, what, retry, f);
    } finally {
      release();
    }
  }

  /** Runs `f` on a live session; with `retry`, once more on a fresh connection when the first one dropped. */
  async function attempt<T>(signal: AbortSignal, what: string, retry: boolean, f: (s: SftpSession) => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      const s = await conn.session(signal);
      try {
        return await f(s);
      } catch (e) {
        if (!s.lost() || isNubisError(e)) throw sftpError(e, `${what} on ${describe}`);
        knownDirs.clear();
        if (!retry || n > 0) throw new NubisError('BACKUP_STORE_FAILED', `${what} on ${describe}: the connection dropped (${(e as Error).message})`, { cause: e });
      }
    }
  }

  async function put(key: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<ObjectDigest> {
    const target = remote(key);
    const tmp = `${target}${PARTIAL}${randomBytes(6).toString('hex')}`;
    return withSession(signal, `writing ${key}`, false, async (ch) => {
      const { sftp, lost } = ch;
      const ops = sftpOps(ch);
      await mkdirp(ch, path.posix.dirname(target), knownDirs);
      const handle = await ops.open(tmp, 'w', 0o600);
      let open = true;
      try {
        const d = await pipelinedWrite(ch, handle, body, io, signal);
        if (hasExt(sftp, 'fsync@openssh.com')) await ops.fsync(handle);
        open = false;
        await ops.close(handle);
        await ops.replace(tmp, target);
        return d;
      } catch (e) {
        const full = !lost() && (await isFull(ch, e, target));
        if (open) await ops.close(handle).catch(() => {});
        if (!lost()) await ops.unlink(tmp).catch(() => {});
        if (full) throw new NubisError('BACKUP_STORE_FULL', `writing ${key} to ${describe}: the remote file system is full (${(e as Error).message})`, { cause: e });
        throw e;
      }
    });

    /** A FAILURE answer means "disk full" when the server says so, or when statvfs shows (almost) no space left. */
    async function isFull(ch: SftpSession, e: unknown, file: string): Promise<boolean> {
      const err = e as SftpError;
      if (err.code !== FX.FAILURE) return false;
      if (/no space|quota|disk full/i.test(err.message)) return true;
      if (!hasExt(ch.sftp, 'statvfs@openssh.com')) return false;
      const v = await sftpOps(ch).statvfs(path.posix.dirname(file)).catch(() => undefined);
      return v !== undefined && v.f_bavail * v.f_frsize < io.chunkBytes * io.inFlight;
    }
  }

  async function* read(key: string, signal: AbortSignal): AsyncGenerator<Buffer> {
    const file = remote(key);
    // The permit is held until the reader finishes (or stops early: for-await's return runs finally).
    const release = await limiter.acquire(signal);
    try {
      const s = await attempt(signal, `reading ${key}`, true, async (s) => {
        const handle = await sftpOps(s).open(file, 'r');
        return { s, handle, size: (await sftpOps(s).fstat(handle)).size };
      });
      try {
        yield* pipelinedRead(s.s, s.handle, s.size, io, signal);
      } catch (e) {
        throw s.s.lost() && !isNubisError(e)
          ? new NubisError('BACKUP_STORE_FAILED', `reading ${key} from ${describe}: the connection dropped`, { cause: e })
          : sftpError(e, `reading ${key} from ${describe}`);
      } finally {
        if (!s.s.lost()) await sftpOps(s.s).close(s.handle).catch(() => {});
      }
    } finally {
      release();
    }
  }

  const digest = (key: string, signal: AbortSignal): Promise<ObjectDigest> => digestOf(read(key, signal));

  async function list(prefix: string, signal: AbortSignal): Promise<StoredObject[]> {
    return withSession(signal, 'listing', true, async (ch) => {
      const ops = sftpOps(ch);
      const out: StoredObject[] = [];
      const walk = async (dir: string, rel: string): Promise<void> => {
        signal.throwIfAborted();
        let entries;
        try {
          entries = await ops.readdir(dir);
        } catch (e) {
          if ((e as SftpError).code === FX.NO_SUCH_FILE) return;
          throw e;
        }
        for (const e of entries) {
          if (e.filename === '.' || e.filename === '..') continue;
          const key = rel ? `${rel}/${e.filename}` : e.filename;
          if (isDir(e.attrs.mode)) {
            // Only descend where keys under it can start with `prefix`.
            if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) await walk(`${dir}/${e.filename}`, key);
          } else if (isFile(e.attrs.mode) && !e.filename.includes(PARTIAL) && key.startsWith(prefix)) {
            out.push({ key, sizeBytes: e.attrs.size, storedAt: e.attrs.mtime * 1000 });
          }
        }
      };
      await walk(root, '');
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  }

  async function remove(key: string, signal: AbortSignal): Promise<void> {
    const file = remote(key);
    await withSession(signal, `deleting ${key}`, true, async (ch) => {
      await sftpOps(ch).unlink(file).catch((e: SftpError) => {
        if (e.code !== FX.NO_SUCH_FILE) throw e;
      });
    });
  }

  return { kind: 'sftp', describe, put, digest, get: read, list, delete: remove, close: () => conn.close() };
}

/** An SFTP status as a store error: NO_SUCH_FILE → NOT_FOUND, PERMISSION_DENIED → not retryable. */
function sftpError(e: unknown, what: string): NubisError {
  if (isNubisError(e)) return e;
  const err = e as SftpError;
  if (err.code === FX.NO_SUCH_FILE) return new NubisError('NOT_FOUND', `${what}: no such object`, { cause: e });
  if (err.code === FX.PERMISSION_DENIED) return new NubisError('BACKUP_STORE_FAILED', `${what}: permission denied`, { cause: e, retryable: false });
  return storeError(e, what);
}
