/**
 * `nubis alerts list|show|ack|test` and `nubis alerts rules|channels list|set|rm`: the tenant's
 * alerts and its run-time alert rules and channels (a file as in the spec's `alerts` section).
 */
import fs from 'node:fs';
import type { AlertView, AlertRuleView, AlertChannelView, AlertTestResult } from '../../operations/index.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { table } from '../format.js';

const USAGE = 'nubis alerts list [--state open|resolved|all] [--deployment <d>] | show <id> | ack <id> | test <channel> | rules list|set -f <file>|rm <name> | channels list|set -f <file>|rm <name>';

const depQuery = (args: Parsed, first = true): string => {
  const d = str(args, 'deployment');
  return d === undefined ? '' : `${first ? '?' : '&'}deployment=${enc(d)}`;
};

/** Reads `rules:` or `channels:` from a YAML file (the spec's `alerts` section, or the section itself). */
async function readSection(file: string, section: 'rules' | 'channels'): Promise<Record<string, unknown>> {
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw usageError(`${file}: ${(e as Error).message}`);
  }
  const top = (doc ?? {}) as Record<string, unknown>;
  const alerts = (top['alerts'] ?? top) as Record<string, unknown>;
  const items = alerts[section];
  if (items === null || typeof items !== 'object' || Array.isArray(items)) throw usageError(`${file}: expected a mapping \`${section}:\` (or \`alerts: { ${section}: … }\`) by name`);
  return items as Record<string, unknown>;
}

async function objects(ctx: CliContext, args: Parsed, what: 'rules' | 'channels', sub: string | undefined, name: string | undefined, json: boolean): Promise<number> {
  const base = `/v1/alerts/${what}`;
  switch (sub) {
    case 'list': {
      const body = await ctx.client().get<{ rules?: AlertRuleView[]; channels?: AlertChannelView[] }>(`${base}${depQuery(args)}`);
      if (json) ctx.out(JSON.stringify(body, null, 2));
      else if (what === 'rules') {
        ctx.out(table(ctx.style, ['RULE', 'SOURCE', 'ON', 'SEVERITY', 'CHANNELS', 'ENABLED'], (body.rules ?? []).map((r) => [
          r.name, r.source + (r.deployment ? ` (${r.deployment})` : ''),
          r.rule.on.kind === 'events' ? r.rule.on.events.join(',') : `metric ${r.rule.on.expr}`, r.rule.severity, (r.rule.channels ?? ['log', 'defaults']).join(','), String(r.rule.enabled),
        ])));
      } else {
        const rows = (body.channels ?? []).map((c) => [c.name, c.kind + (c.default ? ' (default)' : ''), c.source, c.url ?? (c.host ? `${c.host}:${c.port ?? ''} → ${(c.to ?? []).join(',')}` : '-'), c.secret]);
        ctx.out(rows.length ? table(ctx.style, ['CHANNEL', 'KIND', 'SOURCE', 'TO', 'SECRET'], rows) : 'no channels (alerts go to the event log)');
      }
      return 0;
    }
    case 'set': {
      const file = required(str(args, 'file'), '-f <file>');
      for (const [n, body] of Object.entries(await readSection(file, what))) {
        const { status } = await ctx.client().request('PUT', `${base}/${enc(n)}`, body);
        ctx.out(`${n}: ${status === 201 ? 'created' : 'changed'}`);
      }
      return 0;
    }
    case 'rm':
      await ctx.client().request('DELETE', `${base}/${enc(required(name, '<name>'))}`);
      ctx.out(`${name}: removed`);
      return 0;
    default:
      throw usageError(`alerts ${what}: expected list, set or rm, found ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
  }
}

function formatAlert(a: AlertView): string {
  return [
    `${a.id}  ${a.state}  ${a.severity}  ${a.title}`,
    `  what broke:    ${a.what}`,
    `  what it means: ${a.explanation.meaning}`,
    `  what to do:    ${a.explanation.whatToDo}`,
    `  runbook:       ${a.explanation.runbookUrl}`,
    `  opened ${a.openedAt}, fired ${a.count}×${a.resolvedAt ? `, resolved ${a.resolvedAt} (${a.resolution ?? ''})` : ''}${a.ackedBy ? `, acknowledged by ${a.ackedBy}` : ''}`,
  ].join('\n');
}

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'alerts: list, show, ack, test a channel; run-time alert rules and channels',
  usage: USAGE,
  help: [
    '--state <open|resolved|all>  list: which alerts (default open, with acknowledged ones)',
    '--deployment <name>  list: only this deployment\'s; test, rules/channels list: also its spec\'s channels and rules',
    '-f, --file <file>  rules/channels set: YAML with `rules:` or `channels:` as in the spec\'s `alerts` section (a channel may carry `secret:`, sealed at rest)',
    outputHelp,
  ],
  options: { ...outputOption, state: { type: 'string' }, deployment: { type: 'string' }, file: { type: 'string', short: 'f' } },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, a1, a2] = args.positionals;
    const client = ctx.client();
    switch (sub) {
      case 'list': {
        const state = str(args, 'state');
        if (state !== undefined && !['open', 'resolved', 'all'].includes(state)) throw usageError(`--state: expected open, resolved or all, found ${JSON.stringify(state)}`);
        const body = await client.get<{ alerts: AlertView[] }>(`/v1/alerts${state ? `?state=${state}` : ''}${depQuery(args, state === undefined)}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.alerts.length === 0 ? 'no alerts' : table(ctx.style, ['ID', 'STATE', 'SEVERITY', 'RULE', 'SUBJECT', 'COUNT', 'OPENED', 'WHAT'],
          body.alerts.map((x) => [x.id, x.state, x.severity, x.rule, x.subject, String(x.count), x.openedAt, x.what])));
        return 0;
      }
      case 'show': {
        const body = await client.get<AlertView>(`/v1/alerts/${enc(required(a1, '<id>'))}`);
        ctx.out(json ? JSON.stringify(body, null, 2) : formatAlert(body));
        return 0;
      }
      case 'ack': {
        const { body } = await client.request<AlertView>('POST', `/v1/alerts/${enc(required(a1, '<id>'))}/ack`, {});
        ctx.out(json ? JSON.stringify(body, null, 2) : `${body.id}: acknowledged (no reminders until it resolves)`);
        return 0;
      }
      case 'test': {
        const d = str(args, 'deployment');
        const { body } = await client.request<AlertTestResult>('POST', '/v1/alerts/test', { channel: required(a1, '<channel>'), ...(d ? { deployment: d } : {}) });
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.delivered ? `${body.channel}: test alert delivered` : `${body.channel}: test alert NOT delivered: ${body.error ?? 'unknown error'}`);
        return body.delivered ? 0 : 1;
      }
      case 'rules':
      case 'channels':
        return objects(ctx, args, sub, a1, a2, json);
      default:
        throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${USAGE}`);
    }
  },
};
