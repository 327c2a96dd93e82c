/** `nubis scale <deployment> <component> <count>`. */
import type { DeploymentView } from '../../engine/views.js';
import { enc, integer, outputHelp, outputOption, required, wantsJson, type Command } from '../command.js';

export const scaleCommand: Command = {
  name: 'scale',
  summary: 'set the instance count of a component',
  usage: 'nubis scale <deployment> <component> <count>',
  help: [outputHelp],
  options: { ...outputOption },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [d, c, n] = args.positionals;
    const name = required(d, '<deployment>');
    const component = required(c, '<component>');
    const count = integer(required(n, '<count>'), '<count>');
    const { body } = await ctx.client().request<DeploymentView>('POST', `/v1/deployments/${enc(name)}/scale`, { component, count });
    ctx.out(json ? JSON.stringify(body, null, 2) : `${name}: ${component} scaled to ${count} (version ${body.version})`);
    return 0;
  },
};
