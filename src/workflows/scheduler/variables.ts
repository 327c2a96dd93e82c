/**
 * Variables as a task sees them (ecFlow's lookup): its own edits, then its generated variables,
 * then each ancestor's (edits, then generated), then the definition's server-level user
 * variables, then the server's. Run-time edits (`alter`, `--init --add`) replace a node's
 * edit of the same name. ECF_NAME, ECF_PASS, ECF_TRYNO, ECF_RID, ECF_JOB, ECF_JOBOUT and
 * ECF_SCRIPT are always the generated values.
 */
import { suiteDateVariables } from './calendar.js';
import { repeatVariables } from './repeat.js';
import type { RNode } from './tree.js';

/** Variables an edit may not override. */
export const PROTECTED_VARIABLES: ReadonlySet<string> = new Set(['ECF_NAME', 'ECF_PASS', 'ECF_TRYNO', 'ECF_RID', 'ECF_JOB', 'ECF_JOBOUT', 'ECF_SCRIPT']);

export const DEFAULT_SERVER_VARIABLES: Readonly<Record<string, string>> = { ECF_TRIES: '2' };

/** A node's generated variables (suite: SUITE and the calendar; family: FAMILY, FAMILY1; task: TASK, ECF_*; a repeat's). */
export function generatedVariables(n: RNode, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  if (n.kind === 'suite') {
    out.SUITE = n.def.name;
    Object.assign(out, suiteDateVariables(now + n.calShift, n.frozenDay));
  } else if (n.kind === 'family') {
    out.FAMILY = n.path.slice(n.suite.path.length + 1);
    out.FAMILY1 = n.def.name;
  } else {
    out.TASK = n.def.name;
    out.ECF_NAME = n.path;
    out.ECF_TRYNO = String(n.rt.tryNo);
    out.ECF_PASS = n.rt.password ?? '';
    out.ECF_RID = n.rt.rid ?? '';
  }
  if (n.def.repeat) Object.assign(out, repeatVariables(n.def.repeat, n.rt.repeatIndex ?? 0));
  return out;
}

/** One variable as `n` sees it (generated variables of ancestors included), or undefined. */
export function lookupVariable(n: RNode, name: string, now: number, server: Readonly<Record<string, string>>): string | undefined {
  for (let a: RNode | undefined = n; a; a = a.parent) {
    const own = ownVariable(a, name);
    if (own !== undefined) return own;
    const g = generatedVariables(a, now)[name];
    if (g !== undefined) return g;
  }
  return server[name];
}

/** A node's own edit (run-time edits first), without inheritance or generated values. */
export function ownVariable(n: RNode, name: string): string | undefined {
  const rv = n.rt.variables[name];
  if (rv !== undefined) return rv;
  for (const v of n.def.variables) if (v.name === name) return v.value;
  return undefined;
}

/**
 * What a container passes down: its ancestors' and its own variables over the server's, cached
 * for one step (`stamp`) so siblings submitted together share the work.
 */
function inherited(n: RNode, now: number, server: Readonly<Record<string, string>>, stamp: number): Readonly<Record<string, string>> {
  const c = n.varCache;
  if (c && c.stamp === stamp) return c.vars;
  const out: Record<string, string> = { ...(n.parent ? inherited(n.parent, now, server, stamp) : server) };
  Object.assign(out, generatedVariables(n, now));
  for (const v of n.def.variables) out[v.name] = v.value;
  Object.assign(out, n.rt.variables);
  n.varCache = { stamp, vars: out };
  return out;
}

/** Every variable a task sees, for %VAR% and the job environment. `stamp` changes whenever variables may have. */
export function resolveVariables(task: RNode, now: number, server: Readonly<Record<string, string>>, stamp = Number.NaN): Record<string, string> {
  if (task.kind !== 'task') return { ...inherited(task, now, server, stamp) };
  const out: Record<string, string> = { ...(task.parent ? inherited(task.parent, now, server, stamp) : server) };
  const gen = generatedVariables(task, now);
  Object.assign(out, gen);
  for (const v of task.def.variables) out[v.name] = v.value;
  Object.assign(out, task.rt.variables);
  const home = out.ECF_HOME ?? '';
  const tryNo = task.rt.tryNo;
  Object.assign(out, gen);
  out.ECF_SCRIPT = `${home}${task.path}.ecf`;
  out.ECF_JOB = `${home}${task.path}.job${tryNo}`;
  out.ECF_JOBOUT = `${out.ECF_OUT ?? home}${task.path}.${tryNo}`;
  return out;
}
