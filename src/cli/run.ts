/**
 * Argument dispatch and the one place CLI errors become output and exit codes:
 * `error[CODE]: message`, then one line per problem (for SPEC_INVALID, every spec problem).
 */
import { parseArgs } from 'node:util';
import type { Command, Options, Parsed } from './command.js';
import { COMMANDS, type CommandEntry } from './commands/index.js';
import { CliContext, type CliIO } from './context.js';
import { CliError, EXIT } from './errors.js';

const GLOBAL_OPTIONS: Options = {
  server: { type: 'string' },
  token: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const GLOBAL_HELP = [
  '--server <url>  the Nubis server (default NUBIS_SERVER or http://127.0.0.1:7420)',
  '--token <token>  API token (default NUBIS_TOKEN, else <data>/token)',
  '--data <dir>  data directory (default NUBIS_DATA or .nubis)',
  '-h, --help  show help',
];

function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'nubis — run applications on IaaS clouds',
    '',
    'usage: nubis <command> [flags]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'global flags:',
    ...GLOBAL_HELP.map((l) => `  ${l}`),
    '',
    'exit codes: 0 ok, 1 failure, 2 invalid input, 3 cannot reach the server',
    'run `nubis <command> --help` for a command\'s flags',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [`${c.summary}`, '', `usage: ${c.usage}`, '', 'flags:', ...[...c.help, ...GLOBAL_HELP].map((l) => `  ${l}`)].join('\n');
}

function parse(c: Command, argv: string[]): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...c.options }, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `${(e as Error).message}\nusage: ${c.usage}`);
  }
}

function report(io: CliIO, e: unknown): number {
  if (e instanceof CliError) {
    io.err(`error[${e.code}]: ${e.message}\n`);
    for (const p of e.problems) if (!e.message.includes(p)) io.err(`  ${p}\n`);
    return e.exitCode;
  }
  io.err(`error[INTERNAL]: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  return EXIT.FAILURE;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out((topic ? commandHelp(await topic.load()) : mainHelp()) + '\n');
    return name === undefined ? EXIT.INVALID : EXIT.OK;
  }
  if (name === '--version') {
    io.out('nubis 0.1.0\n');
    return EXIT.OK;
  }
  const entry: CommandEntry | undefined = COMMANDS.find((c) => c.name === name);
  if (!entry) return report(io, new CliError(EXIT.INVALID, 'USAGE', `unknown command ${JSON.stringify(name)}; run \`nubis --help\``));
  try {
    const command = await entry.load();
    const args = parse(command, command.prepareArgs ? command.prepareArgs(rest) : rest);
    if (args.values['help'] === true) {
      io.out(commandHelp(command) + '\n');
      return EXIT.OK;
    }
    if (args.positionals.length > command.maxPositionals) {
      throw new CliError(EXIT.INVALID, 'USAGE', `unexpected argument ${JSON.stringify(args.positionals[command.maxPositionals])}\nusage: ${command.usage}`);
    }
    const ctx = new CliContext(io, {
      server: args.values['server'] as string | undefined,
      token: args.values['token'] as string | undefined,
      data: args.values['data'] as string | undefined,
    });
    return await command.run(ctx, args);
  } catch (e) {
    return report(io, e);
  }
}
