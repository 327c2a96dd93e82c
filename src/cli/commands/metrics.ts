/**
 * `nubis metrics …`, `nubis rules …`, `nubis schedules …`: the read side of metrics and the
 * run-time management of metric definitions, scaling rules and schedules.
 *
 * Definition files read like the spec's sections, plus the deployment they belong to:
 *
 *   deployment: webapp
 *   rules:
 *     app-out: { component: app, when: { … }, action: { scale: out, by: 1 } }
 */
import fs from 'node:fs';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { sparkline, table } from '../format.js';

interface PromVector { metric: Record<string, string>; value: [number, string] }
interface PromMatrix { metric: Record<string, string>; values: [number, string][] }
interface QueryBody { status: string; data: { resultType: 'vector' | 'matrix' | 'scalar'; result: unknown } }

/** `1h`, `30s`, `500ms`, `2d` → ms, or a usage error naming the flag. */
export function flagDuration(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v);
  if (!m) throw usageError(`${flag}: expected a duration such as 30s, 5m or 1h, found ${JSON.stringify(v)}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
}

const labelText = (m: Record<string, string>): string => {
  const { __name__: name, ...rest } = m;
  const inner = Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
  return `${name ?? ''}{${inner}}`;
};

async function readDefinitionFile(path: string, section: 'rules' | 'schedules' | 'metrics' | 'scrape'): Promise<{ deployment?: string; items: Record<string, Record<string, unknown>> }> {
  // loaded here, not at start: `nubis --help` and `status` need no YAML parser
  const { parse: parseYaml } = await import('yaml');
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(path, 'utf8'));
  } catch (e) {
    throw usageError(`${path}: ${(e as Error).message}`);
  }
  const d = (doc ?? {}) as { deployment?: unknown; [k: string]: unknown };
  const items = d[section];
  if (items === null || typeof items !== 'object' || Array.isArray(items)) throw usageError(`${path}: expected a mapping \`${section}:\` of ${section} by name`);
  if (d.deployment !== undefined && typeof d.deployment !== 'string') throw usageError(`${path}: deployment: expected a name`);
  return { ...(typeof d.deployment === 'string' ? { deployment: d.deployment } : {}), items: items as Record<string, Record<string, unknown>> };
}

async function setFromFile(ctx: CliContext, args: Parsed, section: 'rules' | 'schedules' | 'metrics' | 'scrape', base: string): Promise<number> {
  const file = required(str(args, 'file'), '-f <file>');
  const { deployment, items } = await readDefinitionFile(file, section);
  for (const [name, body] of Object.entries(items)) {
    const payload = { ...(deployment !== undefined ? { deployment } : {}), ...body };
    const { status } = await ctx.client().request('PUT', `${base}/${enc(name)}`, payload);
    ctx.out(`${name}: ${status === 201 ? 'created' : 'changed'}`);
  }
  return 0;
}

const depQuery = (args: Parsed): string => {
  const d = str(args, 'deployment');
  return d === undefined ? '' : `?deployment=${enc(d)}`;
};

/** `k=v,k2=v2` → labels, or a usage error naming the flag. */
export function flagLabels(v: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of v.split(',')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(part.trim());
    if (!m) throw usageError(`${flag}: expected name=value[,name=value…], found ${JSON.stringify(part)}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** `nubis metrics scrape list | set <name> --url <u> [--interval 15s] [--labels k=v,…] | set -f <file> | rm <name>`. */
async function scrapeCommand(ctx: CliContext, args: Parsed, sub: string | undefined, name: string | undefined, json: boolean): Promise<number> {
  const client = ctx.client();
  switch (sub) {
    case 'list': {
      const body = await client.get<{ targets: { name: string; deployment?: string; source: string; url: string; intervalMs: number; labels: Record<string, string>; status?: { up: boolean; lastError?: string; samples: number } }[] }>(`/v1/metrics/scrape${depQuery(args)}`);
      if (json) ctx.out(JSON.stringify(body, null, 2));
      else ctx.out(body.targets.length === 0 ? 'no scrape targets' : table(ctx.style, ['NAME', 'DEPLOYMENT', 'SOURCE', 'EVERY', 'URL', 'UP'],
        body.targets.map((t) => [t.name, t.deployment ?? '-', t.source, `${t.intervalMs / 1000}s`, t.url, t.status ? (t.status.up ? `up (${t.status.samples} samples)` : ctx.style.red(`down${t.status.lastError ? ` (${t.status.lastError})` : ''}`)) : '-'])));
      return 0;
    }
    case 'set': {
      if (str(args, 'file') !== undefined) return setFromFile(ctx, args, 'scrape', '/v1/metrics/scrape');
      const n = required(name, '<name> (or -f <file>)');
      const body: Record<string, unknown> = { url: required(str(args, 'url'), '--url <url>') };
      const interval = str(args, 'interval');
      if (interval !== undefined) body['interval'] = interval;
      const labels = str(args, 'labels');
      if (labels !== undefined) body['labels'] = flagLabels(labels, '--labels');
      const d = str(args, 'deployment');
      if (d !== undefined) body['deployment'] = d;
      const { status } = await client.request('PUT', `/v1/metrics/scrape/${enc(n)}`, body);
      ctx.out(`${n}: ${status === 201 ? 'created' : 'changed'}`);
      return 0;
    }
    case 'rm':
      await client.request('DELETE', `/v1/metrics/scrape/${enc(required(name, '<name>'))}${depQuery(args)}`);
      ctx.out(`${name}: removed`);
      return 0;
    default:
      throw usageError(`scrape: expected list, set or rm, found ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
  }
}

export const metricsCommand: Command = {
  name: 'metrics',
  summary: 'list series, run queries, manage metric definitions',
  usage: "nubis metrics list [--match <selector>] | query '<expr>' [--range 1h --step 30s] | defs | define -f <file> | undefine <name> | scrape list|set|rm",
  help: [
    '--match <selector>  list: only series matching, such as {__name__=~"instance.cpu.*"}',
    '--range <d>  query: a range query over the last <d> (with --step, default 30s)',
    '--step <d>  query: the range step',
    '--time <t>  query: evaluate at this time (RFC 3339 or Unix seconds)',
    '-f, --file <file>  define: a YAML file with `metrics:` (and optional `deployment:`)',
    '--deployment <name>  defs, undefine, scrape: the deployment',
    'scrape set <name> --url <url> [--interval 15s] [--labels k=v,…]  scrape a Prometheus text-format target (or scrape set -f <file> with `scrape:`)',
    'scrape rm <name>  stop scraping it; scrape list  the targets and their last scrape',
    outputHelp,
  ],
  options: {
    ...outputOption, match: { type: 'string' }, range: { type: 'string' }, step: { type: 'string' }, time: { type: 'string' },
    file: { type: 'string', short: 'f' }, deployment: { type: 'string' },
    url: { type: 'string' }, interval: { type: 'string' }, labels: { type: 'string' },
  },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, arg, arg2] = args.positionals;
    if (sub === 'scrape') return scrapeCommand(ctx, args, arg, arg2, json);
    if (arg2 !== undefined) throw usageError(`unexpected argument ${JSON.stringify(arg2)}`);
    const client = ctx.client();
    switch (sub) {
      case 'list': {
        const match = str(args, 'match');
        const body = await client.get<{ data: Record<string, string>[] }>(`/v1/metrics/series${match !== undefined ? `?match=${enc(match)}` : ''}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.data.length === 0 ? 'no series' : body.data.map(labelText).sort().join('\n'));
        return 0;
      }
      case 'query': {
        const expr = required(arg, "'<expr>'");
        const range = str(args, 'range');
        let path = `/v1/metrics/query?query=${enc(expr)}`;
        if (range !== undefined) {
          const step = flagDuration(str(args, 'step') ?? '30s', '--step');
          const now = Date.now();
          path += `&start=${(now - flagDuration(range, '--range')) / 1000}&end=${now / 1000}&step=${step / 1000}`;
        } else if (str(args, 'step') !== undefined) throw usageError('--step: only with --range');
        const t = str(args, 'time');
        if (t !== undefined) path += `&time=${enc(t)}`;
        const body = await client.get<QueryBody>(path);
        if (json) {
          ctx.out(JSON.stringify(body, null, 2));
          return 0;
        }
        const d = body.data;
        if (d.resultType === 'scalar') ctx.out((d.result as [number, string])[1]);
        else if (d.resultType === 'vector') {
          const r = d.result as PromVector[];
          ctx.out(r.length === 0 ? 'no data' : table(ctx.style, ['SERIES', 'VALUE'], r.map((e) => [labelText(e.metric), e.value[1]])));
        } else {
          const r = d.result as PromMatrix[];
          ctx.out(r.length === 0 ? 'no data' : table(ctx.style, ['SERIES', 'LAST', 'TREND'], r.map((s) => [
            labelText(s.metric), s.values[s.values.length - 1]?.[1] ?? '-', sparkline(s.values.map((p) => Number(p[1]))),
          ])));
        }
        return 0;
      }
      case 'defs': {
        const body = await client.get<{ definitions: { name: string; deployment?: string; source: string; expr: string; intervalMs: number; lastError?: string }[] }>(`/v1/metrics/definitions${depQuery(args)}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.definitions.length === 0 ? 'no metric definitions' : table(ctx.style, ['NAME', 'DEPLOYMENT', 'SOURCE', 'EVERY', 'EXPR'],
          body.definitions.map((d) => [d.name, d.deployment ?? '-', d.source, `${d.intervalMs / 1000}s`, d.lastError ? `${d.expr} (${ctx.style.red(d.lastError)})` : d.expr])));
        return 0;
      }
      case 'define':
        return setFromFile(ctx, args, 'metrics', '/v1/metrics/definitions');
      case 'undefine':
        await client.request('DELETE', `/v1/metrics/definitions/${enc(required(arg, '<name>'))}${depQuery(args)}`);
        ctx.out(`${arg}: removed`);
        return 0;
      default:
        throw usageError(`expected list, query, defs, define, undefine or scrape, found ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
    }
  },
};

function crudCommand(name: 'rules' | 'schedules', summary: string, row: (x: Record<string, unknown>) => string[], header: string[]): Command {
  return {
    name,
    summary,
    usage: `nubis ${name} list [--deployment <d>] | set -f <file> | rm <name> [--deployment <d>]`,
    help: [`-f, --file <file>  set: a YAML file with \`deployment:\` and \`${name}:\` (as in the spec)`, '--deployment <name>  list, rm: the deployment', outputHelp],
    options: { ...outputOption, file: { type: 'string', short: 'f' }, deployment: { type: 'string' } },
    maxPositionals: 2,
    async run(ctx, args) {
      const json = wantsJson(args);
      const [sub, arg] = args.positionals;
      switch (sub) {
        case 'list': {
          const body = await ctx.client().get<Record<string, Record<string, unknown>[]>>(`/v1/${name}${depQuery(args)}`);
          const items = body[name] ?? [];
          if (json) ctx.out(JSON.stringify(body, null, 2));
          else ctx.out(items.length === 0 ? `no ${name}` : table(ctx.style, header, items.map(row)));
          return 0;
        }
        case 'set':
          return setFromFile(ctx, args, name, `/v1/${name}`);
        case 'rm':
          await ctx.client().request('DELETE', `/v1/${name}/${enc(required(arg, '<name>'))}${depQuery(args)}`);
          ctx.out(`${arg}: removed`);
          return 0;
        default:
          throw usageError(`expected list, set or rm, found ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
      }
    },
  };
}

export const rulesCommand = crudCommand(
  'rules',
  'list, set or remove scaling rules at run time',
  (r) => {
    const spec = r['spec'] as { component: string; action: { kind: string; by?: number; percent?: number; count?: number } };
    const st = r['state'] as { truth: string; missing: string[] };
    const a = spec.action;
    const action = a.kind === 'to' ? `to ${a.count}` : `${a.kind} ${a.by ?? `${a.percent}%`}`;
    return [String(r['name']), String(r['deployment']), spec.component, action, String(r['source']), st.truth + (st.missing.length ? ` (${st.missing[0]})` : '')];
  },
  ['RULE', 'DEPLOYMENT', 'COMPONENT', 'ACTION', 'SOURCE', 'CONDITION'],
);

export const schedulesCommand = crudCommand(
  'schedules',
  'list, set or remove scheduled scaling at run time',
  (s) => {
    const spec = s['spec'] as { component: string; count: number; cron?: string; timeZone: string; at?: number };
    const when = spec.cron !== undefined ? `${spec.cron} (${spec.timeZone})` : new Date(spec.at ?? 0).toISOString();
    return [String(s['name']), String(s['deployment']), spec.component, String(spec.count), when, String(s['nextFire'] ?? '-'), String(s['source'])];
  },
  ['SCHEDULE', 'DEPLOYMENT', 'COMPONENT', 'COUNT', 'WHEN', 'NEXT', 'SOURCE'],
);
