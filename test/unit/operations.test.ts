/**
 * Custom operations, the pure parts: declarations in the spec (normalised, and every bad one
 * reported with file:line:col and JSON path), the run-time check of values (typed, coerced from
 * the CLI's text, defaults, every problem with its parameter path), the handler environment,
 * and the workflow action `operation D C OP k=v` in its NUBIS_ACTION text and .def forms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, resolveOperationParams, operationEnv, paramEnvName, type OperationSpec } from '../../src/model/index.js';
import { NubisError } from '../../src/errors/index.js';
import { parseActionText, printAction, runAction, type ActionPorts } from '../../src/workflows/actions/index.js';
import { parseDef, printDef } from '../../src/workflows/index.js';
import { createVirtualClock } from '../../src/clock/index.js';
import type { OperationRunView } from '../../src/engine/index.js';

const HEAD = `name: ops
clouds:
  sim: { platform: sim }
nodeTemplates:
  t: { cloud: sim }
components:
  app:
    nodeTemplate: t
    operations:
`;

function problems(ops: string): string[] {
  try {
    parseSpec(HEAD + ops, { file: 'app.yaml' });
  } catch (e) {
    assert.ok(e instanceof NubisError && e.code === 'SPEC_INVALID', String(e));
    return (e.details as { problems: { message: string }[] }).problems.map((p) => p.message);
  }
  assert.fail('the spec was accepted');
}

test('operations normalise: a bare command, a timeout, typed parameters with defaults and required ones', () => {
  const spec = parseSpec(`${HEAD}      flush: "sync"
      rotate-logs:
        run: "logrotate -f conf"
        timeout: 30s
        description: rotate now
        params:
          keep: { type: integer, default: 7, minimum: 1 }
          mode: { type: string, enum: [fast, full] }
          verbose: { type: boolean }
          target: { type: string, required: true, pattern: "^/", maxLength: 200 }
`, { file: 'app.yaml' });
  const ops = spec.components['app']!.operations!;
  assert.deepEqual(ops['flush'], { name: 'flush', run: 'sync', timeoutMs: 60_000, params: {} });
  assert.deepEqual(ops['rotate-logs'], {
    name: 'rotate-logs', run: 'logrotate -f conf', timeoutMs: 30_000, description: 'rotate now',
    params: {
      keep: { name: 'keep', type: 'integer', required: false, default: 7, minimum: 1 },
      mode: { name: 'mode', type: 'string', required: false, enum: ['fast', 'full'] },
      verbose: { name: 'verbose', type: 'boolean', required: false },
      target: { name: 'target', type: 'string', required: true, pattern: '^/', maxLength: 200 },
    },
  });
  assert.equal(parseSpec(HEAD.replace('    operations:\n', ''), { file: 'a.yaml' }).components['app']!.operations, undefined);
});

test('a bad declaration is reported with file:line:col and its JSON path, every problem at once', () => {
  assert.deepEqual(problems(`      a:
        run: x
        params:
          keep: { type: integer, default: "seven" }
          low: { type: integer, default: 0, minimum: 1 }
          name: { type: string, minimum: 3 }
          mode: { type: string, enum: [fast, 3] }
          both: { type: string, required: true, default: x }
          re: { type: string, pattern: "(" }
          Bad: { type: string }
          typo: { tpye: string }
          kind: { type: date }
          span: { type: integer, minimum: 5, maximum: 2 }
          flag: { type: boolean, enum: [1] }
      b: 42
      c: { run: y, timeout: 2d }
      D: { run: z }
`), [
    'app.yaml:13:43: $.components.app.operations.a.params.keep.default: expected integer, found string "seven"',
    'app.yaml:14:42: $.components.app.operations.a.params.low.default: expected integer ≥ 1, found integer 0',
    'app.yaml:15:42: $.components.app.operations.a.params.name.minimum: expected no minimum for a string parameter (integer and number only), found integer 3',
    'app.yaml:16:46: $.components.app.operations.a.params.mode.enum[1]: expected string, found integer 3',
    'app.yaml:17:58: $.components.app.operations.a.params.both.default: expected no default for a required parameter (required: true means a run must give it), found string "x"',
    'app.yaml:18:40: $.components.app.operations.a.params.re.pattern: expected a valid regular expression, found string "(" (Invalid regular expression: /(/u: Unterminated group)',
    'app.yaml:19:11: $.components.app.operations.a.params.Bad: expected string matching ^[a-z][a-z0-9_]{0,39}$, found key "Bad"',
    'app.yaml:20:17: $.components.app.operations.a.params.typo.type: expected one of "string", "integer", "number", "boolean", found missing key',
    'app.yaml:20:19: $.components.app.operations.a.params.typo.tpye: expected one of the keys type, description, required, default, enum, minimum, maximum, minLength, maxLength, pattern, found unknown key "tpye" (did you mean "type"?)',
    'app.yaml:21:25: $.components.app.operations.a.params.kind.type: expected one of "string", "integer", "number", "boolean", found string "date"',
    'app.yaml:22:43: $.components.app.operations.a.params.span.minimum: expected number ≤ maximum (2), found integer 5',
    'app.yaml:23:40: $.components.app.operations.a.params.flag.enum: expected no enum for a boolean parameter, found sequence',
    'app.yaml:24:10: $.components.app.operations.b: expected non-empty string or mapping with run, description, timeout, params, found integer 42',
    'app.yaml:25:29: $.components.app.operations.c.timeout: expected duration such as 500ms, 30s, 2m or 1h, found string "2d"',
    'app.yaml:26:7: $.components.app.operations.D: expected name matching ^[a-z][a-z0-9-]{0,39}$, found key "D"',
  ]);
});

const OP: OperationSpec = {
  name: 'rotate-logs', run: 'x', timeoutMs: 1000,
  params: {
    keep: { name: 'keep', type: 'integer', required: false, default: 7, minimum: 1, maximum: 100 },
    ratio: { name: 'ratio', type: 'number', required: false },
    mode: { name: 'mode', type: 'string', required: false, enum: ['fast', 'full'] },
    verbose: { name: 'verbose', type: 'boolean', required: false },
    target: { name: 'target', type: 'string', required: true, pattern: '^/', maxLength: 20 },
  },
};

function refused(given: Record<string, unknown>): { path: string; message: string }[] {
  try {
    resolveOperationParams(OP, given);
  } catch (e) {
    assert.ok(e instanceof NubisError && e.code === 'REQUEST_INVALID', String(e));
    assert.match(e.message, /nothing was run$/);
    return (e.details as { problems: { path: string; message: string }[] }).problems.map(({ path, message }) => ({ path, message }));
  }
  assert.fail('the values were accepted');
}

test('values: typed JSON or the CLI\'s text, defaults filled, absent optional ones left out', () => {
  assert.deepEqual(resolveOperationParams(OP, { target: '/var/log' }), { keep: 7, target: '/var/log' });
  assert.deepEqual(
    resolveOperationParams(OP, { keep: '3', ratio: '0.25', mode: 'full', verbose: 'false', target: '/x' }),
    { keep: 3, ratio: 0.25, mode: 'full', verbose: false, target: '/x' },
  );
  assert.deepEqual(resolveOperationParams(OP, { keep: 100, ratio: -1e3, verbose: true, target: '/' }), { keep: 100, ratio: -1000, verbose: true, target: '/' });
});

test('bad values: every problem with its parameter path, nothing resolved', () => {
  assert.deepEqual(refused({ keep: 0, ratio: 'lots', mode: 'slow', verbose: 'yes', extra: 1 }), [
    { path: 'params.extra', message: 'params.extra: expected one of the parameters keep, ratio, mode, verbose, target, found unknown parameter "extra"' },
    { path: 'params.keep', message: 'params.keep: expected integer ≥ 1, found integer 0' },
    { path: 'params.ratio', message: 'params.ratio: expected number, found string "lots"' },
    { path: 'params.mode', message: 'params.mode: expected one of "fast", "full", found string "slow"' },
    { path: 'params.verbose', message: 'params.verbose: expected boolean, found string "yes"' },
    { path: 'params.target', message: 'params.target: expected string, found missing (the parameter is required)' },
  ]);
  assert.deepEqual(refused({ keep: 2.5, target: 'relative' }).map((p) => p.message), [
    'params.keep: expected integer, found number 2.5',
    'params.target: expected string matching ^/, found string "relative"',
  ]);
  assert.deepEqual(refused({ keep: '101', target: '/a\0b' }).map((p) => p.message), [
    'params.keep: expected integer ≤ 100, found integer 101',
    'params.target: expected string without NUL characters, found string "/a\\u0000b"',
  ]);
  assert.deepEqual(refused({ keep: [1], target: `/${'x'.repeat(30)}` }).map((p) => p.message), [
    'params.keep: expected integer, found sequence',
    'params.target: expected string of at most 20 characters, found string "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
  ]);
  assert.deepEqual(refused({ keep: '1e3', target: '/' }).map((p) => p.message), ['params.keep: expected integer, found string "1e3"']);
});

test('the handler env: NUBIS_PARAM_<NAME> as text, and nothing for absent values', () => {
  assert.equal(paramEnvName('keep'), 'NUBIS_PARAM_KEEP');
  assert.deepEqual(operationEnv(resolveOperationParams(OP, { verbose: true, target: '/$(rm -rf /); `id`' })), {
    NUBIS_PARAM_KEEP: '7', NUBIS_PARAM_VERBOSE: 'true', NUBIS_PARAM_TARGET: '/$(rm -rf /); `id`',
  });
});

test('the workflow action: `operation D C OP k=v` as NUBIS_ACTION text and in a .def, printed back the same', () => {
  const a = parseActionText('operation shop db dump target=/backup keep=3');
  assert.deepEqual(a, { verb: 'operation', deployment: 'shop', component: 'db', operation: 'dump', params: { target: '/backup', keep: '3' } });
  assert.equal(printAction(a), 'operation shop db dump target=/backup keep=3');
  assert.deepEqual(parseActionText('operation shop db flush'), { verb: 'operation', deployment: 'shop', component: 'db', operation: 'flush', params: {} });
  for (const [text, why] of [
    ['operation shop db', 'operation takes <deployment> <component> <operation> [name=value …]'],
    ['operation shop db dump keep', 'parameter "keep": expected name=value with a parameter name of lowercase letters, digits and _'],
    ['operation shop db dump k=1 k=2', 'parameter k is given twice'],
    ['operation shop db Dump', 'operation "Dump": expected lowercase letters, digits and -'],
  ] as const) {
    assert.throws(() => parseActionText(text), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID' && e.message === `NUBIS_ACTION ${JSON.stringify(text)}: ${why}`, text);
  }
  const d = parseDef("suite s\n  task t\n    edit NUBIS_ACTION 'operation shop db dump target=/b'\nendsuite\n", 'a.def');
  const task = d.suites[0]!.children[0]!;
  assert.deepEqual(task.action, { verb: 'operation', deployment: 'shop', component: 'db', operation: 'dump', params: { target: '/b' } });
  assert.match(printDef(d), /edit NUBIS_ACTION 'operation shop db dump target=\/b'/);
  assert.throws(() => parseDef("suite s\n  task t\n    edit NUBIS_ACTION 'operation shop db'\nendsuite\n", 'bad.def'), /bad\.def:3:\d+: expected 'operation DEPLOYMENT COMPONENT OPERATION \[name=value …\]'/);
  assert.throws(() => parseDef("suite s\n  task t\n    edit NUBIS_ACTION 'operation shop db dump =x'\nendsuite\n", 'bad.def'), /bad\.def:3:\d+: parameter "=x": expected name=value/);
});

test('the workflow action runs through the operation port: completes when every instance succeeded, aborts naming the failed ones', async () => {
  const calls: unknown[][] = [];
  const view = (states: [string, 'succeeded' | 'failed', number][]): OperationRunView => ({
    id: 'op-0123456789ab', deployment: 'shop', component: 'db', operation: 'dump', params: {}, actor: 'workflow:w', reason: 'r', createdAt: '',
    state: states.every((s) => s[1] === 'succeeded') ? 'succeeded' : 'partial',
    instances: states.map(([instance, state, exitCode]) => ({ instance, state, exitCode, output: '' })),
  });
  let next = view([['db-1', 'succeeded', 0], ['db-2', 'succeeded', 0]]);
  const ports: ActionPorts = {
    clock: createVirtualClock(0),
    getDeployment: () => Promise.reject(new Error('not used')),
    scale: () => Promise.reject(new Error('not used')),
    watch: () => () => undefined,
    pool: () => undefined,
    operation: async (...args) => (calls.push(args), next),
  };
  const ok = await runAction(parseActionText('operation shop db dump target=/b'), ports);
  assert.equal(ok.detail, 'operation dump on shop/db: 2 of 2 succeeded (run op-0123456789ab)');
  assert.deepEqual(calls, [['shop', 'db', 'dump', { target: '/b' }]]);
  next = view([['db-1', 'succeeded', 0], ['db-2', 'failed', 4]]);
  await assert.rejects(runAction(parseActionText('operation shop db dump'), ports), (e: unknown) => e instanceof NubisError && e.code === 'HANDLER_FAILED'
    && e.message === 'operation dump on shop/db: 1 of 2 succeeded (run op-0123456789ab); db-2 failed (exit 4)');
  const { operation: _, ...without } = ports;
  await assert.rejects(runAction(parseActionText('operation shop db dump'), without), { code: 'UNAVAILABLE' });
});
