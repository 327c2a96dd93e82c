/** `nubis recovery status|reset`: where each instance's recovery ladder stands; a person's reset after a give-up. */
import type { RecoveryView } from '../../operations/index.js';
import { recoveryLines } from '../recovery-view.js';
import { enc, outputHelp, outputOption, required, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';

const SUBS = ['status', 'reset'] as const;

export const recoveryCommand: Command = {
  name: 'recovery',
  summary: 'recovery ladders: status, reset after a give-up',
  usage: 'nubis recovery status <deployment> | nubis recovery reset <deployment> <instance>',
  help: [
    'status: per instance with a recovery policy, where its ladder stands (watching, recovering: which step, gave up: why)',
    'reset: after you fixed what made it give up, the ladder starts again from its first step with its limits cleared',
    outputHelp,
  ],
  options: { ...outputOption },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, d, inst] = args.positionals;
    if (!(SUBS as readonly (string | undefined)[]).includes(sub)) {
      throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${recoveryCommand.usage}`);
    }
    const name = required(d, `<deployment>\nusage: ${recoveryCommand.usage}`);
    const path = `/v1/deployments/${enc(name)}/recovery`;
    let body: RecoveryView;
    if (sub === 'status') {
      if (inst !== undefined) throw usageError(`status takes no instance\nusage: ${recoveryCommand.usage}`);
      body = await ctx.client().get<RecoveryView>(path);
    } else {
      const i = required(inst, `<instance>\nusage: ${recoveryCommand.usage}`);
      body = (await ctx.client().request<RecoveryView>('POST', `${path}/${enc(i)}/reset`, {})).body;
    }
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else ctx.out(body.instances.length ? [`${name}: recovery`, ...recoveryLines(ctx.style, body).map((l) => `  ${l}`)].join('\n') : `${name}: no component has a recovery policy`);
    return 0;
  },
};
