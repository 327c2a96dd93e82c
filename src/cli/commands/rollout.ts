/** `nubis rollout status|pause|resume <deployment>`: the rolling update of a deployment. */
import type { RolloutView } from '../../engine/index.js';
import { enc, outputHelp, outputOption, required, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';
import type { Style } from '../format.js';

const SUBS = ['status', 'pause', 'resume'] as const;

export function formatRollout(style: Style, v: RolloutView): string {
  const head = `${v.deployment}: rollout ${v.status} (version ${v.version})${v.reason ? ` — ${v.reason}` : ''}`;
  const lines = [style.bold(head)];
  for (const c of v.components) {
    const gate = c.gating ? ', batch waiting for its health gate' : '';
    lines.push(`  ${c.name}: ${c.instances - c.outdated}/${c.instances} updated, ${c.batch} batch(es) started${gate}  ${style.dim(`(maxUnavailable ${c.maxUnavailable}, maxSurge ${c.maxSurge}, health gate ${Math.round(c.healthGateTimeoutMs / 1000)} s)`)}`);
  }
  return lines.join('\n');
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: 'a deployment\'s rolling update: status, pause, resume',
  usage: 'nubis rollout status|pause|resume <deployment>',
  help: ['pause: the running batch finishes, no new one starts; resume: batches go on (a failed rollout tries its batch again)', outputHelp],
  options: { ...outputOption },
  maxPositionals: 2,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, d] = args.positionals;
    if (!(SUBS as readonly (string | undefined)[]).includes(sub)) {
      throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${rolloutCommand.usage}`);
    }
    const name = required(d, `<deployment>\nusage: ${rolloutCommand.usage}`);
    const path = `/v1/deployments/${enc(name)}/rollout`;
    const { body } = sub === 'status' ? await ctx.client().request<RolloutView>('GET', path) : await ctx.client().request<RolloutView>('POST', `${path}/${sub}`, {});
    ctx.out(json ? JSON.stringify(body, null, 2) : formatRollout(ctx.style, body));
    return 0;
  },
};
