/** model: normalisation and defaults, error shape, durations, the published JSON Schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NubisError } from '../../src/errors/index.js';
import { DEFAULTS, parseDuration, parseSpec, specJsonSchema, specJsonSchemaText } from '../../src/model/index.js';
import { platformOptionsJsonSchemas } from '../../src/drivers/index.js';
import type { AppSpec, SpecProblem } from '../../src/model/index.js';

const fixture = (rel: string): string => readFileSync(new URL(`../../../test/fixtures/specs/${rel}`, import.meta.url), 'utf8');

function problems(text: string, artefacts?: ReadonlySet<string>): SpecProblem[] {
  try {
    parseSpec(text, { file: 'app.yaml', ...(artefacts ? { artefacts } : {}) });
  } catch (e) {
    assert.ok(e instanceof NubisError);
    assert.equal(e.code, 'SPEC_INVALID');
    assert.equal(e.status, 400);
    return (e.details as { problems: SpecProblem[] }).problems;
  }
  return assert.fail('spec parsed');
}

const HEAD = `name: webapp
clouds:
  local: {platform: local}
nodeTemplates:
  small: {cloud: local}
components:
`;

test('the webapp example normalises to the full AppSpec', () => {
  const text = fixture('valid/webapp.yaml');
  const present = new Set(['kv/kv-server', 'app/server.js', 'app/package.json', 'lb/haproxy.cfg.tmpl', 'lb/reload.sh']);
  const spec = parseSpec(text, { file: 'webapp.yaml', artefacts: present });
  const tcpDefaults = { intervalMs: 2000, timeoutMs: 1000, retries: 3 };
  const expected: AppSpec = {
    name: 'webapp',
    clouds: { local: { name: 'local', platform: 'local', options: {} } },
    nodeTemplates: { small: { name: 'small', cloud: 'local', requirements: { cores: 1, memoryMiB: 256 } } },
    components: {
      kv: {
        name: 'kv', nodeTemplate: 'small', cloud: 'local', count: 1, min: 0, max: 100, scaleIn: 'youngest', updateStrategy: { maxUnavailable: 1, maxSurge: 0, healthGateTimeoutMs: 600_000 },
        provides: { kv: {} }, requires: {}, env: {}, artefacts: ['kv/kv-server'],
        handlers: { start: { run: './kv/kv-server --port "$NUBIS_PORT_KV"', timeoutMs: 60000, retries: 2 } },
        health: { kind: 'tcp', port: 'kv', ...tcpDefaults },
      },
      app: {
        name: 'app', nodeTemplate: 'small', cloud: 'local', count: 3, min: 1, max: 10, scaleIn: 'youngest', updateStrategy: { maxUnavailable: 1, maxSurge: 0, healthGateTimeoutMs: 600_000 },
        provides: { http: {} },
        requires: { kv: { name: 'kv', component: 'kv', port: 'kv', optional: false } },
        env: { NODE_ENV: 'production' },
        artefacts: ['app/'],
        handlers: {
          install: { run: 'npm ci --omit=dev', timeoutMs: 300000, retries: 1 },
          start: { run: 'node app/server.js', timeoutMs: 60000, retries: 2 },
        },
        health: { kind: 'http', port: 'http', path: '/healthz', intervalMs: 5000, timeoutMs: 500, retries: 2 },
      },
      lb: {
        name: 'lb', nodeTemplate: 'small', cloud: 'local', count: 1, min: 0, max: 100, scaleIn: 'youngest', updateStrategy: { maxUnavailable: 1, maxSurge: 0, healthGateTimeoutMs: 600_000 },
        provides: { http: { port: 8080 } },
        requires: { backends: { name: 'backends', component: 'app', port: 'http', optional: true } },
        env: {},
        artefacts: ['lb/'],
        handlers: {
          configure: { run: './lb/reload.sh render', timeoutMs: 60000, retries: 2 },
          start: { run: './lb/reload.sh start', timeoutMs: 60000, retries: 2 },
          update: { run: './lb/reload.sh reload', timeoutMs: 10000, retries: 2 },
          stop: { run: './lb/reload.sh stop', timeoutMs: 60000, retries: 2 },
        },
        health: { kind: 'tcp', port: 'http', ...tcpDefaults },
      },
    },
  };
  assert.deepEqual(spec, expected);
});

test('defaults: counts, scale-in, handlers, health, requirements, cloud options', () => {
  const spec = parseSpec(fixture('valid/batch.yaml'), { file: 'batch.yaml' });
  assert.deepEqual(spec.clouds['sigma'], { name: 'sigma', platform: 'cloudsigma', concurrency: 8, options: { region: 'zrh', tags: ['weather', 'batch'] } });
  assert.deepEqual(spec.nodeTemplates['main']?.requirements, { cores: 4, memoryMiB: 16384, diskGiB: 500, os: 'ubuntu', osVersion: '22.04', locations: ['zrh'] });
  assert.deepEqual(spec.nodeTemplates['worker']?.requirements, { cores: 2, memoryMiB: 4096, clouds: ['sim', 'sigma'], maxPrice: 0.12 });
  const worker = spec.components['worker'];
  assert.ok(worker);
  assert.equal(worker.cloud, 'sim', "a component's cloud is its template's");
  assert.deepEqual([worker.count, worker.min, worker.max, worker.scaleIn], [0, 0, 50, 'oldest']);
  assert.deepEqual(worker.handlers.install, { run: './setup.sh', timeoutMs: 600000, retries: 0 }, 'an aliased handler');
  assert.deepEqual(worker.handlers.start, { run: './worker', timeoutMs: DEFAULTS.handlerTimeoutMs, retries: DEFAULTS.handlerRetries });
  assert.equal(worker.health, undefined);
  assert.deepEqual(spec.components['main']?.health, { kind: 'command', command: './main status', intervalMs: 2000, timeoutMs: 1000, retries: 3 });

  const minimal = parseSpec(fixture('valid/minimal.yaml'), { file: 'minimal.yaml' }).components['one'];
  assert.deepEqual(
    minimal && [minimal.count, minimal.min, minimal.max, minimal.scaleIn, minimal.handlers, minimal.provides, minimal.env],
    [1, 0, 100, 'youngest', {}, {}, {}],
  );
  assert.equal(parseSpec(fixture('valid/optional-back-edge.yaml'), { file: 'x.yaml' }).components['follower']?.max, 150, 'max defaults to max(count, 100)');
  const http = parseSpec(`${HEAD}  web:\n    nodeTemplate: small\n    provides: {http: {}}\n    lifecycle: {health: {http: {port: http}}}\n`, { file: 'app.yaml' });
  assert.equal(http.components['web']?.health?.path, '/', 'http path defaults to /');
});

test('the result is deeply frozen', () => {
  const spec = parseSpec(fixture('valid/webapp.yaml'), { file: 'webapp.yaml' });
  assert.ok(Object.isFrozen(spec) && Object.isFrozen(spec.components) && Object.isFrozen(spec.components['app']?.handlers.start));
  assert.ok(Object.isFrozen(spec.components['app']?.artefacts));
  assert.throws(() => {
    (spec.components['app'] as { count: number }).count = 9;
  }, TypeError);
});

test('parseDuration', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('0s'), 0);
  for (const bad of ['', '30', '1.5s', '-1s', '30 s', '1d', 's', '99999999999999999999h']) {
    assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof NubisError && e.code === 'SPEC_INVALID', bad);
  }
});

test('a problem carries file, line, col, JSON path, expected and found', () => {
  const text = `${HEAD}  app:\n    nodeTemplate: small\n    instances:\n      count: three\n`;
  assert.deepEqual(problems(text), [
    {
      file: 'app.yaml', line: 10, col: 14, path: '$.components.app.instances.count',
      expected: 'integer ≥ 0', found: 'string "three"',
      message: 'app.yaml:10:14: $.components.app.instances.count: expected integer ≥ 0, found string "three"',
    },
  ]);
});

test('the error message summarises every problem, in source order', () => {
  const text = `${HEAD}  app:\n    nodeTemplate: nope\n    instances: {count: x}\n    bogus: 1\n`;
  try {
    parseSpec(text, { file: 'app.yaml' });
    assert.fail('parsed');
  } catch (e) {
    assert.ok(e instanceof NubisError);
    assert.equal(
      e.message,
      [
        'app.yaml: invalid spec, 3 problems:',
        '  app.yaml:8:19: $.components.app.nodeTemplate: expected name of a node template (small), found unknown node template "nope"',
        '  app.yaml:9:24: $.components.app.instances.count: expected integer ≥ 0, found string "x"',
        '  app.yaml:10:5: $.components.app.bogus: expected one of the keys nodeTemplate, instances, provides, requires, env, artefacts, lifecycle, updateStrategy, recovery, found unknown key "bogus"',
      ].join('\n'),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(e)).code, 'SPEC_INVALID');
  }
});

test('artefacts: folders match by prefix; without a set only the form is checked', () => {
  const text = `${HEAD}  app:\n    nodeTemplate: small\n    artefacts: [web/, bin/app, ./conf/a.toml]\n`;
  const present = new Set(['web/index.html', 'bin/app', 'conf/a.toml']);
  assert.deepEqual(parseSpec(text, { file: 'app.yaml', artefacts: present }).components['app']?.artefacts, ['web/', 'bin/app', './conf/a.toml']);
  assert.ok(parseSpec(text, { file: 'app.yaml' }));
  assert.deepEqual(
    problems(text, new Set(['web', 'bin/app/x', 'conf/a.toml'])).map((p) => p.found),
    ['missing artefact "web/"', 'missing artefact "bin/app" (a folder: write "bin/app/")'],
  );
});

test('a cycle is reported once, with its path', () => {
  const comp = (name: string, to: string): string =>
    `  ${name}:\n    nodeTemplate: small\n    provides: {p: {}}\n    requires:\n      next: {component: ${to}, port: p}\n`;
  const found = problems(HEAD + comp('a', 'b') + comp('b', 'c') + comp('c', 'a')).map((p) => `${p.path} ${p.found}`);
  assert.deepEqual(found, ['$.components.a.requires.next.component cycle a → b → c → a']);
});

test('JSON paths quote keys that are not plain names', () => {
  const text = `${HEAD}  app:\n    nodeTemplate: small\n    env:\n      "A B": x\n`;
  assert.equal(problems(text)[0]?.path, '$.components.app.env["A B"]');
});

test('no input crashes the parser: mutated specs give SPEC_INVALID or a spec', () => {
  const base = fixture('valid/webapp.yaml');
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const alphabet = ':{}[],-#&*!|>\'"\n \t%@`?0a';
  for (let i = 0; i < 400; i++) {
    let text = base;
    for (let k = 0; k < 1 + rand(4); k++) {
      const at = rand(text.length);
      const op = rand(3);
      const ch = alphabet[rand(alphabet.length)] ?? ' ';
      text = op === 0 ? text.slice(0, at) + text.slice(at + 1) : op === 1 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + ch + text.slice(at + 1);
    }
    try {
      parseSpec(text, { file: 'fuzz.yaml' });
    } catch (e) {
      assert.ok(e instanceof NubisError && e.code === 'SPEC_INVALID', `mutation ${i} threw ${String(e)}`);
      const ps = (e.details as { problems: SpecProblem[] }).problems;
      assert.ok(ps.length > 0 && ps.every((p) => p.line >= 1 && p.col >= 1));
    }
  }
});

test('specJsonSchema: draft 2020-12, stable $id, closed objects', () => {
  const schema = specJsonSchema();
  assert.equal(schema['$schema'], 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema['$id'], 'https://nubis.dev/schema/spec.json');
  const open: string[] = [];
  const walk = (s: unknown, at: string): void => {
    if (s === null || typeof s !== 'object') return;
    const o = s as Record<string, unknown>;
    const anyKey = JSON.stringify(o['patternProperties'] ?? {}) === '{"^(.*)$":{}}';
    if (o['type'] === 'object' && o['additionalProperties'] !== false && !anyKey) open.push(at);
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`);
  };
  walk(schema, '#');
  assert.deepEqual(open, [], 'every object is closed (platform options are free-form by design)');
});

test('schema/spec.schema.json in the repo is what specJsonSchema() gives with every platform\'s options (run `npm run schema`)', () => {
  const file = readFileSync(new URL('../../../schema/spec.schema.json', import.meta.url), 'utf8');
  assert.deepEqual(JSON.parse(file), specJsonSchema(platformOptionsJsonSchemas()));
  assert.equal(file, specJsonSchemaText(platformOptionsJsonSchemas()));
});
