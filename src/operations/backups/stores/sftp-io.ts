/**
 * SFTP file operations for the SFTP store: promise wrappers over ssh2's callbacks, and pipelined
 * transfers — several WRITE (or READ) requests in flight at successive offsets, so throughput is
 * bounded by the link and the server, not by one round trip per chunk. Hashing happens in the
 * same pass as the writes.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import type { ObjectDigest } from './types.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7). */
export const FX = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4 } as const;

export type SftpError = Error & { code?: number | string };

/** `s` with the session's `gone`: a request either answers or fails when the connection drops. */
export interface Channel {
  sftp: SFTPWrapper;
  gone: Promise<never>;
  /** When given, the requests made from one incoming chunk go out corked (one writev, not one write per SSH packet). */
  sock?: Socket;
}

export const sftpOps = ({ sftp: s, gone }: Channel) => {
  const call = <T>(f: (cb: (err: SftpError | undefined | null, v: T) => void) => void): Promise<T> =>
    Promise.race([new Promise<T>((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v)))), gone]);
  const ops = {
  open: (p: string, flags: 'w' | 'r', mode?: number) => call<Buffer>((cb) => s.open(p, flags, mode === undefined ? {} : { mode }, cb)),
  close: (h: Buffer) => call<void>((cb) => s.close(h, cb)),
  fstat: (h: Buffer) => call<Stats>((cb) => s.fstat(h, cb)),
  stat: (p: string) => call<Stats>((cb) => s.stat(p, cb)),
  mkdir: (p: string) => call<void>((cb) => s.mkdir(p, { mode: 0o700 }, cb)),
  unlink: (p: string) => call<void>((cb) => s.unlink(p, cb)),
  readdir: (p: string) => call<FileEntryWithStats[]>((cb) => s.readdir(p, cb)),
  fsync: (h: Buffer) => call<void>((cb) => s.ext_openssh_fsync(h, cb)),
  statvfs: (p: string) => call<{ f_frsize: number; f_bavail: number }>((cb) => s.ext_openssh_statvfs(p, cb)),
  };
  const rename = (from: string, to: string): Promise<void> => call<void>((cb) => s.rename(from, to, cb));
  return {
    ...ops,
    /**
     * Moves `from` over `to`: atomically with posix-rename@openssh.com where offered; otherwise
     * RENAME, which SFTP v3 refuses over an existing file, so then the old one is removed first.
     */
    replace: async (from: string, to: string): Promise<void> => {
      if (hasExt(s, 'posix-rename@openssh.com')) return call<void>((cb) => s.ext_openssh_rename(from, to, cb));
      await rename(from, to).catch(async () => {
        await ops.unlink(to).catch(() => {});
        await rename(from, to);
      });
    },
  };
};

/** Whether the server announced an extension (ssh2 keeps them on a private field). */
export function hasExt(s: SFTPWrapper, name: string): boolean {
  const ext = (s as unknown as { _extensions?: Record<string, string> })._extensions;
  return ext !== undefined && Object.hasOwn(ext, name);
}

const S_IFMT = 0o170000;
export const isDir = (mode: number): boolean => (mode & S_IFMT) === 0o040000;
export const isFile = (mode: number): boolean => (mode & S_IFMT) === 0o100000;

/** mkdir -p; `known` remembers directories already made or seen. */
export async function mkdirp(s: Channel, dir: string, known: Set<string>): Promise<void> {
  if (known.has(dir)) return;
  const ops = sftpOps(s);
  try {
    if (isDir((await ops.stat(dir)).mode)) {
      known.add(dir);
      return;
    }
  } catch (e) {
    if ((e as SftpError).code !== FX.NO_SUCH_FILE) throw e;
  }
  const parent = path.posix.dirname(dir);
  if (parent !== dir) await mkdirp(s, parent, known);
  try {
    await ops.mkdir(dir);
  } catch (e) {
    // Another writer may have made it meanwhile (OpenSSH answers FAILURE for EEXIST).
    if (!isDir((await ops.stat(dir).catch(() => ({ mode: 0 }))).mode)) throw e;
  }
  known.add(dir);
}

/** Incoming chunks smaller than this are gathered into one request. */
const GATHER = 32 * 1024;

export interface PipelineOptions {
  /** Bytes per request. */
  chunkBytes: number;
  /** Requests in flight. */
  inFlight: number;
}

/**
 * Writes `body` to the open `handle` from offset 0, hashing as it goes. Incoming chunks are cut
 * into requests of at most `chunkBytes` (small ones gathered); at most `inFlight` are outstanding. The first failed
 * request fails the whole write (after the others answered).
 */
export async function pipelinedWrite({ sftp: s, gone, sock }: Channel, handle: Buffer, body: AsyncIterable<Uint8Array>, o: PipelineOptions, signal: AbortSignal): Promise<ObjectDigest> {
  const hash = createHash('sha256');
  let offset = 0;
  let outstanding = 0;
  let failed: SftpError | undefined;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let corked = false;
  const cork = (): void => {
    if (sock && !corked) {
      sock.cork();
      corked = true;
    }
  };
  const uncork = (): void => {
    if (corked) {
      corked = false;
      sock!.uncork();
    }
  };
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) {
      uncork(); // what waits for answers must have gone out
      await Promise.race([new Promise<void>((r) => (wake = r)), gone]);
    }
  };
  const send = async (buf: Buffer): Promise<void> => {
    await until(() => outstanding < o.inFlight || failed !== undefined);
    if (failed) throw failed;
    outstanding++;
    const at = offset;
    offset += buf.byteLength;
    // ssh2 copies `buf` into its packet before returning, so the caller may reuse it.
    s.write(handle, buf, 0, buf.byteLength, at, (err) => {
      outstanding--;
      if (err && !failed) failed = err;
      settle();
    });
  };
  // Chunks go out as they come (cut at chunkBytes; ssh2 copies them into its packets anyway);
  // only small ones are gathered first, so no byte is copied twice on the way.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await send(b);
  };
  try {
    for await (const c of body) {
      signal.throwIfAborted();
      const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      hash.update(chunk);
      if (chunk.byteLength < GATHER) {
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= GATHER) await flush();
        continue;
      }
      cork();
      await flush();
      for (let at = 0; at < chunk.byteLength; at += o.chunkBytes) await send(chunk.subarray(at, at + o.chunkBytes));
      uncork();
    }
    await flush();
    signal.throwIfAborted();
  } finally {
    uncork();
    // Never leave requests answering into a handle the caller is about to close.
    await until(() => outstanding === 0);
  }
  if (failed) throw failed;
  return { sizeBytes: offset, sha256: hash.digest('hex') };
}

/** Reads `[at, at+len)` fully (the server may answer short); fewer bytes only at end of file. */
function readRange({ sftp: s, gone }: Channel, handle: Buffer, at: number, len: number): Promise<Buffer> {
  return Promise.race([gone, new Promise<Buffer>((resolve, reject) => {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    const next = (): void => {
      s.read(handle, buf, got, len - got, at + got, (err, n) => {
        if (err) return (err as SftpError).code === FX.EOF ? resolve(buf.subarray(0, got)) : reject(err);
        if (n === 0) return resolve(buf.subarray(0, got));
        got += n;
        if (got >= len) resolve(buf);
        else next();
      });
    };
    next();
  })]);
}

/** The bytes of the open `handle` of `size` bytes (its size when opened: stored objects do not change), with up to `inFlight` READs ahead, in order. */
export async function* pipelinedRead(s: Channel, handle: Buffer, size: number, o: PipelineOptions, signal: AbortSignal): AsyncGenerator<Buffer> {
  const ahead: Promise<Buffer>[] = [];
  let next = 0;
  const fill = (): void => {
    while (ahead.length < o.inFlight && next < size) {
      const len = Math.min(o.chunkBytes, size - next);
      const p = readRange(s, handle, next, len);
      p.catch(() => {}); // awaited in order below; do not let a later one go unhandled meanwhile
      ahead.push(p);
      next += len;
    }
  };
  fill();
  while (ahead.length > 0) {
    signal.throwIfAborted();
    const buf = await ahead.shift()!;
    if (buf.byteLength > 0) yield buf;
    if (buf.byteLength === 0) break;
    fill();
  }
}
