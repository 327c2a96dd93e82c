/**
 * The trigger/complete expression language, as ecFlow 5.9 spells it.
 *
 * Operators: comparisons `== != < > <= >=` (also `eq ne lt gt le ge`), logic `and && AND`,
 * `or || OR`, negation `not ` / `!` / `~`, arithmetic `+ - * / %`, parentheses. Operands: a
 * state keyword (`complete`, `aborted`, …), `set`/`clear`, an integer (optionally negative),
 * a node path (`x`, `x/y`, `./x`, `../x`, `/suite/f/x`) alone or with `:name`, and
 * `path<flag>name`.
 *
 * Precedence as in ecFlow's grammar (ExprParser.cpp), tightest first: the arithmetic operators
 * `+ - * / %` (all alike, left to right: `1 + 2 * 3` is 9), comparisons, then `not` (which
 * takes the comparison after it: `! a == complete` is `not (a == complete)`, and
 * `x:v eq ~ 1` compares with `not 1`), `and`, `or`; binary operators associate to the left.
 * `//` in a path is read as `/`. Not supported: `:NAME` without a node path, `cal::` functions. A `/` where an operand is expected starts an absolute path;
 * where an operator is expected it divides (so write division with spaces, as the printer does).
 * A bare word that is a state keyword, `set`, `clear` or `not` is that keyword, never a node
 * (a node with such a name can be referred to as `./name`); a run of digits is a number unless
 * `:`, `/` or `<flag>` follows it.
 *
 * printExpression prints the canonical form: symbolic comparisons, `and`/`or`/`not `, spaces
 * around binary operators and the fewest parentheses that re-parse to the same tree (plus
 * those around a sum under a product, which ecFlow would not need).
 */
import { NubisError } from '../../errors/index.js';
import type { ArithOp, CompareOp, Expr, LogicOp, SourceLoc, WfExpression, WfState } from '../model/types.js';
import { WF_STATES } from '../model/types.js';

const NAME = '[A-Za-z0-9_][A-Za-z0-9_.]*';
const SEGMENT = `(?:\\.\\.?(?=/|[^A-Za-z0-9_.]|$)|${NAME})`;
const PATH_RE = new RegExp(`/?${SEGMENT}(?:/+${SEGMENT})*`, 'y');
const ATTR_RE = new RegExp(NAME, 'y');
const NUMBER_RE = /-?\d+/y;
const WS_RE = /\s*/y;

const COMPARE_WORDS: Readonly<Record<string, CompareOp>> = { eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=' };
const LOGIC_WORDS: Readonly<Record<string, LogicOp>> = { and: 'and', AND: 'and', or: 'or', OR: 'or' };
const STATE_SET: ReadonlySet<string> = new Set(WF_STATES);

/** Binding strength of each binary operator (higher binds tighter). */
const PREC: Readonly<Record<string, number>> = {
  or: 1, and: 2,
  '==': 4, '!=': 4, '<': 4, '<=': 4, '>': 4, '>=': 4,
  '+': 5, '-': 5, '*': 5, '/': 5, '%': 5,
};
/** `not` sits between `and` and the comparisons: its operand is a comparison (or tighter). */
const PREC_NOT = 3;
const PREC_COMPARE = 4;
const PREC_ATOM = 7;
const ADDITIVE = new Set(['+', '-']);
const MULTIPLICATIVE = new Set(['*', '/', '%']);

type BinOp = LogicOp | CompareOp | ArithOp;

interface OpToken { readonly op: BinOp; readonly start: number; readonly end: number }

/** Where offset `i` of the text is, given the expression's own start. */
function locate(text: string, i: number, loc: SourceLoc | undefined): { file: string; line: number; col: number } {
  const file = loc?.file ?? '<expression>';
  let line = loc?.line ?? 1;
  let col = loc?.col ?? 1;
  for (let k = 0; k < i && k < text.length; k++) {
    if (text[k] === '\n') { line++; col = 1; } else col++;
  }
  return { file, line, col };
}

/** A piece of the parsed text and where it was written (a trigger's `-a`/`-o` lines are pieces). */
interface Segment { readonly start: number; readonly text: string; readonly loc: SourceLoc | undefined }

class Parser {
  private pos = 0;
  private readonly loc: SourceLoc | undefined;

  constructor(private readonly text: string, private readonly segments: readonly Segment[]) {
    this.loc = segments[0]?.loc;
  }

  parse(): Expr {
    const e = this.binary(1);
    this.ws();
    if (this.pos < this.text.length) this.fail('an operator or the end of the expression');
    return e;
  }

  private ws(): void {
    WS_RE.lastIndex = this.pos;
    WS_RE.exec(this.text);
    this.pos = WS_RE.lastIndex;
  }

  private at(i: number): SourceLoc {
    let seg = this.segments[0];
    for (const sg of this.segments) if (sg.start <= i) seg = sg;
    if (!seg) return locate(this.text, i, undefined);
    return locate(seg.text, i - seg.start, seg.loc);
  }

  /** Throws `file:line:col: expected <what>, found <token>` at the current position. */
  private fail(what: string, at = this.pos): never {
    const l = this.at(at);
    const rest = this.text.slice(at);
    const found = rest.length === 0 ? 'end of expression' : `'${/^(\S+)/.exec(rest)?.[1] ?? rest[0]}'`;
    throw new NubisError('WORKFLOW_INVALID', `${l.file}:${l.line}:${l.col}: expected ${what}, found ${found}`, {
      details: { file: l.file, line: l.line, col: l.col },
    });
  }

  /** The binary operator at the current position, without consuming it. */
  private peekOp(): OpToken | undefined {
    this.ws();
    const s = this.text.slice(this.pos, this.pos + 3);
    const start = this.pos;
    const two = s.slice(0, 2);
    const sym2: Record<string, BinOp> = { '==': '==', '!=': '!=', '<=': '<=', '>=': '>=', '&&': 'and', '||': 'or' };
    const op2 = sym2[two];
    if (op2) return { op: op2, start, end: start + 2 };
    const c = s[0];
    if (c === '<' || c === '>' || c === '+' || c === '-' || c === '*' || c === '/' || c === '%') {
      return { op: c, start, end: start + 1 };
    }
    const w = /^[A-Za-z]+/.exec(this.text.slice(this.pos, this.pos + 4));
    if (w) {
      const word = w[0];
      const after = this.text[this.pos + word.length];
      if (after !== undefined && /[A-Za-z0-9_.:/]/.test(after)) return undefined;
      const op = COMPARE_WORDS[word] ?? LOGIC_WORDS[word];
      if (op) return { op, start, end: start + word.length };
    }
    return undefined;
  }

  private binary(minPrec: number): Expr {
    let left = this.unary(minPrec);
    for (;;) {
      const t = this.peekOp();
      if (!t) return left;
      const p = PREC[t.op] ?? 0;
      if (p < minPrec) return left;
      this.pos = t.end;
      const right = this.binary(p + 1);
      left = makeBinary(t.op, left, right);
    }
  }

  /** A `not` takes the comparison that follows (ecFlow's `not a == complete` is `not (a == complete)`). */
  private unary(minPrec: number): Expr {
    this.ws();
    const c = this.text[this.pos];
    let negate = false;
    if ((c === '!' && this.text[this.pos + 1] !== '=') || c === '~') {
      this.pos++;
      negate = true;
    } else if (this.text.startsWith('not', this.pos) && /^[\s(!~]/.test(this.text[this.pos + 3] ?? '')) {
      this.pos += 3;
      negate = true;
    }
    if (negate) return { kind: 'not', arg: this.binary(Math.max(minPrec, PREC_COMPARE)) };
    return this.atom();
  }

  private atom(): Expr {
    this.ws();
    const start = this.pos;
    const c = this.text[start];
    if (c === '(') {
      this.pos++;
      const e = this.binary(1);
      this.ws();
      if (this.text[this.pos] !== ')') this.fail("')'");
      this.pos++;
      return e;
    }
    if (c === '-') {
      NUMBER_RE.lastIndex = start;
      const m = NUMBER_RE.exec(this.text);
      if (!m || /[A-Za-z0-9_.:/<]/.test(this.text[NUMBER_RE.lastIndex] ?? ' ')) this.fail('an operand');
      this.pos = NUMBER_RE.lastIndex;
      return { kind: 'number', value: Number(m[0]) };
    }
    if (this.text.startsWith('/<flag>', start)) {
      ATTR_RE.lastIndex = start + 7;
      const f = ATTR_RE.exec(this.text);
      if (!f) this.fail('a flag name', start + 7);
      this.pos = ATTR_RE.lastIndex;
      return { kind: 'flag', path: '/', flag: f[0], ...(this.loc ? { loc: this.at(start) } : {}) };
    }
    if (c === ':') this.fail('an operand (a variable needs its node: path:NAME; :NAME alone is not supported)');
    if (this.text.startsWith('cal::', start)) this.fail('an operand (cal:: functions are not supported)');
    PATH_RE.lastIndex = start;
    const m = PATH_RE.exec(this.text);
    if (!m) this.fail('an operand');
    const path = m[0].replace(/\/{2,}/g, '/');
    const end = PATH_RE.lastIndex;
    const next = this.text[end];
    const flagNext = this.text.startsWith('<flag>', end);
    const refLoc = this.loc ? { loc: this.at(start) } : {};
    if (flagNext) {
      ATTR_RE.lastIndex = end + 6;
      const f = ATTR_RE.exec(this.text);
      if (!f) this.fail('a flag name', end + 6);
      this.pos = ATTR_RE.lastIndex;
      return { kind: 'flag', path, flag: f[0], ...refLoc };
    }
    if (next === ':') {
      ATTR_RE.lastIndex = end + 1;
      const a = ATTR_RE.exec(this.text);
      if (!a) this.fail('an event, meter or variable name', end + 1);
      this.pos = ATTR_RE.lastIndex;
      return { kind: 'ref', path, attr: a[0], ...refLoc };
    }
    this.pos = end;
    if (/^\d+$/.test(path)) return { kind: 'number', value: Number(path) };
    if (STATE_SET.has(path)) return { kind: 'state', value: path as WfState };
    if (path === 'set' || path === 'clear') return { kind: 'eventValue', value: path };
    if (path === 'not') this.fail('an operand after not', start);
    return { kind: 'ref', path, ...refLoc };
  }
}

function makeBinary(op: BinOp, left: Expr, right: Expr): Expr {
  if (op === 'and' || op === 'or') return { kind: 'logic', op, left, right };
  if (op === '+' || op === '-' || op === '*' || op === '/' || op === '%') return { kind: 'arith', op, left, right };
  return { kind: 'compare', op, left, right };
}

/**
 * Parses a trigger or complete expression. `loc` is where its first character was written;
 * errors (code WORKFLOW_INVALID) read `file:line:col: expected …, found …` at the offending token.
 */
export function parseExpression(text: string, loc?: SourceLoc): WfExpression {
  const expr = new Parser(text, [{ start: 0, text, loc }]).parse();
  return { text: text.trim(), expr, ...(loc ? { loc } : {}) };
}

/** One line of a trigger or complete: the first has no `join`, the rest were written `-a` (and) or `-o` (or). */
export interface ExpressionPart {
  readonly text: string;
  readonly loc?: SourceLoc;
  /** How it joins the text before it: `and`/`or` (a `-a`/`-o` line) or `space` (after a trailing backslash). */
  readonly join?: LogicOp | 'space';
}

/**
 * Joins a trigger's lines as ecFlow does: the texts are concatenated with ` AND ` / ` OR ` and
 * the whole is parsed (so `a or b` then `-a c` means `a or (b and c)`); errors point into the
 * line they are on.
 */
export function parseExpressionParts(parts: readonly ExpressionPart[]): WfExpression {
  let text = '';
  const segments: Segment[] = [];
  for (const [i, part] of parts.entries()) {
    if (i > 0) text += part.join === 'or' ? ' OR ' : part.join === 'space' ? ' ' : ' AND ';
    const t = part.text.trim();
    const lead = part.text.length - part.text.trimStart().length;
    const loc = part.loc ? { ...part.loc, col: part.loc.col + lead } : undefined;
    segments.push({ start: text.length, text: t, loc });
    text += t;
  }
  const expr = new Parser(text, segments).parse();
  const loc = segments[0]?.loc;
  return { text, expr, ...(loc ? { loc } : {}) };
}

function precOf(e: Expr): number {
  switch (e.kind) {
    case 'logic': case 'compare': case 'arith': return PREC[e.op] ?? 0;
    case 'not': return PREC_NOT;
    default: return PREC_ATOM;
  }
}

/** Canonical text of an expression; parseExpression(printExpression(e)).expr equals e (locations aside). */
export function printExpression(e: Expr): string {
  switch (e.kind) {
    case 'number': return String(e.value);
    case 'state': return e.value;
    case 'eventValue': return e.value;
    case 'ref': return e.attr === undefined ? e.path : `${e.path}:${e.attr}`;
    case 'flag': return `${e.path}<flag>${e.flag}`;
    case 'not': {
      const inner = printExpression(e.arg);
      return e.arg.kind === 'logic' ? `not (${inner})` : `not ${inner}`;
    }
    case 'logic': case 'compare': case 'arith': {
      const p = PREC[e.op] ?? 0;
      const l = printExpression(e.left);
      const r = printExpression(e.right);
      // all arithmetic operators bind alike in ecFlow; a sum under a product is parenthesised
      // anyway, so that the text reads the same to someone who expects * before +
      const sumUnderProduct = e.kind === 'arith' && e.left.kind === 'arith' && MULTIPLICATIVE.has(e.op) && ADDITIVE.has(e.left.op);
      const ls = precOf(e.left) < p || sumUnderProduct ? `(${l})` : l;
      const rs = precOf(e.right) <= p ? `(${r})` : r;
      return `${ls} ${e.op} ${rs}`;
    }
  }
}

/** Structural equality of two trees, ignoring source locations. */
export function sameExpr(a: Expr, b: Expr): boolean {
  return JSON.stringify(stripLocs(a)) === JSON.stringify(stripLocs(b));
}

/** A copy of the tree without `loc` fields. */
export function stripLocs(e: Expr): Expr {
  switch (e.kind) {
    case 'ref': return e.attr === undefined ? { kind: 'ref', path: e.path } : { kind: 'ref', path: e.path, attr: e.attr };
    case 'flag': return { kind: 'flag', path: e.path, flag: e.flag };
    case 'not': return { kind: 'not', arg: stripLocs(e.arg) };
    case 'logic': case 'compare': case 'arith':
      return { ...e, left: stripLocs(e.left), right: stripLocs(e.right) } as Expr;
    default: return e;
  }
}

/** Every node path an expression refers to, with where it was written (for checks). */
export function expressionRefs(e: Expr): { path: string; attr?: string; loc?: SourceLoc }[] {
  const out: { path: string; attr?: string; loc?: SourceLoc }[] = [];
  const walk = (x: Expr): void => {
    switch (x.kind) {
      case 'ref': out.push({ path: x.path, ...(x.attr !== undefined ? { attr: x.attr } : {}), ...(x.loc ? { loc: x.loc } : {}) }); break;
      case 'flag': out.push({ path: x.path, ...(x.loc ? { loc: x.loc } : {}) }); break;
      case 'not': walk(x.arg); break;
      case 'logic': case 'compare': case 'arith': walk(x.left); walk(x.right); break;
      default: break;
    }
  };
  walk(e);
  return out;
}
