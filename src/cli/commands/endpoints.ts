/**
 * `nubis endpoints <deployment>`: every instance's provided ports as host:port, and the
 * deployment's generated credentials — their values in the first read after it became ready
 * only (src/engine/access.ts); later reads say when they were shown.
 */
import type { AccessView, EndpointView } from '../../engine/index.js';
import { enc, outputHelp, outputOption, required, wantsJson, type Command } from '../command.js';
import { table, type Style } from '../format.js';

export function formatEndpoints(style: Style, endpoints: EndpointView[]): string {
  if (endpoints.length === 0) return 'no endpoints';
  return table(style, ['INSTANCE', 'COMPONENT', 'PORT', 'ADDRESS'], endpoints.map((e) => [e.instance, e.component, e.port, e.address]));
}

/** The credentials part of `endpoints`: values once, then when they were shown. */
export function formatCredentials(style: Style, a: AccessView): string {
  if (a.credentials.length === 0) return '';
  const rows = a.credentials.map((c) => [c.name, c.component, c.env, c.value ?? style.dim('-'), c.note]);
  const head = a.readyAt ? `credentials (ready since ${a.readyAt})` : `credentials (deployment ${a.state}: not ready yet)`;
  return `${head}\n${table(style, ['NAME', 'COMPONENT', 'ENV', 'VALUE', 'NOTE'], rows)}`;
}

export const endpointsCommand: Command = {
  name: 'endpoints',
  summary: 'list the host:port of every provided port, and generated credentials (shown once)',
  usage: 'nubis endpoints <deployment>',
  help: [outputHelp],
  options: { ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const name = required(args.positionals[0], '<deployment>');
    const access = await ctx.client().get<AccessView>(`/v1/deployments/${enc(name)}/access`);
    if (json) ctx.out(JSON.stringify(access, null, 2));
    else {
      const creds = formatCredentials(ctx.style, access);
      ctx.out(formatEndpoints(ctx.style, access.endpoints) + (creds ? `\n\n${creds}` : ''));
    }
    return 0;
  },
};
