/**
 * The YAML form of a workflow: the same model as a .def file. Attribute values use the .def
 * syntax of the same attribute, so one grammar serves both:
 *
 *   name: fmi_pp                        # optional; default: the first suite's name
 *   externs: [/obs/ingest:arrived]
 *   variables: { ECF_HOME: /var/nubis } # server-level variables
 *   pools:
 *     - { name: compute, deployment: postproc, component: compute, slots: 4, readyBy: "02:40",
 *         autoscale: { min: 0, max: 8, jobsPerNode: 4, cooldown: 2m } }
 *   suites:
 *     - suite: fmi_pp                   # exactly one of suite / family / task: kind and name
 *       edit: { ECF_TRIES: 2 }          # variables, in order
 *       limits: { compute: 16 }
 *       inlimits: [compute, "-n /fmi_pp:compute 2"]
 *       defstatus: suspended
 *       repeat: date YMD 20261201 20261231 1
 *       children:
 *         - task: t1
 *           trigger: a == complete      # a string, or a list of lines: "x", "-a y", "-o z"
 *           complete: …
 *           time: ["03:00 05:00 00:30"] # time, today, date, day, cron: a string or a list
 *           events: [raw_ready, "2 partial set"]
 *           meters: ["files 0 100 90"]
 *           labels: { plan: waiting }
 *           pool: compute               # = edit NUBIS_POOL compute
 *           action: scale @compute 4    # = edit NUBIS_ACTION '…'
 *           late: -s +00:15 -c +02:00   # late, autocancel, autoarchive, autorestore, clock and
 *           autocancel: "+00:10"        #   endclock (suites): one string each
 *           queues: ["q1 001 002 003"]  # queues, generics, zombies: a string or a list
 *           generics: ["gen a b"]
 *           zombies: ["user:fob:init,complete:300"]
 *
 * Errors: NubisError WORKFLOW_INVALID `file:line:col: <json path>: …` at the offending value
 * (expression errors at their token), thrown at the first problem; checkDefinition runs last.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YNode, type Pair } from 'yaml';
import { NubisError } from '../../errors/index.js';
import { parseExpressionParts, type ExpressionPart } from '../expr/index.js';
import type { SourceLoc, WfDefinition, WfNodeDef, WfNodeKind, WfPool, WfState, WfVariable } from '../model/types.js';
import { emptyNode, WF_STATES } from '../model/types.js';
import {
  NAME_RE, parseAction, parseCron, parseDateSpec, parseDay, parseInLimit, parsePool, parseRepeat, parseTimeSpec,
  tokenize, type Fail, type Token,
} from './attrs.js';
import { parseAutoArchive, parseAutoCancel, parseAutoRestore, parseClock, parseEndClock, parseLate, parseNamedList, parseZombie } from './attrs-misc.js';
import { checkDefinition } from './check.js';
import { ACTION_VAR, POOL_VAR, type MutableNode } from './parse.js';

const NODE_KEYS = new Set([
  'suite', 'family', 'task', 'edit', 'limits', 'inlimits', 'defstatus', 'repeat', 'trigger', 'complete', 'time', 'today',
  'date', 'day', 'cron', 'events', 'meters', 'labels', 'pool', 'action', 'children',
  'late', 'autocancel', 'autoarchive', 'autorestore', 'clock', 'endclock', 'queues', 'generics', 'zombies',
]);

export function parseWorkflowYaml(text: string, file: string): WfDefinition {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, logLevel: 'silent' });
  const at = (n: YNode | Pair | null | undefined): SourceLoc => {
    const r = n && 'range' in n ? n.range : undefined;
    const p = lc.linePos(r ? r[0] : 0);
    return { file, line: p.line, col: p.col };
  };
  const err = (loc: SourceLoc, path: string, message: string): NubisError =>
    new NubisError('WORKFLOW_INVALID', `${loc.file}:${loc.line}:${loc.col}: ${path || '$'}: ${message}`, { details: { ...loc, path } });
  const first = doc.errors[0];
  if (first) {
    const p = first.linePos?.[0];
    throw err({ file, line: p?.line ?? 1, col: p?.col ?? 1 }, '', `invalid YAML (${(first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')})`);
  }
  const locs = new Map<object, SourceLoc>();

  const str = (n: unknown, path: string, what = 'a string'): string => {
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') throw err(at(n as YNode), path, `expected ${what}`);
    return String(n.value);
  };
  const num = (n: unknown, path: string, what = 'an integer'): number => {
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value)) throw err(at(n as YNode), path, `expected ${what}`);
    return n.value;
  };
  /** A scalar's text as tokens, with the columns they were written at. */
  const tokensOf = (n: unknown, path: string): { toks: Token[]; fail: Fail; loc: SourceLoc } => {
    const s = str(n, path);
    const loc = at(n as YNode);
    const quoted = isScalar(n) && (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE');
    const col0 = loc.col + (quoted ? 1 : 0);
    const fail: Fail = (tok, message) => { throw err({ file, line: loc.line, col: tok ? tok.col : loc.col }, path, message); };
    return { toks: tokenize(s, col0), fail, loc: { file, line: loc.line, col: col0 } };
  };
  /** A variable or label value: one line, as a .def file can hold it. */
  const oneLine = (n: unknown, path: string): string => {
    const v = str(n, path);
    if (/[\r\n]/.test(v)) throw err(at(n as YNode), path, 'a value with a line break cannot be written in a .def file');
    return v;
  };
  const list = (n: unknown, path: string): { item: unknown; path: string }[] => {
    if (isSeq(n)) return n.items.map((item, i) => ({ item, path: `${path}[${i}]` }));
    if (isScalar(n)) return [{ item: n, path }];
    throw err(at(n as YNode), path, 'expected a string or a list');
  };
  const pairs = (n: unknown, path: string): { key: string; value: unknown; node: Pair; path: string }[] => {
    if (!isMap(n)) throw err(at(n as YNode), path, 'expected a mapping');
    return n.items.map((p) => {
      const key = str(p.key, path, 'a key');
      return { key, value: p.value, node: p, path: path ? `${path}.${key}` : key };
    });
  };

  const top = doc.contents;
  if (!isMap(top)) throw err(at(top as YNode), '', 'expected a mapping with suites (and name, externs, variables, pools)');
  let name: string | undefined;
  const externs: string[] = [];
  const variables: WfVariable[] = [];
  const pools: WfPool[] = [];
  const suites: MutableNode[] = [];
  let suitesNode: unknown;
  const actions: { node: MutableNode; value: unknown; path: string }[] = [];

  for (const { key, value, path } of pairs(top, '')) {
    switch (key) {
      case 'name': name = str(value, path); break;
      case 'externs':
        for (const x of list(value, path)) {
          const s = str(x.item, x.path);
          if (!/^\/?[A-Za-z0-9_][A-Za-z0-9_./]*(:[A-Za-z0-9_][A-Za-z0-9_.]*)?$/.test(s)) throw err(at(x.item as YNode), x.path, 'expected an absolute path[:name]');
          externs.push(s);
        }
        break;
      case 'variables':
        for (const v of pairs(value, path)) variables.push({ name: v.key, value: oneLine(v.value, v.path) });
        break;
      case 'pools':
        for (const x of list(value, path)) {
          const toks: Token[] = [];
          let poolName = '';
          const ploc = at(x.item as YNode);
          for (const kv of pairs(x.item, x.path)) {
            const vloc = at(kv.value as YNode);
            if (kv.key === 'name') { poolName = str(kv.value, kv.path); continue; }
            if (kv.key === 'autoscale') {
              for (const a of pairs(kv.value, kv.path)) {
                const v = str(a.value, a.path);
                if (a.key === 'min' || a.key === 'max') continue;
                if (a.key === 'jobsPerNode' || a.key === 'cooldown') toks.push({ text: `${a.key}=${v}`, col: at(a.value as YNode).col, quoted: false });
                else if (a.key === 'cooldownMs') toks.push({ text: `cooldown=${v}ms`, col: at(a.value as YNode).col, quoted: false });
                else throw err(at(a.node.key as YNode), a.path, `unknown key '${a.key}' (expected min, max, jobsPerNode, cooldown)`);
              }
              const m = pairs(kv.value, kv.path);
              const min = m.find((a) => a.key === 'min');
              const max = m.find((a) => a.key === 'max');
              if (!min || !max) throw err(vloc, kv.path, 'autoscale needs min and max');
              toks.push({ text: `autoscale=${num(min.value, min.path)}..${num(max.value, max.path)}`, col: vloc.col, quoted: false });
              continue;
            }
            toks.push({ text: `${kv.key}=${str(kv.value, kv.path)}`, col: vloc.col, quoted: false });
          }
          if (!NAME_RE.test(poolName)) throw err(ploc, `${x.path}.name`, 'expected a pool name');
          const fail: Fail = (tok, message) => { throw err({ file, line: ploc.line, col: tok ? tok.col : ploc.col }, x.path, message); };
          const pool = { ...parsePool([{ text: poolName, col: ploc.col, quoted: false }, ...toks], fail), loc: ploc };
          pools.push(pool);
        }
        break;
      case 'suites': suitesNode = value; break;
      default: throw err(at((top.items.find((p) => isScalar(p.key) && p.key.value === key)?.key ?? top) as YNode), path, `unknown key '${key}' is not supported (expected name, externs, variables, pools, suites)`);
    }
  }
  if (suitesNode === undefined || !isSeq(suitesNode) || suitesNode.items.length === 0) {
    throw err(at((suitesNode ?? top) as YNode), 'suites', 'expected a list of at least one suite');
  }

  const node = (n: unknown, path: string, allowed: readonly WfNodeKind[]): MutableNode => {
    const ps = pairs(n, path);
    const kinds = ps.filter((p) => p.key === 'suite' || p.key === 'family' || p.key === 'task');
    if (kinds.length !== 1) throw err(at(n as YNode), path, `expected exactly one of ${allowed.join(', ')} (the node's kind and name)`);
    const k = kinds[0]!;
    const kind = k.key as WfNodeKind;
    if (!allowed.includes(kind)) throw err(at(k.node.key as YNode), k.path, `a ${kind} is not allowed here (expected ${allowed.join(' or ')})`);
    const nodeName = str(k.value, k.path);
    if (!NAME_RE.test(nodeName)) throw err(at(k.value as YNode), k.path, `expected a ${kind} name`);
    const m = emptyNode(kind, nodeName, at(k.node.key as YNode)) as MutableNode;
    for (const p of ps) {
      const v = p.value;
      switch (p.key) {
        case 'suite': case 'family': case 'task': break;
        case 'edit':
          for (const e of pairs(v, p.path)) {
            if (e.key === ACTION_VAR || !NAME_RE.test(e.key)) throw err(at(e.node.key as YNode), e.path, e.key === ACTION_VAR ? `write the action as action: …` : 'expected a variable name');
            m.variables.push({ name: e.key, value: oneLine(e.value, e.path) });
          }
          break;
        case 'pool':
          m.variables.push({ name: POOL_VAR, value: str(v, p.path) });
          break;
        case 'action':
          if (kind !== 'task') throw err(at(p.node.key as YNode), p.path, 'an action is only allowed on a task');
          actions.push({ node: m, value: v, path: p.path });
          break;
        case 'limits':
          for (const l of pairs(v, p.path)) {
            const lim = { name: l.key, tokens: num(l.value, l.path, 'a number of tokens') };
            locs.set(lim, at(l.node.key as YNode));
            m.limits.push(lim);
          }
          break;
        case 'inlimits':
          for (const x of list(v, p.path)) {
            const t = tokensOf(x.item, x.path);
            const l = parseInLimit(t.toks, t.fail);
            locs.set(l, t.loc);
            m.inlimits.push(l);
          }
          break;
        case 'defstatus': {
          const s = str(v, p.path);
          if (!([...WF_STATES, 'suspended'] as string[]).includes(s)) throw err(at(v as YNode), p.path, 'expected a state (complete, queued, suspended, aborted, active, unknown, submitted)');
          m.defstatus = s as WfState | 'suspended';
          break;
        }
        case 'repeat': {
          const t = tokensOf(v, p.path);
          m.repeat = parseRepeat(t.toks, t.fail);
          break;
        }
        case 'trigger': case 'complete': {
          if (kind === 'suite') throw err(at(p.node.key as YNode), p.path, `${p.key} is not allowed on a suite`);
          const parts: ExpressionPart[] = [];
          for (const [i, x] of list(v, p.path).entries()) {
            const s = str(x.item, x.path);
            const t = tokensOf(x.item, x.path);
            const mm = /^\s*-([ao])\s/.exec(s);
            if (i > 0 && !mm) throw err(t.loc, x.path, `a second ${p.key} line must start with -a or -o`);
            const skip = mm ? mm[0].length : 0;
            parts.push({ text: s.slice(skip), loc: { ...t.loc, col: t.loc.col + skip }, ...(mm && i > 0 ? { join: mm[1] === 'a' ? 'and' as const : 'or' as const } : {}) });
          }
          m[p.key] = parseExpressionParts(parts);
          break;
        }
        case 'time': case 'today':
          for (const x of list(v, p.path)) {
            const t = tokensOf(x.item, x.path);
            (p.key === 'time' ? m.times : m.todays).push(parseTimeSpec(t.toks, t.fail));
          }
          break;
        case 'date':
          for (const x of list(v, p.path)) { const t = tokensOf(x.item, x.path); m.dates.push(parseDateSpec(t.toks, t.fail)); }
          break;
        case 'day':
          for (const x of list(v, p.path)) { const t = tokensOf(x.item, x.path); m.days.push(parseDay(t.toks, t.fail)); }
          break;
        case 'cron':
          for (const x of list(v, p.path)) { const t = tokensOf(x.item, x.path); m.crons.push(parseCron(t.toks, t.fail)); }
          break;
        case 'events':
          for (const x of list(v, p.path)) {
            const t = tokensOf(x.item, x.path);
            const fail: Fail = t.fail;
            const [a, b, c] = t.toks;
            let number: number | undefined;
            let i = 0;
            if (a && /^\d+$/.test(a.text)) { number = Number(a.text); i = 1; }
            const nameTok = [a, b, c][i];
            const evName = nameTok && nameTok.text !== 'set' && nameTok.text !== 'clear' ? nameTok.text : number !== undefined ? String(number) : '';
            if (nameTok && nameTok.text !== 'set' && nameTok.text !== 'clear') i++;
            if (!NAME_RE.test(evName)) fail(a, 'expected an event: [N] NAME [set|clear]');
            const flag = t.toks[i];
            if (flag && flag.text !== 'set' && flag.text !== 'clear') fail(flag, "expected 'set', 'clear' or the end");
            if (t.toks.length > i + (flag ? 1 : 0)) fail(t.toks[i + 1], 'expected the end');
            const ev = { name: evName, ...(number !== undefined ? { number } : {}), initial: flag?.text === 'set' };
            locs.set(ev, t.loc);
            m.events.push(ev);
          }
          break;
        case 'meters':
          for (const x of list(v, p.path)) {
            const t = tokensOf(x.item, x.path);
            const fail: Fail = t.fail;
            const [a, b, c, d, e] = t.toks;
            if (!a || !NAME_RE.test(a.text)) fail(a, 'expected a meter: NAME min max [threshold]');
            const int = (tok: Token | undefined, what: string): number => {
              if (!tok || !/^-?\d+$/.test(tok.text)) fail(tok, `expected ${what} (an integer)`);
              return Number(tok.text);
            };
            const min = int(b, 'the minimum');
            const max = int(c, 'the maximum');
            if (max < min) fail(c, 'the maximum is below the minimum');
            const threshold = d ? int(d, 'the threshold') : undefined;
            if (e) fail(e, 'expected the end');
            const me = { name: a.text, min, max, ...(threshold !== undefined ? { threshold } : {}) };
            locs.set(me, t.loc);
            m.meters.push(me);
          }
          break;
        case 'labels':
          for (const l of pairs(v, p.path)) {
            const lab = { name: l.key, value: isScalar(l.value) && l.value.value === null ? '' : oneLine(l.value, l.path) };
            locs.set(lab, at(l.node.key as YNode));
            m.labels.push(lab);
          }
          break;
        case 'late': { const t = tokensOf(v, p.path); m.late = parseLate(t.toks, t.fail); break; }
        case 'autocancel': {
          if (m.autoarchive) throw err(at(p.node.key as YNode), p.path, 'a node cannot have both autoarchive and autocancel');
          const t = tokensOf(v, p.path);
          m.autocancel = parseAutoCancel(t.toks, t.fail);
          break;
        }
        case 'autoarchive': {
          if (kind === 'task') throw err(at(p.node.key as YNode), p.path, 'autoarchive is only allowed on a suite or family (it archives their children)');
          if (m.autocancel) throw err(at(p.node.key as YNode), p.path, 'a node cannot have both autoarchive and autocancel');
          const t = tokensOf(v, p.path);
          m.autoarchive = parseAutoArchive(t.toks, t.fail);
          break;
        }
        case 'autorestore': {
          const t = tokensOf(v, p.path);
          const paths = parseAutoRestore(t.toks, t.fail);
          locs.set(paths, at(p.node.key as YNode));
          m.autorestore = paths;
          break;
        }
        case 'endclock': {
          if (kind !== 'suite') throw err(at(p.node.key as YNode), p.path, 'endclock is only allowed on a suite');
          const t = tokensOf(v, p.path);
          if (t.toks.length === 0) t.fail(undefined, 'expected a date dd.mm.yyyy or a gain (seconds or [+]hh:mm)');
          m.endclock = parseEndClock(t.toks, t.fail);
          break;
        }
        case 'clock': {
          if (kind !== 'suite') throw err(at(p.node.key as YNode), p.path, 'clock is only allowed on a suite');
          const t = tokensOf(v, p.path);
          m.clock = parseClock(t.toks, t.fail);
          break;
        }
        case 'queues': case 'generics': {
          const what = p.key === 'queues' ? 'queue' : 'generic';
          const out: { name: string; values: readonly string[] }[] = [];
          for (const x of list(v, p.path)) {
            const t = tokensOf(x.item, x.path);
            const item = parseNamedList(t.toks, t.fail, what);
            if (out.some((q) => q.name === item.name)) t.fail(t.toks[0], `${nodeName} already has a ${what} ${item.name}`);
            out.push(item);
          }
          if (what === 'queue') m.queues = out; else m.generics = out;
          break;
        }
        case 'zombies': {
          const out: ReturnType<typeof parseZombie>[] = [];
          for (const x of list(v, p.path)) {
            const t = tokensOf(x.item, x.path);
            const z = parseZombie(t.toks, t.fail);
            if (out.some((q) => q.type === z.type)) t.fail(t.toks[0], `${nodeName} already has a zombie of type ${z.type}`);
            out.push(z);
          }
          m.zombies = out;
          break;
        }
        case 'children': {
          if (kind === 'task') throw err(at(p.node.key as YNode), p.path, 'a task has no children');
          if (!isSeq(v)) throw err(at(v as YNode), p.path, 'expected a list of families and tasks');
          v.items.forEach((c, i) => { (m.children as WfNodeDef[]).push(node(c, `${p.path}[${i}]`, ['family', 'task'])); });
          break;
        }
        default:
          if (!NODE_KEYS.has(p.key)) throw err(at(p.node.key as YNode), p.path, `unknown key '${p.key}' is not supported`);
      }
    }
    return m;
  };
  suitesNode.items.forEach((s, i) => suites.push(node(s, `suites[${i}]`, ['suite'])));

  for (const a of actions) {
    const t = tokensOf(a.value, a.path);
    const fail: Fail = t.fail;
    a.node.action = parseAction(t.toks, t.fail, (pool, tok) => {
      const p = pools.find((x) => x.name === pool);
      if (!p) fail(tok, `no pool ${pool} (declare it under pools:)`);
      return p;
    });
  }
  const def: WfDefinition = { name: name ?? suites[0]!.name, suites, externs, pools, variables };
  checkDefinition(def, locs);
  return def;
}

