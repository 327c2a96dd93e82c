/**
 * Credentials at rest: AES-256-GCM sealing with a per-value nonce and associated data, the
 * key outside the database (NUBIS_KEY or a 0600 key file), clear failures for a wrong key and
 * for tampering, and key rotation that keeps every credential usable (also after a crash).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { NubisError } from '../../src/errors/index.js';
import {
  createRegistry, credentialAad, keyFilePath, keyId, open, parseKey, resolveKey, rotateKey, seal, settleKeyFiles, writeKeyFile, type SecretKey,
} from '../../src/registry/index.js';
import { tempDir } from '../helpers/control-plane.js';
import { openTestStore } from '../helpers/postgres.js';

const code = (e: unknown): string => (e instanceof NubisError ? e.code : String(e));
const key = (): Buffer => crypto.randomBytes(32);

test('seal then open gives the plaintext back; every seal uses a new nonce', () => {
  const k = key();
  const aad = credentialAad('default', 'aws');
  const a = seal(k, '{"secret":"s3cr3t"}', aad);
  const b = seal(k, '{"secret":"s3cr3t"}', aad);
  assert.notEqual(a, b);
  assert.notEqual(Buffer.from(a, 'base64').subarray(0, 12).toString('hex'), Buffer.from(b, 'base64').subarray(0, 12).toString('hex'));
  assert.equal(a.includes('s3cr3t'), false);
  assert.equal(open(k, a, aad, keyId(k), 'credential aws'), '{"secret":"s3cr3t"}');
});

test('a wrong key cannot open: CREDENTIAL_KEY_MISMATCH, even when the stored key id is forged', () => {
  const k = key();
  const other = key();
  const aad = credentialAad('default', 'aws');
  const sealed = seal(k, 'value', aad);
  assert.throws(() => open(other, sealed, aad, keyId(k), 'credential aws'), (e) => code(e) === 'CREDENTIAL_KEY_MISMATCH' && !String((e as Error).message).includes('value'));
  // with the id check passed, GCM's tag still refuses the wrong key
  assert.throws(() => open(other, sealed, aad, keyId(other), 'credential aws'), (e) => code(e) === 'CREDENTIAL_TAMPERED');
});

test('tampered ciphertext, tag or nonce, a value moved to another credential, and truncation all fail', () => {
  const k = key();
  const aad = credentialAad('default', 'aws');
  const raw = Buffer.from(seal(k, 'the secret value', aad), 'base64');
  for (const at of [0, 12, 28, raw.length - 1]) {
    const bad = Buffer.from(raw);
    bad[at] = bad[at]! ^ 0x01;
    assert.throws(() => open(k, bad.toString('base64'), aad, keyId(k), 'c'), (e) => code(e) === 'CREDENTIAL_TAMPERED', `byte ${at}`);
  }
  assert.throws(() => open(k, raw.toString('base64'), credentialAad('default', 'gcp'), keyId(k), 'c'), (e) => code(e) === 'CREDENTIAL_TAMPERED');
  assert.throws(() => open(k, raw.toString('base64'), credentialAad('other', 'aws'), keyId(k), 'c'), (e) => code(e) === 'CREDENTIAL_TAMPERED');
  assert.throws(() => open(k, raw.subarray(0, 20).toString('base64'), aad, keyId(k), 'c'), (e) => code(e) === 'CREDENTIAL_TAMPERED');
});

test('the key file is created with mode 0600 at first use and reused after; NUBIS_KEY wins; malformed keys are refused', () => {
  const dir = tempDir('nubis-key-');
  try {
    const first = resolveKey(dir, {});
    assert.equal(first.created, true);
    assert.equal(first.source, 'file');
    const file = keyFilePath(dir);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64').length, 32);
    const again = resolveKey(dir, {});
    assert.equal(again.created, undefined);
    assert.equal(again.id, first.id);
    const envKey = key();
    const fromEnv = resolveKey(dir, { NUBIS_KEY: envKey.toString('base64') });
    assert.equal(fromEnv.source, 'env');
    assert.equal(fromEnv.id, keyId(envKey));
    assert.throws(() => resolveKey(dir, { NUBIS_KEY: 'dG9vIHNob3J0' }), (e) => code(e) === 'CREDENTIAL_KEY_INVALID' && !(e as Error).message.includes('dG9v'));
    assert.throws(() => parseKey('not base64 !!', 'x'), (e) => code(e) === 'CREDENTIAL_KEY_INVALID');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function withRegistry<T>(dir: string, k: SecretKey, fn: (r: ReturnType<typeof createRegistry>) => Promise<T>): Promise<T> {
  const store = await openTestStore(path.join(dir, 'nubis.db'));
  const r = createRegistry({ store, clock: createRealClock(), key: k, dataDir: dir, factories: {}, refreshIntervalMs: 0 });
  await r.start();
  try {
    return await fn(r);
  } finally {
    await r.stop();
    await store.close();
  }
}

test('the registry stores only sealed values and field names; views and events never carry a value', async () => {
  const dir = tempDir('nubis-cred-');
  const canary = `CANARY-${crypto.randomBytes(8).toString('hex')}`;
  try {
    const k = resolveKey(dir, {});
    await withRegistry(dir, k, async (r) => {
      const { credential, created } = await r.setCredential('default', 'aws', { access_key_id: 'AKIA1', secret_access_key: canary }, { actor: 'user:test' });
      assert.equal(created, true);
      assert.deepEqual(credential.fields, ['access_key_id', 'secret_access_key']);
      assert.equal(JSON.stringify(r.listCredentials('default')).includes(canary), false);
      assert.deepEqual(r.secrets('default', 'aws'), { access_key_id: 'AKIA1', secret_access_key: canary });
      await assert.rejects(r.setCredential('default', 'bad', { n: 5 }, { actor: 't' }), (e) => code(e) === 'REQUEST_INVALID');
      await assert.rejects(r.setCredential('default', 'bad', { [`${canary} !`]: 'x' }, { actor: 't' }), (e) => code(e) === 'REQUEST_INVALID' && !(e as Error).message.includes(canary));
      assert.throws(() => r.secrets('default', 'nope'), (e) => code(e) === 'NOT_FOUND');
    });
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith('secret.key')) continue;
      assert.equal(fs.readFileSync(path.join(dir, f)).includes(canary), false, `${f} holds the canary`);
    }
    // another key cannot open what is stored
    await withRegistry(dir, { ...k, bytes: key(), id: keyId(key()) }, async (r) => {
      assert.throws(() => r.secrets('default', 'aws'), (e) => code(e) === 'CREDENTIAL_KEY_MISMATCH');
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation re-seals every credential of every tenant in one go; the old key no longer opens them', async () => {
  const dir = tempDir('nubis-rotate-');
  try {
    const before = resolveKey(dir, {});
    const values: Record<string, Record<string, string>> = {};
    await withRegistry(dir, before, async (r) => {
      for (const [tenant, name] of [['default', 'aws'], ['default', 'sigma'], ['team-b', 'aws']] as const) {
        const fields = { user: `${tenant}-${name}`, password: crypto.randomBytes(6).toString('hex') };
        values[`${tenant}/${name}`] = fields;
        await r.setCredential(tenant, name, fields, { actor: 't' });
      }
    });
    const store = await openTestStore(path.join(dir, 'nubis.db'));
    const result = await rotateKey(dir, store, {});
    await store.close();
    assert.equal(result.count, 3);
    assert.equal(result.oldKeyId, before.id);
    assert.notEqual(result.newKeyId, before.id);
    assert.equal(fs.existsSync(`${keyFilePath(dir)}.old`), false);
    assert.equal(fs.existsSync(`${keyFilePath(dir)}.new`), false);
    assert.equal(fs.statSync(keyFilePath(dir)).mode & 0o777, 0o600);
    const after = resolveKey(dir, {});
    assert.equal(after.id, result.newKeyId);
    await withRegistry(dir, after, async (r) => {
      for (const [k, fields] of Object.entries(values)) {
        const [tenant, name] = k.split('/') as [string, string];
        assert.deepEqual(r.secrets(tenant, name), fields);
      }
    });
    await withRegistry(dir, before, async (r) => {
      assert.throws(() => r.secrets('default', 'aws'), (e) => code(e) === 'CREDENTIAL_KEY_MISMATCH');
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a rotation cut short after its commit is settled at the next start: the key that matches the database is kept', async () => {
  const dir = tempDir('nubis-settle-');
  try {
    const old = resolveKey(dir, {});
    await withRegistry(dir, old, (r) => r.setCredential('default', 'aws', { password: 'p1' }, { actor: 't' }));
    // simulate: new key written, old copied, credentials re-sealed and committed, then a crash
    const fresh = key();
    const store = await openTestStore(path.join(dir, 'nubis.db'));
    const rows = await store.registry.credentials();
    const aad = credentialAad('default', 'aws');
    await store.registry.resealCredentials(rows.map((x) => ({ ...x, sealed: seal(fresh, open(old.bytes, x.sealed, aad, x.key_id, 'c'), aad), key_id: keyId(fresh) })));
    writeKeyFile(`${keyFilePath(dir)}.new`, fresh);
    fs.copyFileSync(keyFilePath(dir), `${keyFilePath(dir)}.old`);
    await settleKeyFiles(dir, store);
    await store.close();
    assert.equal(resolveKey(dir, {}).id, keyId(fresh));
    assert.equal(fs.existsSync(`${keyFilePath(dir)}.old`), false);
    await withRegistry(dir, resolveKey(dir, {}), async (r) => assert.deepEqual(r.secrets('default', 'aws'), { password: 'p1' }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
