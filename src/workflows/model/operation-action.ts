/**
 * The `operation D C OP [name=value …]` action's parameter words, shared by the NUBIS_ACTION
 * text (../actions/parse.ts) and the .def attribute (../def/attrs.ts).
 */
import type { WfAction } from './types.js';

/** `name=value` words → values by name; `fail(why)` makes the error for a bad word or a repeated name. */
export function operationParams(words: readonly string[], fail: (why: string) => Error): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const k = w.slice(0, eq);
    if (eq <= 0 || !/^[a-z][a-z0-9_]{0,39}$/.test(k)) throw fail(`parameter ${JSON.stringify(w)}: expected name=value with a parameter name of lowercase letters, digits and _`);
    if (Object.hasOwn(out, k)) throw fail(`parameter ${k} is given twice`);
    out[k] = w.slice(eq + 1);
  }
  return out;
}

/** `operation D C OP k=v …` as text. */
export function printOperationAction(a: Extract<WfAction, { verb: 'operation' }>): string {
  return [`operation ${a.deployment} ${a.component} ${a.operation}`, ...Object.entries(a.params).map(([k, v]) => `${k}=${v}`)].join(' ');
}

