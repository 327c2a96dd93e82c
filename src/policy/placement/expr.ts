/**
 * The custom placement policy's rank: a small expression over a host's attributes, compiled to
 * a closure (no eval, no property access, no calls but `min`, `max` and `abs`). Higher ranks
 * first, as OpenNebula's RANK.
 *
 *   expr    := or ('?' expr ':' expr)?
 *   or      := and ('||' and)*          and := not ('&&' not)*        not := '!' not | cmp
 *   cmp     := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum)?
 *   sum     := prod (('+'|'-') prod)*   prod := unary (('*'|'/'|'%') unary)*
 *   unary   := '-' unary | atom         atom := number | 'string' | name | name '(' args ')' | '(' expr ')'
 *
 * Names are the host's attributes (./types.ts `HOST_VARIABLES` plus any the driver reports,
 * such as `rack`); a name the host lacks makes its rank NaN, and a NaN rank goes last. Booleans
 * are 1 and 0. Strings compare with `==` and `!=` only.
 */
import { NubisError } from '../../errors/index.js';

export type Value = number | string;
/** A host's attribute by name; undefined when it has none. */
export type Lookup = (name: string) => Value | undefined;
export type Compiled = (vars: Lookup) => number;

/** Where a rank expression is wrong: 1-based column and what was expected. */
export interface ExprProblem {
  col: number;
  message: string;
}

type Tok = { kind: 'num'; v: number; at: number } | { kind: 'str'; v: string; at: number } | { kind: 'name'; v: string; at: number } | { kind: 'op'; v: string; at: number } | { kind: 'end'; at: number };

const OPS = ['||', '&&', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '!', '(', ')', ',', '?', ':'];
const MAX_LENGTH = 500;
const MAX_DEPTH = 40;
const FUNCTIONS: Record<string, { arity: number; fn: (a: number[]) => number }> = {
  min: { arity: 2, fn: (a) => Math.min(a[0]!, a[1]!) },
  max: { arity: 2, fn: (a) => Math.max(a[0]!, a[1]!) },
  abs: { arity: 1, fn: (a) => Math.abs(a[0]!) },
};

class Fail extends Error {
  constructor(readonly at: number, message: string) {
    super(message);
  }
}

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (num) {
      out.push({ kind: 'num', v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (name) {
      out.push({ kind: 'name', v: name[0], at: i });
      i += name[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Fail(i, 'a closing quote');
      out.push({ kind: 'str', v: text.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw new Fail(i, `an operator, number, name or string, found ${JSON.stringify(c)}`);
    out.push({ kind: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ kind: 'end', at: text.length });
  return out;
}

type Node = (vars: Lookup) => Value;

const toNum = (v: Value): number => (typeof v === 'number' ? v : NaN);
const bool = (b: boolean): number => (b ? 1 : 0);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.v === v;
  }
  private expect(v: string): void {
    if (!this.isOp(v)) throw new Fail(this.peek().at, `${JSON.stringify(v)}`);
    this.i++;
  }

  parseAll(): Node {
    const n = this.expr();
    const t = this.peek();
    if (t.kind !== 'end') throw new Fail(t.at, 'an operator or the end of the expression');
    return n;
  }

  private expr(): Node {
    if (++this.depth > MAX_DEPTH) throw new Fail(this.peek().at, `at most ${MAX_DEPTH} levels of nesting`);
    try {
      const cond = this.or();
      if (!this.isOp('?')) return cond;
      this.i++;
      const a = this.expr();
      this.expect(':');
      const b = this.expr();
      return (v) => (toNum(cond(v)) ? a(v) : b(v));
    } finally {
      this.depth--;
    }
  }

  private chain(next: () => Node, ops: readonly string[], make: (op: string, l: Node, r: Node) => Node): Node {
    let left = next();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !ops.includes(t.v)) return left;
      this.i++;
      left = make(t.v, left, next());
    }
  }

  private or(): Node {
    return this.chain(() => this.and(), ['||'], (_, l, r) => (v) => bool(!!toNum(l(v)) || !!toNum(r(v))));
  }
  private and(): Node {
    return this.chain(() => this.not(), ['&&'], (_, l, r) => (v) => bool(!!toNum(l(v)) && !!toNum(r(v))));
  }
  private not(): Node {
    if (this.isOp('!')) {
      this.i++;
      const n = this.not();
      return (v) => bool(!toNum(n(v)));
    }
    return this.cmp();
  }
  private cmp(): Node {
    const l = this.sum();
    const t = this.peek();
    if (t.kind !== 'op' || !['==', '!=', '<', '<=', '>', '>='].includes(t.v)) return l;
    this.i++;
    const r = this.sum();
    switch (t.v) {
      case '==': return (v) => bool(l(v) === r(v));
      case '!=': return (v) => bool(l(v) !== r(v));
      case '<': return (v) => bool(toNum(l(v)) < toNum(r(v)));
      case '<=': return (v) => bool(toNum(l(v)) <= toNum(r(v)));
      case '>': return (v) => bool(toNum(l(v)) > toNum(r(v)));
      default: return (v) => bool(toNum(l(v)) >= toNum(r(v)));
    }
  }
  private sum(): Node {
    return this.chain(() => this.prod(), ['+', '-'], (op, l, r) => (op === '+' ? (v) => toNum(l(v)) + toNum(r(v)) : (v) => toNum(l(v)) - toNum(r(v))));
  }
  private prod(): Node {
    return this.chain(() => this.unary(), ['*', '/', '%'], (op, l, r) => {
      if (op === '*') return (v) => toNum(l(v)) * toNum(r(v));
      if (op === '/') return (v) => toNum(l(v)) / toNum(r(v));
      return (v) => toNum(l(v)) % toNum(r(v));
    });
  }
  private unary(): Node {
    if (this.isOp('-')) {
      this.i++;
      const n = this.unary();
      return (v) => -toNum(n(v));
    }
    return this.atom();
  }
  private atom(): Node {
    const t = this.peek();
    if (t.kind === 'num') {
      this.i++;
      const x = t.v;
      return () => x;
    }
    if (t.kind === 'str') {
      this.i++;
      const x = t.v;
      return () => x;
    }
    if (t.kind === 'name') {
      this.i++;
      if (this.isOp('(')) return this.call(t.v, t.at);
      const name = t.v;
      return (v) => v(name) ?? NaN;
    }
    if (this.isOp('(')) {
      this.i++;
      const n = this.expr();
      this.expect(')');
      return n;
    }
    throw new Fail(t.at, t.kind === 'end' ? 'a value at the end of the expression' : `a value, found ${JSON.stringify(t.v)}`);
  }
  private call(name: string, at: number): Node {
    const f = FUNCTIONS[name];
    if (!f) throw new Fail(at, `a function of ${Object.keys(FUNCTIONS).join(', ')}, found ${JSON.stringify(name)}`);
    this.i++;
    const args: Node[] = [];
    if (!this.isOp(')')) {
      args.push(this.expr());
      while (this.isOp(',')) {
        this.i++;
        args.push(this.expr());
      }
    }
    if (args.length !== f.arity) throw new Fail(at, `${name} takes ${f.arity} argument${f.arity === 1 ? '' : 's'}, found ${args.length}`);
    this.expect(')');
    return (v) => f.fn(args.map((a) => toNum(a(v))));
  }
}

/** The problem of a rank expression, or undefined when it compiles. */
export function rankProblem(text: string): ExprProblem | undefined {
  try {
    compileRank(text);
    return undefined;
  } catch (e) {
    const d = (e as NubisError).details as { col?: number } | undefined;
    return { col: d?.col ?? 1, message: (e as Error).message };
  }
}

/** Compiles a rank expression; SPEC_INVALID with `details.col` (1-based) when it is wrong. */
export function compileRank(text: string): Compiled {
  if (text.length > MAX_LENGTH) throw new NubisError('SPEC_INVALID', `rank expression: at most ${MAX_LENGTH} characters`, { details: { col: MAX_LENGTH + 1 } });
  try {
    const node = new Parser(tokenize(text)).parseAll();
    return (vars) => {
      const r = node(vars);
      return typeof r === 'number' ? r : NaN;
    };
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    throw new NubisError('SPEC_INVALID', `rank expression at column ${e.at + 1}: expected ${e.message}`, { details: { col: e.at + 1 } });
  }
}
