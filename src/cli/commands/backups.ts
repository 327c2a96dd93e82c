/**
 * `nubis backups list|show|run|restore|drill|policies`: a deployment's backups, restores and
 * restore drills; taking one now, restoring one, drilling one. Exits 1 when the run it started
 * failed (the reason is printed), 0 when it succeeded or was detached.
 */
import type { BackupPolicyView, BackupRunView } from '../../operations/index.js';
import { runLine } from '../../operations/index.js';
import { enc, integer, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import { EXIT, usageError } from '../errors.js';
import type { CliContext } from '../context.js';

const SUBS = ['list', 'show', 'run', 'restore', 'drill', 'policies'] as const;
const USAGE = [
  'nubis backups list <deployment> [--policy p] [--kind backup|restore|drill] [--instance i] [--limit N]',
  'nubis backups show <deployment> <id>',
  'nubis backups run <deployment> [--policy p] [--instance i] [--reason text] [--detach]',
  'nubis backups restore <deployment> <backup id> [--instance i] [--reason text] [--detach]',
  'nubis backups drill <deployment> [--policy p] [--backup id] [--reason text] [--detach]',
  'nubis backups policies <deployment>',
].join('\n       ');

function detail(v: BackupRunView): string {
  const lines = [
    `${v.id}: ${v.kind} ${v.state}${v.kind === 'backup' && v.state === 'succeeded' ? (v.verified ? ` (verified ${v.verifiedAt})` : ' (not verified by a drill yet)') : ''}`,
    `  policy ${v.policy}, instance ${v.instance}, ${v.what}, trigger ${v.trigger}, by ${v.actor}: ${v.reason}`,
    `  store ${v.store}${v.key ? ` key ${v.key}` : ''}`,
  ];
  if (v.sizeBytes !== undefined) lines.push(`  ${v.sizeBytes} bytes, sha256 ${v.sha256}`);
  if (v.backup) lines.push(`  of backup ${v.backup}`);
  lines.push(`  started ${v.startedAt}${v.endedAt ? `, ended ${v.endedAt}` : ''}`);
  if (v.detail) lines.push(`  ${v.state === 'failed' ? 'failed: ' : ''}${v.detail}`);
  return lines.join('\n');
}

function policyLines(name: string, ps: BackupPolicyView[]): string {
  if (ps.length === 0) return `${name}: no backup policies`;
  const out = [`${name}: backup policies`];
  for (const p of ps) {
    out.push(`  ${p.name}: ${p.component}, ${p.what} → ${p.store}`);
    out.push(`    schedule ${p.schedule ? `${p.schedule.cron} ${p.schedule.timeZone}${p.schedule.next ? ` (next ${p.schedule.next})` : ''}` : 'none (on demand)'}; keep last ${p.retention.last}${p.retention.daily ? `, ${p.retention.daily} daily` : ''}${p.retention.weekly ? `, ${p.retention.weekly} weekly` : ''}${p.retention.monthly ? `, ${p.retention.monthly} monthly` : ''}`);
    out.push(`    drill ${p.drill ? `${p.drill.cron} ${p.drill.timeZone}${p.drill.next ? ` (next ${p.drill.next})` : ''}` : 'on demand'}; final backup on destroy: ${p.onDestroy ? 'yes' : 'no'}`);
    out.push(`    last good ${p.lastGood ?? 'none'}, last verified ${p.lastVerified ?? 'none'}`);
  }
  return out.join('\n');
}

const opt = (args: Parsed, name: string, field = name): Record<string, string> => {
  const v = str(args, name);
  return v === undefined ? {} : { [field]: v };
};
const common = (args: Parsed) => ({ ...opt(args, 'reason'), ...(args.values['detach'] === true ? { wait: false } : {}) });
const failed = (runs: BackupRunView[]): boolean => runs.some((r) => r.state === 'failed');

async function list(ctx: CliContext, args: Parsed, name: string, json: boolean): Promise<number> {
  const q = new URLSearchParams({ ...opt(args, 'policy'), ...opt(args, 'kind'), ...opt(args, 'instance') });
  const limit = str(args, 'limit');
  if (limit !== undefined) q.set('limit', String(integer(limit, '--limit')));
  const { runs } = await ctx.client().get<{ runs: BackupRunView[] }>(`/v1/deployments/${enc(name)}/backups${q.size ? `?${q}` : ''}`);
  ctx.out(json ? JSON.stringify({ runs }, null, 2) : runs.length ? runs.map(runLine).join('\n') : `${name}: no backups yet`);
  return EXIT.OK;
}

export const backupsCommand: Command = {
  name: 'backups',
  summary: 'backups: list, show, run now, restore, drill (restore onto a scratch node), policies',
  usage: USAGE,
  help: [
    'list: backups, restores and drills, newest first; a backup counts as verified only after a drill of it passed',
    'run: back up now (every running instance of the policy\'s component, or --instance); each copy is checked by size and SHA-256',
    'restore: put a good backup back, in place or --instance onto another instance of the component',
    'drill: restore the latest (or --backup) backup onto a scratch node, run the verify handler or health probe, remove the node',
    '--policy <name>  the policy (needed when the deployment has more than one)',
    '--detach  return once it has started; `nubis backups show` later',
    outputHelp,
  ],
  options: {
    policy: { type: 'string' }, instance: { type: 'string' }, kind: { type: 'string' }, limit: { type: 'string' }, backup: { type: 'string' },
    reason: { type: 'string' }, detach: { type: 'boolean' }, ...outputOption,
  },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, d, id] = args.positionals;
    if (!(SUBS as readonly (string | undefined)[]).includes(sub)) {
      throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${USAGE}`);
    }
    const name = required(d, `<deployment>\nusage: ${USAGE}`);
    const base = `/v1/deployments/${enc(name)}/backups`;
    const needsId = sub === 'show' || sub === 'restore';
    if (!needsId && id !== undefined) throw usageError(`${sub} takes no id\nusage: ${USAGE}`);
    const client = ctx.client();
    const one = (v: BackupRunView): number => {
      ctx.out(json ? JSON.stringify(v, null, 2) : detail(v));
      return v.state === 'failed' ? EXIT.FAILURE : EXIT.OK;
    };
    switch (sub) {
      case 'list':
        return list(ctx, args, name, json);
      case 'policies': {
        const { policies } = await client.get<{ policies: BackupPolicyView[] }>(`${base}/policies`);
        ctx.out(json ? JSON.stringify({ policies }, null, 2) : policyLines(name, policies));
        return EXIT.OK;
      }
      case 'show':
        return one(await client.get<BackupRunView>(`${base}/${enc(required(id, `<id>\nusage: ${USAGE}`))}`));
      case 'run': {
        const { body } = await client.request<{ runs: BackupRunView[] }>('POST', base, { ...opt(args, 'policy'), ...opt(args, 'instance'), ...common(args) });
        ctx.out(json ? JSON.stringify(body, null, 2) : body.runs.map(detail).join('\n'));
        return failed(body.runs) ? EXIT.FAILURE : EXIT.OK;
      }
      case 'restore': {
        const backup = required(id, `<backup id>\nusage: ${USAGE}`);
        return one((await client.request<BackupRunView>('POST', `${base}/${enc(backup)}/restore`, { ...opt(args, 'instance'), ...common(args) })).body);
      }
      default:
        return one((await client.request<BackupRunView>('POST', `${base}/drill`, { ...opt(args, 'policy'), ...opt(args, 'backup'), ...common(args) })).body);
    }
  },
};
