/** `nubis logs <instance> [--deployment d] [--step s]`: lifecycle step output of an instance. */
import type { DeploymentSummary, StepLog } from '../../engine/views.js';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import { usageError } from '../errors.js';

export const logsCommand: Command = {
  name: 'logs',
  summary: 'show the lifecycle step logs of an instance',
  usage: 'nubis logs <instance> [--deployment <d>] [--step <install|configure|start|stop|update>]',
  help: [
    '<instance>  such as app-2, or webapp/app-2 naming the deployment too',
    '--deployment <d>  the deployment; optional when there is only one',
    '--step <handler>  only this lifecycle step',
    outputHelp,
  ],
  options: { deployment: { type: 'string', short: 'd' }, step: { type: 'string' }, ...outputOption },
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
