/** `nubis serve`: run the control plane and its API until SIGTERM or SIGINT. */
import { integer, str, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { DEFAULT_PORT } from '../context.js';
import { NubisError } from '../../errors/index.js';
import { CliError, EXIT } from '../errors.js';
import { retentionFlags } from './serve-retention.js';
import { startServer, type ServerHandle, type StartServerOptions } from '../server-root.js';
import { graphiteListenFlags } from './graphite-flags.js';
import { isPostgresUrl, redactStoreUrl } from '../../store/index.js';
import { REPLICA_HELP, REPLICA_OPTIONS, replicaWanted, startReplicaFromFlags } from './serve-replica.js';

/**
 * Metrics options of `serve`: --graphite-port (else NUBIS_GRAPHITE_PORT, else 2003, on 127.0.0.1;
 * `off` for none), --graphite-listen host:port with --graphite-tenants (graphite-flags.ts),
 * --metrics-backend, --vm-url.
 */
export function metricsFlags(args: Parsed, env: NodeJS.ProcessEnv = {}): Pick<StartServerOptions, 'graphitePort' | 'graphiteOptional' | 'graphiteHost' | 'graphiteTenants' | 'metricsBackend' | 'vmUrl'> {
  const listen = graphiteListenFlags(str(args, 'graphite-listen'), str(args, 'graphite-tenants'));
  const given = listen ? String(listen.graphitePort) : (str(args, 'graphite-port') ?? (env['NUBIS_GRAPHITE_PORT'] || undefined));
  const g = given ?? '2003';
  const out: Pick<StartServerOptions, 'graphitePort' | 'graphiteOptional' | 'graphiteHost' | 'graphiteTenants' | 'metricsBackend' | 'vmUrl'> = { ...(listen ?? {}) };
  // the default port may be taken (another server, a carbon daemon): then run without a listener
  if (given === undefined) out.graphiteOptional = true;
  if (g !== 'off') {
    const port = integer(g, '--graphite-port');
    if (port > 65535) throw new CliError(EXIT.INVALID, 'USAGE', `--graphite-port: expected 0 to 65535 or off, found ${port}`);
    out.graphitePort = port;
  }
  const backend = str(args, 'metrics-backend') ?? 'embedded';
  if (backend !== 'embedded' && backend !== 'victoriametrics') {
    throw new CliError(EXIT.INVALID, 'USAGE', `--metrics-backend: expected embedded or victoriametrics, found ${JSON.stringify(backend)}`);
  }
  out.metricsBackend = backend;
  const vm = str(args, 'vm-url');
  if (backend === 'victoriametrics' && vm === undefined) throw new CliError(EXIT.INVALID, 'USAGE', '--vm-url <url> is required with --metrics-backend victoriametrics');
  if (vm !== undefined) out.vmUrl = vm;
  return out;
}

export function serverFlags(args: Parsed): { port: number; host: string } {
  const p = str(args, 'port');
  const port = p === undefined ? DEFAULT_PORT : integer(p, '--port');
  if (port > 65535) throw new CliError(EXIT.INVALID, 'USAGE', `--port: expected 0 to 65535, found ${port}`);
  return { port, host: str(args, 'host') ?? '127.0.0.1' };
}

/** Starts a server, turning "port in use" into a readable failure. */
export async function startOrExplain(ctx: CliContext, port: number, host: string, extra: Partial<StartServerOptions> = {}): Promise<ServerHandle> {
  try {
    return await startServer({ ...extra, dataDir: ctx.dataDir(), port, host, log: (m) => ctx.err(m) });
  } catch (e) {
    if (e instanceof NubisError && e.code === 'CONFLICT') throw new CliError(EXIT.FAILURE, 'ALREADY_RUNNING', e.message);
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

/** `--store <url>` (else NUBIS_STORE): a PostgreSQL URL; anything else is refused before anything starts. */
function storeFlag(args: Parsed, env: Record<string, string | undefined>): { store?: string } {
  const given = str(args, 'store') ?? (env['NUBIS_STORE'] || undefined);
  if (given === undefined) return {};
  if (!isPostgresUrl(given)) throw new CliError(EXIT.INVALID, 'USAGE', `--store: expected a PostgreSQL URL (postgres://user:password@host:port/database), found ${JSON.stringify(redactStoreUrl(given))}`);
  return { store: given };
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the Nubis control plane and API',
  usage: 'nubis serve [--data <dir>] [--port <7420>] [--host <127.0.0.1>] [--graphite-port <2003|off>] [--graphite-listen <host:port> --graphite-tenants <cidr=tenant,…>] [--metrics-backend embedded|victoriametrics --vm-url <url>] [--allow-local-tenants] [--allow-script-commands] [--store postgres://…] [--replica [--lease-ms <10000>] [--advertise-url <url>]]',
  help: [
    '--data <dir>  where state lives (default .nubis, or NUBIS_DATA)',
    '--port <n>  port to listen on (default 7420; 0 picks a free one)',
    '--store <url>  keep state in PostgreSQL (postgres://user:password@host:port/db; else NUBIS_STORE; default SQLite in <data>/nubis.db)',
    '--host <addr>  address to listen on (default 127.0.0.1)',
    '--graphite-port <n|off>  Graphite plaintext listener for custom metrics on 127.0.0.1 (default NUBIS_GRAPHITE_PORT, else 2003; 0 picks a free one)',
    '--graphite-listen <host:port>  open the Graphite listener on another address (needs --graphite-tenants unless loopback)',
    '--graphite-tenants <cidr=tenant,…>  senders from each network write into that tenant, e.g. 10.0.0.0/8=acme; others are refused',
    '--metrics-backend <embedded|victoriametrics>  where metrics are kept (default embedded, under <data>/metrics)',
    '--vm-url <url>  VictoriaMetrics base URL, with --metrics-backend victoriametrics',
    '--events-max-age <duration>, --events-max-per-tenant <n>  event retention (default 30d and 1000000; pruned every 10 minutes)',
    '--allow-local-tenants  let tenants other than default use clouds that reach this host (platform local: shell on this machine)',
    '--allow-script-commands  let workflow tasks\' ECF_SCRIPT_CMD and ECF_FETCH run their command on this host to make a job\'s script',
    '--runbook-url <url>  where alerts\' runbook links point (default docs/runbooks.md), e.g. https://git.example.com/nubis/blob/main/docs/runbooks.md',
    ...REPLICA_HELP,
  ],
  options: {
    port: { type: 'string', short: 'p' }, host: { type: 'string' },
    'graphite-port': { type: 'string' }, 'graphite-listen': { type: 'string' }, 'graphite-tenants': { type: 'string' }, 'metrics-backend': { type: 'string' }, 'vm-url': { type: 'string' },
    'allow-local-tenants': { type: 'boolean' }, 'allow-script-commands': { type: 'boolean' }, store: { type: 'string' },
    'events-max-age': { type: 'string' }, 'events-max-per-tenant': { type: 'string' }, 'runbook-url': { type: 'string' },
    ...REPLICA_OPTIONS,
  },
  maxPositionals: 0,
  async run(ctx, args) {
    const { port, host } = serverFlags(args);
    const extra: Partial<StartServerOptions> = { ...metricsFlags(args, ctx.io.env), ...retentionFlags(args), ...storeFlag(args, ctx.io.env), ...(args.values['allow-local-tenants'] === true ? { allowLocalTenants: true } : {}),
      ...(args.values['allow-script-commands'] === true ? { allowScriptCommands: true } : {}),
      ...(typeof args.values['runbook-url'] === 'string' ? { runbookUrl: args.values['runbook-url'] } : {}) };
    if (replicaWanted(args)) {
      const replica = await startReplicaFromFlags(ctx, args, port, host, extra);
      ctx.out(`nubis replica ${replica.replicaId} listening on ${replica.url}`);
      ctx.out(`advertise: ${replica.advertiseUrl}`);
      const signal = await untilSignal();
      ctx.out(`${signal}: shutting down`);
      await replica.close();
      ctx.out('stopped');
      return 0;
    }
    const server = await startOrExplain(ctx, port, host, extra);
    ctx.out(`nubis listening on ${server.url}`);
    if (server.graphitePort !== undefined) ctx.out(`graphite: ${server.graphiteHost ?? '127.0.0.1'}:${server.graphitePort}`);
    ctx.out(`data: ${server.dataDir}`);
    if (server.store) ctx.out(`store: ${server.store}`);
    ctx.out(`token file: ${server.tokenFile}${server.newToken ? ' (created now)' : ''}`);
    const signal = await untilSignal();
    ctx.out(`${signal}: shutting down`);
    await server.close();
    ctx.out('stopped');
    return 0;
  },
};
