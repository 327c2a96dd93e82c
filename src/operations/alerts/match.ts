/** Which events a rule's trigger takes, and the subject that tells its alerts apart. */
import type { NubisEvent } from '../../events/index.js';
import type { WhereValue } from '../../model/index.js';

/** `backup.failed` matches itself; `backup.*` every `backup.…`. */
export function typeMatches(pattern: string, kind: string): boolean {
  return pattern.endsWith('.*') ? kind.startsWith(pattern.slice(0, -1)) : pattern === kind;
}

/** An event field by path: `target`, `outcome`, `data.code`, `data.a.b`. */
export function field(e: NubisEvent, path: string): unknown {
  if (!path.startsWith('data.')) return (e as unknown as Record<string, unknown>)[path];
  let v: unknown = e.data;
  for (const k of path.slice(5).split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function valueMatches(want: string | number | boolean, got: unknown): boolean {
  if (typeof want === 'string' && want.endsWith('*')) return typeof got === 'string' && got.startsWith(want.slice(0, -1));
  return got === want;
}

/** Every key of `where` holds: equal to the value, to one of a list, or a `prefix*` string. */
export function whereMatches(where: Readonly<Record<string, WhereValue>>, e: NubisEvent): boolean {
  for (const [k, want] of Object.entries(where)) {
    const got = field(e, k);
    if (Array.isArray(want) ? !want.some((w) => valueMatches(w, got)) : !valueMatches(want, got)) return false;
  }
  return true;
}

/** The subject of an event for a rule: the field named (default target), else the deployment, else the kind. */
export function subjectOf(e: NubisEvent, path: string): string {
  const v = field(e, path);
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return e.target ?? e.deployment ?? e.kind;
}
