/** `nubis endpoints <deployment>`: every instance's provided ports as host:port. */
import type { EndpointView } from '../../engine/views.js';
import { enc, outputHelp, outputOption, required, wantsJson, type Command } from '../command.js';
import { table, type Style } from '../format.js';

export function formatEndpoints(style: Style, endpoints: EndpointView[]): string {
  if (endpoints.length === 0) return 'no endpoints';
  return table(style, ['INSTANCE', 'COMPONENT', 'PORT', 'ADDRESS'], endpoints.map((e) => [e.instance, e.component, e.port, e.address]));
}

export const endpointsCommand: Command = {
  name: 'endpoints',
  summary: 'list the host:port of every provided port',
  usage: 'nubis endpoints <deployment>',
  help: [outputHelp],
  options: { ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const name = required(args.positionals[0], '<deployment>');
    const body = await ctx.client().get<{ endpoints: EndpointView[] }>(`/v1/deployments/${enc(name)}/endpoints`);
    ctx.out(json ? JSON.stringify(body, null, 2) : formatEndpoints(ctx.style, body.endpoints));
    return 0;
  },
};
