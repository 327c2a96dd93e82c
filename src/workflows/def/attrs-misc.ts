/**
 * Parsers and printers for ecFlow's `late`, `autocancel`, `clock`, `queue`, `generic` and
 * `zombie` attributes (5.9.2 grammar, as ecflow_server reads and prints them back), shared by
 * the .def and YAML forms. Each throws through `fail(token, message)`.
 *
 * Checked against ecflow_server 5.9.2's load and `--get`: `late -a +hh:mm` drops the `+`
 * (active is a time of day) and `-s` is always relative; a clock gain `hh:mm` or `+hh:mm` is
 * that many seconds (`clock real 01:00` is a gain of 3600 s, not 01:00 in the morning); a
 * zombie's lifetime defaults by type (user 300 s, path 900 s, the others 3600 s) and is at
 * least 60 s; `zombie user::init:100` (no action, a lifetime) is allowed, `zombie ecf:::` is not.
 */
import type {
  WfAutoArchive, WfAutoCancel, WfClockTime, WfEndClock, WfGeneric, WfLate, WfQueue, WfSuiteClock, WfZombie, WfZombieAction, WfZombieCommand, WfZombieType,
} from '../model/types.js';
import { clockTime, hhmm, name, type Fail, type Token } from './attrs.js';

/** `late [-s [+]hh:mm] [-a hh:mm] [-c [+]hh:mm]`, each option at most once, at least one. */
export function parseLate(args: readonly Token[], fail: Fail): WfLate {
  let submitted: WfClockTime | undefined;
  let active: WfClockTime | undefined;
  let complete: WfClockTime | undefined;
  let completeRelative = false;
  if (args.length === 0) fail(undefined, 'expected -s, -a or -c with a time hh:mm');
  for (let i = 0; i < args.length; i += 2) {
    const opt = args[i]!;
    const value = args[i + 1];
    const twice = (what: string): never => fail(opt, `late: ${what} is given twice`);
    switch (opt.text) {
      case '-s':
        if (submitted) twice('-s (submitted)');
        submitted = clockTime(value, fail, true).t;
        break;
      case '-a':
        if (active) twice('-a (active)');
        active = clockTime(value, fail, true).t;
        break;
      case '-c': {
        if (complete) twice('-c (complete)');
        const c = clockTime(value, fail, true);
        complete = c.t;
        completeRelative = c.plus;
        break;
      }
      default:
        fail(opt, `expected -s, -a or -c, found '${opt.text}'`);
    }
  }
  return { ...(submitted ? { submitted } : {}), ...(active ? { active } : {}), ...(complete ? { complete } : {}), completeRelative };
}

export function printLate(l: WfLate): string {
  const parts: string[] = [];
  if (l.submitted) parts.push(`-s +${hhmm(l.submitted)}`);
  if (l.active) parts.push(`-a ${hhmm(l.active)}`);
  if (l.complete) parts.push(`-c ${l.completeRelative ? '+' : ''}${hhmm(l.complete)}`);
  return parts.join(' ');
}

/** `autocancel +hh:mm` (after), `hh:mm` (at that time of day), `N` (days after; 0: at once). */
export function parseAutoCancel(args: readonly Token[], fail: Fail): WfAutoCancel {
  const tok = args[0];
  if (!tok) fail(undefined, 'expected +hh:mm, hh:mm or a number of days');
  if (args.length > 1) fail(args[1], 'expected the end of the line');
  if (/^\d+$/.test(tok.text)) return { kind: 'days', days: Number(tok.text) };
  if (!/^\+?\d{1,2}:\d{2}$/.test(tok.text)) fail(tok, `expected +hh:mm, hh:mm or a number of days, found '${tok.text}'`);
  const c = clockTime(tok, fail, true);
  return { kind: c.plus ? 'relative' : 'absolute', time: c.t };
}

export function printAutoCancel(a: WfAutoCancel): string {
  if (a.kind === 'days') return String(a.days);
  return `${a.kind === 'relative' ? '+' : ''}${hhmm(a.time)}`;
}

/** `autoarchive +hh:mm | hh:mm | N [-i]` (ecflow_server 5.9.2 takes `-i` after the time only). */
export function parseAutoArchive(args: readonly Token[], fail: Fail): WfAutoArchive {
  if (args[0]?.text === '-i') fail(args[0], '-i goes after the time (autoarchive +hh:mm -i)');
  const idle = args.length === 2 && args[1]!.text === '-i';
  if (args.length > 2 || (args.length === 2 && !idle)) fail(args[1], "expected '-i' or the end of the line");
  return { when: parseAutoCancel(args.slice(0, 1), fail), idle };
}

export function printAutoArchive(a: WfAutoArchive): string {
  return `${printAutoCancel(a.when)}${a.idle ? ' -i' : ''}`;
}

/** `autorestore path…` (at least one node path). */
export function parseAutoRestore(args: readonly Token[], fail: Fail): string[] {
  if (args.length === 0) fail(undefined, 'expected the paths of the nodes to restore');
  for (const a of args) if (!/^(\/|\.{1,2}\/)?[A-Za-z0-9_][A-Za-z0-9_.]*(\/(\.\.|[A-Za-z0-9_][A-Za-z0-9_.]*))*$/.test(a.text)) fail(a, `expected a node path, found '${a.text}'`);
  return args.map((a) => a.text);
}

function validDate(d: number, m: number, y: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** `clock real|hybrid [dd.mm.yyyy] [gain]`; gain `[+-]seconds` or `[+]hh:mm`. */
export function parseClock(args: readonly Token[], fail: Fail): WfSuiteClock {
  const kind = args[0];
  if (!kind || (kind.text !== 'real' && kind.text !== 'hybrid')) fail(kind, "expected 'real' or 'hybrid'");
  return { hybrid: kind.text === 'hybrid', ...parseEndClock(args.slice(1), fail) };
}

/** `endclock [dd.mm.yyyy] [gain]` (the date and gain of a clock, without real|hybrid: ecflow_server refuses those here). */
export function parseEndClock(args: readonly Token[], fail: Fail): WfEndClock {
  let i = 0;
  let date: WfSuiteClock['date'];
  const dt = args[i] ? /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(args[i]!.text) : null;
  if (dt) {
    const [day, month, year] = [Number(dt[1]), Number(dt[2]), Number(dt[3])];
    if (!validDate(day, month, year)) fail(args[i], `expected a date dd.mm.yyyy, found '${args[i]!.text}' (no such day)`);
    date = { day, month, year };
    i++;
  }
  let gainSeconds: number | undefined;
  let gainPlus = false;
  const g = args[i];
  if (g) {
    if (/^[+-]?\d+$/.test(g.text)) {
      gainSeconds = Number(g.text);
      gainPlus = g.text.startsWith('+');
    } else if (/^\+?\d{1,2}:\d{2}$/.test(g.text)) {
      const c = clockTime(g, fail, true);
      gainSeconds = (c.t.h * 60 + c.t.m) * 60;
      gainPlus = c.plus;
    } else {
      fail(g, `expected a date dd.mm.yyyy or a gain (seconds or [+]hh:mm), found '${g.text}'`);
    }
    i++;
  }
  if (args.length > i) fail(args[i], 'expected the end of the line');
  return {
    ...(date ? { date } : {}),
    ...(gainSeconds !== undefined ? { gainSeconds, ...(gainPlus ? { gainPlus } : {}) } : {}),
  };
}

export function printClock(c: WfSuiteClock): string {
  return [c.hybrid ? 'hybrid' : 'real', printEndClock(c)].filter((x) => x !== '').join(' ');
}

export function printEndClock(c: WfEndClock): string {
  const parts: string[] = [];
  if (c.date) parts.push(`${c.date.day}.${c.date.month}.${c.date.year}`);
  if (c.gainSeconds !== undefined) parts.push(`${c.gainPlus && c.gainSeconds >= 0 ? '+' : ''}${c.gainSeconds}`);
  return parts.join(' ');
}

/** `queue NAME step…` (at least one step) and `generic NAME [value…]`. */
export function parseNamedList(args: readonly Token[], fail: Fail, what: 'queue' | 'generic'): WfQueue | WfGeneric {
  const n = name(args[0], fail, `a ${what} name`);
  const values = args.slice(1).map((t) => t.text);
  if (what === 'queue' && values.length === 0) fail(undefined, 'expected at least one queue step');
  if (values.some((v) => v === '' || /\s/.test(v))) fail(args.slice(1).find((t) => t.text === '' || /\s/.test(t.text)), `a ${what} value is one word`);
  return { name: n, values };
}

export const ZOMBIE_TYPES: readonly WfZombieType[] = ['user', 'ecf', 'ecf_pid', 'ecf_pid_passwd', 'ecf_passwd', 'path'];
export const ZOMBIE_ACTIONS: readonly WfZombieAction[] = ['fob', 'fail', 'adopt', 'remove', 'block', 'kill'];
export const ZOMBIE_COMMANDS: readonly WfZombieCommand[] = ['init', 'event', 'meter', 'label', 'wait', 'queue', 'abort', 'complete'];
const DEFAULT_LIFETIME: Readonly<Record<WfZombieType, number>> = { user: 300, ecf: 3600, ecf_pid: 3600, ecf_pid_passwd: 3600, ecf_passwd: 3600, path: 900 };
const MIN_LIFETIME = 60;

/** `zombie TYPE:ACTION:CMD,CMD…:LIFETIME` (one word; trailing parts optional, ACTION may be empty when LIFETIME is given). */
export function parseZombie(args: readonly Token[], fail: Fail): WfZombie {
  const tok = args[0];
  if (!tok) fail(undefined, 'expected type:action:child_commands:lifetime');
  if (args.length > 1) fail(args[1], 'expected the end of the line (zombie takes one word: type:action:child_commands:lifetime)');
  const parts = tok.text.split(':');
  if (parts.length < 2 || parts.length > 4) fail(tok, `expected type:action:child_commands:lifetime, found '${tok.text}'`);
  const [type, action = '', cmds = '', life = ''] = parts as [string, string?, string?, string?];
  if (!(ZOMBIE_TYPES as readonly string[]).includes(type)) fail(tok, `unknown zombie type '${type}' (expected ${ZOMBIE_TYPES.join(', ')})`);
  if (action !== '' && !(ZOMBIE_ACTIONS as readonly string[]).includes(action)) fail(tok, `unknown zombie action '${action}' (expected ${ZOMBIE_ACTIONS.join(', ')})`);
  if (action === '' && life === '') fail(tok, 'a zombie needs an action or a lifetime');
  const commands: WfZombieCommand[] = [];
  for (const c of cmds.split(',')) {
    if (c === '') continue;
    if (!(ZOMBIE_COMMANDS as readonly string[]).includes(c)) fail(tok, `unknown child command '${c}' (expected ${ZOMBIE_COMMANDS.join(', ')})`);
    if (!commands.includes(c as WfZombieCommand)) commands.push(c as WfZombieCommand);
  }
  if (life !== '' && !/^\d+$/.test(life)) fail(tok, `the zombie lifetime must be a number of seconds, found '${life}'`);
  const lifetime = life === '' ? DEFAULT_LIFETIME[type as WfZombieType] : Math.max(MIN_LIFETIME, Number(life));
  return { type: type as WfZombieType, ...(action !== '' ? { action: action as WfZombieAction } : {}), commands, lifetime };
}

export function printZombie(z: WfZombie): string {
  return `${z.type}:${z.action ?? ''}:${z.commands.join(',')}:${z.lifetime}`;
}
