/** The shape of a CLI command and helpers for its flags. */
import type { ParseArgsConfig } from 'node:util';
import type { CliContext } from './context.js';
import { usageError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** e.g. `nubis plan -f <spec.yaml>` */
  usage: string;
  /** Flag help lines, `--flag <x>  what it does`. */
  help: string[];
  options: Options;
  /** Most positional arguments accepted. */
  maxPositionals: number;
  /** Rewrites the command's argv before it is parsed (forms node:util parseArgs does not take). */
  prepareArgs?(argv: readonly string[]): string[];
  /** Resolves to the exit code; throws CliError for failures. */
  run(ctx: CliContext, args: Parsed): Promise<number>;
}

export const outputOption: Options = { output: { type: 'string', short: 'o' } };
export const outputHelp = '-o, --output <table|json>  json prints exactly the API\'s JSON';

/** `--output json` or the default table; anything else is a usage error. */
export function wantsJson(args: Parsed): boolean {
  const o = args.values['output'];
  if (o === undefined || o === 'table') return false;
  if (o === 'json') return true;
  throw usageError(`--output: expected table or json, found ${JSON.stringify(o)}`);
}

export function str(args: Parsed, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw usageError(`missing ${what}`);
  return value;
}

/** A non-negative integer argument, or a usage error naming it. */
export function integer(value: string, what: string): number {
  if (!/^\d{1,9}$/.test(value)) throw usageError(`${what}: expected a non-negative integer, found ${JSON.stringify(value)}`);
  return Number(value);
}

export const enc = encodeURIComponent;
