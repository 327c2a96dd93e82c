/** `nubis apply -f <spec.yaml> [--wait]`: create or change a deployment, optionally until it is ready. */
import type { DeploymentView } from '../../engine/views.js';
import type { ApiClient } from '../client.js';
import { outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import type { CliContext } from '../context.js';
import { followEvents, formatEvent, parseTimeout, waitReady } from '../progress.js';
import { readSpecInput } from '../spec-files.js';

/**
 * Applies `file`; with `wait`, prints progress (unless `quiet`) and resolves once the
 * deployment is ready. Shared by `apply` and `up`.
 */
export async function applyAndWait(
  ctx: CliContext, client: ApiClient, file: string, opts: { wait: boolean; timeoutMs: number; quiet: boolean },
): Promise<{ view: DeploymentView; created: boolean }> {
  const input = readSpecInput(file, ctx.io.cwd);
  const follower = opts.wait && !opts.quiet
    ? followEvents(client, (e) => ctx.out(formatEvent(ctx.style, e)), (m) => ctx.err(`warning: ${m}`))
    : undefined;
  try {
    const { status, body } = await client.request<DeploymentView>('POST', '/v1/deployments', input);
    if (!opts.quiet) ctx.out(`${body.name}: ${status === 201 ? 'created' : 'changed'} (version ${body.version})`);
    if (!opts.wait) return { view: body, created: status === 201 };
    follower?.focus(body.name);
    const view = await waitReady(client, body.name, opts.timeoutMs);
    return { view, created: status === 201 };
  } finally {
    await follower?.stop();
  }
}

export const applyCommand: Command = {
  name: 'apply',
  summary: 'create or change a deployment from a spec',
  usage: 'nubis apply -f <spec.yaml> [--wait] [--timeout <10m>]',
  help: [
    '-f, --file <spec.yaml>  the spec (its artefacts are read relative to its folder)',
    '--wait  follow progress until the deployment is ready',
    '--timeout <duration>  how long --wait waits (default 10m); exit 1 when it runs out',
    outputHelp,
  ],
  options: { file: { type: 'string', short: 'f' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, ...outputOption },
  maxPositionals: 0,
  async run(ctx, args) {
    const json = wantsJson(args);
    const file = required(str(args, 'file'), '-f <spec.yaml>');
    const timeoutMs = parseTimeout(str(args, 'timeout'), 10 * 60_000);
    const { view } = await applyAndWait(ctx, ctx.client(), file, { wait: args.values['wait'] === true, timeoutMs, quiet: json });
    if (json) ctx.out(JSON.stringify(view, null, 2));
    else if (args.values['wait'] === true) ctx.out(`${view.name}: ${ctx.style.green('ready')}`);
    return 0;
  },
};
