/** `nubis logs <instance> [--deployment d] [--step s | --operation run]`: lifecycle step or operation output of an instance. */
import type { DeploymentSummary, StepLog } from '../../engine/views.js';
import type { OperationRunView } from '../../engine/index.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';

export const logsCommand: Command = {
  name: 'logs',
  summary: 'show the lifecycle step logs of an instance',
  usage: 'nubis logs <instance> [--deployment <d>] [--step <install|configure|start|stop|update> | --operation <run id>]',
  help: [
    '<instance>  such as app-2, or webapp/app-2 naming the deployment too',
    '--deployment <d>  the deployment; optional when there is only one',
    '--step <handler>  only this lifecycle step',
    '--operation <run id>  the instance\'s output of that operation run (`nubis run` prints the id)',
    outputHelp,
  ],
  options: { deployment: { type: 'string', short: 'd' }, step: { type: 'string' }, operation: { type: 'string' }, ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const arg = required(args.positionals[0], '<instance>');
    const client = ctx.client();
    let deployment = str(args, 'deployment');
    let instance = arg;
    const slash = arg.indexOf('/');
    if (slash >= 0) {
      const named = arg.slice(0, slash);
      if (deployment !== undefined && deployment !== named) throw usageError(`${arg} names deployment ${named} but --deployment is ${deployment}`);
      deployment = named;
      instance = arg.slice(slash + 1);
    }
    if (deployment === undefined) {
      const { deployments } = await client.get<{ deployments: DeploymentSummary[] }>('/v1/deployments');
      if (deployments.length === 1) deployment = deployments[0]!.name;
      else if (deployments.length === 0) throw usageError('there are no deployments');
      else throw usageError(`there are ${deployments.length} deployments (${deployments.map((d) => d.name).join(', ')}); name one with --deployment or <deployment>/${instance}`);
    }
    const step = str(args, 'step');
    const runId = str(args, 'operation');
    if (runId !== undefined) {
      if (step !== undefined) throw usageError('give --step or --operation, not both');
      const run = await client.get<OperationRunView>(`/v1/deployments/${enc(deployment)}/operations/${enc(runId)}`);
      const part = run.instances.find((i) => i.instance === instance);
      if (!part) throw usageError(`operation run ${runId} did not include ${instance} (it ran on ${run.instances.map((i) => i.instance).join(', ')})`);
      if (json) {
        ctx.out(JSON.stringify(part, null, 2));
        return 0;
      }
      const exit = part.exitCode === null ? part.state : `${part.state}, exit ${part.exitCode}`;
      ctx.out(ctx.style.bold(`== ${run.operation} (run ${run.id}) ${exit}${part.startedAt ? `, started ${part.startedAt}` : ''}${part.endedAt ? `, ended ${part.endedAt}` : ''}${part.detail ? `: ${part.detail}` : ''}`));
      if (part.output) ctx.out(part.output);
      return 0;
    }
    const body = await client.get<{ logs: StepLog[] }>(
      `/v1/deployments/${enc(deployment)}/instances/${enc(instance)}/logs${step ? `?step=${enc(step)}` : ''}`,
    );
    if (json) {
      ctx.out(JSON.stringify(body, null, 2));
      return 0;
    }
    if (body.logs.length === 0) ctx.out(`no step logs for ${deployment}/${instance} yet`);
    for (const l of body.logs) {
      const exit = l.exitCode === null ? l.state : `exit ${l.exitCode}`;
      ctx.out(ctx.style.bold(`== ${l.step} (run ${l.runId}) ${exit}, started ${l.startedAt}${l.endedAt ? `, ended ${l.endedAt}` : ''}`));
      if (l.output) ctx.out(l.output);
    }
    return 0;
  },
};
