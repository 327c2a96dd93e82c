/**
 * `nubis events [-f] [filters]`: the audit log, optionally followed live; `nubis events export`
 * writes every matching event as JSON lines (for forensics); `nubis events verify` walks the hash
 * chain and names the first broken link (exit 1 when one is broken).
 */
import fs from 'node:fs';
import type { ChainReport, NubisEvent } from '../../events/index.js';
import { integer, outputHelp, outputOption, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';
import { formatEvent } from '../progress.js';

const FILTERS = ['deployment', 'kind', 'actor', 'tenant', 'target', 'correlation', 'since', 'until'] as const;

/** The query of the filters given (`--correlation` is the API's `correlationId`). */
function filterQuery(args: Parameters<Command['run']>[1]): URLSearchParams {
  const q = new URLSearchParams();
  for (const f of FILTERS) {
    const v = str(args, f);
    if (v !== undefined) q.set(f === 'correlation' ? 'correlationId' : f, v);
  }
  return q;
}

function formatChains(chains: ChainReport[]): string {
  return chains.map((c) => {
    const head = `${c.tenant}: ${c.checked} event(s) checked${c.unchained ? `, ${c.unchained} before the chain` : ''}${c.anchoredAfter !== undefined ? `, pruned up to #${c.anchoredAfter}` : ''}`;
    return c.broken ? `${head}; BROKEN at event #${c.broken.id}: ${c.broken.reason}` : `${head}; intact${c.head ? ` (head ${c.head.slice(0, 16)}…)` : ''}`;
  }).join('\n');
}

export const eventsCommand: Command = {
  name: 'events',
  summary: 'list audit events, or follow them live with -f',
  usage: 'nubis events [export|verify] [-f] [--deployment <d>] [--kind <k>] [--actor <a>] [--target <resource>] [--correlation <id>] [--tenant <t>] [--since <time>] [--until <time>] [--after <id>] [--limit <n>]',
  help: [
    'export  every matching event, oldest first, as JSON lines (with its hash): to stdout, or --out <file>',
    'verify  walk the hash chain of the log (the administrator: every tenant\'s) and report the first broken link; exit 1 if one is',
    '-f, --follow  keep printing new events (stored ones first)',
    '--deployment <d>  only events of this deployment',
    '--kind <k>  only events of this kind; node.* matches a prefix',
    '--actor <a>  only events of this actor (user:alice, engine; user:* matches a prefix)',
    '--target <resource>  only events about this resource (web/app-1, a cloud, a budget)',
    '--correlation <id>  only events of this request',
    '--tenant <t>  another tenant\'s log (administrator only)',
    '--since, --until <time>  ISO 8601 bounds',
    '--after <id>  only events after this id',
    '--limit <n>  the newest n (without -f; with --after, the first n after it)',
    outputHelp + ' (with -f: one JSON event per line)',
  ],
  options: {
    follow: { type: 'boolean', short: 'f' }, deployment: { type: 'string' }, kind: { type: 'string' }, actor: { type: 'string' }, tenant: { type: 'string' },
    target: { type: 'string' }, correlation: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, out: { type: 'string' },
    after: { type: 'string' }, limit: { type: 'string' }, ...outputOption,
  },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const sub = args.positionals[0];
    if (sub !== undefined && sub !== 'export' && sub !== 'verify') throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${eventsCommand.usage}`);
    const deployment = str(args, 'deployment');
    const kind = str(args, 'kind');
    const afterText = str(args, 'after');
    const after = afterText === undefined ? undefined : integer(afterText, '--after');
    const client = ctx.client();
    if (sub === 'verify') {
      const tenant = str(args, 'tenant');
      const body = await client.get<{ ok: boolean; chains: ChainReport[] }>(`/v1/events/verify${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`);
      ctx.out(json ? JSON.stringify(body, null, 2) : formatChains(body.chains) || 'no events');
      return body.ok ? 0 : 1;
    }
    if (sub === 'export') {
      const q = filterQuery(args);
      if (after !== undefined) q.set('after', String(after));
      const qs = q.toString();
      const text = await client.text(`/v1/events/export${qs ? `?${qs}` : ''}`);
      const out = str(args, 'out');
      if (out !== undefined) {
        fs.writeFileSync(out, text, { mode: 0o600 });
        ctx.out(`${text.split('\n').filter(Boolean).length} event(s) written to ${out}`);
      } else if (text) ctx.out(text.replace(/\n$/, ''));
      return 0;
    }
    if (args.values['follow'] === true) {
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await client.stream(
          { ...(deployment ? { deployment } : {}), ...(kind ? { kind } : {}), after: after ?? 0 },
          (e) => ctx.out(json ? JSON.stringify(e) : formatEvent(ctx.style, e)),
          ac.signal,
        );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      return 0;
    }
    const q = filterQuery(args);
    if (after !== undefined) q.set('after', String(after));
    const limit = str(args, 'limit');
    if (limit !== undefined) q.set('limit', String(integer(limit, '--limit')));
    const qs = q.toString();
    const body = await client.get<{ events: NubisEvent[] }>(`/v1/events${qs ? `?${qs}` : ''}`);
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else if (body.events.length === 0) ctx.out('no events');
    else ctx.out(body.events.map((e) => formatEvent(ctx.style, e)).join('\n'));
    return 0;
  },
};
