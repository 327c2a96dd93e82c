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
    Object.assign(out, suiteDateVariables(now));
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

/** Every variable a task sees, for %VAR% and the job environment. */
export function resolveVariables(task: RNode, now: number, server: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...server };
  const chain: RNode[] = [];
  for (let a: RNode | undefined = task; a; a = a.parent) chain.push(a);
  for (let i = chain.length - 1; i >= 0; i--) {
    const a = chain[i]!;
    Object.assign(out, generatedVariables(a, now));
    for (const v of a.def.variables) out[v.name] = v.value;
    Object.assign(out, a.rt.variables);
  }
  if (task.kind === 'task') {
    const home = out.ECF_HOME ?? '';
    const tryNo = task.rt.tryNo;
    Object.assign(out, generatedVariables(task, now));
    out.ECF_SCRIPT = `${home}${task.path}.ecf`;
    out.ECF_JOB = `${home}${task.path}.job${tryNo}`;
    out.ECF_JOBOUT = `${out.ECF_OUT ?? home}${task.path}.${tryNo}`;
  }
  return out;
}
