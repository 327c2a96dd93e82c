/** `nubis addresses pools|pool|leases|hold|release`: address pools with leases and holds. */
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';
import { table } from '../format.js';
import type { AddressLeaseView, AddressPoolView } from '../../controls/index.js';

const USAGE = 'nubis addresses pools | pool set <name> --ranges <cidr|a-b>[,…] [--hold 1h] | pool rm <name> | leases [--pool <p>] | hold <pool> <address> [--hold 1h] | release <pool> <address>';

function durationMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(v);
  if (!m) throw usageError(`--hold: expected a duration such as 30m, 1h or 7d, found ${JSON.stringify(v)}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

export const addressesCommand: Command = {
  name: 'addresses',
  summary: 'address pools: pools, pool set|rm (administrator), leases, hold, release',
  usage: USAGE,
  help: ['--ranges <list>  pool set: IPv4 CIDR blocks or ranges, comma-separated', '--hold <30m|1h|7d>  pool set: how long a gone node\'s address is held; hold: for how long', '--pool <p>  leases: only this pool', '--tenant <t>  administrator only: act in this tenant', outputHelp],
  options: { ranges: { type: 'string' }, hold: { type: 'string' }, pool: { type: 'string' }, tenant: { type: 'string' }, ...outputOption },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, a, b] = args.positionals;
    const client = ctx.client();
    const tenant = str(args, 'tenant');
    const qs = tenant !== undefined ? `?tenant=${enc(tenant)}` : '';
    const print = (body: unknown, line: string): void => ctx.out(json ? JSON.stringify(body, null, 2) : line);
    switch (sub) {
      case undefined:
      case 'pools': {
        const body = await client.get<{ pools: AddressPoolView[] }>(`/v1/address-pools${qs}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.pools.length === 0 ? 'no address pools' : table(ctx.style, ['POOL', 'RANGES', 'SIZE', 'LEASED', 'HELD', 'FREE', 'HOLD'], body.pools.map((p) => [p.name, p.ranges.join(','), String(p.size), String(p.leased), String(p.held), String(p.free), `${p.holdMs / 1000}s`])));
        return 0;
      }
      case 'pool': {
        const name = required(b, `<name>\nusage: ${USAGE}`);
        if (a === 'set') {
          const ranges = required(str(args, 'ranges'), '--ranges <cidr|a-b>[,…]').split(',').map((s) => s.trim()).filter(Boolean);
          const holdMs = durationMs(str(args, 'hold'));
          const { body } = await client.request<AddressPoolView>('PUT', `/v1/address-pools/${enc(name)}${qs}`, { ranges, ...(holdMs !== undefined ? { holdMs } : {}) });
          print(body, `pool ${body.name}: ${body.size} addresses, ${body.free} free`);
          return 0;
        }
        if (a === 'rm') {
          await client.request('DELETE', `/v1/address-pools/${enc(name)}${qs}`);
          print({ removed: name }, `pool ${name} removed`);
          return 0;
        }
        throw usageError(`unknown subcommand pool ${JSON.stringify(a)}\nusage: ${USAGE}`);
      }
      case 'leases': {
        const pool = str(args, 'pool');
        const q = [tenant !== undefined ? `tenant=${enc(tenant)}` : '', pool !== undefined ? `pool=${enc(pool)}` : ''].filter(Boolean).join('&');
        const body = await client.get<{ leases: AddressLeaseView[] }>(`/v1/address-leases${q ? `?${q}` : ''}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.leases.length === 0 ? 'no leases' : table(ctx.style, ['POOL', 'ADDRESS', 'STATE', 'DEPLOYMENT', 'NODE', 'HELD UNTIL'], body.leases.map((l) => [l.pool, l.address, l.state, l.deployment, l.node, l.heldUntil ?? '-'])));
        return 0;
      }
      case 'hold': {
        const forMs = durationMs(str(args, 'hold'));
        const { body } = await client.request<AddressLeaseView>('POST', `/v1/address-pools/${enc(required(a, '<pool>'))}/hold${qs}`, { address: required(b, '<address>'), ...(forMs !== undefined ? { forMs } : {}) });
        print(body, `${body.address} held until ${body.heldUntil ?? '?'}`);
        return 0;
      }
      case 'release': {
        await client.request('POST', `/v1/address-pools/${enc(required(a, '<pool>'))}/release${qs}`, { address: required(b, '<address>') });
        print({ removed: b }, `${b} released`);
        return 0;
      }
      default:
        throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${USAGE}`);
    }
  },
};
