/** Every CLI command, in the order `nubis --help` lists them. */
import type { Command } from '../command.js';
import { applyCommand } from './apply.js';
import { cloudsCommand, credentialsCommand, keysCommand } from './clouds.js';
import { destroyCommand } from './destroy.js';
import { endpointsCommand } from './endpoints.js';
import { eventsCommand } from './events.js';
import { logsCommand } from './logs.js';
import { metricsCommand, rulesCommand, schedulesCommand } from './metrics.js';
import { monitorsCommand } from './monitors.js';
import { planCommand } from './plan.js';
import { rolloutCommand } from './rollout.js';
import { scaleCommand } from './scale.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { tokensCommand } from './tokens.js';
import { upCommand } from './up.js';

export const COMMANDS: readonly Command[] = [
  upCommand, serveCommand, planCommand, applyCommand, statusCommand, endpointsCommand,
  eventsCommand, logsCommand, scaleCommand, rolloutCommand, destroyCommand, metricsCommand, monitorsCommand, rulesCommand, schedulesCommand,
  cloudsCommand, credentialsCommand, keysCommand, tokensCommand,
];
