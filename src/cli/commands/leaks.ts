/**
 * `nubis leaks list|scan|policy`: what the leak guard found billing with nothing of Nubis
 * needing it, a scan now, and what it may do about it per cloud; `nubis cost` (by day or by
 * deployment) and `nubis budgets list|set|rm` (monthly budgets with warnings and a hard stop).
 */
import type { BudgetView, CostReport, LeakPolicyView, LeakView } from '../../engine/index.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';
import { table } from '../format.js';

const fmtMs = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`);
const microsText = (m: number): string => `${Math.floor(m / 1e6)}.${String(m % 1e6).padStart(6, '0')}`;

export const leaksCommand: Command = {
  name: 'leaks',
  summary: 'resources left behind that keep billing: list, scan, policy set|list|rm',
  usage: 'nubis leaks list [--all] | scan | policy list | policy set <cloud|*> [--delete-after <duration>] [--owned] | policy rm <cloud|*>',
  help: [
    'list  open leaks (--all: deleted and gone ones too), why each is one and when the policy deletes it',
    'scan  scan every cloud in use now (the guard also scans every 5 minutes)',
    'policy set <cloud>  --delete-after 1h: delete a leak an hour after it was first seen (default: report only); --owned: Nubis owns the whole project, judge untagged resources too',
    outputHelp,
  ],
  options: { all: { type: 'boolean' }, 'delete-after': { type: 'string' }, owned: { type: 'boolean' }, ...outputOption },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, sub2, cloud] = args.positionals;
    const client = ctx.client();
    const show = (leaks: LeakView[]): string => leaks.length === 0 ? 'no leaks' : table(ctx.style, ['CLOUD', 'KIND', 'ID', 'DEPLOYMENT', 'STATUS', 'SINCE', 'DELETE AT', 'WHY'],
      leaks.map((l) => [l.cloud, l.kind, l.id, l.deployment ?? '-', l.status, l.firstSeen, l.deleteAt ?? (l.endedAt ? `ended ${l.endedAt}` : 'report only'), l.reason]));
    if (sub === 'list' || sub === undefined) {
      const body = await client.get<{ leaks: LeakView[] }>(`/v1/leaks${args.values['all'] === true ? '?all=true' : ''}`);
      ctx.out(json ? JSON.stringify(body, null, 2) : show(body.leaks));
      return 0;
    }
    if (sub === 'scan') {
      const { body } = await client.request<{ leaks: LeakView[] }>('POST', '/v1/leaks/scan', {});
      ctx.out(json ? JSON.stringify(body, null, 2) : show(body.leaks));
      return 0;
    }
    if (sub === 'policy') {
      if (sub2 === 'list' || sub2 === undefined) {
        const body = await client.get<{ policies: LeakPolicyView[] }>('/v1/leaks/policies');
        ctx.out(json ? JSON.stringify(body, null, 2) : body.policies.length === 0 ? 'no leak policies (every cloud: report only)'
          : table(ctx.style, ['CLOUD', 'DELETE AFTER', 'OWNED'], body.policies.map((p) => [p.cloud, p.deleteAfterMs === undefined ? 'report only' : fmtMs(p.deleteAfterMs), p.owned ? 'yes' : 'no'])));
        return 0;
      }
      const name = required(cloud, `<cloud|*>\nusage: ${leaksCommand.usage}`);
      if (sub2 === 'set') {
        const after = str(args, 'delete-after');
        const { body } = await client.request<LeakPolicyView>('PUT', `/v1/leaks/policies/${enc(name)}`, { ...(after !== undefined ? { deleteAfter: after } : {}), ...(args.values['owned'] === true ? { owned: true } : {}) });
        ctx.out(json ? JSON.stringify(body, null, 2) : `${name}: ${body.deleteAfterMs === undefined ? 'report only' : `delete after ${fmtMs(body.deleteAfterMs)}`}${body.owned ? ', untagged resources judged too' : ''}`);
        return 0;
      }
      if (sub2 === 'rm') {
        await client.request('DELETE', `/v1/leaks/policies/${enc(name)}`);
        ctx.out(`${name}: report only`);
        return 0;
      }
    }
    throw usageError(`unknown subcommand ${JSON.stringify([sub, sub2].filter(Boolean).join(' '))}\nusage: ${leaksCommand.usage}`);
  },
};

export const costCommand: Command = {
  name: 'cost',
  summary: 'what nodes and leaked extras cost: by day or by deployment',
  usage: 'nubis cost [--by day|deployment] [--from <time>] [--to <time>]',
  help: ['price of each node\'s offer × its running time, plus leaked extras the provider prices; default: this month so far, by day', outputHelp],
  options: { by: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, ...outputOption },
  maxPositionals: 0,
  async run(ctx, args) {
    const q = new URLSearchParams();
    for (const k of ['by', 'from', 'to'] as const) {
      const v = str(args, k);
      if (v !== undefined) q.set(k, v);
    }
    const by = str(args, 'by');
    if (by !== undefined && by !== 'day' && by !== 'deployment') throw usageError(`--by: expected day or deployment, found ${JSON.stringify(by)}`);
    const r = await ctx.client().get<CostReport>(`/v1/cost${q.size ? `?${q}` : ''}`);
    if (wantsJson(args)) ctx.out(JSON.stringify(r, null, 2));
    else {
      const rows = r.rows.map((x) => [x.key, microsText(x.micros), (x.ms / 3_600_000).toFixed(2)]);
      ctx.out([table(ctx.style, [r.by === 'day' ? 'DAY' : 'DEPLOYMENT', 'COST', 'HOURS'], rows), `total ${r.total} (${r.from} – ${r.to})${r.unpricedMs ? `; ${(r.unpricedMs / 3_600_000).toFixed(2)} node-hours without a known price` : ''}`].join('\n'));
    }
    return 0;
  },
};

export const budgetsCommand: Command = {
  name: 'budgets',
  summary: 'monthly budgets with warnings and an optional hard stop: list, set, rm',
  usage: 'nubis budgets list | set [<deployment>] --amount <n> [--thresholds 80,100] [--hard-stop] | rm [<deployment>]',
  help: ['without <deployment>: the tenant\'s budget; --hard-stop refuses new nodes while exceeded (running ones keep running)', outputHelp],
  options: { amount: { type: 'string' }, thresholds: { type: 'string' }, 'hard-stop': { type: 'boolean' }, ...outputOption },
  maxPositionals: 2,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, dep] = args.positionals;
    const client = ctx.client();
    const path = `/v1/budgets${dep ? `/${enc(dep)}` : ''}`;
    const line = (b: BudgetView): string[] => [b.deployment ?? '(tenant)', String(b.amount), b.spent, `${b.percent} %`, b.thresholds.join(','), b.hardStop ? 'yes' : 'no'];
    const header = ['BUDGET', 'AMOUNT', 'SPENT', 'USED', 'WARN AT', 'HARD STOP'];
    if (sub === 'list' || sub === undefined) {
      const body = await client.get<{ budgets: BudgetView[] }>('/v1/budgets');
      ctx.out(json ? JSON.stringify(body, null, 2) : body.budgets.length === 0 ? 'no budgets' : table(ctx.style, header, body.budgets.map(line)));
      return 0;
    }
    if (sub === 'set') {
      const amountText = required(str(args, 'amount'), '--amount <n>');
      const amount = Number(amountText);
      if (!Number.isFinite(amount)) throw usageError(`--amount: expected a number, found ${JSON.stringify(amountText)}`);
      const th = str(args, 'thresholds');
      const body: Record<string, unknown> = { amount, ...(args.values['hard-stop'] === true ? { hardStop: true } : {}) };
      if (th !== undefined) body['thresholds'] = th.split(',').map((x) => Number(x.trim()));
      const { body: v } = await client.request<BudgetView>('PUT', path, body);
      ctx.out(json ? JSON.stringify(v, null, 2) : table(ctx.style, header, [line(v)]));
      return 0;
    }
    if (sub === 'rm') {
      await client.request('DELETE', path);
      ctx.out(`budget of ${dep ?? 'the tenant'} removed`);
      return 0;
    }
    throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${budgetsCommand.usage}`);
  },
};
