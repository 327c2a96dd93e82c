/**
 * Error bodies name no file on the server: an absolute file-system path in an error's message
 * or details (a data directory, a sandbox, a key file, a driver's log) is replaced by `<path>`.
 * API paths (`/v1/…`) stay, so "no route for GET /v1/x" still says what was asked.
 */

// an absolute path of at least two segments, not inside a word or URL, not an API path, not
// the request target echoed after its method ("no route for GET /x/y")
const ABSOLUTE_PATH = /(?<![\w.:/~-])(?<!\b(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) )\/(?!v1(?:\/|\b))[\w.~@%+-]+(?:\/[\w.~@%+-]*)+/g;

/** The text with every absolute file-system path replaced by `<path>`. */
export function withoutPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, '<path>');
}

/** A JSON value with `withoutPaths` applied to every string in it. */
export function valueWithoutPaths(v: unknown): unknown {
  if (typeof v === 'string') return withoutPaths(v);
  if (Array.isArray(v)) return v.map(valueWithoutPaths);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, valueWithoutPaths(x)]));
  return v;
}
