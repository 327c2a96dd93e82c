/** The event retention flags of `nubis serve`. */
import { integer, str, type Parsed } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import type { StartServerOptions } from '../server-root.js';
import { flagDuration } from './metrics.js';

/** `--events-max-age 30d`, `--events-max-per-tenant 1000000` (absent: the retention's defaults). */
export function retentionFlags(args: Parsed): Pick<StartServerOptions, 'eventRetention'> {
  const age = str(args, 'events-max-age');
  const count = str(args, 'events-max-per-tenant');
  const r: NonNullable<StartServerOptions['eventRetention']> = {};
  if (age !== undefined) r.maxAgeMs = positive(flagDuration(age, '--events-max-age'), '--events-max-age');
  if (count !== undefined) r.maxPerTenant = positive(integer(count, '--events-max-per-tenant'), '--events-max-per-tenant');
  return age === undefined && count === undefined ? {} : { eventRetention: r };
}

function positive(n: number, flag: string): number {
  if (!(n >= 1) || !Number.isSafeInteger(Math.round(n))) throw new CliError(EXIT.INVALID, 'USAGE', `${flag}: expected more than 0`);
  return Math.round(n);
}
