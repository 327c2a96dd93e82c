/**
 * Request validation with messages a person can act on: every problem names the JSON path,
 * what was expected and what was found, e.g. `$.count: expected integer ≥ 0, found string "x"`.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { NubisError } from '../errors/index.js';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Turns a JSON pointer (`/a/0/b`) into a JSONPath (`$.a[0].b`), walking `root` to tell arrays from objects. */
export function pointerToPath(pointer: string, root: unknown): string {
  let out = '$';
  let cur: unknown = root;
  const parts = pointer === '' ? [] : pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  for (const part of parts) {
    if (Array.isArray(cur) && /^\d+$/.test(part)) out += `[${part}]`;
    else out += IDENT.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  }
  return out;
}

/** A short description of a value's type and content, for "found …". */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array of ${v.length}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  return typeof v;
}

/** A short description of what a schema accepts, for "expected …". */
export function describeSchema(s: TSchema): string {
  const r = s as Record<string, unknown>;
  if (Array.isArray(r['anyOf'])) {
    return (r['anyOf'] as TSchema[]).map(describeSchema).join(' or ');
  }
  if (r['const'] !== undefined) return JSON.stringify(r['const']);
  const type = typeof r['type'] === 'string' ? (r['type'] as string) : 'value';
  const bounds: string[] = [];
  if (typeof r['minimum'] === 'number') bounds.push(`≥ ${r['minimum']}`);
  if (typeof r['maximum'] === 'number') bounds.push(`≤ ${r['maximum']}`);
  if (typeof r['minLength'] === 'number' && r['minLength'] > 0) bounds.push(`of at least ${r['minLength']} characters`);
  if (typeof r['maxLength'] === 'number') bounds.push(`of at most ${r['maxLength']} characters`);
  if (typeof r['pattern'] === 'string') bounds.push(`matching /${r['pattern']}/`);
  return [type, ...bounds].join(' ');
}

function problem(e: ValueError, root: unknown): string {
  const path = pointerToPath(e.path, root);
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `${path}: unexpected property`;
    case ValueErrorType.ObjectRequiredProperty:
      return `${path}: expected ${describeSchema(e.schema)}, found nothing (the property is required)`;
    default:
      return `${path}: expected ${describeSchema(e.schema)}, found ${describeValue(e.value)}`;
  }
}

/**
 * Checks `value` against `schema`. Throws REQUEST_INVALID listing every problem (first
 * problem per path) in the message and as `details.problems`.
 */
export function validateBody<T>(schema: TSchema, value: unknown): T {
  if (Value.Check(schema, value)) return value as T;
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    problems.push(problem(e, value));
    if (problems.length >= 20) break;
  }
  throw new NubisError('REQUEST_INVALID', `request body is invalid: ${problems.join('; ')}`, { details: { problems } });
}
