/**
 * Where a JSON path (`clouds.pool.options.hosts[0].port`) is in a spec's YAML text, so errors
 * found after parsing (driver options checked at `plan`) point at file:line:col like parse
 * errors do. Pure.
 */
import { LineCounter, isNode, parseDocument } from 'yaml';
import { NubisError } from '../errors/index.js';

/** `a.b[0].c` → ['a', 'b', 0, 'c']; a leading `$.` is allowed. */
export function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.replace(/^\$\.?/, '').matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** Line and column (1-based) of the value at `path`, else of its nearest ancestor present in the text. */
export function locateInSpec(text: string, path: string): { line: number; col: number } | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, logLevel: 'silent' });
  const segs = pathSegments(path);
  for (let n = segs.length; n > 0; n--) {
    const node: unknown = doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
  }
  return undefined;
}

/**
 * A SPEC_INVALID error whose `details.path` names a place in the spec, prefixed with
 * `file:line:col: ` (and the position added to its details); any other error unchanged.
 */
export function withSpecPosition(e: unknown, text: string, file: string): unknown {
  if (!(e instanceof NubisError) || e.code !== 'SPEC_INVALID') return e;
  const details = e.details as { path?: unknown; line?: unknown } | undefined;
  if (typeof details?.path !== 'string' || details.line !== undefined) return e;
  const at = locateInSpec(text, details.path);
  if (!at) return e;
  return new NubisError('SPEC_INVALID', `${file}:${at.line}:${at.col}: ${e.message}`, { details: { ...details, file, line: at.line, col: at.col }, cause: e });
}
