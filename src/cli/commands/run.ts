/**
 * `nubis run <deployment> <component> <operation> [--instance a,b] [--param k=v …] [--parallel N]`:
 * runs a custom operation and prints each instance's outcome and output. Exits 0 when every
 * instance succeeded, 1 when one failed (the others' results are printed all the same).
 */
import type { OperationRunView } from '../../engine/index.js';
import { enc, integer, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import { EXIT, usageError } from '../errors.js';
import type { Style } from '../format.js';

/** `--param k=v` flags → values (strings: the server reads each as its parameter's type). */
export function paramFlags(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw usageError(`--param ${JSON.stringify(kv)}: expected name=value`);
    const k = kv.slice(0, eq);
    if (Object.hasOwn(out, k)) throw usageError(`--param ${k} is given twice`);
    out[k] = kv.slice(eq + 1);
  }
  return out;
}

function listOf(args: Parsed, name: string): string[] {
  const v = args.values[name] as unknown;
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
}

export function formatRun(style: Style, r: OperationRunView): string {
  const ok = r.instances.filter((i) => i.state === 'succeeded').length;
  const ran = r.instances.filter((i) => i.state !== 'skipped').length;
  const colour = r.state === 'succeeded' ? style.green : r.state === 'running' ? style.yellow : style.red;
  const lines = [style.bold(`${r.deployment}/${r.component} ${r.operation} (run ${r.id}): ${colour(r.state)}, ${ok} of ${ran} succeeded`)];
  for (const i of r.instances) {
    const exit = i.exitCode === null ? '' : ` (exit ${i.exitCode})`;
    const c = i.state === 'succeeded' ? style.green : i.state === 'skipped' || i.state === 'pending' || i.state === 'running' ? style.yellow : style.red;
    lines.push(style.bold(`== ${i.instance} ${c(i.state)}${exit}${i.detail ? `: ${i.detail}` : ''}`));
    if (i.output) lines.push(i.output.replace(/\n$/, ''));
  }
  return lines.join('\n');
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a custom operation of a component on some or all of its instances',
  usage: 'nubis run <deployment> <component> <operation> [--instance app-1,app-2] [--param name=value …] [--parallel N] [--reason text] [--detach]',
  help: [
    '--instance <names>  only these instances (comma-separated or repeated); default every running one',
    '--param <name=value>  a parameter value (repeat for more); checked against the operation\'s declaration',
    '--parallel <N>  at most N instances at once; default all',
    '--reason <text>  why, for the audit log',
    '--detach  return once it has started and print the run id (`nubis logs <instance> --operation <id>` later)',
    outputHelp,
  ],
  options: {
    instance: { type: 'string', multiple: true }, param: { type: 'string', short: 'p', multiple: true }, parallel: { type: 'string' },
    reason: { type: 'string' }, detach: { type: 'boolean' }, ...outputOption,
  },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [d, c, o] = args.positionals;
    const deployment = required(d, `<deployment>\nusage: ${runCommand.usage}`);
    const component = required(c, `<component>\nusage: ${runCommand.usage}`);
    const operation = required(o, `<operation>\nusage: ${runCommand.usage}`);
    const instances = listOf(args, 'instance').flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
    const parallel = str(args, 'parallel');
    const reason = str(args, 'reason');
    const body = {
      params: paramFlags(listOf(args, 'param')),
      ...(instances.length ? { instances } : {}),
      ...(parallel !== undefined ? { parallel: integer(parallel, '--parallel') } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(args.values['detach'] === true ? { wait: false } : {}),
    };
    const path = `/v1/deployments/${enc(deployment)}/components/${enc(component)}/operations/${enc(operation)}`;
    const { body: run } = await ctx.client().request<OperationRunView>('POST', path, body);
    ctx.out(json ? JSON.stringify(run, null, 2) : formatRun(ctx.style, run));
    return run.state === 'succeeded' || run.state === 'running' ? EXIT.OK : EXIT.FAILURE;
  },
};
