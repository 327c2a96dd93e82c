/**
 * The evaluator of trigger and complete expressions over the Expr tree (../model/types.ts).
 * It knows nothing of the node tree: an `ExprEnv` answers for node states and `node:name`
 * values, so a reference evaluator can be checked against it on random states.
 *
 * Values are numbers. A node state, alone, is its ecFlow NState number (see `STATE_VALUE`);
 * `set`/`clear` are 1/0; a comparison or logic operator gives 1 or 0; a value is true when it
 * is not 0. Arithmetic is on integers as ecFlow's: `/` and `%` truncate, and a division by
 * zero gives 0. `+`/`-` with a date repeat on the left (or `n + date`) is date arithmetic in
 * days (yyyymmdd in, yyyymmdd out); `date - date` is the number of days between them.
 */
import type { Expr, WfState } from '../model/types.js';
import { julianOfYmd, ymdOfJulian } from './calendar.js';

/** ecFlow's NState numbering, used when a state is a value. */
export const STATE_VALUE: Readonly<Record<WfState, number>> = {
  unknown: 0,
  complete: 1,
  queued: 2,
  aborted: 3,
  submitted: 4,
  active: 5,
};

/** What an expression can see. Paths are as written in the expression (relative or absolute). */
export interface ExprEnv {
  /** The state of the node at `path`; undefined when there is no such node (counts as unknown). */
  state(path: string): WfState | undefined;
  /**
   * The value of `path:name`, resolved event > meter > variable > repeat > generated variable >
   * limit (an event 1/0, a variable that is not an integer 0); undefined when none (counts 0).
   */
  attr(path: string, name: string): number | undefined;
  /** True when `path:name` is a date repeat (for date arithmetic). */
  isDate?(path: string, name: string): boolean;
  /** `path<flag>name`. */
  flag?(path: string, flag: string): boolean;
}

function isDateRef(e: Expr, env: ExprEnv): boolean {
  return e.kind === 'ref' && e.attr !== undefined && env.isDate !== undefined && env.isDate(e.path, e.attr);
}

/** The numeric value of an expression. */
export function evaluateValue(e: Expr, env: ExprEnv): number {
  switch (e.kind) {
    case 'number':
      return e.value;
    case 'state':
      return STATE_VALUE[e.value];
    case 'eventValue':
      return e.value === 'set' ? 1 : 0;
    case 'ref':
      if (e.attr === undefined) return STATE_VALUE[env.state(e.path) ?? 'unknown'];
      return env.attr(e.path, e.attr) ?? 0;
    case 'flag':
      return env.flag?.(e.path, e.flag) ? 1 : 0;
    case 'not':
      return evaluateValue(e.arg, env) === 0 ? 1 : 0;
    case 'logic': {
      const l = evaluateValue(e.left, env) !== 0;
      if (e.op === 'and') return l && evaluateValue(e.right, env) !== 0 ? 1 : 0;
      return l || evaluateValue(e.right, env) !== 0 ? 1 : 0;
    }
    case 'compare': {
      const l = evaluateValue(e.left, env);
      const r = evaluateValue(e.right, env);
      switch (e.op) {
        case '==': return l === r ? 1 : 0;
        case '!=': return l !== r ? 1 : 0;
        case '<': return l < r ? 1 : 0;
        case '<=': return l <= r ? 1 : 0;
        case '>': return l > r ? 1 : 0;
        case '>=': return l >= r ? 1 : 0;
      }
      return 0;
    }
    case 'arith': {
      const l = evaluateValue(e.left, env);
      const r = evaluateValue(e.right, env);
      if (e.op === '+' || e.op === '-') {
        const ld = isDateRef(e.left, env);
        const rd = isDateRef(e.right, env);
        if (ld && rd && e.op === '-') return julianOfYmd(l) - julianOfYmd(r);
        if (ld && !rd) return ymdOfJulian(julianOfYmd(l) + (e.op === '+' ? r : -r));
        if (rd && !ld && e.op === '+') return ymdOfJulian(julianOfYmd(r) + l);
      }
      switch (e.op) {
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return r === 0 ? 0 : Math.trunc(l / r);
        case '%': return r === 0 ? 0 : l % r;
      }
      return 0;
    }
  }
}

/** True when the expression holds. */
export function evaluateExpression(e: Expr, env: ExprEnv): boolean {
  return evaluateValue(e, env) !== 0;
}

/**
 * The smallest subterms that make a false expression false (for `why`): under `and` the false
 * sides, under `or` both sides, otherwise the term itself.
 */
export function falseTerms(e: Expr, env: ExprEnv, out: Expr[] = []): Expr[] {
  if (evaluateExpression(e, env)) return out;
  if (e.kind === 'logic') {
    if (e.op === 'and') {
      falseTerms(e.left, env, out);
      falseTerms(e.right, env, out);
    } else {
      falseTerms(e.left, env, out);
      falseTerms(e.right, env, out);
    }
    return out;
  }
  out.push(e);
  return out;
}

/** Every `path` and `path:name` an expression mentions. */
export function referencedAttrs(e: Expr, out: { path: string; attr?: string }[] = []): { path: string; attr?: string }[] {
  switch (e.kind) {
    case 'ref':
      out.push(e.attr === undefined ? { path: e.path } : { path: e.path, attr: e.attr });
      break;
    case 'flag':
      out.push({ path: e.path });
      break;
    case 'not':
      referencedAttrs(e.arg, out);
      break;
    case 'logic':
    case 'compare':
    case 'arith':
      referencedAttrs(e.left, out);
      referencedAttrs(e.right, out);
      break;
    default:
      break;
  }
  return out;
}

/** Every node path an expression mentions (with or without `:name`). */
export function referencedPaths(e: Expr, out: string[] = []): string[] {
  switch (e.kind) {
    case 'ref':
    case 'flag':
      out.push(e.path);
      break;
    case 'not':
      referencedPaths(e.arg, out);
      break;
    case 'logic':
    case 'compare':
    case 'arith':
      referencedPaths(e.left, out);
      referencedPaths(e.right, out);
      break;
    default:
      break;
  }
  return out;
}

const PREC: Record<string, number> = { or: 1, and: 2, '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, '+': 4, '-': 4, '*': 5, '/': 5, '%': 5 };

/** A readable rendering for messages (the expr unit's printer is the one for export). */
export function exprText(e: Expr, parentPrec = 0): string {
  switch (e.kind) {
    case 'number': return String(e.value);
    case 'state': return e.value;
    case 'eventValue': return e.value;
    case 'ref': return e.attr === undefined ? e.path : `${e.path}:${e.attr}`;
    case 'flag': return `${e.path}<flag>${e.flag}`;
    case 'not': return `not ${exprText(e.arg, 6)}`;
    case 'logic':
    case 'compare':
    case 'arith': {
      const p = PREC[e.op]!;
      const s = `${exprText(e.left, p)} ${e.op} ${exprText(e.right, p + 1)}`;
      return p < parentPrec ? `(${s})` : s;
    }
  }
}
