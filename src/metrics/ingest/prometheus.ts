/**
 * Prometheus text exposition format 0.0.4:
 *
 *   # HELP http_requests_total The total number of HTTP requests.
 *   # TYPE http_requests_total counter
 *   http_requests_total{method="post",code="200"} 1027 1395066363000
 *   msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
 *
 * HELP, TYPE and other comments are skipped; label values may use the escapes `\\`, `\"` and
 * `\n`; values may be `NaN`, `+Inf`, `-Inf`; the optional timestamp is integer milliseconds.
 * Histograms and summaries are kept as the plain series they are written as (`_bucket{le=…}`,
 * `_sum`, `_count`, `{quantile=…}`).
 *
 * Malformed lines are returned (cut to 200 characters), never thrown; a line with a repeated
 * label name is malformed.
 */
import type { Labels, Sample } from '../types.js';
import { describeMalformed, type ParseResult } from './graphite.js';

export interface PrometheusParseOptions {
  /** Stamps samples without a timestamp (ms). Default Date.now(). */
  now?: number;
  /**
   * Added to every sample (e.g. `instance`, `job`, node). They win over an exposed label of the
   * same name, which is kept as `exported_<name>` (Prometheus's honor_labels: false).
   */
  labels?: Labels;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT_RE = /^-?\d+$/;

/** Parses a Prometheus sample value (Go ParseFloat syntax, the common forms). */
export function parsePromValue(s: string): number | undefined {
  if (FLOAT_RE.test(s)) return Number(s);
  switch (s.toLowerCase()) {
    case 'nan':
      return NaN;
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return undefined;
  }
}

/** Parses one sample line; undefined when malformed. */
function parseSampleLine(line: string, now: number, base: Labels | undefined): Sample | undefined {
  let i = 0;
  const n = line.length;
  const skipSpace = (): void => {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  };
  skipSpace();
  const nameStart = i;
  if (i >= n || !NAME_START.test(line[i]!)) return undefined;
  i++;
  while (i < n && NAME_CHAR.test(line[i]!)) i++;
  const name = line.slice(nameStart, i);
  // a name ends at whitespace or `{` (so `foo.5 1` and `foo-bar 1` are malformed)
  if (i < n && line[i] !== ' ' && line[i] !== '\t' && line[i] !== '{') return undefined;
  const labels: Labels = {};
  skipSpace();
  if (line[i] === '{') {
    i++;
    for (;;) {
      skipSpace();
      if (line[i] === '}') {
        i++;
        break;
      }
      const ls = i;
      if (i >= n || !LABEL_START.test(line[i]!)) return undefined;
      i++;
      while (i < n && LABEL_CHAR.test(line[i]!)) i++;
      const key = line.slice(ls, i);
      skipSpace();
      if (line[i] !== '=') return undefined;
      i++;
      skipSpace();
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      let closed = false;
      while (i < n) {
        const c = line[i]!;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === undefined) return undefined;
          else value += `\\${e}`; // unknown escapes are kept literally, as Prometheus does
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return undefined;
      if (Object.hasOwn(labels, key)) return undefined;
      labels[key] = value;
      skipSpace();
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      return undefined;
    }
  }
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') return undefined;
  const v = parsePromValue(rest[0]!);
  if (v === undefined) return undefined;
  let t = now;
  if (rest[1] !== undefined) {
    if (!INT_RE.test(rest[1])) return undefined;
    t = Number(rest[1]);
  }
  if (base) {
    for (const [k, val] of Object.entries(base)) {
      const had = labels[k];
      if (had !== undefined && had !== val) labels[`exported_${k}`] = had;
      labels[k] = val;
    }
  }
  return { name, labels, t, v };
}

/** Parses an exposition-format body (pure). */
export function parsePrometheusText(text: string, opts: PrometheusParseOptions = {}): ParseResult {
  const now = opts.now ?? Date.now();
  const samples: Sample[] = [];
  const malformed: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const s = parseSampleLine(line, now, opts.labels);
    if (s) samples.push(s);
    else malformed.push(describeMalformed(line));
  }
  return { samples, malformed };
}
