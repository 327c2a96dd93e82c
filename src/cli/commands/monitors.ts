/**
 * `nubis monitors list|set|rm <instance> …`: an instance's monitors, run by its node's agent,
 * added, changed and removed at run time (each with its own interval).
 */
import type { DeploymentSummary, DeploymentView } from '../../engine/views.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { table } from '../format.js';
import { flagDuration } from './metrics.js';

interface MonitorRow {
  id: string;
  scope: string;
  spec: { kind: string; intervalMs: number; target?: string };
  lastRun?: string;
  lastSamples: number;
  lastError?: string;
  info?: string;
  runs: number;
}

/** `<instance>` or `<deployment>/<instance>`, and --deployment; when neither names one, the deployment that has the instance. */
async function locate(ctx: CliContext, args: Parsed, arg: string): Promise<{ deployment: string; instance: string }> {
  let deployment = str(args, 'deployment');
  let instance = arg;
  const slash = arg.indexOf('/');
  if (slash >= 0) {
    const named = arg.slice(0, slash);
    if (deployment !== undefined && deployment !== named) throw usageError(`${arg} names deployment ${named} but --deployment is ${deployment}`);
    deployment = named;
    instance = arg.slice(slash + 1);
  }
  if (deployment !== undefined) return { deployment, instance };
  const client = ctx.client();
  const { deployments } = await client.get<{ deployments: DeploymentSummary[] }>('/v1/deployments');
  if (deployments.length === 0) throw usageError('there are no deployments');
  if (deployments.length === 1) return { deployment: deployments[0]!.name, instance };
  const having: string[] = [];
  for (const d of deployments) {
    const v = await client.get<DeploymentView>(`/v1/deployments/${enc(d.name)}`);
    if (v.instances.some((i) => i.name === instance)) having.push(d.name);
  }
  if (having.length === 1) return { deployment: having[0]!, instance };
  throw usageError(having.length === 0
    ? `no deployment has an instance ${JSON.stringify(instance)}`
    : `deployments ${having.join(', ')} each have an instance ${instance}; name one with --deployment or <deployment>/${instance}`);
}

const every = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

export const monitorsCommand: Command = {
  name: 'monitors',
  summary: 'list, set or remove the monitors of an instance at run time',
  usage: 'nubis monitors list <instance> | set <instance> <id> --kind <kind> --interval <5s> [--target <t>] [--node] | rm <instance> <id>  [--deployment <d>]',
  help: [
    '<instance>  such as app-2, or webapp/app-2 naming the deployment too',
    '--deployment <d>  the deployment; optional when only one has the instance',
    '--kind <kind>  set: cpu, memory, disk-io, disk-free, network, tcp-latency or mount',
    '--interval <d>  set: how often it measures (100ms to 1d), e.g. 500ms, 5s, 1m',
    '--target <t>  set: tcp-latency host:port; mount path; disk-io device; disk-free mount point; network interface',
    '--tries <n>  set: tcp-latency connects per reading (default 3)',
    '--timeout <d>  set: tcp-latency / mount per try',
    '--node  set: measure the whole node (default for cpu, memory, disk-io: the instance\'s own processes)',
    outputHelp,
  ],
  options: {
    ...outputOption,
    deployment: { type: 'string', short: 'd' },
    kind: { type: 'string' },
    interval: { type: 'string' },
    target: { type: 'string' },
    tries: { type: 'string' },
    timeout: { type: 'string' },
    node: { type: 'boolean' },
  },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, instArg, id] = args.positionals;
    if (sub !== 'list' && sub !== 'set' && sub !== 'rm') {
      throw usageError(`expected list, set or rm, found ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
    }
    const { deployment, instance } = await locate(ctx, args, required(instArg, '<instance>'));
    const base = `/v1/deployments/${enc(deployment)}/instances/${enc(instance)}/monitors`;
    const client = ctx.client();
    switch (sub) {
      case 'list': {
        const body = await client.get<{ node: string; monitors: MonitorRow[] }>(base);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.monitors.length === 0 ? `no monitors on ${deployment}/${instance} (node ${body.node})` : table(ctx.style, ['ID', 'KIND', 'EVERY', 'SCOPE', 'TARGET', 'RUNS', 'LAST', 'INFO'], body.monitors.map((m) => [
          m.id, m.spec.kind, every(m.spec.intervalMs), m.scope, m.spec.target ?? '-', String(m.runs), m.lastRun ?? '-',
          m.lastError ? ctx.style.red(m.lastError) : (m.info ?? ''),
        ])));
        return 0;
      }
      case 'set': {
        const mid = required(id, '<id>');
        const kind = required(str(args, 'kind'), '--kind');
        const interval = flagDuration(required(str(args, 'interval'), '--interval'), '--interval');
        const body: Record<string, unknown> = { kind, intervalMs: interval };
        const target = str(args, 'target');
        if (target !== undefined) body['target'] = target;
        const tries = str(args, 'tries');
        if (tries !== undefined) {
          if (!/^\d{1,3}$/.test(tries)) throw usageError(`--tries: expected a number, found ${JSON.stringify(tries)}`);
          body['tries'] = Number(tries);
        }
        const timeout = str(args, 'timeout');
        if (timeout !== undefined) body['timeoutMs'] = flagDuration(timeout, '--timeout');
        if (args.values['node'] === true) body['scope'] = 'node';
        const r = await client.request<MonitorRow>('PUT', `${base}/${enc(mid)}`, body);
        if (json) ctx.out(JSON.stringify(r.body, null, 2));
        else ctx.out(`${deployment}/${instance}: monitor ${mid} ${r.status === 201 ? 'added' : 'changed'} (${r.body.spec.kind} every ${every(r.body.spec.intervalMs)}, ${r.body.scope} scope)`);
        return 0;
      }
      case 'rm': {
        const mid = required(id, '<id>');
        await client.request('DELETE', `${base}/${enc(mid)}`);
        if (json) ctx.out(JSON.stringify({ ok: true }));
        else ctx.out(`${deployment}/${instance}: monitor ${mid} removed`);
        return 0;
      }
    }
  },
};
