/**
 * The trigger/complete expression language (issue 9, item 1): ecFlow's operator spellings,
 * precedence, paths, errors at the offending column, and a property test that printing a
 * random tree and parsing it back gives the same tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NubisError } from '../../src/errors/index.js';
import { parseExpression, printExpression, stripLocs, type Expr } from '../../src/workflows/index.js';
import { rng as prng } from './workflows-scheduler-helpers.js';

const p = (s: string): Expr => stripLocs(parseExpression(s).expr);
const ref = (path: string, attr?: string): Expr => (attr === undefined ? { kind: 'ref', path } : { kind: 'ref', path, attr });
const st = (value: 'complete' | 'aborted' | 'queued' | 'active' | 'submitted' | 'unknown'): Expr => ({ kind: 'state', value });
const cmp = (op: '==' | '!=' | '<' | '<=' | '>' | '>=', left: Expr, right: Expr): Expr => ({ kind: 'compare', op, left, right });
const num = (value: number): Expr => ({ kind: 'number', value });

test('every spelling of the comparison and logic operators gives the same tree', () => {
  const want: Expr = { kind: 'logic', op: 'or', left: { kind: 'logic', op: 'and', left: cmp('==', ref('a'), st('complete')), right: cmp('!=', ref('b'), st('aborted')) }, right: cmp('<', ref('c', 'm'), num(5)) };
  for (const s of [
    'a == complete and b != aborted or c:m < 5',
    'a eq complete AND b ne aborted OR c:m lt 5',
    'a==complete&&b!=aborted||c:m<5',
    '(a == complete && b != aborted) || (c:m < 5)',
    '((a eq complete) and (b ne aborted)) or c:m lt 5',
  ]) assert.deepEqual(p(s), want, s);
  assert.deepEqual(p('x:v ge 3'), cmp('>=', ref('x', 'v'), num(3)));
  assert.deepEqual(p('x:v le 3'), cmp('<=', ref('x', 'v'), num(3)));
  assert.deepEqual(p('x:v gt 3'), cmp('>', ref('x', 'v'), num(3)));
});

test('not, ! and ~ negate the comparison after them; arithmetic operators bind alike, left to right, tighter than comparisons', () => {
  for (const s of ['not a', '!a', '~a', 'not  a', '! a']) assert.deepEqual(p(s), { kind: 'not', arg: ref('a') }, s);
  const notA = { kind: 'not', arg: cmp('==', ref('a'), st('complete')) } as const;
  for (const s of ['not (a == complete)', '!(a == complete)', '! a == complete', 'not a eq complete', '~a==complete']) assert.deepEqual(p(s), notA, s);
  assert.deepEqual(p('! a == complete or y == aborted'), { kind: 'logic', op: 'or', left: notA, right: cmp('==', ref('y'), st('aborted')) });
  assert.deepEqual(p('not a == complete and not b:e == set'), { kind: 'logic', op: 'and', left: notA, right: { kind: 'not', arg: cmp('==', ref('b', 'e'), { kind: 'eventValue', value: 'set' }) } });
  assert.deepEqual(p('g:YMD eq ~ 1'), cmp('==', ref('g', 'YMD'), { kind: 'not', arg: num(1) }));
  assert.deepEqual(p('(not a) == complete'), cmp('==', { kind: 'not', arg: ref('a') }, st('complete')));
  assert.deepEqual(p('/s:RETRY + 1 * 2 > 3 - x:m % 2'), cmp('>',
    { kind: 'arith', op: '*', left: { kind: 'arith', op: '+', left: ref('/s', 'RETRY'), right: num(1) }, right: num(2) },
    { kind: 'arith', op: '%', left: { kind: 'arith', op: '-', left: num(3), right: ref('x', 'm') }, right: num(2) }));
  assert.deepEqual(p('2 == (((/s/lag:YMD / 100) % 100) % 3)'), cmp('==', num(2),
    { kind: 'arith', op: '%', left: { kind: 'arith', op: '%', left: { kind: 'arith', op: '/', left: ref('/s/lag', 'YMD'), right: num(100) }, right: num(100) }, right: num(3) }));
  assert.deepEqual(p('a or b and c'), { kind: 'logic', op: 'or', left: ref('a'), right: { kind: 'logic', op: 'and', left: ref('b'), right: ref('c') } });
  assert.deepEqual(p('10 - 2 - 3'), { kind: 'arith', op: '-', left: { kind: 'arith', op: '-', left: num(10), right: num(2) }, right: num(3) });
  assert.deepEqual(p('a - -5'), { kind: 'arith', op: '-', left: ref('a'), right: num(-5) });
  assert.deepEqual(p('/mc//main:YMD le /mc/main//ref:STOP'), cmp('<=', ref('/mc/main', 'YMD'), ref('/mc/main/ref', 'STOP')));
});

test('shapes of typical operational triggers', () => {
  const top = (s: string): string => { const e = p(s); return e.kind === 'compare' || e.kind === 'logic' || e.kind === 'arith' ? e.op : e.kind; };
  assert.equal(top('a == complete and b == complete or c == complete'), 'or');
  assert.equal(top('a == complete or b == complete and c == complete'), 'or');
  assert.equal(top('a == complete and (b == complete or c == complete)'), 'and');
  assert.equal(top('(x:m eq 1 and (0 le /s/f/p:STEP)) or (not x:m)'), 'or');
  assert.equal(top('./pdb eq complete and ( not ../../../late:yes or ../000/q eq complete)'), 'and');
  assert.equal(top('t:step + 20 ge t:step1 - 20'), '>=');
  assert.equal(top('( obs:YMD le ( main:YMD + 1)) and ../make/setup eq complete'), 'and');
  assert.equal(top('/s/f/t<flag>late + 2 >= 2'), '>=');
  assert.equal(top('! /s/f/t<flag>zombie and ! /s/f/t<flag>zombie'), 'and');
  assert.equal(top('comp == complete and notready == complete'), 'and');
  assert.equal(top('/<flag>late'), 'flag');
});

test('paths: sibling, child, ./, ../, absolute, :attr, <flag>, and / as division between spaces', () => {
  assert.deepEqual(p('../f/x == complete'), cmp('==', ref('../f/x'), st('complete')));
  assert.deepEqual(p('../../g:ev'), ref('../../g', 'ev'));
  assert.deepEqual(p('./x:1 == set'), cmp('==', ref('./x', '1'), { kind: 'eventValue', value: 'set' }));
  assert.deepEqual(p('/suite/f.1/t_2:YMD >= 20261203'), cmp('>=', ref('/suite/f.1/t_2', 'YMD'), num(20261203)));
  assert.deepEqual(p('f/t == queued'), cmp('==', ref('f/t'), st('queued')));
  assert.deepEqual(p('t:e == clear'), cmp('==', ref('t', 'e'), { kind: 'eventValue', value: 'clear' }));
  assert.deepEqual(p('/s/t<flag>late'), { kind: 'flag', path: '/s/t', flag: 'late' });
  assert.deepEqual(p('not /s/t<flag>zombie'), { kind: 'not', arg: { kind: 'flag', path: '/s/t', flag: 'zombie' } });
  assert.deepEqual(p('x:m / 2 == 1'), cmp('==', { kind: 'arith', op: '/', left: ref('x', 'm'), right: num(2) }, num(1)));
  assert.deepEqual(p('x:m / /s:N'), { kind: 'arith', op: '/', left: ref('x', 'm'), right: ref('/s', 'N') });
  assert.deepEqual(p('1a == complete'), cmp('==', ref('1a'), st('complete')));
  assert.deepEqual(p('12:ev'), ref('12', 'ev'));
  assert.deepEqual(p('notify == active'), cmp('==', ref('notify'), st('active')));
  assert.deepEqual(p('android == submitted'), cmp('==', ref('android'), st('submitted')));
  assert.deepEqual(p('.. == unknown'), cmp('==', ref('..'), st('unknown')));
});

test('refs carry where they were written when the expression has a location', () => {
  const e = parseExpression('a == complete and ../b:ev', { file: 's.def', line: 7, col: 11 });
  assert.equal(e.text, 'a == complete and ../b:ev');
  assert.deepEqual(e.loc, { file: 's.def', line: 7, col: 11 });
  const x = e.expr;
  assert.ok(x.kind === 'logic' && x.right.kind === 'ref');
  assert.deepEqual(x.right.loc, { file: 's.def', line: 7, col: 29 });
});

function fails(text: string, message: string, loc = { file: 'suite.def', line: 3, col: 13 }): void {
  assert.throws(() => parseExpression(text, loc), (e: unknown) => {
    assert.ok(e instanceof NubisError);
    assert.equal(e.code, 'WORKFLOW_INVALID');
    assert.equal(e.message, message);
    return true;
  }, text);
}

test('a malformed expression is rejected with the column of the offending token', () => {
  fails('a == ', 'suite.def:3:18: expected an operand, found end of expression');
  fails('a == complete and', 'suite.def:3:30: expected an operand, found end of expression');
  fails('(a == complete', 'suite.def:3:27: expected \')\', found end of expression');
  fails('a == complete)', 'suite.def:3:26: expected an operator or the end of the expression, found \')\'');
  fails('a === complete', 'suite.def:3:17: expected an operand, found \'=\'');
  fails('a complete', 'suite.def:3:15: expected an operator or the end of the expression, found \'complete\'');
  fails('a == complete andy b', 'suite.def:3:27: expected an operator or the end of the expression, found \'andy\'');
  fails('a:', 'suite.def:3:15: expected an event, meter or variable name, found end of expression');
  fails('a<flag>', 'suite.def:3:20: expected a flag name, found end of expression');
  fails('not', 'suite.def:3:13: expected an operand after not, found \'not\'');
  fails('a == complete or :YMD > 1', 'suite.def:3:30: expected an operand (a variable needs its node: path:NAME; :NAME alone is not supported), found \':YMD\'');
  fails('cal::date_to_julian(x:YMD) > 1', 'suite.def:3:13: expected an operand (cal:: functions are not supported), found \'cal::date_to_julian(x:YMD)\'');
  fails('', 'suite.def:3:13: expected an operand, found end of expression');
  assert.throws(() => parseExpression('== a'), /^NubisError: <expression>:1:1: expected an operand, found '=='$/);
});

// --- property: print → parse is the identity on random trees ----------------------------------


const PATHS = ['a', 'b1', 'f/t', './x', '../f/x', '../../g', '/s', '/s/f/t_2', 'n.1', '_z', '..', '2x', 'setx', 'notice'];
const ATTRS = ['ev', 'METER', 'YMD', '1', 'lim_a', 'v.2'];
const STATES = ['unknown', 'queued', 'submitted', 'active', 'complete', 'aborted'] as const;
const CMP = ['==', '!=', '<', '<=', '>', '>='] as const;
const ARITH = ['+', '-', '*', '/', '%'] as const;

function randomExpr(r: () => number, depth: number): Expr {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  if (depth <= 0 || r() < 0.25) {
    const k = r();
    if (k < 0.2) return num(Math.floor(r() * 2000) - 500);
    if (k < 0.35) return st(pick(STATES));
    if (k < 0.42) return { kind: 'eventValue', value: r() < 0.5 ? 'set' : 'clear' };
    if (k < 0.5) return { kind: 'flag', path: pick(PATHS), flag: pick(['late', 'zombie', 'archived']) };
    return r() < 0.5 ? ref(pick(PATHS)) : ref(pick(PATHS), pick(ATTRS));
  }
  const k = r();
  const sub = (): Expr => randomExpr(r, depth - 1);
  if (k < 0.15) return { kind: 'not', arg: sub() };
  if (k < 0.45) return { kind: 'logic', op: r() < 0.5 ? 'and' : 'or', left: sub(), right: sub() };
  if (k < 0.75) return { kind: 'compare', op: pick(CMP), left: sub(), right: sub() };
  return { kind: 'arith', op: pick(ARITH), left: sub(), right: sub() };
}

test('property: printExpression then parseExpression is the identity on 3,000 random trees', () => {
  const r = prng(0x9e3779b9);
  for (let i = 0; i < 3000; i++) {
    const e = randomExpr(r, 1 + (i % 7));
    const text = printExpression(e);
    let back: Expr;
    try {
      back = p(text);
    } catch (err) {
      assert.fail(`tree ${i}: '${text}' did not parse: ${(err as Error).message}`);
    }
    assert.deepEqual(back, e, `tree ${i}: ${text}`);
    assert.equal(printExpression(back), text);
  }
});

test('printing uses the fewest parentheses', () => {
  assert.equal(printExpression(p('(a == complete) and ((b:m + 1) * 2 > 3)')), 'a == complete and (b:m + 1) * 2 > 3');
  assert.equal(printExpression(p('a:x * 2 + 1 - (b:y * 3)')), 'a:x * 2 + 1 - (b:y * 3)');
  assert.equal(printExpression(p('not (a == complete or b)')), 'not (a == complete or b)');
  assert.equal(printExpression(p('(not a) == complete')), '(not a) == complete');
  assert.equal(printExpression(p('a or (b or c)')), 'a or (b or c)');
  assert.equal(printExpression(p('(a or b) or c')), 'a or b or c');
  assert.equal(printExpression(p('!(a eq complete) && ~b')), 'not a == complete and not b');
});
