/** `nubis destroy <deployment> [--wait] [--forget]`. */
import type { DeploymentView, ForgetResult } from '../../engine/views.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { parseTimeout, waitGone } from '../progress.js';

export const destroyCommand: Command = {
  name: 'destroy',
  summary: 'tear a deployment down',
  usage: 'nubis destroy <deployment> [--wait] [--forget] [--timeout <10m>]',
  help: [
    '--wait  return once nothing is left; fails naming the cloud when one it needs is unusable',
    '--forget  when destroy cannot finish (an unusable cloud, or --timeout), drop the deployment anyway and list what may be left in its clouds',
    '--timeout <duration>  how long --wait and --forget wait (default 10m)',
    outputHelp,
  ],
  options: { wait: { type: 'boolean' }, forget: { type: 'boolean' }, timeout: { type: 'string' }, ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const name = required(args.positionals[0], '<deployment>');
    const timeout = parseTimeout(str(args, 'timeout'), 10 * 60_000);
    const client = ctx.client();
    const { body } = await client.request<DeploymentView>('DELETE', `/v1/deployments/${enc(name)}`);
    if (args.values['forget'] === true) {
      if ((await waitGone(client, name, timeout, 500, true)) === 'gone') {
        ctx.out(json ? JSON.stringify({ deployment: name, destroyed: true, leftovers: [] }, null, 2) : `${name}: destroyed; nothing to forget`);
        return 0;
      }
      const { body: f } = await client.request<ForgetResult>('POST', `/v1/deployments/${enc(name)}/forget`);
      if (json) ctx.out(JSON.stringify(f, null, 2));
      else {
        ctx.out(`${name}: forgotten`);
        if (f.leftovers.length === 0) ctx.out('nothing is left in the clouds');
        else {
          ctx.out(`${f.leftovers.length} node(s) may be left in the cloud; delete them by hand (each carries the tag nubis-key=<key>):`);
          for (const l of f.leftovers) ctx.out(`  ${l.cloud}  ${l.id ?? '(no provider id: find it by tag)'}  nubis-key=${l.key}  (${l.status})`);
        }
      }
      return 0;
    }
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else ctx.out(`${name}: destroying`);
    if (args.values['wait'] === true) {
      await waitGone(client, name, timeout);
      if (!json) ctx.out(`${name}: destroyed`);
    }
    return 0;
  },
};
