/**
 * The text of an action task, as a .def file writes it: `edit NUBIS_ACTION '<verb> <args>'`
 * (a variable, so the file still loads into ecflow_server). Verbs:
 *
 *   start <deployment> <component>
 *   stop <deployment> <component>
 *   scale <deployment> <component> <count>
 *   destroyPool <pool>
 *   waitMetric <query> <op> <threshold>      (the query may contain spaces; op one of == != < <= > >=)
 *   backup <deployment> <component>
 *   operation <deployment> <component> <operation> [name=value …]   (values without spaces)
 *
 * `parseActionText` throws REQUEST_INVALID saying what is wrong (the def unit adds file:line:col).
 */
import { NubisError } from '../../errors/index.js';
import type { CompareOp, WfAction } from '../model/types.js';
import { operationParams, printOperationAction } from '../model/operation-action.js';

const NAME = /^[a-z0-9][a-z0-9-]*$/;
const OPS: readonly CompareOp[] = ['==', '!=', '<=', '>=', '<', '>'];

export const ACTION_VERBS = ['start', 'stop', 'scale', 'destroyPool', 'waitMetric', 'backup', 'operation'] as const;

function bad(text: string, why: string): NubisError {
  return new NubisError('REQUEST_INVALID', `NUBIS_ACTION ${JSON.stringify(text)}: ${why}`);
}

function name(text: string, what: string, v: string | undefined): string {
  if (v === undefined) throw bad(text, `expected a ${what} name`);
  if (!NAME.test(v)) throw bad(text, `${what} ${JSON.stringify(v)}: expected lowercase letters, digits and -`);
  return v;
}

export function parseActionText(text: string): WfAction {
  const t = text.trim();
  const [verb, ...args] = t.split(/\s+/);
  const arity = (n: number, usage: string): void => {
    if (args.length !== n) throw bad(text, `${verb} takes ${usage}`);
  };
  switch (verb) {
    case 'start':
    case 'stop':
    case 'backup':
      arity(2, '<deployment> <component>');
      return { verb, deployment: name(text, 'deployment', args[0]), component: name(text, 'component', args[1]) };
    case 'scale': {
      arity(3, '<deployment> <component> <count>');
      const count = Number(args[2]);
      if (!/^\d+$/.test(args[2]!) || !Number.isSafeInteger(count)) throw bad(text, `count ${JSON.stringify(args[2])}: expected an integer ≥ 0`);
      return { verb, deployment: name(text, 'deployment', args[0]), component: name(text, 'component', args[1]), count };
    }
    case 'destroyPool':
      arity(1, '<pool>');
      if (!/^[A-Za-z0-9_]+$/.test(args[0]!)) throw bad(text, `pool ${JSON.stringify(args[0])}: expected letters, digits and _`);
      return { verb, pool: args[0]! };
    case 'waitMetric': {
      const rest = t.slice('waitMetric'.length).trim();
      const m = /^(.+?)\s*(==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/i.exec(rest);
      if (!m) throw bad(text, `waitMetric takes <query> <op> <threshold>, op one of ${OPS.join(' ')}`);
      return { verb, query: m[1]!, op: m[2] as CompareOp, threshold: Number(m[3]) };
    }
    case 'operation': {
      if (args.length < 3) throw bad(text, 'operation takes <deployment> <component> <operation> [name=value …]');
      return {
        verb, deployment: name(text, 'deployment', args[0]), component: name(text, 'component', args[1]), operation: name(text, 'operation', args[2]),
        params: operationParams(args.slice(3), (why) => bad(text, why)),
      };
    }
    default:
      throw bad(text, `unknown verb ${JSON.stringify(verb ?? '')}; expected one of ${ACTION_VERBS.join(', ')}`);
  }
}

/** The text `parseActionText` reads back to the same action (for export). */
export function printAction(a: WfAction): string {
  switch (a.verb) {
    case 'start':
    case 'stop':
    case 'backup':
      return `${a.verb} ${a.deployment} ${a.component}`;
    case 'scale':
      return `scale ${a.deployment} ${a.component} ${a.count}`;
    case 'destroyPool':
      return `destroyPool ${a.pool}`;
    case 'waitMetric':
      return `waitMetric ${a.query} ${a.op} ${a.threshold}`;
    case 'operation':
      return printOperationAction(a);
  }
}
