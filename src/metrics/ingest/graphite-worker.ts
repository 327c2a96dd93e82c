/**
 * A Graphite parse worker (node:worker_threads): receives blocks of complete lines as bytes,
 * parses them with `parseGraphiteBlock` (the same code as the main thread's) and posts back the
 * columns, its typed arrays transferred, not copied. Started by `GraphiteParsePool`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPathCache, parseGraphiteBlock } from './graphite.js';
import type { Labels } from '../types.js';

interface Request {
  id: number;
  bytes: Uint8Array;
  now: number;
}

const opts = workerData as { labels?: Labels; maxFutureMs?: number };
const cache = createPathCache();

parentPort!.on('message', (m: Request) => {
  const text = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length).toString('utf8');
  const cols = parseGraphiteBlock(text, m.now, opts, cache);
  parentPort!.postMessage({ id: m.id, cols }, [cols.series.buffer as ArrayBuffer, cols.t.buffer as ArrayBuffer, cols.v.buffer as ArrayBuffer]);
});
