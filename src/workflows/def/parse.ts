/**
 * ecFlow .def files (5.9 grammar) → WfDefinition.
 *
 * One attribute per line, `#` comments, free indentation; `endtask`, `endfamily` and `endsuite`
 * are optional (a `family`/`task` line closes an open task, `suite` closes everything). What is
 * read: `extern`, `suite`/`family`/`task`, `edit` (quoted or not), `event [N] NAME [set|clear]`,
 * `meter NAME min max [threshold]`, `label NAME "text"`, `limit NAME N`,
 * `inlimit [-n] [-s] [path:]NAME [N]`, `trigger`/`complete` with `-a`/`-o` continuation lines
 * (joined as ecFlow does: ` AND `/` OR ` and the whole re-parsed), `defstatus`, `repeat`
 * (integer, enumerated, string, date, datelist, day), `time`/`today` (single, `+relative`,
 * series), `date` (with `*`), `day`, `cron` (`-w` incl. `L`, `-d` incl. `L`, `-m`, series).
 * Several statements may share a line, separated by `;`; a trigger/complete line ending in `\`
 * continues on the next line. Also `late`, `autocancel`, `autoarchive` (suites and families,
 * not with an autocancel), `autorestore`, `clock` and `endclock` (suites), `queue`, `generic`
 * and `zombie` (./attrs-misc.ts). Anything else — `repeat month|year|file`, `verify`, `aviso`,
 * `mirror`, … and unknown words — is rejected with
 * `file:line:col: <construct> is not supported`.
 *
 * Nubis extras, invisible to ecFlow (so a file that ecflow_server loads loads here unchanged):
 * - a pool: a suite variable `edit NUBIS_POOL_<NAME> '<deployment>/<component> [slots=N]
 *   [readyBy=hh:mm|ISO] [autoscale=MIN..MAX/JOBS_PER_NODE/COOLDOWN]'` (kept as a variable too,
 *   so it survives ecflow_server's load and --get), or a comment line `# nubis:pool NAME
 *   deployment=D component=C [slots=N] [readyBy=…] [autoscale=MIN..MAX] [jobsPerNode=N]
 *   [cooldown=120s]` anywhere; a pool declared both ways must be the same pool;
 * - a job names its pool with `edit NUBIS_POOL NAME` on the task or an ancestor (an ordinary,
 *   inherited variable);
 * - an engine-action task: `edit NUBIS_ACTION '<verb> <args>'` (verbs in ./attrs.ts
 *   parseAction); it becomes `node.action` and is not kept among the variables.
 *
 * Errors: NubisError WORKFLOW_INVALID `file:line:col: …`, thrown at the first problem; after
 * parsing, checkDefinition (./check.ts) runs, so a definition is returned whole or not at all.
 */
import { NubisError } from '../../errors/index.js';
import { parseExpressionParts, type ExpressionPart } from '../expr/index.js';
import type {
  SourceLoc, WfDefinition, WfNodeDef, WfNodeKind, WfPool, WfState,
} from '../model/types.js';
import { emptyNode, WF_STATES } from '../model/types.js';
import {
  NAME_RE, name, parseAction, parseCron, parseDateSpec, parseDay, parseInLimit, parsePool, parseRepeat,
  parseTimeSpec, restValue, tokenize, type Fail, type Token, int, uint,
} from './attrs.js';
import { parseAutoArchive, parseAutoCancel, parseAutoRestore, parseClock, parseEndClock, parseLate, parseNamedList, parseZombie } from './attrs-misc.js';
import { checkDefinition } from './check.js';
import { parsePoolText, printPool } from '../pools/index.js';

/** A node under construction. */
export type MutableNode = { -readonly [K in keyof WfNodeDef]: WfNodeDef[K] extends readonly (infer U)[] ? U[] : WfNodeDef[K] };

/** Constructs the model does not implement: named in the error instead of "unknown keyword". */
const UNSUPPORTED = new Set([
  'verify', 'aviso', 'mirror', 'defs_state', 'ecfinterval',
]);

export const ACTION_VAR = 'NUBIS_ACTION';
export const POOL_VAR = 'NUBIS_POOL';
/** `edit NUBIS_POOL_<name> '<deployment>/<component> [slots=N] [readyBy=…] [autoscale=…]'` on a suite declares a pool. */
export const POOL_VAR_PREFIX = 'NUBIS_POOL_';

export function invalid(loc: SourceLoc, message: string): NubisError {
  return new NubisError('WORKFLOW_INVALID', `${loc.file}:${loc.line}:${loc.col}: ${message}`, { details: { ...loc } });
}

interface PendingExpr { node: MutableNode; which: 'trigger' | 'complete'; parts: ExpressionPart[] }

/** Parses a .def file; `file` is used in every location. */
export function parseDef(text: string, file: string): WfDefinition {
  const suites: MutableNode[] = [];
  const externs: string[] = [];
  const pools: WfPool[] = [];
  const pendingPoolRefs: { pool: string; loc: SourceLoc }[] = [];
  const pending = new Map<MutableNode, PendingExpr[]>();
  const actionLines: { node: MutableNode; value: string; loc: SourceLoc; col0: number }[] = [];
  const locs = new Map<object, SourceLoc>();
  const recordLoc = (attr: object, loc: SourceLoc): void => { locs.set(attr, loc); };
  let suite: MutableNode | undefined;
  const families: MutableNode[] = [];
  let task: MutableNode | undefined;

  const lines = text.split('\n');
  let li = 0;
  const statement = (raw: string, lineNo: number): void => {
    const at = (col: number): SourceLoc => ({ file, line: lineNo, col });
    const endCol = raw.trimEnd().length + 1;
    const fail: Fail = (tok, message) => { throw invalid(at(tok ? tok.col : endCol), message); };

    const trimmed = raw.trimStart();
    if (trimmed.startsWith('#')) {
      const m = /^#\s*nubis:pool\b/.exec(trimmed);
      if (m) {
        const col0 = raw.length - trimmed.length + m[0].length + 1;
        const args = tokenize(trimmed.slice(m[0].length), col0);
        const pool = { ...parsePool(args, fail), loc: at(raw.length - trimmed.length + 1) };
        if (pools.some((p) => p.name === pool.name)) fail(args[0], `pool ${pool.name} is declared twice`);
        pools.push(pool);
      }
      return;
    }
    const toks = tokenize(raw);
    const kw = toks[0];
    if (!kw) return;
    const args = toks.slice(1);
    const current = (): MutableNode => {
      const n = task ?? families[families.length - 1] ?? suite;
      if (!n) fail(kw, `${kw.text} outside a suite`);
      return n;
    };
    const noMore = (n: number): void => { if (args.length > n) fail(args[n], 'expected the end of the line'); };
    const restAfter = (tok: Token): { rest: string } => {
      const start = tok.col - 1 + (tok.quoted ? tok.text.length + 2 : tok.text.length);
      return { rest: raw.slice(start) };
    };

    switch (kw.text) {
      case 'extern': {
        const p = args[0];
        if (!p || !/^\/?[A-Za-z0-9_][A-Za-z0-9_./]*(:[A-Za-z0-9_][A-Za-z0-9_.]*)?$/.test(p.text)) fail(p, 'expected an absolute path[:name]');
        noMore(1);
        externs.push(p.text);
        break;
      }
      case 'suite': {
        const n = name(args[0], fail, 'a suite name');
        noMore(1);
        suite = emptyNode('suite', n, at(kw.col)) as MutableNode;
        families.length = 0;
        task = undefined;
        suites.push(suite);
        break;
      }
      case 'family': case 'task': {
        if (!suite) fail(kw, `${kw.text} outside a suite`);
        const n = name(args[0], fail, `a ${kw.text} name`);
        noMore(1);
        const node = emptyNode(kw.text as WfNodeKind, n, at(kw.col)) as MutableNode;
        task = undefined;
        const parent = families[families.length - 1] ?? suite;
        (parent.children as WfNodeDef[]).push(node);
        if (kw.text === 'family') families.push(node); else task = node;
        break;
      }
      case 'endtask':
        if (!task) fail(kw, 'endtask without an open task');
        noMore(0);
        task = undefined;
        break;
      case 'endfamily':
        task = undefined;
        if (families.length === 0) fail(kw, 'endfamily without an open family');
        noMore(0);
        families.pop();
        break;
      case 'endsuite':
        if (!suite) fail(kw, 'endsuite without an open suite');
        noMore(0);
        suite = undefined;
        families.length = 0;
        task = undefined;
        break;
      case 'edit': {
        const node = current();
        const n = name(args[0], fail, 'a variable name');
        const { rest } = restAfter(args[0]!);
        const v = restValue(rest);
        if ('error' in v) {
          const col = args[0]!.col + args[0]!.text.length + (rest.length - rest.trimStart().length);
          fail(args[1] ?? { text: '', col: rest.trim() === '' ? endCol : col, quoted: false }, v.error);
        }
        if (n === ACTION_VAR) {
          if (node.kind !== 'task') fail(args[0], `${ACTION_VAR} is only allowed on a task`);
          if (actionLines.some((a) => a.node === node)) fail(args[0], `${ACTION_VAR} is given twice`);
          const vt = args[1]!;
          actionLines.push({ node, value: v.value, loc: at(vt.col), col0: vt.col + (vt.quoted ? 1 : 0) });
          break;
        }
        if (n === POOL_VAR && !v.value.includes('%')) pendingPoolRefs.push({ pool: v.value, loc: at(args[1]!.col) });
        if (n.startsWith(POOL_VAR_PREFIX)) {
          // the variable form of a pool (it survives ecflow_server's own load and --get); it stays a variable too
          if (node.kind !== 'suite') fail(args[0], `${n}: a pool is declared on a suite`);
          let pool: WfPool;
          try {
            pool = { ...parsePoolText(n.slice(POOL_VAR_PREFIX.length), v.value), loc: at(args[0]!.col) };
          } catch (e) {
            fail(args[1] ?? args[0], e instanceof NubisError ? e.message : String(e));
          }
          const same = pools.find((p) => p.name === pool.name);
          if (same && printPool(same) !== printPool(pool)) fail(args[0], `pool ${pool.name} is declared twice, differently`);
          if (!same) pools.push(pool);
        }
        const vars = node.variables;
        const i = vars.findIndex((x) => x.name === n);
        if (i >= 0) vars[i] = { name: n, value: v.value }; else vars.push({ name: n, value: v.value });
        break;
      }
      case 'label': {
        const node = current();
        const n = name(args[0], fail, 'a label name');
        const { rest } = restAfter(args[0]!);
        const v = rest.trim().length === 0 ? { value: '' } : restValue(rest);
        if ('error' in v) fail(args[1], v.error);
        const lab = { name: n, value: v.value };
        recordLoc(lab, at(kw.col));
        node.labels.push(lab);
        break;
      }
      case 'event': {
        const node = current();
        let number: number | undefined;
        let i = 0;
        if (args[0] && /^\d+$/.test(args[0].text)) { number = Number(args[0].text); i = 1; }
        let evName: string;
        if (args[i] && args[i]!.text !== 'set' && args[i]!.text !== 'clear') { evName = name(args[i], fail, 'an event name'); i++; } else if (number !== undefined) evName = String(number);
        else fail(args[0], 'expected an event number or name');
        let initial = false;
        if (args[i]) {
          if (args[i]!.text !== 'set' && args[i]!.text !== 'clear') fail(args[i], "expected 'set', 'clear' or the end of the line");
          initial = args[i]!.text === 'set';
          i++;
        }
        noMore(i);
        const ev = { name: evName, ...(number !== undefined ? { number } : {}), initial };
        recordLoc(ev, at(kw.col));
        node.events.push(ev);
        break;
      }
      case 'meter': {
        const node = current();
        const n = name(args[0], fail, 'a meter name');
        const min = int(args[1], fail, 'the minimum');
        const max = int(args[2], fail, 'the maximum');
        if (max < min) fail(args[2], 'the maximum is below the minimum');
        const threshold = args[3] ? int(args[3], fail, 'the threshold') : undefined;
        if (threshold !== undefined && (threshold < min || threshold > max)) fail(args[3], 'the threshold is outside min..max');
        noMore(args[3] ? 4 : 3);
        const me = { name: n, min, max, ...(threshold !== undefined ? { threshold } : {}) };
        recordLoc(me, at(kw.col));
        node.meters.push(me);
        break;
      }
      case 'limit': {
        const node = current();
        const n = name(args[0], fail, 'a limit name');
        const tokens = uint(args[1], fail, 'the number of tokens');
        noMore(2);
        const l = { name: n, tokens };
        recordLoc(l, at(kw.col));
        node.limits.push(l);
        break;
      }
      case 'inlimit': {
        const node = current();
        const l = parseInLimit(args, fail);
        recordLoc(l, at(kw.col));
        node.inlimits.push(l);
        break;
      }
      case 'trigger': case 'complete': {
        const node = current();
        if (node.kind === 'suite') fail(kw, `${kw.text} is not allowed on a suite`);
        const list = pending.get(node) ?? [];
        pending.set(node, list);
        let pe = list.find((x) => x.which === kw.text);
        let join: 'and' | 'or' | undefined;
        let start = kw.col - 1 + kw.text.length;
        const opt = args[0];
        if (opt && (opt.text === '-a' || opt.text === '-o')) {
          join = opt.text === '-a' ? 'and' : 'or';
          start = opt.col - 1 + 2;
          if (!pe) join = undefined;
        } else if (pe) {
          fail(kw, `a second ${kw.text} line must start with -a or -o`);
        }
        const uncomment = (t: string): string => { const h = t.indexOf('#'); return h >= 0 ? t.slice(0, h) : t; };
        let exprText = uncomment(raw.slice(start));
        if (!pe) { pe = { node, which: kw.text, parts: [] }; list.push(pe); }
        pe.parts.push({ text: exprText, loc: at(start + 1), ...(join ? { join } : {}) });
        // a trailing backslash continues the expression on the next line
        while (/\\\s*$/.test(exprText)) {
          const last = pe.parts.pop()!;
          pe.parts.push({ ...last, text: last.text.replace(/\\\s*$/, '') });
          if (li + 1 >= lines.length) fail(undefined, 'expected the expression to continue after \\');
          li++;
          exprText = uncomment(lines[li]!.replace(/\r$/, ''));
          pe.parts.push({ text: exprText, loc: { file, line: li + 1, col: 1 }, join: 'space' });
        }
        // parse now, so an error is reported on the line that caused it
        const parsed = parseExpressionParts(pe.parts);
        node[kw.text] = parsed;
        break;
      }
      case 'defstatus': {
        const node = current();
        const s = args[0];
        if (!s || !([...WF_STATES, 'suspended'] as string[]).includes(s.text)) fail(s, 'expected a state (complete, queued, suspended, aborted, active, unknown, submitted)');
        noMore(1);
        if (node.defstatus !== undefined) fail(kw, 'defstatus is given twice');
        node.defstatus = s.text as WfState | 'suspended';
        break;
      }
      case 'repeat': {
        const node = current();
        if (node.repeat) fail(kw, 'a node has at most one repeat');
        node.repeat = parseRepeat(args, fail);
        break;
      }
      case 'time': case 'today': {
        const node = current();
        if (node.kind === 'suite') fail(kw, `${kw.text} is not allowed on a suite`);
        if (args.length === 0) fail(undefined, 'expected a time hh:mm');
        (kw.text === 'time' ? node.times : node.todays).push(parseTimeSpec(args, fail));
        break;
      }
      case 'date': case 'day': case 'cron': {
        const node = current();
        if (node.kind === 'suite' && kw.text !== 'cron') fail(kw, `${kw.text} is not allowed on a suite`);
        if (kw.text === 'date') node.dates.push(parseDateSpec(args, fail));
        else if (kw.text === 'day') node.days.push(parseDay(args, fail));
        else node.crons.push(parseCron(args, fail));
        break;
      }
      case 'clock': {
        const node = current();
        if (node.kind !== 'suite') fail(kw, 'clock is only allowed on a suite');
        if (node.clock) fail(kw, 'a suite has at most one clock');
        node.clock = parseClock(args, fail);
        break;
      }
      case 'late': {
        const node = current();
        if (node.late) fail(kw, 'a node has at most one late');
        node.late = parseLate(args, fail);
        break;
      }
      case 'autocancel': {
        const node = current();
        if (node.autocancel) fail(kw, 'a node has at most one autocancel');
        if (node.autoarchive) fail(kw, 'a node cannot have both autoarchive and autocancel');
        node.autocancel = parseAutoCancel(args, fail);
        break;
      }
      case 'autoarchive': {
        const node = current();
        if (node.kind === 'task') fail(kw, 'autoarchive is only allowed on a suite or family (it archives their children)');
        if (node.autoarchive) fail(kw, 'a node has at most one autoarchive');
        if (node.autocancel) fail(kw, 'a node cannot have both autoarchive and autocancel');
        node.autoarchive = parseAutoArchive(args, fail);
        break;
      }
      case 'autorestore': {
        const node = current();
        if (node.autorestore) fail(kw, 'a node has at most one autorestore');
        const paths = parseAutoRestore(args, fail);
        recordLoc(paths, at(kw.col));
        node.autorestore = paths;
        break;
      }
      case 'endclock': {
        const node = current();
        if (node.kind !== 'suite') fail(kw, 'endclock is only allowed on a suite');
        if (node.endclock) fail(kw, 'a suite has at most one endclock');
        if (args.length === 0) fail(undefined, 'expected a date dd.mm.yyyy or a gain (seconds or [+]hh:mm)');
        node.endclock = parseEndClock(args, fail);
        break;
      }
      case 'queue': case 'generic': {
        const node = current();
        const item = parseNamedList(args, fail, kw.text);
        const list = (kw.text === 'queue' ? (node.queues ??= []) : (node.generics ??= [])) as unknown as { name: string }[];
        if (list.some((q) => q.name === item.name)) fail(args[0], `${node.name} already has a ${kw.text} ${item.name}`);
        list.push(item);
        break;
      }
      case 'zombie': {
        const node = current();
        const z = parseZombie(args, fail);
        const list = (node.zombies ??= []) as unknown as typeof z[];
        if (list.some((x) => x.type === z.type)) fail(args[0], `${node.name} already has a zombie of type ${z.type}`);
        list.push(z);
        break;
      }
      default:
        if (UNSUPPORTED.has(kw.text)) fail(kw, `${kw.text} is not supported`);
        fail(kw, NAME_RE.test(kw.text) ? `unknown keyword '${kw.text}' is not supported` : `unexpected '${kw.text}'`);
    }
  };
  for (; li < lines.length; li++) {
    const raw = lines[li]!.replace(/\r$/, '');
    const lineNo = li + 1;
    if (raw.trimStart().startsWith('#')) { statement(raw, lineNo); continue; }
    for (const st of splitStatements(raw)) statement(st, lineNo);
  }
  if (suites.length === 0) throw invalid({ file, line: 1, col: 1 }, 'expected a suite');

  // pools and actions once every pool line has been read
  for (const ref of pendingPoolRefs) {
    if (!pools.some((p) => p.name === ref.pool)) {
      throw invalid(ref.loc, `${POOL_VAR} '${ref.pool}' names no pool (declare it on the suite with \`edit NUBIS_POOL_${ref.pool} '<deployment>/<component> slots=N'\`)`);
    }
  }
  for (const a of actionLines) {
    const toks = tokenize(a.value, a.col0);
    const fail: Fail = (tok, message) => { throw invalid({ file, line: a.loc.line, col: tok ? tok.col : a.loc.col }, message); };
    a.node.action = parseAction(toks, fail, (pool, tok) => {
      const p = pools.find((x) => x.name === pool);
      if (!p) fail(tok, `no pool ${pool} (declare it on the suite with \`edit NUBIS_POOL_${pool} '<deployment>/<component> slots=N'\`)`);
      return p;
    });
  }
  const def: WfDefinition = { name: suites[0]!.name, suites, externs, pools, variables: [] };
  checkDefinition(def, locs);
  return def;
}

/**
 * Splits a physical line at `;` outside quotes and before a comment (ecFlow allows several
 * statements on a line); each statement keeps its columns (the rest is blanked out).
 */
function splitStatements(raw: string): string[] {
  const out: string[] = [];
  let q: string | undefined;
  let from = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (q) { if (c === q) q = undefined; continue; }
    if (c === '"' || c === "'") { q = c; continue; }
    if (c === '#' && (i === 0 || /\s/.test(raw[i - 1]!))) break;
    if (c === ';') {
      out.push(' '.repeat(from) + raw.slice(from, i));
      from = i + 1;
    }
  }
  out.push(' '.repeat(from) + raw.slice(from));
  return out;
}
