/**
 * `nubis catalog publish|list|show|order|withdraw|orders`: the installation administrator
 * publishes parameterised templates; a tenant orders one with `--param name=value` (typed by
 * the template's schema) and, with --wait, gets its endpoints and credentials once it is ready.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { AccessView, DeploymentView } from '../../engine/index.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { table } from '../format.js';
import { parseTimeout, waitReady } from '../progress.js';
import { readSpecInput } from '../spec-files.js';
import { formatCredentials, formatEndpoints } from './endpoints.js';

interface ParamSchema {
  type: string;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  writeOnly?: boolean;
}

interface Template {
  name: string;
  version: number;
  description: string;
  parameters: { properties?: Record<string, ParamSchema>; required?: string[] };
  tenants?: string[] | null;
  publishedAt: string;
}

interface OrderResult {
  order: { id: string; deployment: string; template: string; version: number };
  deployment: DeploymentView;
}

const usage = 'nubis catalog publish <name> -f <spec.yaml> --parameters <schema.json|yaml> [--description <text>] [--tenants a,b] | list | show <name> | order <name> <deployment> [--param k=v…] [--wait] | withdraw <name> | orders';

function readStructured(file: string, cwd: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(cwd, file), 'utf8');
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parse(text) as unknown;
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `${file}: not JSON or YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** `--param replicas=3`: typed by the template's schema; a value that does not convert goes as text, for the server's precise message. */
function paramValues(args: Parsed, t: Template): Record<string, unknown> {
  const raw = args.values['param'] as unknown;
  const list = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  const out: Record<string, unknown> = {};
  for (const item of list) {
    const m = /^([^=]+)=([\s\S]*)$/.exec(item);
    if (!m) throw usageError(`--param: expected <name>=<value>, found ${JSON.stringify(item)}`);
    const [, k, v] = m as unknown as [string, string, string];
    const type = t.parameters.properties?.[k]?.type;
    if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) out[k] = Number(v);
    else if (type === 'boolean' && (v === 'true' || v === 'false')) out[k] = v === 'true';
    else out[k] = v;
  }
  return out;
}

function formatTemplate(ctx: CliContext, t: Template): string {
  const props = Object.entries(t.parameters.properties ?? {});
  const req = new Set(t.parameters.required ?? []);
  const rows = props.map(([k, p]) => {
    const range = p.enum ? p.enum.map((e) => JSON.stringify(e)).join('|') : p.minimum !== undefined || p.maximum !== undefined ? `${p.minimum ?? ''}..${p.maximum ?? ''}` : '';
    return [k, p.type + (p.writeOnly ? ' (secret)' : ''), req.has(k) ? 'yes' : 'no', p.default === undefined ? ctx.style.dim('-') : JSON.stringify(p.default), range, p.description ?? p.title ?? ''];
  });
  return `${t.name} v${t.version}: ${t.description || ctx.style.dim('(no description)')}\n` +
    (rows.length ? table(ctx.style, ['PARAMETER', 'TYPE', 'REQUIRED', 'DEFAULT', 'RANGE', 'DESCRIPTION'], rows) : 'no parameters');
}

export const catalogCommand: Command = {
  name: 'catalog',
  summary: 'the service catalog: publish, list, show, order, withdraw templates; orders',
  usage,
  help: [
    '-f, --file <spec.yaml>  (publish) the spec with ${params.x} references; artefacts it names travel with it',
    '--parameters <file>  (publish) the JSON Schema of the parameters (JSON or YAML)',
    '--description <text>  (publish) what the template gives',
    '--tenants <a,b>  (publish) offer it to these tenants only (default: every tenant)',
    '--param <name>=<value>  (order) a parameter value; repeatable',
    '--wait  (order) wait until the deployment is ready, then print its endpoints and credentials',
    '--timeout <duration>  how long --wait waits (default 10m)',
    outputHelp,
  ],
  options: {
    file: { type: 'string', short: 'f' }, parameters: { type: 'string' }, description: { type: 'string' }, tenants: { type: 'string' },
    param: { type: 'string', multiple: true }, wait: { type: 'boolean' }, timeout: { type: 'string' }, ...outputOption,
  },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, name, deployment] = args.positionals;
    const client = ctx.client();
    const print = (v: unknown, text: () => string): void => ctx.out(json ? JSON.stringify(v, null, 2) : text());
    switch (sub) {
      case 'list': {
        const { templates } = await client.get<{ templates: Template[] }>('/v1/catalog');
        print({ templates }, () => templates.length === 0 ? 'no templates' : table(ctx.style, ['TEMPLATE', 'VERSION', 'PARAMETERS', 'DESCRIPTION'],
          templates.map((t) => [t.name, String(t.version), Object.keys(t.parameters.properties ?? {}).join(', '), t.description])));
        return 0;
      }
      case 'show': {
        const t = await client.get<Template>(`/v1/catalog/${enc(required(name, '<name>'))}`);
        print(t, () => formatTemplate(ctx, t));
        return 0;
      }
      case 'publish': {
        const n = required(name, `<name>\nusage: ${usage}`);
        const spec = readSpecInput(required(str(args, 'file'), '-f <spec.yaml>'), ctx.io.cwd);
        const parameters = readStructured(required(str(args, 'parameters'), '--parameters <schema file>'), ctx.io.cwd, 'parameter schema');
        const tenants = str(args, 'tenants');
        const body = {
          spec: spec.spec, parameters,
          ...(str(args, 'description') !== undefined ? { description: str(args, 'description') } : {}),
          ...(tenants !== undefined ? { tenants: tenants.split(',').map((x) => x.trim()).filter(Boolean) } : {}),
          ...(spec.artefacts && Object.keys(spec.artefacts).length ? { artefacts: spec.artefacts } : {}),
        };
        const r = await client.request<Template>('PUT', `/v1/catalog/${enc(n)}`, body);
        print(r.body, () => `${r.status === 201 ? 'published' : 're-published'} ${r.body.name} v${r.body.version}`);
        return 0;
      }
      case 'withdraw': {
        const n = required(name, '<name>');
        await client.request('DELETE', `/v1/catalog/${enc(n)}`);
        print({ withdrawn: n }, () => `withdrew ${n} (deployments ordered from it stay)`);
        return 0;
      }
      case 'orders': {
        const { orders } = await client.get<{ orders: { id: string; template: string; version: number; deployment: string; actor: string; createdAt: string }[] }>('/v1/orders');
        print({ orders }, () => orders.length === 0 ? 'no orders' : table(ctx.style, ['ORDER', 'TEMPLATE', 'DEPLOYMENT', 'BY', 'AT'],
          orders.map((o) => [o.id, `${o.template} v${o.version}`, o.deployment, o.actor, o.createdAt])));
        return 0;
      }
      case 'order': {
        const n = required(name, `<name>\nusage: ${usage}`);
        const d = required(deployment, `<deployment>\nusage: ${usage}`);
        const t = await client.get<Template>(`/v1/catalog/${enc(n)}`);
        const { body } = await client.request<OrderResult>('POST', `/v1/catalog/${enc(n)}/orders`, { deployment: d, params: paramValues(args, t) });
        if (args.values['wait'] !== true) {
          print(body, () => `ordered ${n} v${body.order.version} as ${d} (order ${body.order.id}); \`nubis endpoints ${d}\` gives its access details once it is ready`);
          return 0;
        }
        if (!json) ctx.out(`ordered ${n} v${body.order.version} as ${d} (order ${body.order.id}); waiting until it is ready…`);
        await waitReady(client, d, parseTimeout(str(args, 'timeout'), 600_000));
        const access = await client.get<AccessView>(`/v1/deployments/${enc(d)}/access`);
        if (json) ctx.out(JSON.stringify({ ...body, access }, null, 2));
        else {
          const creds = formatCredentials(ctx.style, access);
          ctx.out(`${d}: ${ctx.style.green('ready')}\n${formatEndpoints(ctx.style, access.endpoints)}${creds ? `\n\n${creds}` : ''}`);
        }
        return 0;
      }
      default:
        throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${usage}`);
    }
  },
};
