/**
 * Secret env values: sealing is deterministic (the same spec applied twice changes nothing),
 * bound to its place (a sealed value moved to another variable does not open), refuses another
 * key, and the spec text keeps no value in any YAML style.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { maskSecrets, openSecretEnv, parseSpec, redactSpecText, sealSpecSecrets } from '../../src/model/index.js';
import { isNubisError } from '../../src/errors/index.js';

const key = (b = crypto.randomBytes(32)): { bytes: Buffer; id: string } => ({ bytes: b, id: crypto.createHash('sha256').update(b).digest('hex').slice(0, 16) });
const TEXT = `name: shop
clouds: { sim: { platform: sim } }
nodeTemplates: { t: { cloud: sim } }
components:
  db:
    nodeTemplate: t
    env:
      PLAIN: visible
      A: { secret: "alpha-value" }
      B:
        secret: |
          beta-line-1
          beta-line-2
      C: { secret: 'gamma''s' }   # gamma
`;

test('sealed values open for the handler only, deterministically, and only in their place under their key', () => {
  const k = key();
  const spec = parseSpec(TEXT, { file: 'spec.yaml' });
  assert.deepEqual(spec.components['db']!.env, { PLAIN: 'visible' });
  const one = sealSpecSecrets(spec, 'shop', k);
  const two = sealSpecSecrets(parseSpec(TEXT, { file: 'spec.yaml' }), 'shop', k);
  assert.deepEqual(one.spec, two.spec, 'the same spec seals to the same text');
  assert.deepEqual(one.plain.sort(), ['alpha-value', 'beta-line-1\nbeta-line-2\n', "gamma's"]);
  const stored = JSON.stringify(one.spec);
  for (const p of one.plain) assert.ok(!stored.includes(p.split('\n')[0]!));
  const db = JSON.parse(stored).components.db;
  assert.deepEqual(openSecretEnv(db, 'shop', k), { A: 'alpha-value', B: 'beta-line-1\nbeta-line-2\n', C: "gamma's" });
  const codeOf = (f: () => unknown): string => {
    try {
      f();
      return 'opened';
    } catch (e) {
      return isNubisError(e) ? e.code : String(e);
    }
  };
  assert.equal(codeOf(() => openSecretEnv(db, 'shop', key())), 'CREDENTIAL_KEY_MISMATCH');
  assert.equal(codeOf(() => openSecretEnv(db, 'other', k)), 'CREDENTIAL_TAMPERED');
  const moved = { ...db, secretEnv: { A: db.secretEnv.B } };
  assert.equal(codeOf(() => openSecretEnv(moved, 'shop', k)), 'CREDENTIAL_TAMPERED');
});

test('the stored spec text shows *** for every secret, in flow, block and quoted styles, and keeps the rest', () => {
  const spec = parseSpec(TEXT, { file: 'spec.yaml' });
  const { plain } = sealSpecSecrets(spec, 'shop', key());
  const red = redactSpecText(TEXT, plain);
  for (const s of ['alpha-value', 'beta-line', "gamma''s", "gamma's"]) assert.ok(!red.includes(s), `${s} in ${red}`);
  assert.match(red, /A: \{ secret: "\*\*\*" \}/);
  assert.match(red, /C: \{ secret: "\*\*\*" \}   # gamma/);
  assert.match(red, /PLAIN: visible/);
  assert.equal(parseSpec(red, { file: 'spec.yaml' }).components['db']!.secretEnv?.['B'] !== undefined, true, 'the redacted text still parses');
  assert.equal(maskSecrets('pw=alpha-value; x=ab', ['alpha-value', 'ab']), 'pw=***; x=ab');
});
