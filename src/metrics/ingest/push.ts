/**
 * Bodies of an HTTP push endpoint (the control plane's and the agent's), in either form:
 *
 *   text/plain          Graphite plaintext lines (see ./graphite.ts); malformed lines are
 *                       returned in `malformed`, the good ones are kept
 *   application/json    { "samples": [ { "name": "queue.length", "labels": {"queue": "in"}, "t": 1718000000000, "v": 12 } ] }
 *                       `labels` and `t` (ms; default now) are optional; `v` is a number or one of
 *                       the strings "NaN", "+Inf", "-Inf"
 *
 * Failure meaning: a JSON body is all-or-nothing. Any problem throws NubisError REQUEST_INVALID
 * naming the JSON path of the first problem (`$.samples[3].v: must be a number`) in the message
 * and in `details.path`; nothing is returned. Another content type throws
 * UNSUPPORTED_MEDIA_TYPE.
 */
import { NubisError } from '../../errors/index.js';
import type { Labels, Sample } from '../types.js';
import { parseGraphiteLines, type ParseResult } from './graphite.js';

export interface PushOptions {
  /** Stamps samples without a time (ms). Default Date.now(). */
  now?: number;
  /** Added to every sample; they win over pushed labels of the same name. */
  labels?: Labels;
  /** Most samples in one JSON body. Default 100,000. */
  maxSamples?: number;
}

const NAME_MAX = 1024;

function invalid(path: string, message: string): NubisError {
  return new NubisError('REQUEST_INVALID', `${path}: ${message}`, { details: { path } });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkValue(v: unknown, path: string): number {
  if (typeof v === 'number' && !Number.isNaN(v)) return v;
  if (v === 'NaN') return NaN;
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  throw invalid(path, 'must be a number (or "NaN", "+Inf", "-Inf")');
}

/** Validates a JSON push document; throws REQUEST_INVALID with the JSON path of the first problem. */
export function checkPushJson(doc: unknown, opts: PushOptions = {}): Sample[] {
  const now = opts.now ?? Date.now();
  const max = opts.maxSamples ?? 100_000;
  if (!isRecord(doc)) throw invalid('$', 'must be an object with a "samples" array');
  const list = doc['samples'];
  if (!Array.isArray(list)) throw invalid('$.samples', 'must be an array');
  if (list.length > max) throw invalid('$.samples', `has ${list.length} items; at most ${max} are accepted per request`);
  return list.map((item: unknown, i): Sample => {
    const p = `$.samples[${i}]`;
    if (!isRecord(item)) throw invalid(p, 'must be an object');
    for (const k of Object.keys(item)) {
      if (!['name', 'labels', 't', 'v'].includes(k)) throw invalid(`${p}.${k}`, 'is not a known field (name, labels, t, v)');
    }
    const name = item['name'];
    if (typeof name !== 'string' || name === '' || name.length > NAME_MAX || /[\x00-\x1f\x7f]/.test(name)) {
      throw invalid(`${p}.name`, `must be a non-empty string of at most ${NAME_MAX} printable characters`);
    }
    const labels: Labels = {};
    const rawLabels = item['labels'];
    if (rawLabels !== undefined) {
      if (!isRecord(rawLabels)) throw invalid(`${p}.labels`, 'must be an object of strings');
      for (const [k, v] of Object.entries(rawLabels)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(`${p}.labels.${k}`, 'is not a valid label name ([A-Za-z_][A-Za-z0-9_]*)');
        if (typeof v !== 'string') throw invalid(`${p}.labels.${k}`, 'must be a string');
        labels[k] = v;
      }
    }
    let t = now;
    if (item['t'] !== undefined) {
      const raw = item['t'];
      if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) throw invalid(`${p}.t`, 'must be milliseconds since the epoch');
      t = Math.round(raw);
    }
    if (!('v' in item)) throw invalid(`${p}.v`, 'is required');
    const v = checkValue(item['v'], `${p}.v`);
    if (opts.labels) {
      for (const [k, val] of Object.entries(opts.labels)) {
        const had = labels[k];
        if (had !== undefined && had !== val) labels[`exported_${k}`] = had;
        labels[k] = val;
      }
    }
    return { name, labels, t, v };
  });
}

/**
 * Parses a push body by its Content-Type (parameters such as `charset` are ignored; a missing
 * type is treated as text/plain).
 */
export function parsePushBody(contentType: string | undefined, body: string | Buffer, opts: PushOptions = {}): ParseResult {
  const type = (contentType ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (type === 'text/plain' || type === '') {
    return parseGraphiteLines(text, { ...(opts.now === undefined ? {} : { now: opts.now }), ...(opts.labels ? { labels: opts.labels } : {}) });
  }
  if (type === 'application/json') {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw invalid('$', `body is not JSON: ${(e as Error).message}`);
    }
    return { samples: checkPushJson(doc, opts), malformed: [] };
  }
  throw new NubisError('UNSUPPORTED_MEDIA_TYPE', `content type ${type} is not accepted; send text/plain (Graphite lines) or application/json`);
}
