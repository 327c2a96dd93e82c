/**
 * Parser for the PromQL-compatible subset Nubis evaluates (see ./README.md for the grammar).
 * `parseQuery` either returns a typed AST or throws NubisError('REQUEST_INVALID') whose
 * message reads `column C: expected X, found Y` (`line L, column C` for multi-line text)
 * and whose `details` carry `{ column, line, expected, found }`.
 */
import { NubisError } from '../../errors/index.js';
import type { LabelMatcher, MatchOp } from '../types.js';
import { compileMatcher, matchesEmpty } from '../store/matchers.js';

export type ValueType = 'scalar' | 'vector' | 'matrix';

export interface NumberLiteral {
  type: 'number';
  value: number;
}
export interface VectorSelector {
  type: 'vector';
  /** All matchers, the metric name included as `__name__="…"`. */
  matchers: LabelMatcher[];
  offsetMs: number;
}
export interface MatrixSelector {
  type: 'matrix';
  selector: VectorSelector;
  rangeMs: number;
}
export interface Call {
  type: 'call';
  func: string;
  args: Expr[];
}
export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'stddev' | 'stdvar' | 'quantile' | 'topk' | 'bottomk';
export interface Aggregate {
  type: 'aggregate';
  op: AggregateOp;
  param: Expr | null;
  expr: Expr;
  /** Label names of `by (…)` or `without (…)`; `by ()` when neither was written. */
  grouping: string[];
  without: boolean;
}
export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | '==' | '!=' | '>' | '<' | '>=' | '<=';
export interface Binary {
  type: 'binary';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  bool: boolean;
  /** `on (…)` (on = true) or `ignoring (…)` (on = false); null when neither was written. */
  matching: { on: boolean; labels: string[] } | null;
}
export interface Unary {
  type: 'unary';
  op: '-' | '+';
  expr: Expr;
}
export interface Paren {
  type: 'paren';
  expr: Expr;
}
export type Expr = NumberLiteral | VectorSelector | MatrixSelector | Call | Aggregate | Binary | Unary | Paren;

export interface FunctionSpec {
  args: ValueType[];
  returns: ValueType;
  /** Trailing arguments that may be left out. */
  optional?: number;
  /** Only the embedded engine runs it (VictoriaMetrics does not know it). */
  nubisOnly?: boolean;
}

const over = (n: string): [string, FunctionSpec] => [n, { args: ['matrix'], returns: 'vector' }];
/** The functions of the subset, with their argument and result types. */
export const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map<string, FunctionSpec>([
  ...['rate', 'irate', 'increase', 'deriv', 'delta', 'idelta', 'changes', 'resets'].map(over),
  ...['avg', 'min', 'max', 'sum', 'count', 'stddev', 'stdvar', 'last', 'first', 'median'].map((f) => over(`${f}_over_time`)),
  ['quantile_over_time', { args: ['scalar', 'matrix'], returns: 'vector' }],
  ['last_n', { args: ['scalar', 'matrix'], returns: 'matrix', nubisOnly: true }],
  ...['abs', 'ceil', 'floor', 'exp', 'ln', 'log2', 'log10', 'sqrt'].map((f): [string, FunctionSpec] => [f, { args: ['vector'], returns: 'vector' }]),
  ['round', { args: ['vector', 'scalar'], returns: 'vector', optional: 1 }],
  ['clamp_min', { args: ['vector', 'scalar'], returns: 'vector' }],
  ['clamp_max', { args: ['vector', 'scalar'], returns: 'vector' }],
  ['clamp', { args: ['vector', 'scalar', 'scalar'], returns: 'vector' }],
  ['scalar', { args: ['vector'], returns: 'scalar' }],
  ['vector', { args: ['scalar'], returns: 'vector' }],
  ['time', { args: [], returns: 'scalar' }],
]);

const AGGREGATES: ReadonlySet<string> = new Set<AggregateOp>(['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'quantile', 'topk', 'bottomk']);
const PARAM_AGGREGATES: ReadonlySet<string> = new Set(['quantile', 'topk', 'bottomk']);
const KEYWORDS_UNSUPPORTED: ReadonlySet<string> = new Set(['and', 'or', 'unless', 'group_left', 'group_right', 'atan2']);

/** The static type of an expression. */
export function typeOf(e: Expr): ValueType {
  switch (e.type) {
    case 'number':
      return 'scalar';
    case 'vector':
    case 'aggregate':
      return 'vector';
    case 'matrix':
      return 'matrix';
    case 'call':
      return FUNCTIONS.get(e.func)!.returns;
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return typeOf(e.expr);
  }
}

/** Names of the functions an expression uses (for backends that lack some). */
export function functionsUsed(e: Expr, out: Set<string> = new Set()): Set<string> {
  switch (e.type) {
    case 'call':
      out.add(e.func);
      for (const a of e.args) functionsUsed(a, out);
      break;
    case 'aggregate':
      if (e.param) functionsUsed(e.param, out);
      functionsUsed(e.expr, out);
      break;
    case 'binary':
      functionsUsed(e.lhs, out);
      functionsUsed(e.rhs, out);
      break;
    case 'unary':
    case 'paren':
      functionsUsed(e.expr, out);
      break;
    default:
  }
  return out;
}

// ---------------------------------------------------------------- lexer

type TokKind = 'num' | 'dur' | 'str' | 'ident' | 'op' | 'eof';
interface Token {
  kind: TokKind;
  text: string;
  pos: number;
  /** For str: the unescaped value; for num: the number; for dur: milliseconds. */
  value?: string | number;
}

const DURATION_RE = /^(?:\d+(?:ms|[smhdwy]))+/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const OPS = ['=~', '!~', '!=', '==', '>=', '<=', '(', ')', '{', '}', '[', ']', ',', '=', '+', '-', '*', '/', '%', '^', '>', '<'];

class Lexer {
  private i = 0;
  constructor(private readonly src: string, private readonly fail: (pos: number, expected: string, found: string) => never) {}

  private skipSpace(): void {
    const s = this.src;
    for (;;) {
      while (this.i < s.length && /\s/.test(s[this.i]!)) this.i++;
      if (s[this.i] === '#') {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
        continue;
      }
      return;
    }
  }

  /** Reads a duration (inside `[…]` and after `offset`). */
  duration(expected: string, allowNegative = false): Token {
    this.skipSpace();
    let sign = 1;
    if (allowNegative && this.src[this.i] === '-') {
      sign = -1;
      this.i++;
    }
    const pos = this.i;
    const m = DURATION_RE.exec(this.src.slice(pos));
    if (!m) return this.fail(pos, expected, describeAt(this.src, pos));
    let ms = 0;
    for (const part of m[0].matchAll(/(\d+)(ms|[smhdwy])/g)) ms += Number(part[1]) * UNIT_MS[part[2]!]!;
    this.i += m[0].length;
    return { kind: 'dur', text: m[0], pos, value: sign * ms };
  }

  next(): Token {
    this.skipSpace();
    const s = this.src;
    const pos = this.i;
    if (pos >= s.length) return { kind: 'eof', text: '', pos };
    const c = s[pos]!;
    if (c === '"' || c === "'" || c === '`') {
      let j = pos + 1;
      let out = '';
      while (j < s.length && s[j] !== c) {
        if (s[j] === '\\' && c !== '`') {
          const e = s[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
          if (e === undefined) break;
          out += map[e] ?? '\\' + e; // regex escapes such as \d pass through
          j += 2;
          continue;
        }
        if (s[j] === '\n' && c !== '`') this.fail(j, `closing ${c}`, 'end of line');
        out += s[j];
        j++;
      }
      if (j >= s.length) this.fail(j, `closing ${c} of the string opened at column ${pos + 1}`, 'end of input');
      this.i = j + 1;
      return { kind: 'str', text: s.slice(pos, j + 1), pos, value: out };
    }
    const num = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(s.slice(pos));
    if (num) {
      // `5m` right after a number is a duration, which only `[…]` and `offset` accept.
      const after = s.slice(pos + num[0].length);
      if (/^(?:ms|[smhdwy])\b/.test(after) && !num[0].includes('.')) this.fail(pos, 'a number (durations belong in [] or after offset)', JSON.stringify(s.slice(pos).match(DURATION_RE)?.[0] ?? num[0]));
      this.i += num[0].length;
      return { kind: 'num', text: num[0], pos, value: Number(num[0]) };
    }
    const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(s.slice(pos));
    if (id) {
      this.i += id[0].length;
      return { kind: 'ident', text: id[0], pos };
    }
    for (const op of OPS) {
      if (s.startsWith(op, pos)) {
        this.i += op.length;
        return { kind: 'op', text: op, pos };
      }
    }
    // Any other character becomes a one-character token, so the parser reports it in context.
    this.i += 1;
    return { kind: 'op', text: c, pos };
  }

  get position(): number {
    return this.i;
  }
  set position(p: number) {
    this.i = p;
  }
}

function describeAt(src: string, pos: number): string {
  if (pos >= src.length) return 'end of input';
  const m = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d*)?|\S)/.exec(src.slice(pos));
  return JSON.stringify(m ? m[0] : src[pos]);
}

function describe(t: Token): string {
  return t.kind === 'eof' ? 'end of input' : JSON.stringify(t.text);
}

// ---------------------------------------------------------------- parser

/** Parses query text. Fails with REQUEST_INVALID naming the column, what was expected and what was found. */
export function parseQuery(text: string): Expr {
  return new Parser(text).parseAll();
}

class Parser {
  private readonly lex: Lexer;
  private tok: Token;

  constructor(private readonly src: string) {
    this.lex = new Lexer(src, (pos, expected, found) => this.fail(pos, expected, found));
    this.tok = this.lex.next();
  }

  fail(pos: number, expected: string, found: string): never {
    const before = this.src.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - (before.lastIndexOf('\n') + 1) + 1;
    const where = this.src.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
    throw new NubisError('REQUEST_INVALID', `query ${where}: expected ${expected}, found ${found}`, { details: { line, column, expected, found } });
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lex.next();
    return t;
  }

  private isOp(text: string): boolean {
    return this.tok.kind === 'op' && this.tok.text === text;
  }

  private isIdent(text: string): boolean {
    return this.tok.kind === 'ident' && this.tok.text === text;
  }

  private expectOp(text: string, context = ''): Token {
    if (!this.isOp(text)) this.fail(this.tok.pos, `"${text}"${context}`, describe(this.tok));
    return this.advance();
  }

  parseAll(): Expr {
    if (this.tok.kind === 'eof') this.fail(this.tok.pos, 'an expression', 'end of input');
    const e = this.parseExpr(0);
    const rest: Token = this.tok;
    if (rest.kind !== 'eof') this.fail(rest.pos, 'an operator or end of input', describe(rest));
    return e;
  }

  private binaryPrecedence(): { op: BinaryOp; prec: number; right: boolean } | null {
    const t = this.tok;
    if (t.kind === 'ident' && KEYWORDS_UNSUPPORTED.has(t.text) && t.text !== 'group_left' && t.text !== 'group_right') {
      this.fail(t.pos, 'an operator supported by Nubis (+ - * / % ^ == != > < >= <=)', `"${t.text}" (not in the supported subset)`);
    }
    if (t.kind !== 'op') return null;
    switch (t.text) {
      case '==':
      case '!=':
      case '>':
      case '<':
      case '>=':
      case '<=':
        return { op: t.text, prec: 1, right: false };
      case '+':
      case '-':
        return { op: t.text, prec: 2, right: false };
      case '*':
      case '/':
      case '%':
        return { op: t.text, prec: 3, right: false };
      case '^':
        return { op: t.text, prec: 5, right: true };
      default:
        return null;
    }
  }

  private parseExpr(minPrec: number): Expr {
    let lhs = this.parseUnary();
    for (;;) {
      const b = this.binaryPrecedence();
      if (b === null || b.prec < minPrec) return lhs;
      const opTok = this.advance();
      let bool = false;
      let matching: Binary['matching'] = null;
      if (this.isIdent('bool')) {
        if (b.prec !== 1) this.fail(this.tok.pos, 'an expression (bool only follows a comparison)', '"bool"');
        this.advance();
        bool = true;
      }
      if (this.isIdent('on') || this.isIdent('ignoring')) {
        const on = this.advance().text === 'on';
        matching = { on, labels: this.parseLabelList(on ? 'on' : 'ignoring') };
      }
      if (this.isIdent('group_left') || this.isIdent('group_right')) this.fail(this.tok.pos, 'an expression (group_left/group_right are not in the supported subset)', `"${this.tok.text}"`);
      const rhs = this.parseExpr(b.right ? b.prec : b.prec + 1);
      const lt = typeOf(lhs);
      const rt = typeOf(rhs);
      if (lt === 'matrix' || rt === 'matrix') {
        this.fail(opTok.pos, `scalar or instant-vector operands of "${b.op}"`, 'a range vector (apply a function such as rate() or avg_over_time() first)');
      }
      if (b.prec === 1 && lt === 'scalar' && rt === 'scalar' && !bool) this.fail(opTok.pos, `"bool" after "${b.op}" (comparisons between scalars must use bool)`, `"${b.op}" without bool`);
      if (matching !== null && (lt === 'scalar' || rt === 'scalar')) this.fail(opTok.pos, `two instant vectors for "${matching.on ? 'on' : 'ignoring'}"`, 'a scalar operand');
      lhs = { type: 'binary', op: b.op, lhs, rhs, bool, matching };
    }
  }

  private parseUnary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.advance().text as '-' | '+';
      const expr = this.parseUnary();
      // `-2 ^ 2` is -(2 ^ 2), as in PromQL: unary binds looser than ^.
      const withPow = this.parsePowTail(expr);
      if (typeOf(withPow) === 'matrix') this.fail(this.tok.pos, 'a scalar or instant vector after unary minus', 'a range vector');
      if (op === '-' && withPow.type === 'number') return { type: 'number', value: -withPow.value };
      return { type: 'unary', op, expr: withPow };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePowTail(base: Expr): Expr {
    if (!this.isOp('^')) return base;
    this.advance();
    const rhs = this.parseExpr(5);
    return { type: 'binary', op: '^', lhs: base, rhs, bool: false, matching: null };
  }

  /** `[range]` and `offset d` after a selector. */
  private parsePostfix(e: Expr): Expr {
    let out = e;
    if (this.isOp('[')) {
      const open = this.tok;
      if (out.type !== 'vector') this.fail(open.pos, 'an operator ([range] only follows a metric selector; subqueries are not supported)', '"["');
      if (out.offsetMs !== 0) this.fail(open.pos, 'an operator (write the range before offset)', '"["');
      const d = this.lex.duration('a duration such as 5m, 30s or 1h30m');
      if ((d.value as number) <= 0) this.fail(d.pos, 'a positive duration', JSON.stringify(d.text));
      this.tok = this.lex.next();
      if (this.tok.text.startsWith(':')) this.fail(this.tok.pos, '"]" (subqueries are not supported)', '":"');
      this.expectOp(']', ' to close the range');
      out = { type: 'matrix', selector: out, rangeMs: d.value as number };
    }
    if (this.isIdent('offset')) {
      // The lexer stands right after `offset`; read the (optionally negative) duration raw.
      const offTok = this.tok;
      const sel = out.type === 'matrix' ? out.selector : out.type === 'vector' ? out : null;
      if (sel === null) this.fail(offTok.pos, 'an operator (offset only follows a selector)', '"offset"');
      const d = this.lex.duration('a duration after offset, such as 5m', true);
      sel.offsetMs = d.value as number;
      this.tok = this.lex.next();
    }
    return out;
  }

  private parseLabelList(context: string): string[] {
    this.expectOp('(', ` after ${context}`);
    const out: string[] = [];
    while (!this.isOp(')')) {
      if (this.tok.kind !== 'ident') this.fail(this.tok.pos, `a label name in ${context} (…)`, describe(this.tok));
      out.push(this.advance().text);
      if (this.isOp(',')) this.advance();
      else if (!this.isOp(')')) this.fail(this.tok.pos, `"," or ")" in ${context} (…)`, describe(this.tok));
    }
    this.advance();
    return out;
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    if (t.kind === 'num') {
      this.advance();
      return { type: 'number', value: t.value as number };
    }
    if (t.kind === 'op' && t.text === '(') {
      this.advance();
      const expr = this.parseExpr(0);
      this.expectOp(')', ` to close the "(" at column ${t.pos + 1}`);
      return { type: 'paren', expr };
    }
    if (t.kind === 'op' && t.text === '{') return this.parseSelector(null, t.pos);
    if (t.kind === 'ident') {
      if (t.text === 'Inf' || t.text === 'inf') {
        this.advance();
        return { type: 'number', value: Infinity };
      }
      if (t.text === 'NaN' || t.text === 'nan') {
        this.advance();
        return { type: 'number', value: NaN };
      }
      if (AGGREGATES.has(t.text) && (this.peekIsOp('(') || this.peekIsIdent('by') || this.peekIsIdent('without'))) return this.parseAggregate();
      if (this.peekIsOp('(')) return this.parseCall();
      this.advance();
      return this.parseSelector(t.text, t.pos);
    }
    if (t.kind === 'str') this.fail(t.pos, 'an expression (string literals are not supported outside label matchers)', describe(t));
    return this.fail(t.pos, 'an expression', describe(t));
  }

  private peek(): Token {
    const save = this.lex.position;
    const tok = this.lex.next();
    this.lex.position = save;
    return tok;
  }
  private peekIsOp(text: string): boolean {
    const p = this.peek();
    return p.kind === 'op' && p.text === text;
  }
  private peekIsIdent(text: string): boolean {
    const p = this.peek();
    return p.kind === 'ident' && p.text === text;
  }

  private parseSelector(name: string | null, pos: number): VectorSelector {
    if (name !== null && (KEYWORDS_UNSUPPORTED.has(name) || name === 'by' || name === 'without' || name === 'offset' || name === 'bool' || name === 'on' || name === 'ignoring')) {
      this.fail(pos, 'an expression', `"${name}"`);
    }
    const matchers: LabelMatcher[] = [];
    if (name !== null) matchers.push({ name: '__name__', op: '=', value: name });
    if (this.isOp('{')) {
      this.advance();
      while (!this.isOp('}')) {
        const lt = this.tok;
        if (lt.kind !== 'ident') this.fail(lt.pos, 'a label name', describe(lt));
        this.advance();
        const opTok = this.tok;
        if (opTok.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(opTok.text)) this.fail(opTok.pos, `a label match operator (=, !=, =~, !~) after "${lt.text}"`, describe(opTok));
        this.advance();
        const vt = this.tok;
        if (vt.kind !== 'str') this.fail(vt.pos, `a quoted label value after ${lt.text}${opTok.text}`, describe(vt));
        this.advance();
        const m: LabelMatcher = { name: lt.text, op: opTok.text as MatchOp, value: vt.value as string };
        try {
          compileMatcher(m);
        } catch (e) {
          this.fail(vt.pos, 'a valid regular expression', `${describe(vt)} (${(e as Error).message.replace(/^.*invalid regular expression: /, '')})`);
        }
        if (m.name === '__name__' && name !== null) this.fail(lt.pos, 'a label other than __name__ (the metric name is already given)', '"__name__"');
        matchers.push(m);
        if (this.isOp(',')) this.advance();
        else if (!this.isOp('}')) this.fail(this.tok.pos, '"," or "}" in the label matchers', describe(this.tok));
      }
      this.advance();
    }
    if (!matchers.some((m) => !matchesEmpty(m))) {
      this.fail(pos, 'a selector with a metric name or at least one matcher that does not match the empty string', matchers.length === 0 ? '"{}"' : 'only matchers that match empty values');
    }
    return { type: 'vector', matchers, offsetMs: 0 };
  }

  private parseArgs(context: string): { expr: Expr; pos: number }[] {
    this.expectOp('(', ` after ${context}`);
    const args: { expr: Expr; pos: number }[] = [];
    while (!this.isOp(')')) {
      const pos = this.tok.pos;
      if (this.tok.kind === 'eof') this.fail(pos, `an argument or ")" in ${context}(…)`, 'end of input');
      args.push({ expr: this.parseExpr(0), pos });
      if (this.isOp(',')) this.advance();
      else if (!this.isOp(')')) this.fail(this.tok.pos, `"," or ")" in ${context}(…)`, describe(this.tok));
    }
    this.advance();
    return args;
  }

  private parseCall(): Expr {
    const nameTok = this.advance();
    const spec = FUNCTIONS.get(nameTok.text);
    if (spec === undefined) this.fail(nameTok.pos, 'a known function (see the query subset in the documentation)', `unknown function "${nameTok.text}"`);
    const args = this.parseArgs(nameTok.text);
    const min = spec.args.length - (spec.optional ?? 0);
    if (args.length < min || args.length > spec.args.length) {
      const want = min === spec.args.length ? `${min}` : `${min} to ${spec.args.length}`;
      this.fail(nameTok.pos, `${want} argument${spec.args.length === 1 ? '' : 's'} to ${nameTok.text}()`, `${args.length}`);
    }
    args.forEach((a, i) => this.checkType(a, spec.args[i]!, `argument ${i + 1} of ${nameTok.text}()`));
    if (nameTok.text === 'last_n') {
      const n = args[0]!.expr;
      if (n.type !== 'number' || !Number.isInteger(n.value) || n.value < 1) this.fail(args[0]!.pos, 'a whole number ≥ 1 as the count of last_n(N, selector[range])', describeAt(this.src, args[0]!.pos));
    }
    return { type: 'call', func: nameTok.text, args: args.map((a) => a.expr) };
  }

  private checkType(a: { expr: Expr; pos: number }, want: ValueType, what: string): void {
    const got = typeOf(a.expr);
    if (got === want) return;
    const names: Record<ValueType, string> = { scalar: 'a scalar', vector: 'an instant vector', matrix: 'a range vector such as x[5m]' };
    this.fail(a.pos, `${names[want]} as ${what}`, names[got].replace(' such as x[5m]', ''));
  }

  private parseAggregate(): Expr {
    const opTok = this.advance();
    const op = opTok.text as AggregateOp;
    let grouping: string[] = [];
    let without = false;
    let seenGrouping = false;
    if (this.isIdent('by') || this.isIdent('without')) {
      without = this.advance().text === 'without';
      grouping = this.parseLabelList(without ? 'without' : 'by');
      seenGrouping = true;
    }
    const args = this.parseArgs(op);
    if (!seenGrouping && (this.isIdent('by') || this.isIdent('without'))) {
      without = this.advance().text === 'without';
      grouping = this.parseLabelList(without ? 'without' : 'by');
    }
    const want = PARAM_AGGREGATES.has(op) ? 2 : 1;
    if (args.length !== want) this.fail(opTok.pos, `${want} argument${want === 1 ? '' : 's'} to ${op}`, `${args.length}`);
    if (want === 2) this.checkType(args[0]!, 'scalar', `the parameter of ${op}`);
    this.checkType(args[want - 1]!, 'vector', `the argument of ${op}`);
    return { type: 'aggregate', op, param: want === 2 ? args[0]!.expr : null, expr: args[want - 1]!.expr, grouping, without };
  }
}

/** Prints an expression back as PromQL text (what the VictoriaMetrics engine sends). */
export function formatExpr(e: Expr): string {
  const str = (v: string): string => JSON.stringify(v);
  const dur = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  const sel = (s: VectorSelector): string => {
    const ms = s.matchers.map((m) => `${m.name}${m.op}${str(m.value)}`);
    return `{${ms.join(',')}}`;
  };
  const off = (s: VectorSelector): string => (s.offsetMs === 0 ? '' : ` offset ${s.offsetMs < 0 ? '-' : ''}${dur(Math.abs(s.offsetMs))}`);
  switch (e.type) {
    case 'number':
      return Number.isNaN(e.value) ? 'NaN' : e.value === Infinity ? 'Inf' : e.value === -Infinity ? '-Inf' : String(e.value);
    case 'vector':
      return sel(e) + off(e);
    case 'matrix':
      return `${sel(e.selector)}[${dur(e.rangeMs)}]${off(e.selector)}`;
    case 'call':
      return `${e.func}(${e.args.map(formatExpr).join(', ')})`;
    case 'aggregate':
      return `${e.op} ${e.without ? 'without' : 'by'} (${e.grouping.join(', ')}) (${e.param ? formatExpr(e.param) + ', ' : ''}${formatExpr(e.expr)})`;
    case 'binary': {
      const m = e.matching ? ` ${e.matching.on ? 'on' : 'ignoring'} (${e.matching.labels.join(', ')})` : '';
      return `(${formatExpr(e.lhs)}) ${e.op}${e.bool ? ' bool' : ''}${m} (${formatExpr(e.rhs)})`;
    }
    case 'unary':
      return `${e.op}(${formatExpr(e.expr)})`;
    case 'paren':
      return `(${formatExpr(e.expr)})`;
  }
}
