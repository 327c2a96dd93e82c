/** `nubis serve`: run the control plane and its API until SIGTERM or SIGINT. */
import { integer, str, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { DEFAULT_PORT } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { startServer, type ServerHandle } from '../server-root.js';

export function serverFlags(args: Parsed): { port: number; host: string } {
  const p = str(args, 'port');
  const port = p === undefined ? DEFAULT_PORT : integer(p, '--port');
  if (port > 65535) throw new CliError(EXIT.INVALID, 'USAGE', `--port: expected 0 to 65535, found ${port}`);
  return { port, host: str(args, 'host') ?? '127.0.0.1' };
}

/** Starts a server, turning "port in use" into a readable failure. */
export async function startOrExplain(ctx: CliContext, port: number, host: string): Promise<ServerHandle> {
  try {
    return await startServer({ dataDir: ctx.dataDir(), port, host, log: (m) => ctx.err(m) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(EXIT.FAILURE, 'ADDRESS_IN_USE', `${host}:${port} is already in use (another nubis serve?); choose --port`);
    if (code === 'EACCES') throw new CliError(EXIT.FAILURE, 'ADDRESS_FORBIDDEN', `not allowed to listen on ${host}:${port}`);
    throw e;
  }
}

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      const again = (): void => process.exit(EXIT.FAILURE);
      process.once('SIGINT', again);
      process.once('SIGTERM', again);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the Nubis control plane and API',
  usage: 'nubis serve [--data <dir>] [--port <7420>] [--host <127.0.0.1>]',
  help: [
    '--data <dir>  where state lives (default .nubis, or NUBIS_DATA)',
    '--port <n>  port to listen on (default 7420; 0 picks a free one)',
    '--host <addr>  address to listen on (default 127.0.0.1)',
  ],
  options: { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
  maxPositionals: 0,
  async run(ctx, args) {
    const { port, host } = serverFlags(args);
    const server = await startOrExplain(ctx, port, host);
    ctx.out(`nubis listening on ${server.url}`);
    ctx.out(`data: ${server.dataDir}`);
    ctx.out(`token file: ${server.tokenFile}${server.newToken ? ' (created now)' : ''}`);
    const signal = await untilSignal();
    ctx.out(`${signal}: shutting down`);
    await server.close();
    ctx.out('stopped');
    return 0;
  },
};
