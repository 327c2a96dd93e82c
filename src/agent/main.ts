/**
 * The node agent program, one per node:
 *
 *   NUBIS_AGENT_TOKEN=<token> NUBIS_NODE_ID=<id> node dist/src/agent/main.js --sandbox <dir> --port <n> [--host 127.0.0.1]
 *     [--graphite-port <n>]    also listen for Graphite plaintext metrics (absent: no listener)
 *     [--graphite-host <addr>] where that listener binds (default: --host)
 *     [--tls-dir <dir>]        serve HTTPS with mutual TLS from <dir>/ca.crt, agent.crt and agent.key
 *                              (mode 0600; every platform but local). Without NUBIS_AGENT_TOKEN the
 *                              token is <dir>/agent.token; a directory with only ca.crt and
 *                              bootstrap.token waits for the control plane's bootstrap (./bootstrap.ts)
 *
 * The token travels in the environment (not argv, which `ps` shows) and is removed from it
 * at once. On start it restarts the start processes recorded in `<sandbox>/agent-state.json`.
 * SIGTERM/SIGINT stop the agent only; the node's other processes are stopped by whoever
 * signals the whole process group (the local driver). Exit code 2 means bad arguments,
 * 1 that the agent could not start.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { enterNodeCage } from './cgroup.js';
import { trackProcesses } from './tracker.js';
import { AgentBootstrap, TLS_FILES } from './bootstrap.js';
import { startAgent, type AgentOptions } from './server.js';

/** What the TLS directory gives: the certificate (and token) of a bootstrapped agent, or a pending bootstrap. */
function readTlsDir(dir: string, nodeId: string, envToken: string | undefined): Pick<AgentOptions, 'tls' | 'bootstrap' | 'token'> {
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8').trim();
  if (existsSync(join(dir, TLS_FILES.cert))) {
    const token = envToken ?? read(TLS_FILES.token);
    return { token, tls: { ca: read(TLS_FILES.ca), cert: read(TLS_FILES.cert), key: read(TLS_FILES.key) } };
  }
  return { token: '', bootstrap: new AgentBootstrap(dir, nodeId, read(TLS_FILES.bootstrap), read(TLS_FILES.ca)) };
}

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} nubis-agent: ${line}\n`);
};

async function main(): Promise<void> {
  let values: { sandbox?: string; port?: string; host?: string; node?: string; 'graphite-port'?: string; 'graphite-host'?: string; 'tls-dir'?: string };
  try {
    ({ values } = parseArgs({
      options: {
        sandbox: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, node: { type: 'string' },
        'graphite-port': { type: 'string' }, 'graphite-host': { type: 'string' }, 'tls-dir': { type: 'string' },
      },
    }));
  } catch (e) {
    log((e as Error).message);
    process.exit(2);
  }
  const token = process.env['NUBIS_AGENT_TOKEN'];
  delete process.env['NUBIS_AGENT_TOKEN'];
  const nodeId = values.node ?? process.env['NUBIS_NODE_ID'];
  const port = Number(values.port ?? '0');
  const graphitePort = values['graphite-port'] === undefined ? undefined : Number(values['graphite-port']);
  const badGraphite = graphitePort !== undefined && (!Number.isInteger(graphitePort) || graphitePort < 0 || graphitePort > 65535);
  const tlsDir = values['tls-dir'];
  if (!values.sandbox || (!token && tlsDir === undefined) || !nodeId || !Number.isInteger(port) || port < 0 || port > 65535 || badGraphite) {
    log('usage: NUBIS_AGENT_TOKEN=… NUBIS_NODE_ID=… main.js --sandbox <dir> --port <n> [--host <addr>] [--graphite-port <n>] [--graphite-host <addr>] [--tls-dir <dir>]');
    process.exit(2);
  }
  // Never die on a stray error: log it and keep serving.
  process.on('uncaughtException', (e) => log(`uncaught: ${e.stack ?? e.message}`));
  process.on('unhandledRejection', (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));
  process.on('SIGHUP', () => log('SIGHUP ignored'));

  // Before anything is spawned: every later process inherits the cage. Its path is left in the
  // sandbox for whoever deletes the node (empty: no cgroup v2 here).
  const cage = enterNodeCage(nodeId);
  try {
    mkdirSync(values.sandbox, { recursive: true });
    writeFileSync(join(values.sandbox, 'cgroup'), cage ?? '');
  } catch (e) {
    log(`cannot record the cgroup in the sandbox: ${(e as Error).message}`);
  }
  log(cage ? `processes caged in ${cage}` : 'no writable cgroup v2: processes are tracked by session and process list');
  if (!cage) trackProcesses(values.sandbox);
  const agent = await startAgent({
    sandbox: values.sandbox, nodeId, port, host: values.host ?? '127.0.0.1', log, ...(cage ? { cage } : {}),
    ...(tlsDir === undefined ? { token: token! } : readTlsDir(tlsDir, nodeId, token)),
    ...(graphitePort === undefined ? {} : { graphitePort }),
    ...(values['graphite-host'] === undefined ? {} : { graphiteHost: values['graphite-host'] }),
  });
  log(`node ${nodeId} listening on ${agent.url}${agent.graphitePort === undefined ? '' : `, graphite on port ${agent.graphitePort}`}`);
  const stop = (): void => {
    agent.close({ killProcesses: false }).then(
      () => process.exit(0),
      (e: unknown) => {
        log(`stop failed: ${(e as Error)?.message ?? String(e)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  log(`cannot start: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
});
