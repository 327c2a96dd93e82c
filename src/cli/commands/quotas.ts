/** `nubis quotas show|set`: a tenant's quotas and use; the administrator sets them (`--tenant`). */
import { enc, outputHelp, outputOption, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';
import { table } from '../format.js';
import type { QuotaView } from '../../controls/index.js';

const USAGE = 'nubis quotas show [--tenant <t>] | set [--tenant <t>] [--nodes N] [--cores N] [--memory MiB] [--deployments N]  (none: no limit)';
const NAMES = ['nodes', 'cores', 'memory', 'deployments'] as const;

export const quotasCommand: Command = {
  name: 'quotas',
  summary: 'quotas per tenant (nodes, cores, memory, deployments): show, set (administrator)',
  usage: USAGE,
  help: ['--tenant <t>  the tenant (administrator only; default: the caller\'s)', '--nodes, --cores, --memory, --deployments <N|none>  set: the limit (memory in MiB); none removes it', outputHelp],
  options: { tenant: { type: 'string' }, nodes: { type: 'string' }, cores: { type: 'string' }, memory: { type: 'string' }, deployments: { type: 'string' }, ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub] = args.positionals;
    const tenant = str(args, 'tenant');
    const qs = tenant !== undefined ? `?tenant=${enc(tenant)}` : '';
    let view: QuotaView;
    if (sub === undefined || sub === 'show') view = await ctx.client().get<QuotaView>(`/v1/quotas${qs}`);
    else if (sub === 'set') {
      const body: Record<string, number | null> = {};
      for (const n of NAMES) {
        const v = str(args, n);
        if (v === undefined) continue;
        if (v !== 'none' && !/^\d{1,12}$/.test(v)) throw usageError(`--${n}: expected a non-negative integer or none, found ${JSON.stringify(v)}`);
        body[n] = v === 'none' ? null : Number(v);
      }
      if (Object.keys(body).length === 0) throw usageError(`set: give at least one of --nodes, --cores, --memory, --deployments\nusage: ${USAGE}`);
      view = (await ctx.client().request<QuotaView>('PUT', `/v1/quotas${qs}`, body)).body;
    } else throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${USAGE}`);
    if (json) ctx.out(JSON.stringify(view, null, 2));
    else {
      ctx.out(`tenant ${view.tenant}`);
      ctx.out(table(ctx.style, ['QUOTA', 'USED', 'LIMIT'], NAMES.map((n) => [n === 'memory' ? 'memory (MiB)' : n, String(view.used[n]), view.limits[n] === null ? 'none' : String(view.limits[n])])));
      if (view.deployments.length > 0) ctx.out(table(ctx.style, ['DEPLOYMENT', 'NODES', 'CORES', 'MEMORY MIB'], view.deployments.map((d) => [d.name, String(d.nodes), String(d.cores), String(d.memory)])));
    }
    return 0;
  },
};
