/**
 * Every CLI command, in the order `nubis --help` lists them. Each entry names the command and
 * its summary here and imports the module only when the command runs (or its help is asked
 * for), so `nubis --help` and `nubis status` load no server, store, YAML or cloud SDK code.
 * A new command is one line: `lazy('name', 'summary', async () => (await import('./name.js')).nameCommand)`.
 * test/unit/cli-commands.test.ts checks that each entry's name and summary match its module's.
 */
import type { Command } from '../command.js';

export interface CommandEntry {
  readonly name: string;
  /** The one line `nubis --help` shows; the same as the loaded command's `summary`. */
  readonly summary: string;
  /** Imports the command's module (once; later calls share the promise). */
  load(): Promise<Command>;
}

function lazy(name: string, summary: string, load: () => Promise<Command>): CommandEntry {
  let loaded: Promise<Command> | undefined;
  return { name, summary, load: () => (loaded ??= load()) };
}

export const COMMANDS: readonly CommandEntry[] = [
  lazy('up', 'serve and apply in one step, then show the endpoints', async () => (await import('./up.js')).upCommand),
  lazy('serve', 'run the Nubis control plane and API', async () => (await import('./serve.js')).serveCommand),
  lazy('plan', 'show what applying a spec would do', async () => (await import('./plan.js')).planCommand),
  lazy('apply', 'create or change a deployment from a spec', async () => (await import('./apply.js')).applyCommand),
  lazy('status', 'show deployments, or one deployment in detail', async () => (await import('./status.js')).statusCommand),
  lazy('endpoints', 'list the host:port of every provided port, and generated credentials (shown once)', async () => (await import('./endpoints.js')).endpointsCommand),
  lazy('events', 'list audit events, or follow them live with -f', async () => (await import('./events.js')).eventsCommand),
  lazy('logs', 'show the lifecycle step logs of an instance', async () => (await import('./logs.js')).logsCommand),
  lazy('child', 'a job\'s child command (ecflow_client\'s --init, --complete, --abort, --event, --meter, --label, --wait)', async () => (await import('./child.js')).childCommand),
  lazy('scale', 'set the instance count of a component', async () => (await import('./scale.js')).scaleCommand),
  lazy('run', 'run a custom operation of a component on some or all of its instances', async () => (await import('./run.js')).runCommand),
  lazy('rollout', 'a deployment\'s rolling update: status, pause, resume', async () => (await import('./rollout.js')).rolloutCommand),
  lazy('recovery', 'recovery ladders: status, reset after a give-up', async () => (await import('./recovery.js')).recoveryCommand),
  lazy('destroy', 'tear a deployment down', async () => (await import('./destroy.js')).destroyCommand),
  lazy('metrics', 'list series, run queries, manage metric definitions', async () => (await import('./metrics.js')).metricsCommand),
  lazy('monitors', 'list, set or remove the monitors of an instance at run time', async () => (await import('./monitors.js')).monitorsCommand),
  lazy('rules', 'list, set or remove scaling rules at run time', async () => (await import('./metrics.js')).rulesCommand),
  lazy('schedules', 'list, set or remove scheduled scaling at run time', async () => (await import('./metrics.js')).schedulesCommand),
  lazy('clouds', 'registered clouds: list, add, rm, discover, offers, images, locations, sla', async () => (await import('./clouds.js')).cloudsCommand),
  lazy('credentials', 'stored cloud credentials (sealed; only names are ever shown): set, list, rm', async () => (await import('./clouds.js')).credentialsCommand),
  lazy('keys', 'the credential key: rotate (re-seals every credential; run with the server stopped)', async () => (await import('./clouds.js')).keysCommand),
  lazy('workflow', 'ecFlow-compatible workflows: load, import, begin, status, why, suspend, resume, requeue, force, run, kill, logs, export', async () => (await import('./workflow.js')).workflowCommand),
  lazy('alerts', 'alerts: list, show, ack, test a channel; run-time alert rules and channels', async () => (await import('./alerts.js')).alertsCommand),
  lazy('tokens', 'API tokens: create one for a tenant (administrator only; shown once)', async () => (await import('./tokens.js')).tokensCommand),
  // [backups] entries below (helper h/backups; keep them under this line)
  lazy('backups', 'backups: list, show, run now, restore, drill (restore onto a scratch node), policies', async () => (await import('./backups.js')).backupsCommand),

  // [stores] entries below (helper h/stores; keep them under this line)

  // [replicas] entries below (helper h/replicas; keep them under this line)

  // [leaks] entries below (helper h/leaks; keep them under this line)

  // [images] entries below (helper h/images; keep them under this line)

  // [placement] entries below (helper h/placement; keep them under this line)

  // [users] entries below (helper h/users; keep them under this line)
  lazy('users', 'users and their roles per tenant: add, list, rm, passwd, roles (the installation administrator)', async () => (await import('./users.js')).usersCommand),
  lazy('login', 'log in as a user: stores a personal token for this server (revoked by `nubis logout`)', async () => (await import('./users.js')).loginCommand),
  lazy('logout', 'revoke the personal token `nubis login` stored for this server, and forget it', async () => (await import('./users.js')).logoutCommand),
  lazy('catalog', 'the service catalog: publish, list, show, order, withdraw templates; orders', async () => (await import('./catalog.js')).catalogCommand),

  // [console] entries below (helper h/console; keep them under this line)
];
