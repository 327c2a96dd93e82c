/**
 * CLI failures and exit codes: 0 ok, 1 failure (server, cloud, timeout), 2 invalid input
 * (bad flags, invalid spec or request, unknown deployment, …), 3 cannot reach the server.
 */

export const EXIT = { OK: 0, FAILURE: 1, INVALID: 2, UNREACHABLE: 3 } as const;

/** API error codes that mean "what you asked for is wrong", not "something broke". */
const INPUT_CODES = new Set([
  'SPEC_INVALID', 'REQUEST_INVALID', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'UNAUTHORIZED',
  'FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'CONFLICT', 'SCALE_OUT_OF_BOUNDS', 'WORKFLOW_INVALID',
  'CATALOG_PARAMS_INVALID',
]);

/** An error the CLI reports as `error[CODE]: message` (plus any problem lines) and exits with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    readonly code: string,
    message: string,
    /** Extra lines, such as every problem of an invalid spec. */
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function exitCodeFor(apiCode: string): number {
  return INPUT_CODES.has(apiCode) ? EXIT.INVALID : EXIT.FAILURE;
}

export const usageError = (message: string): CliError => new CliError(EXIT.INVALID, 'USAGE', message);
