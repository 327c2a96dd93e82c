/** `nubis status [<deployment>]`: deployments, or one deployment's components and instances. */
import type { DeploymentSummary, DeploymentView } from '../../engine/views.js';
import { enc, outputHelp, outputOption, wantsJson, type Command } from '../command.js';
import { sparkline, stateColour, table, type Style } from '../format.js';
import type { ApiClient } from '../client.js';
import { cloudProblemLines } from '../progress.js';
import { fetchRecovery, recoveryLines } from '../recovery-view.js';
import { CONTROL_PLANE_HELP, CONTROL_PLANE_OPTION, controlPlaneStatus } from './status-control-plane.js';

/** Instance CPU over the last 15 minutes as one sparkline per instance; empty when there is no data (or no metrics service). */
async function cpuSparklines(client: ApiClient, d: DeploymentView): Promise<string> {
  const now = Date.now() / 1000;
  const q = `avg by (instance) ({__name__="instance.cpu.percent", deployment="${d.name}"})`;
  try {
    const body = await client.get<{ data: { result: { metric: Record<string, string>; values: [number, string][] }[] } }>(
      `/v1/metrics/query?query=${encodeURIComponent(q)}&start=${now - 900}&end=${now}&step=30`,
    );
    const rows = body.data.result
      .filter((s) => s.metric['instance'] !== undefined)
      .sort((a, b) => a.metric['instance']!.localeCompare(b.metric['instance']!, undefined, { numeric: true }))
      .map((s) => `  ${s.metric['instance']!.padEnd(12)} ${sparkline(s.values.map((p) => Number(p[1])))} ${Number(s.values[s.values.length - 1]?.[1] ?? NaN).toFixed(0)}%`);
    return rows.length ? ['cpu % (15 min)', ...rows].join('\n') : '';
  } catch {
    return '';
  }
}

/** The node's state, and its first-boot step while it is not ready: `running (contextualizing 12.4 s)`. */
function nodeCell(style: Style, n: DeploymentView['instances'][number]['node']): string {
  const state = stateColour(style, n.state);
  if (n.step === 'booting') return `${state} ${style.dim('(booting)')}`;
  if (n.step === 'contextualizing') return `${state} ${style.yellow(`(contextualizing ${((n.contextualizeMs ?? 0) / 1000).toFixed(1)} s)`)}`;
  return state;
}

export function formatDeployment(style: Style, d: DeploymentView): string {
  const head = `${style.bold(d.name)}  ${stateColour(style, d.state)}  version ${d.version}`;
  const r = d.rollout;
  const rollout = r ? [`rollout: ${r.status === 'failed' ? style.red(r.line) : r.status === 'paused' ? style.yellow(r.line) : r.line}`] : [];
  const comps = table(style, ['COMPONENT', 'DESIRED', 'RUNNING', 'MIN', 'MAX'],
    d.components.map((c) => [c.name, String(c.desired), String(c.running), String(c.min), String(c.max)]));
  const insts = table(style, ['INSTANCE', 'COMPONENT', 'PHASE', 'HEALTH', 'NODE', 'ENDPOINTS'],
    d.instances.map((i) => [
      i.desired ? i.name : `${i.name} (leaving)`,
      i.component,
      stateColour(style, i.phase),
      stateColour(style, i.health),
      nodeCell(style, i.node),
      Object.entries(i.endpoints).map(([p, a]) => `${p}=${a}`).join(' ') || '-',
    ]));
  const errors = [
    ...cloudProblemLines(d).map((l) => `${style.red('!')} ${l}`),
    ...d.instances.filter((i) => i.lastError).map((i) => `${style.red('!')} ${i.name}: ${i.lastError}`),
    ...(d.scaling ?? []).map((r) => `${style.red('!')} ${r.reason} ${style.dim(`(${r.code}, ${r.at})`)}`),
  ];
  return [head, ...rollout, '', comps, '', d.instances.length ? insts : 'no instances', ...(errors.length ? ['', ...errors] : [])].join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show deployments, or one deployment in detail',
  usage: 'nubis status [<deployment>] [--control-plane]',
  help: [outputHelp, CONTROL_PLANE_HELP],
  options: { ...outputOption, ...CONTROL_PLANE_OPTION },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const client = ctx.client();
    const name = args.positionals[0];
    if (args.values['control-plane'] === true) {
      ctx.out(await controlPlaneStatus(client, ctx.style, json));
      return 0;
    }
    if (name === undefined) {
      const body = await client.get<{ deployments: DeploymentSummary[] }>('/v1/deployments');
      if (json) ctx.out(JSON.stringify(body, null, 2));
      else if (body.deployments.length === 0) ctx.out('no deployments');
      else ctx.out(table(ctx.style, ['DEPLOYMENT', 'STATE', 'VERSION', 'INSTANCES'],
        body.deployments.map((d) => [d.name, stateColour(ctx.style, d.state), String(d.version), `${d.instances.running}/${d.instances.desired} running`])));
      return 0;
    }
    const d = await client.get<DeploymentView>(`/v1/deployments/${enc(name)}`);
    if (json) ctx.out(JSON.stringify(d, null, 2));
    else {
      const [spark, recovery] = await Promise.all([cpuSparklines(client, d), fetchRecovery(client, name)]);
      const ladders = recovery ? `\n\nrecovery\n${recoveryLines(ctx.style, recovery).map((l) => `  ${l}`).join('\n')}` : '';
      ctx.out(formatDeployment(ctx.style, d) + ladders + (spark ? `\n\n${spark}` : ''));
    }
    return 0;
  },
};
