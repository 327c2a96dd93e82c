/**
 * `nubis tokens create <name> --tenant <t>`: the administrator (the bootstrap token) mints a
 * token for a tenant. The token is printed this once; the server keeps only its hash.
 */
import { outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';

interface TokenCreated {
  name: string;
  tenant: string;
  role: string;
  token: string;
}

export const tokensCommand: Command = {
  name: 'tokens',
  summary: 'API tokens: create one for a tenant (administrator only; shown once)',
  usage: 'nubis tokens create <name> --tenant <tenant> [--role admin|operator|viewer]',
  help: [
    '--tenant <tenant>  the tenant whose clouds and credentials the token sees',
    '--role <role>  what it may do there: admin, operator (default) or viewer',
    outputHelp,
  ],
  options: { tenant: { type: 'string' }, role: { type: 'string' }, ...outputOption },
  maxPositionals: 2,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, name] = args.positionals;
    if (sub !== 'create') throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${tokensCommand.usage}`);
    const n = required(name, `<name>\nusage: ${tokensCommand.usage}`);
    const tenant = required(str(args, 'tenant'), `--tenant <tenant>\nusage: ${tokensCommand.usage}`);
    const role = str(args, 'role');
    const { body } = await ctx.client().request<TokenCreated>('POST', '/v1/tokens', { name: n, tenant, ...(role !== undefined ? { role } : {}) });
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else {
      ctx.out(`token ${body.name} created for tenant ${body.tenant} (${body.role}); it is shown this once (only its hash is kept):`);
      ctx.out(body.token);
    }
    return 0;
  },
};
