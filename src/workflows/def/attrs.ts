/**
 * Parsers and printers for the arguments of single .def attributes (time, cron, date, repeat,
 * inlimit, the Nubis action and pool declarations), shared by the .def and YAML forms. Each
 * parser takes the attribute's tokens and throws through `fail(token, message)` so the error
 * names the offending token's column.
 */
import type {
  CompareOp, WfAction, WfClockTime, WfCronSpec, WfDateSpec, WfDayName, WfInLimit, WfPool, WfRepeat, WfTimeSpec,
} from '../model/types.js';
import { operationParams, printOperationAction } from '../model/operation-action.js';

/** One word of a line: its text without quotes, and its 1-based column. */
export interface Token { readonly text: string; readonly col: number; readonly quoted: boolean }

/** Reports an error at a token (or at the end of the line when `tok` is undefined); never returns. */
export type Fail = (tok: Token | undefined, message: string) => never;

/** Node, attribute and variable names (ecFlow's `node_name`). */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.]*$/;

/**
 * Splits a line into tokens: whitespace-separated, `'…'` and `"…"` each one token, a `#` at a
 * token's start begins a comment. `col0` is the column of `line[0]`.
 */
export function tokenize(line: string, col0 = 1): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#') break;
    if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      const stop = end < 0 ? line.length : end;
      out.push({ text: line.slice(i + 1, stop), col: col0 + i, quoted: true });
      i = stop + 1;
      continue;
    }
    let j = i;
    while (j < line.length && !/[\s]/.test(line[j]!)) j++;
    out.push({ text: line.slice(i, j), col: col0 + i, quoted: false });
    i = j;
  }
  return out;
}

/**
 * The value of `edit NAME value` or `label NAME value`, from the raw rest of the line: a value
 * that starts with a quote runs to the last such quote that only a comment follows (so quotes of
 * the other kind, and even of the same kind, may appear inside); an unquoted value is the rest of
 * the line up to a ` #` comment.
 */
export function restValue(rest: string): { value: string } | { error: string } {
  const t = rest.trimStart();
  const q = t[0];
  if (q === '"' || q === "'") {
    for (let k = t.length - 1; k > 0; k--) {
      if (t[k] === q && /^\s*(#.*)?$/.test(t.slice(k + 1))) return { value: t.slice(1, k) };
    }
    return { error: `unterminated ${q === '"' ? 'double' : 'single'} quote` };
  }
  if (t.startsWith('#')) return { error: 'expected a value' };
  const m = /^(.*?)(?:\s+#.*)?$/.exec(t);
  const v = (m?.[1] ?? '').trim();
  if (v.length === 0) return { error: 'expected a value' };
  return { value: v };
}

/**
 * Quotes a value for `edit`/`label` so restValue reads it back unchanged: with the preferred
 * quote unless the value holds it and not the other one (so `;` and `#` inside stay inside).
 */
export function quoteValue(v: string, q: '"' | "'" = "'"): string {
  const other = q === "'" ? '"' : "'";
  const use = v.includes(q) && !v.includes(other) ? other : q;
  return `${use}${v}${use}`;
}

const INT_RE = /^-?\d+$/;

export function int(tok: Token | undefined, fail: Fail, what: string): number {
  if (!tok || !INT_RE.test(tok.text)) fail(tok, `expected ${what} (an integer)`);
  return Number(tok.text);
}

export function uint(tok: Token | undefined, fail: Fail, what: string): number {
  if (!tok || !/^\d+$/.test(tok.text)) fail(tok, `expected ${what} (an unsigned integer)`);
  return Number(tok.text);
}

export function name(tok: Token | undefined, fail: Fail, what: string): string {
  if (!tok || !NAME_RE.test(tok.text)) fail(tok, `expected ${what}`);
  return tok.text;
}

/** `[+]hh:mm` (the `+` refused unless allowed). */
export function clockTime(tok: Token | undefined, fail: Fail, allowPlus: boolean): { t: WfClockTime; plus: boolean } {
  const m = tok ? /^(\+)?(\d{1,2}):(\d{2})$/.exec(tok.text) : null;
  if (!tok || !m) fail(tok, 'expected a time hh:mm');
  const h = Number(m[2]);
  const mi = Number(m[3]);
  if (h > 23 || mi > 59) fail(tok, `expected a time hh:mm, found '${tok.text}' (out of range)`);
  if (m[1] && !allowPlus) fail(tok, `'+' is not allowed here`);
  return { t: { h, m: mi }, plus: m[1] !== undefined };
}

/** `[+]hh:mm` or `[+]hh:mm hh:mm hh:mm` (start end step). */
export function parseTimeSpec(args: readonly Token[], fail: Fail, allowRelative = true): WfTimeSpec {
  const first = clockTime(args[0], fail, allowRelative);
  if (args.length === 1) return { relative: first.plus, start: first.t };
  if (args.length !== 3) fail(args[1] ?? args[0], 'expected hh:mm or a series start end step');
  const end = clockTime(args[1], fail, false);
  const step = clockTime(args[2], fail, false);
  const toMin = (c: WfClockTime): number => c.h * 60 + c.m;
  if (toMin(end.t) < toMin(first.t)) fail(args[1], 'the series ends before it starts');
  if (toMin(step.t) === 0) fail(args[2], 'the series step must be more than 00:00');
  if (toMin(step.t) > toMin(end.t) - toMin(first.t)) fail(args[2], 'the series step is longer than the series');
  return { relative: first.plus, start: first.t, end: end.t, step: step.t };
}

const two = (n: number): string => String(n).padStart(2, '0');
export const hhmm = (c: WfClockTime): string => `${two(c.h)}:${two(c.m)}`;

export function printTimeSpec(t: WfTimeSpec): string {
  const s = `${t.relative ? '+' : ''}${hhmm(t.start)}`;
  return t.end && t.step ? `${s} ${hhmm(t.end)} ${hhmm(t.step)}` : s;
}

/** `dd.mm.yyyy`, each part a number or `*`. */
export function parseDateSpec(args: readonly Token[], fail: Fail): WfDateSpec {
  const tok = args[0];
  const m = tok ? /^(\d{1,2}|\*)\.(\d{1,2}|\*)\.(\d{4}|\*)$/.exec(tok.text) : null;
  if (!tok || !m || args.length > 1) fail(args.length > 1 ? args[1] : tok, 'expected a date dd.mm.yyyy (* for any)');
  const part = (s: string | undefined): number | undefined => (s === undefined || s === '*' ? undefined : Number(s));
  const day = part(m[1]);
  const month = part(m[2]);
  const year = part(m[3]);
  if ((day !== undefined && (day < 1 || day > 31)) || (month !== undefined && (month < 1 || month > 12))) {
    fail(tok, `expected a date dd.mm.yyyy, found '${tok.text}' (out of range)`);
  }
  return { ...(day !== undefined ? { day } : {}), ...(month !== undefined ? { month } : {}), ...(year !== undefined ? { year } : {}) };
}

export function printDateSpec(d: WfDateSpec): string {
  return `${d.day === undefined ? '*' : two(d.day)}.${d.month === undefined ? '*' : two(d.month)}.${d.year === undefined ? '*' : String(d.year)}`;
}

export const DAY_NAMES: readonly WfDayName[] = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export function parseDay(args: readonly Token[], fail: Fail): WfDayName {
  const tok = args[0];
  if (!tok || args.length > 1 || !(DAY_NAMES as readonly string[]).includes(tok.text)) {
    fail(args.length > 1 ? args[1] : tok, 'expected a day name (monday … sunday)');
  }
  return tok.text as WfDayName;
}

/** `[-w 0,1,5L] [-d 1,15,L] [-m 1,6] hh:mm [end step]`; list items comma-separated or in successive words. */
export function parseCron(args: readonly Token[], fail: Fail): WfCronSpec {
  const weekDays: number[] = [];
  const lastWeekDays: number[] = [];
  const monthDays: number[] = [];
  const months: number[] = [];
  let lastDayOfMonth = false;
  let i = 0;
  while (i < args.length && args[i]!.text.startsWith('-')) {
    const opt = args[i]!;
    if (opt.text !== '-w' && opt.text !== '-d' && opt.text !== '-m') fail(opt, `unknown cron option '${opt.text}' (expected -w, -d or -m)`);
    i++;
    let items = 0;
    while (i < args.length && !args[i]!.text.startsWith('-') && !args[i]!.text.includes(':')) {
      const tok = args[i]!;
      for (const item of tok.text.split(',')) {
        if (item === '') continue;
        items++;
        if (opt.text === '-w') {
          const m = /^([0-6])(L?)$/.exec(item);
          if (!m) fail(tok, `expected week days 0..6 (L for the month's last), found '${item}'`);
          (m[2] ? lastWeekDays : weekDays).push(Number(m[1]));
        } else if (opt.text === '-d') {
          if (item === 'L') { lastDayOfMonth = true; continue; }
          if (!/^\d{1,2}$/.test(item) || Number(item) < 1 || Number(item) > 31) fail(tok, `expected month days 1..31 or L, found '${item}'`);
          monthDays.push(Number(item));
        } else {
          if (!/^\d{1,2}$/.test(item) || Number(item) < 1 || Number(item) > 12) fail(tok, `expected months 1..12, found '${item}'`);
          months.push(Number(item));
        }
      }
      i++;
    }
    if (items === 0) fail(args[i], `expected a list after ${opt.text}`);
  }
  const rest = args.slice(i);
  if (rest.length === 0) fail(undefined, 'expected a time hh:mm');
  const time = parseTimeSpec(rest, fail);
  return { weekDays, lastWeekDays, monthDays, lastDayOfMonth, months, time };
}

export function printCron(c: WfCronSpec): string {
  const parts: string[] = [];
  const w = [...c.weekDays.map(String), ...c.lastWeekDays.map((d) => `${d}L`)];
  if (w.length) parts.push('-w', w.join(','));
  const d = [...c.monthDays.map(String), ...(c.lastDayOfMonth ? ['L'] : [])];
  if (d.length) parts.push('-d', d.join(','));
  if (c.months.length) parts.push('-m', c.months.join(','));
  parts.push(printTimeSpec(c.time));
  return parts.join(' ');
}

function ymd(tok: Token | undefined, fail: Fail): number {
  const m = tok ? /^(\d{4})(\d{2})(\d{2})$/.exec(tok.text) : null;
  if (!tok || !m) fail(tok, 'expected a date yyyymmdd');
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    fail(tok, `expected a date yyyymmdd, found '${tok.text}' (no such day)`);
  }
  return Number(tok.text);
}

/** `integer V a b [step]`, `enumerated V x y …`, `string V s …`, `date V ymd ymd [step]`, `datelist V ymd …`, `day N`. */
export function parseRepeat(args: readonly Token[], fail: Fail): WfRepeat {
  const kind = args[0];
  if (!kind) fail(kind, 'expected a repeat kind (integer, enumerated, string, date, datelist or day)');
  switch (kind.text) {
    case 'integer': {
      const n = name(args[1], fail, 'a repeat variable name');
      const start = int(args[2], fail, 'the start');
      const end = int(args[3], fail, 'the end');
      const step = args[4] ? int(args[4], fail, 'the step') : 1;
      if (args.length > 5) fail(args[5], 'expected the end of the line');
      if (step === 0) fail(args[4], 'the step must not be 0');
      if ((step > 0 && start > end) || (step < 0 && start < end)) fail(args[4] ?? args[3], 'the step goes away from the end');
      return { kind: 'integer', name: n, start, end, step };
    }
    case 'enumerated': case 'string': {
      const n = name(args[1], fail, 'a repeat variable name');
      const values = args.slice(2).map((t) => t.text);
      if (values.length === 0) fail(undefined, 'expected at least one value');
      return { kind: kind.text, name: n, values };
    }
    case 'date': {
      const n = name(args[1], fail, 'a repeat variable name');
      const start = ymd(args[2], fail);
      const end = ymd(args[3], fail);
      const step = args[4] ? int(args[4], fail, 'the step in days') : 1;
      if (args.length > 5) fail(args[5], 'expected the end of the line');
      if (step === 0) fail(args[4], 'the step must not be 0');
      if ((step > 0 && start > end) || (step < 0 && start < end)) fail(args[4] ?? args[3], 'the step goes away from the end');
      return { kind: 'date', name: n, start, end, step };
    }
    case 'datelist': {
      const n = name(args[1], fail, 'a repeat variable name');
      const dates = args.slice(2).map((t) => ymd(t, fail));
      if (dates.length === 0) fail(undefined, 'expected at least one date yyyymmdd');
      return { kind: 'datelist', name: n, dates };
    }
    case 'day': {
      const step = args[1] ? uint(args[1], fail, 'the step in days') : 1;
      if (args[2]) fail(args[2], 'repeat day with an end date is not supported');
      return { kind: 'day', step };
    }
    case 'month': case 'year': case 'file':
      return fail(kind, `repeat ${kind.text} is not supported`);
    default:
      return fail(kind, `unknown repeat kind '${kind.text}' (expected integer, enumerated, string, date, datelist or day)`);
  }
}

export const quoteWord = (v: string): string => (NAME_RE.test(v) ? v : v.includes('"') ? `'${v}'` : `"${v}"`);

export function printRepeat(r: WfRepeat): string {
  switch (r.kind) {
    case 'integer': return `integer ${r.name} ${r.start} ${r.end} ${r.step}`;
    case 'enumerated': case 'string': return `${r.kind} ${r.name} ${r.values.map(quoteWord).join(' ')}`;
    case 'date': return `date ${r.name} ${r.start} ${r.end} ${r.step}`;
    case 'datelist': return `datelist ${r.name} ${r.dates.join(' ')}`;
    case 'day': return `day ${r.step}`;
  }
}

/** `[-n] [-s] [path:]NAME [tokens]`. */
export function parseInLimit(args: readonly Token[], fail: Fail): WfInLimit {
  let nodeOnly = false;
  let submissionOnly = false;
  let i = 0;
  for (; i < args.length && args[i]!.text.startsWith('-'); i++) {
    const t = args[i]!;
    if (t.text === '-n') nodeOnly = true;
    else if (t.text === '-s') submissionOnly = true;
    else fail(t, `unknown inlimit option '${t.text}' (expected -n or -s)`);
  }
  const ref = args[i];
  if (!ref) fail(ref, 'expected a limit name or /path:NAME');
  const colon = ref.text.lastIndexOf(':');
  const path = colon >= 0 ? ref.text.slice(0, colon) : undefined;
  const limitName = colon >= 0 ? ref.text.slice(colon + 1) : ref.text;
  if (!NAME_RE.test(limitName) || (path !== undefined && !/^(\/|\.{1,2}(\/|$)|[A-Za-z0-9_])[A-Za-z0-9_./]*$/.test(path))) {
    fail(ref, `expected a limit name or /path:NAME, found '${ref.text}'`);
  }
  const tokens = args[i + 1] ? uint(args[i + 1], fail, 'the number of tokens') : 1;
  if (args.length > i + 2) fail(args[i + 2], 'expected the end of the line');
  return { ...(path !== undefined ? { path } : {}), name: limitName, tokens, nodeOnly, submissionOnly };
}

export function printInLimit(l: WfInLimit): string {
  const parts: string[] = [];
  if (l.nodeOnly) parts.push('-n');
  if (l.submissionOnly) parts.push('-s');
  parts.push(l.path !== undefined ? `${l.path}:${l.name}` : l.name);
  if (l.tokens !== 1) parts.push(String(l.tokens));
  return parts.join(' ');
}

const COMPARE: Readonly<Record<string, CompareOp>> = {
  '==': '==', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=',
  eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=',
};

/**
 * The action of a task, `edit NUBIS_ACTION '<verb> <args>'`:
 * `start D C`, `stop D C`, `scale D C N`, `scale @POOL N` (the pool's deployment and component,
 * resolved by `resolvePool`), `destroyPool POOL`, `waitMetric "QUERY" OP N` (OP one of
 * `== != < <= > >=` or `eq ne lt le gt ge`), `backup D C`, `operation D C OP [name=value …]`. No %VAR% substitution: counts are literal.
 */
export function parseAction(args: readonly Token[], fail: Fail, resolvePool: (pool: string, tok: Token) => WfPool): WfAction {
  const verb = args[0];
  const want = (n: number, usage: string): void => {
    if (args.length !== n) fail(args[Math.min(args.length, n)] ?? args[args.length - 1], `expected '${usage}'`);
  };
  const word = (t: Token | undefined, what: string): string => {
    if (!t || t.text.length === 0 || /\s/.test(t.text)) fail(t, `expected ${what}`);
    return t.text;
  };
  switch (verb?.text) {
    case 'start': case 'stop': case 'backup': {
      want(3, `${verb.text} DEPLOYMENT COMPONENT`);
      return { verb: verb.text, deployment: word(args[1], 'a deployment'), component: word(args[2], 'a component') };
    }
    case 'scale': {
      if (args[1]?.text.startsWith('@')) {
        want(3, 'scale @POOL N');
        const pool = resolvePool(args[1].text.slice(1), args[1]);
        return { verb: 'scale', deployment: pool.deployment, component: pool.component, count: uint(args[2], fail, 'a count') };
      }
      want(4, 'scale DEPLOYMENT COMPONENT N');
      return { verb: 'scale', deployment: word(args[1], 'a deployment'), component: word(args[2], 'a component'), count: uint(args[3], fail, 'a count') };
    }
    case 'destroyPool':
      want(2, 'destroyPool POOL');
      return { verb: 'destroyPool', pool: word(args[1], 'a pool name') };
    case 'waitMetric': {
      want(4, 'waitMetric "QUERY" OP N');
      const query = args[1]!.text;
      if (query.length === 0) fail(args[1], 'expected a metric query');
      const op = COMPARE[args[2]!.text];
      if (!op) fail(args[2], `expected a comparison (== != < <= > >=), found '${args[2]!.text}'`);
      const t = args[3]!;
      if (!/^-?\d+(\.\d+)?$/.test(t.text)) fail(t, 'expected a number');
      return { verb: 'waitMetric', query, op, threshold: Number(t.text) };
    }
    case 'operation': {
      if (args.length < 4) fail(args[args.length], "expected 'operation DEPLOYMENT COMPONENT OPERATION [name=value …]'");
      const params = operationParams(args.slice(4).map((t) => t.text), (why) => {
        const at = args.slice(4).find((t) => why.includes(JSON.stringify(t.text)) || why.includes(` ${t.text.split('=')[0]} `));
        return fail(at ?? args[4], why);
      });
      return { verb: 'operation', deployment: word(args[1], 'a deployment'), component: word(args[2], 'a component'), operation: word(args[3], 'an operation'), params };
    }
    default:
      return fail(verb, `expected an action verb (start, stop, scale, destroyPool, waitMetric, backup, operation)${verb ? `, found '${verb.text}'` : ''}`);
  }
}

export function printAction(a: WfAction): string {
  switch (a.verb) {
    case 'start': case 'stop': case 'backup': return `${a.verb} ${a.deployment} ${a.component}`;
    case 'scale': return `scale ${a.deployment} ${a.component} ${a.count}`;
    case 'destroyPool': return `destroyPool ${a.pool}`;
    case 'waitMetric': return `waitMetric ${a.query.includes('"') ? `'${a.query}'` : `"${a.query}"`} ${a.op} ${a.threshold}`;
    case 'operation': return printOperationAction(a);
  }
}

function duration(tok: Token, value: string, fail: Fail): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!m) fail(tok, `expected a duration (120s, 2m, 500ms), found '${value}'`);
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': return n;
    case 'm': return n * 60_000;
    case 'h': return n * 3_600_000;
    default: return n * 1000;
  }
}

/**
 * `NAME deployment=D component=C [slots=N] [readyBy=hh:mm|ISO] [autoscale=MIN..MAX]
 * [jobsPerNode=N] [cooldown=120s]` (the words after `# nubis:pool`). slots defaults to 1;
 * with autoscale, jobsPerNode defaults to slots and cooldown to 60 s.
 */
export function parsePool(args: readonly Token[], fail: Fail): Omit<WfPool, 'loc'> {
  const poolName = name(args[0], fail, 'a pool name');
  const kv = new Map<string, { tok: Token; value: string }>();
  for (const tok of args.slice(1)) {
    const eq = tok.text.indexOf('=');
    if (eq <= 0) fail(tok, `expected key=value, found '${tok.text}'`);
    const key = tok.text.slice(0, eq);
    if (!['deployment', 'component', 'slots', 'readyBy', 'autoscale', 'jobsPerNode', 'cooldown'].includes(key)) {
      fail(tok, `unknown pool setting '${key}' (expected deployment, component, slots, readyBy, autoscale, jobsPerNode, cooldown)`);
    }
    if (kv.has(key)) fail(tok, `${key} is given twice`);
    kv.set(key, { tok, value: tok.text.slice(eq + 1) });
  }
  const need = (key: string): string => {
    const v = kv.get(key);
    if (!v || v.value.length === 0) fail(undefined, `pool ${poolName} needs ${key}=…`);
    return v.value;
  };
  const count = (key: string, dflt: number): number => {
    const v = kv.get(key);
    if (!v) return dflt;
    if (!/^\d+$/.test(v.value) || Number(v.value) < 1) fail(v.tok, `${key} must be a positive integer`);
    return Number(v.value);
  };
  const deployment = need('deployment');
  const component = need('component');
  const slots = count('slots', 1);
  const readyBy = kv.get('readyBy');
  if (readyBy && !/^(\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)$/.test(readyBy.value)) {
    fail(readyBy.tok, `readyBy must be hh:mm or an ISO time, found '${readyBy.value}'`);
  }
  const auto = kv.get('autoscale');
  let autoscale: WfPool['autoscale'];
  if (auto) {
    const m = /^(\d+)\.\.(\d+)$/.exec(auto.value);
    if (!m || Number(m[1]) > Number(m[2])) fail(auto.tok, `autoscale must be MIN..MAX, found '${auto.value}'`);
    const cd = kv.get('cooldown');
    autoscale = {
      min: Number(m[1]), max: Number(m[2]), jobsPerNode: count('jobsPerNode', slots),
      cooldownMs: cd ? duration(cd.tok, cd.value, fail) : 60_000,
    };
  } else {
    for (const k of ['jobsPerNode', 'cooldown']) {
      const v = kv.get(k);
      if (v) fail(v.tok, `${k} needs autoscale=MIN..MAX`);
    }
  }
  return { name: poolName, deployment, component, slots, ...(readyBy ? { readyBy: readyBy.value } : {}), ...(autoscale ? { autoscale } : {}) };
}

export function printPool(p: WfPool): string {
  const parts = [p.name, `deployment=${p.deployment}`, `component=${p.component}`, `slots=${p.slots}`];
  if (p.readyBy !== undefined) parts.push(`readyBy=${p.readyBy}`);
  if (p.autoscale) {
    parts.push(`autoscale=${p.autoscale.min}..${p.autoscale.max}`, `jobsPerNode=${p.autoscale.jobsPerNode}`, `cooldown=${p.autoscale.cooldownMs}ms`);
  }
  return parts.join(' ');
}
