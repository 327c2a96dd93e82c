/**
 * printDef: a definition back to .def text that parseDef reads as the same definition
 * (locations aside). Attributes come in a fixed order per node; variables are single-quoted,
 * labels double-quoted; pools become `# nubis:pool` lines at the top and an action an
 * `edit NUBIS_ACTION '…'` line. A trigger prints its text when that parses to its tree, else
 * the canonical printExpression form. Server-level variables are not part of .def and are
 * dropped.
 */
import { parseExpression, printExpression, sameExpr } from '../expr/index.js';
import type { WfDefinition, WfExpression, WfNodeDef } from '../model/types.js';
import { printAction, printCron, printDateSpec, printInLimit, printPool, printRepeat, printTimeSpec, quoteValue, quoteWord } from './attrs.js';
import { printAutoArchive, printAutoCancel, printClock, printEndClock, printLate, printZombie } from './attrs-misc.js';
import { ACTION_VAR } from './parse.js';

function exprText(x: WfExpression): string {
  const oneLine = x.text.replace(/\s+/g, ' ').trim();
  try {
    if (!oneLine.includes('#') && sameExpr(parseExpression(oneLine).expr, x.expr)) return oneLine;
  } catch {
    // fall through to the canonical form
  }
  return printExpression(x.expr);
}

function printNode(n: WfNodeDef, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const a = `${pad}  `;
  out.push(`${pad}${n.kind} ${n.name}`);
  for (const v of n.variables) out.push(`${a}edit ${v.name} ${quoteValue(v.value)}`);
  if (n.action) out.push(`${a}edit ${ACTION_VAR} ${quoteValue(printAction(n.action))}`);
  if (n.clock) out.push(`${a}clock ${printClock(n.clock)}`);
  if (n.late) out.push(`${a}late ${printLate(n.late)}`);
  if (n.endclock) out.push(`${a}endclock ${printEndClock(n.endclock)}`);
  if (n.autocancel) out.push(`${a}autocancel ${printAutoCancel(n.autocancel)}`);
  if (n.autoarchive) out.push(`${a}autoarchive ${printAutoArchive(n.autoarchive)}`);
  if (n.autorestore) out.push(`${a}autorestore ${n.autorestore.join(' ')}`);
  for (const l of n.limits) out.push(`${a}limit ${l.name} ${l.tokens}`);
  for (const l of n.inlimits) out.push(`${a}inlimit ${printInLimit(l)}`);
  if (n.defstatus) out.push(`${a}defstatus ${n.defstatus}`);
  if (n.repeat) out.push(`${a}repeat ${printRepeat(n.repeat)}`);
  if (n.trigger) out.push(`${a}trigger ${exprText(n.trigger)}`);
  if (n.complete) out.push(`${a}complete ${exprText(n.complete)}`);
  for (const t of n.times) out.push(`${a}time ${printTimeSpec(t)}`);
  for (const t of n.todays) out.push(`${a}today ${printTimeSpec(t)}`);
  for (const d of n.dates) out.push(`${a}date ${printDateSpec(d)}`);
  for (const d of n.days) out.push(`${a}day ${d}`);
  for (const c of n.crons) out.push(`${a}cron ${printCron(c)}`);
  for (const e of n.events) {
    const head = e.number !== undefined ? (e.name === String(e.number) ? `${e.number}` : `${e.number} ${e.name}`) : e.name;
    out.push(`${a}event ${head}${e.initial ? ' set' : ''}`);
  }
  for (const m of n.meters) out.push(`${a}meter ${m.name} ${m.min} ${m.max}${m.threshold !== undefined ? ` ${m.threshold}` : ''}`);
  for (const l of n.labels) out.push(`${a}label ${l.name} ${quoteValue(l.value, '"')}`);
  for (const q of n.queues ?? []) out.push(`${a}queue ${q.name} ${q.values.map(quoteWord).join(' ')}`);
  for (const g of n.generics ?? []) out.push(`${a}generic ${[g.name, ...g.values.map(quoteWord)].join(' ')}`);
  for (const z of n.zombies ?? []) out.push(`${a}zombie ${printZombie(z)}`);
  for (const c of n.children) printNode(c, depth + 1, out);
  if (n.kind !== 'task') out.push(`${pad}end${n.kind}`);
}

export function printDef(def: WfDefinition): string {
  const out: string[] = [];
  for (const p of def.pools) out.push(`# nubis:pool ${printPool(p)}`);
  for (const x of def.externs) out.push(`extern ${x}`);
  for (const s of def.suites) printNode(s, 0, out);
  return `${out.join('\n')}\n`;
}
