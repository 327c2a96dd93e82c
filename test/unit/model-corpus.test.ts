/**
 * The spec corpus. Every `invalid/*.yaml` carries its exact expected problems as header
 * lines `# expect: <message>` (in the order reported), and optionally `# artefacts: a, b`
 * (the set passed as `opts.artefacts`). Every `valid/*.yaml` must parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { NubisError } from '../../src/errors/index.js';
import { Spec, parseSpec } from '../../src/model/index.js';
import type { SpecProblem } from '../../src/model/index.js';

const root = new URL('../../../test/fixtures/specs/', import.meta.url);

function fixtures(kind: 'valid' | 'invalid'): { name: string; text: string }[] {
  const dir = new URL(`${kind}/`, root);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => ({ name, text: readFileSync(new URL(name, dir), 'utf8') }));
}

function artefactsOf(text: string): Set<string> | undefined {
  const m = /^# artefacts: (.*)$/m.exec(text);
  return m?.[1] ? new Set(m[1].split(',').map((s) => s.trim())) : undefined;
}

function problemsOf(fn: () => unknown): SpecProblem[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof NubisError, `not a NubisError: ${String(e)}`);
    assert.equal(e.code, 'SPEC_INVALID');
    const problems = (e.details as { problems: SpecProblem[] }).problems;
    for (const p of problems) assert.ok(e.message.includes(p.message), 'summary lists every problem');
    return problems;
  }
  assert.fail('expected SPEC_INVALID, but the spec parsed');
}

const invalid = fixtures('invalid');
const valid = fixtures('valid');

test('the corpus holds at least 35 invalid specs and a few valid ones', () => {
  assert.ok(invalid.length >= 35, `only ${invalid.length} invalid specs`);
  assert.ok(valid.length >= 3);
});

for (const { name, text } of invalid) {
  test(`invalid/${name}: exact problems`, () => {
    const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]);
    assert.ok(expected.length > 0, 'fixture states its expected problems');
    const problems = problemsOf(() => parseSpec(text, { file: name, artefacts: artefactsOf(text) }));
    assert.deepEqual(
      problems.map((p) => p.message),
      expected,
    );
    for (const p of problems) {
      assert.equal(p.file, name);
      assert.ok(p.line >= 1 && p.col >= 1);
      assert.equal(p.message, `${p.file}:${p.line}:${p.col}: ${p.path}: expected ${p.expected}, found ${p.found}`);
      assert.ok(!p.message.includes('\n'), 'one line');
    }
  });
}

for (const { name, text } of valid) {
  test(`valid/${name}: parses, and the raw document satisfies the TypeBox schema`, () => {
    const spec = parseSpec(text, { file: name, artefacts: artefactsOf(text) });
    assert.equal(typeof spec.name, 'string');
    assert.ok(Value.Check(Spec, parseDocument(text).toJS()), 'TypeBox agrees it is valid');
  });
}
