/**
 * A job's FIFO channel, as the agent reads it. The shim (./job-shim.ts) writes one record per
 * call to the job's FIFO `ch` in a single write of less than PIPE_BUF bytes (so concurrent calls
 * from one job never interleave): seven fields separated by 0x1f and ended by 0x1e and a newline
 * — reply FIFO (empty: no answer wanted), ECF_NAME, ECF_PASS, ECF_TRYNO, ECF_RID of the calling
 * process, the verb argument and the rest of the arguments joined by spaces. For the verbs that
 * wait (`--init`, `--complete`, `--abort`, `--wait`, `--queue`) the shim first takes one of the
 * job's eight reply slots (creating its lock file `l<i>` with noclobber by `true >file`, a
 * builtin, no fork — not `:`, a special builtin whose failed redirection would end the shell;
 * when all eight are taken it retries every 10 ms), opens that slot's reply FIFO `r<i>`, then
 * blocks reading one line: `ok[ value]` or `refused <why>`, written by the agent once the control
 * plane answered (so ordering holds: nothing the job does after `--complete` returns can
 * overtake it); the agent removes the lock after answering (the next call of the same caller
 * takes another free slot meanwhile). Event, meter and label calls do not wait.
 *
 * The agent opens the FIFO read-write (it never sees an end of file on it) and non-blocking.
 * Failure meaning: an answer for a caller that is gone is dropped (ENXIO: no reader).
 */
import { closeSync, constants as fsConstants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { SLOTS } from './job-rundirs.js';
import { RECORD } from './job-shim.js';

export interface Channel {
  readonly runDir: string;
  /** The channel FIFO. */
  readonly path: string;
  /** The reply FIFOs (a waiting caller holds the lock `l<i>` of the one it reads). */
  readonly replies: readonly string[];
  socket?: Socket;
  /** The channel's descriptor (the socket's), read directly to drain it before a job-port call. */
  fd?: number;
  buffer: string;
  decoder: StringDecoder;
}

/** Longest record taken. */
export const MAX_RECORD = 4096;

/** Where drain reads (one for the process: the reads are synchronous). */
const drainBuffer = Buffer.alloc(65536);

export function newChannel(runDir: string): Channel {
  return { runDir, path: join(runDir, 'ch'), replies: SLOTS.map((i) => join(runDir, `r${i}`)), buffer: '', decoder: new StringDecoder('utf8') };
}

/** Starts reading the channel; `onChunk` gets what arrives. */
export function openChannel(ch: Channel, onChunk: (c: Buffer) => void, onError: (e: Error) => void): void {
  const fd = openSync(ch.path, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: true, writable: false });
  socket.on('data', onChunk);
  socket.on('error', onError);
  ch.socket = socket;
  ch.fd = fd;
}

export function closeChannel(ch: Channel): void {
  ch.socket?.destroy();
  ch.socket = undefined;
  ch.fd = undefined;
}

/** Reads what the channel holds now, before the event loop would. */
export function drainChannel(ch: Channel, onChunk: (c: Buffer) => void): void {
  if (ch.fd === undefined || !ch.socket) return;
  for (;;) {
    let n: number;
    try {
      n = readSync(ch.fd, drainBuffer, 0, drainBuffer.length, null);
    } catch {
      return; // EAGAIN: empty
    }
    if (n <= 0) return;
    onChunk(drainBuffer.subarray(0, n));
  }
}

/**
 * Adds `chunk` to what the channel holds and hands over each whole record's text. True when
 * data without a record end in sight was dropped (garbage on the channel).
 */
export function takeRecords(ch: Channel, chunk: Buffer, onText: (text: string) => void): boolean {
  // a character may be split between chunks
  ch.buffer += ch.decoder.write(chunk);
  for (;;) {
    const end = ch.buffer.indexOf(RECORD);
    if (end < 0) break;
    const text = ch.buffer.slice(0, end);
    ch.buffer = ch.buffer.slice(end + RECORD.length);
    onText(text);
  }
  if (ch.buffer.length <= MAX_RECORD * 4) return false;
  ch.buffer = '';
  return true;
}

/** The sender of an answer to a caller waiting on reply FIFO `slot`; frees the slot after. */
export const replySender = (ch: Channel, slot: number) => (text: string): void => {
  try {
    const fd = openSync(ch.replies[slot]!, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    try {
      writeSync(fd, `${text.replace(/[\r\n]+/g, ' ')}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // the caller is gone (ENXIO: no reader): nothing to tell
  }
  try {
    // the next waiting call of the job may go
    unlinkSync(join(ch.runDir, `l${slot}`));
  } catch {
    // already removed
  }
};
