/** `nubis plan -f <spec.yaml>`: the actions applying the spec would take, one per line. */
import type { PlanAction, PlanResult } from '../../engine/views.js';
import { outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import type { Style } from '../format.js';
import { readSpecInput } from '../spec-files.js';

const MARK: Record<PlanAction['kind'], '+' | '~' | '-'> = {
  'create-node': '+', install: '+', configure: '+', start: '+',
  update: '~', restart: '~',
  stop: '-', 'delete-node': '-',
};

export function formatPlan(style: Style, plan: PlanResult): string {
  const lines = [style.bold(`Plan for deployment ${plan.deployment}${plan.create ? ' (new)' : ''}:`)];
  if (plan.actions.length === 0 && !plan.rollout?.length) lines.push('  nothing to do');
  const kindWidth = Math.max(0, ...plan.actions.map((a) => a.kind.length));
  for (const a of plan.actions) {
    const mark = MARK[a.kind] ?? '~';
    const coloured = mark === '+' ? style.green(mark) : mark === '-' ? style.red(mark) : style.yellow(mark);
    const extra = [a.cloud ? `on ${a.cloud}${a.host ? ` host ${a.host}` : ''}` : '', a.after.length ? `after ${a.after.join(', ')}` : '', a.reason ? style.dim(`(${a.reason})`) : '']
      .filter(Boolean)
      .join('  ');
    lines.push(`  ${coloured} ${a.kind.padEnd(kindWidth)}  ${a.target}${extra ? '  ' + extra : ''}`);
  }
  for (const r of plan.rollout ?? []) {
    lines.push(`  ${style.yellow('~')} ${r.action.padEnd(kindWidth)}  ${r.instance}  batch ${r.batch}/${r.batches}  ${style.dim(`(${r.reason})`)}`);
  }
  for (const c of plan.counts ?? []) {
    lines.push(`  ${style.yellow('=')} count ${c.component}: ${c.count} (${c.wins === 'runtime' ? `run-time count ${c.runtime} wins over spec ${c.spec}` : `spec ${c.spec} wins over run-time ${c.runtime}`})  ${style.dim(`(${c.reason})`)}`);
  }
  const s = plan.summary;
  lines.push(`${s.add} to add, ${s.change} to change, ${s.remove} to remove.`);
  return lines.join('\n');
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what applying a spec would do',
  usage: 'nubis plan -f <spec.yaml>',
  help: ['-f, --file <spec.yaml>  the spec (its artefacts are read relative to its folder)', outputHelp],
  options: { file: { type: 'string', short: 'f' }, ...outputOption },
  maxPositionals: 0,
  async run(ctx, args) {
    const json = wantsJson(args);
    const input = readSpecInput(required(str(args, 'file'), '-f <spec.yaml>'), ctx.io.cwd);
    const { body } = await ctx.client().request<PlanResult>('POST', '/v1/plan', input);
    ctx.out(json ? JSON.stringify(body, null, 2) : formatPlan(ctx.style, body));
    return 0;
  },
};
