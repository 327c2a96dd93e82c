/**
 * Units of users and the catalog: scrypt hashes (salted, parameters stored, constant answer for
 * unknown users), the login backoff (never a lockout), session idle and absolute expiry on an
 * injected clock, roles, the parameter schema checks and the template substitution.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/index.js';
import {
  createUserService, hashPassword, LoginThrottle, parsePasswordHash, roleAtLeast, lesserRole, verifyPassword, sessionFromCookie, csrfMatches, csrfTokenOf,
} from '../../src/users/index.js';
import { checkParametersSchema, renderTemplate, resolveParams, templateReferences } from '../../src/catalog/index.js';
import { NubisError } from '../../src/errors/index.js';

const FAST = { N: 1024, r: 8, p: 1, keyLength: 32 };

test('passwords: scrypt with a per-user salt and stored parameters; wrong and unknown both fail', async () => {
  const a = await hashPassword('one-password', FAST);
  const b = await hashPassword('one-password', FAST);
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.hash, b.hash);
  const parsed = parsePasswordHash(JSON.stringify(a))!;
  assert.deepEqual({ N: parsed.N, r: parsed.r, p: parsed.p }, { N: 1024, r: 8, p: 1 });
  assert.equal(await verifyPassword('one-password', parsed), true);
  assert.equal(await verifyPassword('One-password', parsed), false);
  assert.equal(await verifyPassword('one-password', undefined), false);
  assert.equal(JSON.stringify(a).includes('one-password'), false);
  assert.equal(parsePasswordHash('{"alg":"md5"}'), undefined);
});

test('the login backoff doubles after the free tries, ignores tries during a wait, and clears on success', () => {
  const t = new LoginThrottle({ free: 2, baseMs: 1000, maxMs: 8000 });
  t.fail('k', 0);
  t.fail('k', 0);
  assert.equal(t.wait('k', 0), 0, 'two free failures');
  t.fail('k', 0);
  assert.equal(t.wait('k', 0), 1000);
  assert.equal(t.wait('k', 600), 400);
  assert.equal(t.wait('other', 0), 0, 'another user or address is not affected');
  t.fail('k', 1000);
  assert.equal(t.wait('k', 1000), 2000);
  for (let i = 0; i < 10; i++) t.fail('k', 10_000);
  assert.equal(t.wait('k', 10_000), 8000, 'capped');
  assert.equal(t.wait('k', 18_000), 0, 'the wait always ends');
  t.succeed('k');
  t.fail('k', 20_000);
  assert.equal(t.wait('k', 20_000), 0, 'a success starts over');
});

test('sessions end after the idle time or the absolute time; the role is read at every request', async () => {
  const store = await openStore({ path: ':memory:' });
  let now = 1_000_000;
  const users = createUserService({ store, now: () => now, sessions: { idleMs: 10_000, absoluteMs: 30_000 }, scrypt: FAST });
  try {
    await users.setPassword('ann', 'ann-password', 'test', { acme: 'operator' });
    const s = await users.login('ann', 'ann-password', undefined, '127.0.0.1');
    assert.equal(s.tenant, 'acme');
    assert.equal(s.csrfToken, csrfTokenOf(s.secret));
    assert.equal((await users.session(s.secret))?.role, 'operator');
    now += 9_000;
    assert.ok(await users.session(s.secret), 'within the idle time');
    now += 9_000;
    assert.ok(await users.session(s.secret), 'each request restarts the idle time');
    now += 11_000;
    assert.equal(await users.session(s.secret), undefined, 'idle too long');
    const s2 = await users.login('ann', 'ann-password', 'acme', '127.0.0.1');
    for (let i = 0; i < 4; i++) {
      now += 8_000;
      if (i < 3) assert.ok(await users.session(s2.secret));
    }
    assert.equal(await users.session(s2.secret), undefined, 'past the absolute time, however active');
    const s3 = await users.login('ann', 'ann-password', 'acme', '127.0.0.1');
    await users.setRole('ann', 'acme', 'viewer', 'test');
    assert.equal((await users.session(s3.secret))?.role, 'viewer');
    await users.dropRole('ann', 'acme', 'test');
    assert.equal(await users.session(s3.secret), undefined, 'no role, no session');
    await assert.rejects(users.login('ann', 'ann-password', 'acme', '127.0.0.1'), (e: NubisError) => e.code === 'UNAUTHORIZED');
  } finally {
    await store.close();
  }
});

test('cookies, CSRF tokens and roles', () => {
  const secret = 'A'.repeat(43);
  assert.equal(sessionFromCookie(`a=b; nubis_session=${secret}; c=d`), secret);
  assert.equal(sessionFromCookie('nubis_session=short'), undefined);
  assert.equal(csrfMatches(secret, csrfTokenOf(secret)), true);
  assert.equal(csrfMatches(secret, csrfTokenOf('B'.repeat(43))), false);
  assert.equal(csrfMatches(secret, undefined), false);
  assert.equal(roleAtLeast('operator', 'viewer'), true);
  assert.equal(roleAtLeast('operator', 'admin'), false);
  assert.equal(lesserRole('admin', 'viewer'), 'viewer');
});

const schema = checkParametersSchema({
  type: 'object', required: ['site'],
  properties: {
    site: { type: 'string', pattern: '^[a-z]+$' },
    count: { type: 'integer', minimum: 1, maximum: 5, default: 2 },
    fast: { type: 'boolean', default: false },
    size: { type: 'string', enum: ['s', 'm'], default: 's' },
  },
});

test('parameter schemas: the supported subset, sane bounds required, each problem by JSON path', () => {
  const problems = (s: unknown): string[] => {
    try {
      checkParametersSchema(s);
      return [];
    } catch (e) {
      return ((e as NubisError).details as { problems: string[] }).problems;
    }
  };
  assert.deepEqual(problems({ type: 'array' }), ['$.parameters.type: expected "object", found string "array"']);
  assert.deepEqual(problems({ type: 'object', properties: { n: { type: 'number' } } }), [
    '$.parameters.properties.n: a number parameter needs a minimum (sane values)',
    '$.parameters.properties.n: a number parameter needs a maximum (sane values)',
  ]);
  assert.deepEqual(problems({ type: 'object', properties: { s: { type: 'string', maxLength: 3, default: 'long' } } }), [
    '$.parameters.properties.s.default: expected a string of at most 3 characters, found string "long"',
  ]);
  assert.deepEqual(problems({ type: 'object', properties: { s: { type: 'string', pattern: '(' } } })[0]!.startsWith('$.parameters.properties.s.pattern: not a regular expression'), true);
  assert.deepEqual(problems({ type: 'object', required: ['x'], properties: {} }), ['$.parameters.required[0]: "x" is not a declared parameter']);
  assert.deepEqual(problems({ type: 'object', additionalProperties: true }), ['$.parameters.additionalProperties: expected false (unknown parameters are always refused), found boolean true']);
  assert.deepEqual(resolveParams(schema, { site: 'abc' }), { site: 'abc', count: 2, fast: false, size: 's' });
  assert.throws(() => resolveParams(schema, { site: 'abc', count: 2.5, size: 'xl' }), (e: NubisError) => {
    assert.equal(e.code, 'CATALOG_PARAMS_INVALID');
    assert.deepEqual((e.details as { problems: string[] }).problems, ['$.params.count: expected integer, found number 2.5', '$.params.size: expected one of "s", "m", found string "xl"']);
    return true;
  });
});

test('templates: typed whole-value substitution, text inside strings, escapes and shell variables left alone, structure unchangeable', () => {
  const text = `name: t
components:
  app:
    instances: { count: "\${params.count}" }
    env: { SITE: "site-\${params.site}", LIT: "$\${params.site}", SHELL: "\${HOME}", FAST: "\${params.fast}" }
    lifecycle:
      start: |
        echo \${params.site} $NUBIS_PORT_HTTP
`;
  assert.deepEqual(templateReferences(text, 't.yaml').map((r) => r.name), ['count', 'site', 'fast', 'site']);
  const out = renderTemplate(text, 't.yaml', { count: 3, site: 'a: b\n- c', fast: true }, 'mine');
  assert.match(out, /^name: mine$/m);
  assert.match(out, /count: 3\b/);
  assert.match(out, /LIT: "\$\{params\.site\}"/);
  assert.match(out, /SHELL: "\$\{HOME\}"/);
  assert.match(out, /FAST: true/);
  // a value with YAML syntax stays one string
  assert.match(renderTemplate('name: x\na: "${params.site}"\n', 'x', { site: 'b: c\nd: [e]' }, 'x'), /^name: x\na: "b: c\\nd: \[e\]"\n$/);
});
