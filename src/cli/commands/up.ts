/**
 * `nubis up -f <spec.yaml>`: serve and apply in one step, show progress until ready, then
 * the endpoints. In the foreground the server lives in this process and Ctrl-C asks whether
 * to destroy the deployment or leave it running (no TTY on stdin: leave it). With --detach
 * a background `nubis serve` (logging to <data>/serve.log) is started, or an existing one
 * on the port reused, and the command exits 0 once the deployment is ready.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EndpointView } from '../../engine/views.js';
import { ApiClient } from '../client.js';
import { enc, required, str, type Command } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { parseTimeout, waitGone } from '../progress.js';
import { applyAndWait } from './apply.js';
import { formatEndpoints } from './endpoints.js';
import { serverFlags, startOrExplain, untilSignal } from './serve.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function readToken(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function printEndpoints(ctx: CliContext, client: ApiClient, name: string): Promise<void> {
  const { endpoints } = await client.get<{ endpoints: EndpointView[] }>(`/v1/deployments/${enc(name)}/endpoints`);
  ctx.out(formatEndpoints(ctx.style, endpoints));
}

/** Asks on the terminal; resolves 'd' or 'l'. */
async function ask(ctx: CliContext, name: string): Promise<'d' | 'l'> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    for (;;) {
      const answer = await new Promise<string>((resolve) => {
        rl.question(`destroy the deployment ${name} (d) or leave it running (l)? `, resolve);
        rl.once('close', () => resolve('l'));
      });
      const a = answer.trim().toLowerCase();
      if (a === 'd' || a === 'l') return a;
      ctx.err('please answer d or l');
    }
  } finally {
    rl.close();
  }
}

async function foreground(ctx: CliContext, file: string, port: number, host: string, timeoutMs: number): Promise<number> {
  const server = await startOrExplain(ctx, port, host);
  ctx.out(`nubis listening on ${server.url} (token file: ${server.tokenFile})`);
  const token = server.newToken ?? readToken(server.tokenFile) ?? ctx.token();
  const client = new ApiClient({ server: server.url, ...(token ? { token } : {}) });
  const stopped = untilSignal();
  try {
    const work = applyAndWait(ctx, client, file, { wait: true, timeoutMs, quiet: false });
    const first = await Promise.race([work.then((r) => ({ kind: 'ready' as const, r })), stopped.then(() => ({ kind: 'signal' as const }))]);
    let name: string | undefined;
    let signal: NodeJS.Signals | undefined;
    if (first.kind === 'ready') {
      name = first.r.view.name;
      ctx.out(`${name}: ${ctx.style.green('ready')}`);
      await printEndpoints(ctx, client, name);
      ctx.out(ctx.style.dim('press Ctrl-C to stop'));
      signal = await stopped;
    } else {
      work.catch(() => {});
      ctx.err('interrupted before the deployment was ready; it is left as it is (nubis serve picks it up again)');
      return EXIT.FAILURE;
    }
    // Only Ctrl-C at a terminal asks; SIGTERM (a supervisor) and no TTY leave it running.
    if (name !== undefined && signal === 'SIGINT' && ctx.io.stdinIsTTY && (await ask(ctx, name)) === 'd') {
      await client.request('DELETE', `/v1/deployments/${enc(name)}`);
      ctx.out(`${name}: destroying…`);
      await waitGone(client, name, timeoutMs);
      ctx.out(`${name}: destroyed`);
    } else if (name !== undefined) {
      ctx.out(`leaving ${name} running; \`nubis serve --data ${server.dataDir}\` picks it up again`);
    }
    return 0;
  } finally {
    await server.close();
  }
}

async function detached(ctx: CliContext, file: string, port: number, host: string, timeoutMs: number): Promise<number> {
  const url = `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const dataDir = ctx.dataDir();
  const probe = new ApiClient({ server: url });
  if (await probe.healthy()) {
    ctx.out(`reusing the Nubis server at ${url}`);
  } else {
    fs.mkdirSync(dataDir, { recursive: true });
    const logFile = path.join(dataDir, 'serve.log');
    const fd = fs.openSync(logFile, 'a');
    const main = fileURLToPath(new URL('../main.js', import.meta.url));
    const child = spawn(process.execPath, [main, 'serve', '--data', dataDir, '--port', String(port), '--host', host], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...ctx.io.env, NO_COLOR: '1' },
    });
    fs.closeSync(fd);
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    child.unref();
    const deadline = Date.now() + 30_000;
    while (!(await probe.healthy())) {
      if (exited !== undefined || Date.now() > deadline) {
        const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-10).join('\n');
        throw new CliError(EXIT.FAILURE, 'SERVE_FAILED', `the background server did not start (see ${logFile})`, tail ? [tail] : []);
      }
      await sleep(100);
    }
    ctx.out(`started a background Nubis server at ${url} (pid ${child.pid}, log ${logFile})`);
  }
  const token = ctx.flags.token ?? ctx.io.env['NUBIS_TOKEN'] ?? readToken(path.join(dataDir, 'token'));
  const client = new ApiClient({
    server: url,
    ...(token ? { token } : {}),
    tokenHint: `no token found in ${path.join(dataDir, 'token')}; pass --data pointing at the server's data directory, or --token`,
  });
  const { view } = await applyAndWait(ctx, client, file, { wait: true, timeoutMs, quiet: false });
  ctx.out(`${view.name}: ${ctx.style.green('ready')}`);
  await printEndpoints(ctx, client, view.name);
  return 0;
}

export const upCommand: Command = {
  name: 'up',
  summary: 'serve and apply in one step, then show the endpoints',
  usage: 'nubis up -f <spec.yaml> [--data <dir>] [--port <7420>] [--detach]',
  help: [
    '-f, --file <spec.yaml>  the spec',
    '--data <dir>  where state lives (default .nubis, or NUBIS_DATA)',
    '--port <n>, --host <addr>  where the server listens (default 127.0.0.1:7420)',
    '--detach  run the server in the background (reusing one already on the port) and exit once ready',
    '--timeout <duration>  how long to wait for ready (default 10m)',
  ],
  options: {
    file: { type: 'string', short: 'f' }, port: { type: 'string', short: 'p' }, host: { type: 'string' },
    detach: { type: 'boolean', short: 'd' }, timeout: { type: 'string' },
  },
  maxPositionals: 0,
  async run(ctx, args) {
    const file = required(str(args, 'file'), '-f <spec.yaml>');
    const { port, host } = serverFlags(args);
    const timeoutMs = parseTimeout(str(args, 'timeout'), 10 * 60_000);
    if (args.values['detach'] === true) {
      if (port === 0) throw new CliError(EXIT.INVALID, 'USAGE', '--detach needs a fixed --port, so later commands can find the server');
      return detached(ctx, file, port, host, timeoutMs);
    }
    return foreground(ctx, file, port, host, timeoutMs);
  },
};
