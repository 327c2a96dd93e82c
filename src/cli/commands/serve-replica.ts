/**
 * `nubis serve --replica`: this process is one of several control-plane replicas over one
 * PostgreSQL (../replica/replica.ts). Flags: --lease-ms (default 10000), --advertise-url (the
 * URL other replicas forward requests to; default this replica's own http://host:port).
 */
import { integer, str, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import type { StartServerOptions } from '../server-root.js';
import { startReplica, type ReplicaHandle } from '../replica/replica.js';
import { isFencedError } from '../../store/index.js';

export const REPLICA_OPTIONS = { replica: { type: 'boolean' }, 'lease-ms': { type: 'string' }, 'advertise-url': { type: 'string' }, 'replica-id': { type: 'string' } } as const;

export const REPLICA_HELP = [
  '--replica  run as one of several replicas over one PostgreSQL (needs --store); the replica holding the lease runs the controllers',
  '--lease-ms <n>  with --replica: how long the lease lasts without a renew (default 10000; a failover takes up to twice this)',
  '--advertise-url <url>  with --replica: where the other replicas reach this one (default http://<host>:<port>)',
];

/** Whether `serve` runs as a replica; checks the flags that go with it. */
export function replicaWanted(args: Parsed): boolean {
  const on = args.values['replica'] === true;
  if (!on) {
    for (const f of ['lease-ms', 'advertise-url', 'replica-id']) if (str(args, f) !== undefined) throw new CliError(EXIT.INVALID, 'USAGE', `--${f} goes with --replica`);
  }
  return on;
}

/**
 * An error nobody awaited (a background write of a leader whose session the database ended,
 * or that was refused as FENCED) must not end the process: the replica restarts its
 * controllers instead — they step down, and come back from the database when it leads again.
 * (A single `serve` ends on such an error, as Node does by default.)
 */
function stepDownOnStrayRejections(ctx: CliContext, replica: () => ReplicaHandle | undefined): void {
  let last = 0;
  process.on('unhandledRejection', (e) => {
    if (Date.now() - last > 10_000) ctx.err(`nubis: an unawaited error (${isFencedError(e) ? 'FENCED' : 'not retried'}): ${e instanceof Error ? e.message : String(e)}`);
    last = Date.now();
    replica()?.fault(isFencedError(e) ? 'FENCED: a write was refused' : `an unawaited error: ${e instanceof Error ? e.message : String(e)}`);
  });
}

/** Starts this process as a replica. */
export async function startReplicaFromFlags(ctx: CliContext, args: Parsed, port: number, host: string, server: Partial<StartServerOptions>): Promise<ReplicaHandle> {
  if (!server.store) throw new CliError(EXIT.INVALID, 'USAGE', '--replica needs --store postgres://… (or NUBIS_STORE): replicas share one PostgreSQL database');
  const lease = str(args, 'lease-ms');
  const leaseMs = lease === undefined ? undefined : integer(lease, '--lease-ms');
  if (leaseMs !== undefined && leaseMs < 300) throw new CliError(EXIT.INVALID, 'USAGE', `--lease-ms: expected at least 300, found ${leaseMs}`);
  const advertise = str(args, 'advertise-url');
  if (advertise !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(advertise)) throw new CliError(EXIT.INVALID, 'USAGE', `--advertise-url: expected http(s)://host:port, found ${JSON.stringify(advertise)}`);
  if (server.metricsBackend !== 'victoriametrics') ctx.err('nubis: warning: with several replicas keep metrics in VictoriaMetrics (--metrics-backend victoriametrics --vm-url …): the embedded metric store belongs to whichever replica leads');
  const id = str(args, 'replica-id');
  let handle: ReplicaHandle | undefined;
  stepDownOnStrayRejections(ctx, () => handle);
  handle = await startReplica({
    server: { ...server, store: server.store, dataDir: ctx.dataDir(), log: (m) => ctx.err(m) },
    port, host, log: (m) => ctx.err(m),
    ...(leaseMs !== undefined ? { leaseMs } : {}),
    ...(advertise !== undefined ? { advertiseUrl: advertise.replace(/\/$/, '') } : {}),
    ...(id !== undefined ? { replicaId: id } : {}),
  });
  return handle;
}
