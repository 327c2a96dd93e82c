/** `nubis events [-f] [--deployment d] [--kind k]`: the audit log, optionally followed live. */
import type { NubisEvent } from '../../events/index.js';
import { integer, outputHelp, outputOption, str, wantsJson, type Command } from '../command.js';
import { formatEvent } from '../progress.js';

export const eventsCommand: Command = {
  name: 'events',
  summary: 'list audit events, or follow them live with -f',
  usage: 'nubis events [-f] [--deployment <d>] [--kind <k>] [--after <id>] [--limit <n>]',
  help: [
    '-f, --follow  keep printing new events (stored ones first)',
    '--deployment <d>  only events of this deployment',
    '--kind <k>  only events of this kind; node.* matches a prefix',
    '--after <id>  only events after this id',
    '--limit <n>  the newest n (without -f; with --after, the first n after it)',
    outputHelp + ' (with -f: one JSON event per line)',
  ],
  options: {
    follow: { type: 'boolean', short: 'f' }, deployment: { type: 'string' }, kind: { type: 'string' },
    after: { type: 'string' }, limit: { type: 'string' }, ...outputOption,
  },
  maxPositionals: 0,
  async run(ctx, args) {
    const json = wantsJson(args);
    const deployment = str(args, 'deployment');
    const kind = str(args, 'kind');
    const afterText = str(args, 'after');
    const after = afterText === undefined ? undefined : integer(afterText, '--after');
    const client = ctx.client();
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
    const q = new URLSearchParams();
    if (deployment) q.set('deployment', deployment);
    if (kind) q.set('kind', kind);
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
