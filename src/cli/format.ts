/** Terminal output: colour only when wanted (a TTY and no NO_COLOR), plain tables. */

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
}

/** Colour when stdout is a TTY and NO_COLOR is unset or empty. */
export function colourWanted(env: NodeJS.ProcessEnv, isTTY: boolean | undefined): boolean {
  return isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

export function createStyle(colour: boolean): Style {
  const wrap = (open: number, close: number) => (s: string): string => (colour ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), yellow: wrap(33, 39), red: wrap(31, 39) };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const width = (s: string): number => s.replace(ANSI, '').length;

/** Left-aligned columns separated by two spaces; the header is bold. */
export function table(style: Style, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - width(c)))).join('  ').trimEnd();
  return [style.bold(line(header)), ...rows.map(line)].join('\n');
}

/** Colours a state word by its meaning. */
export function stateColour(style: Style, s: string): string {
  if (['ready', 'running', 'healthy'].includes(s)) return style.green(s);
  if (['failed', 'unhealthy', 'unreachable', 'degraded'].includes(s)) return style.red(s);
  return style.yellow(s);
}

const SPARK = '▁▂▃▄▅▆▇█';

/** A one-line sparkline of values (NaN as a space). */
export function sparkline(values: readonly number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return values
    .map((v) => (Number.isFinite(v) ? SPARK[hi === lo ? 3 : Math.min(7, Math.floor(((v - lo) / (hi - lo)) * 8))]! : ' '))
    .join('');
}
