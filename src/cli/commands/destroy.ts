/** `nubis destroy <deployment> [--wait]`. */
import type { DeploymentView } from '../../engine/views.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { parseTimeout, waitGone } from '../progress.js';

export const destroyCommand: Command = {
  name: 'destroy',
  summary: 'tear a deployment down',
  usage: 'nubis destroy <deployment> [--wait] [--timeout <10m>]',
  help: ['--wait  return once nothing is left', '--timeout <duration>  how long --wait waits (default 10m)', outputHelp],
  options: { wait: { type: 'boolean' }, timeout: { type: 'string' }, ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const name = required(args.positionals[0], '<deployment>');
    const timeout = parseTimeout(str(args, 'timeout'), 10 * 60_000);
    const client = ctx.client();
    const { body } = await client.request<DeploymentView>('DELETE', `/v1/deployments/${enc(name)}`);
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else ctx.out(`${name}: destroying`);
    if (args.values['wait'] === true) {
      await waitGone(client, name, timeout);
      if (!json) ctx.out(`${name}: destroyed`);
    }
    return 0;
  },
};
