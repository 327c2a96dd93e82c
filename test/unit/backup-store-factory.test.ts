/** openBackupStore: each store kind from a policy's `where`, and a precise REQUEST_INVALID naming the bad field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openBackupStore } from '../../src/operations/backups/stores/index.js';
import { isNubisError } from '../../src/errors/index.js';
import { pseudoRandom } from '../helpers/store-conformance.js';
import { startStandinS3 } from '../helpers/standin-s3.js';

const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const sftp = { kind: 'sftp', host: '10.0.0.5', user: 'backup', path: '/srv/backups', hostKey: FP };
const s3 = { kind: 's3', bucket: 'nubis-backups', prefix: 'prod/', endpoint: 'http://127.0.0.1:9', forcePathStyle: true };
const s3keys = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret-value' };
const never = new AbortController().signal;

function invalid(f: () => unknown, field: string, re: RegExp): void {
  try {
    f();
  } catch (e) {
    assert.ok(isNubisError(e), String(e));
    assert.equal(e.code, 'REQUEST_INVALID');
    assert.equal((e.details as { path: string }).path, field, e.message);
    assert.ok(e.message.startsWith(`${field}:`), e.message);
    assert.match(e.message, re);
    for (const secret of ['very-secret-value', 'hunter2', 'PRIVATE KEY']) assert.ok(!e.message.includes(secret), `no secret in ${e.message}`);
    return;
  }
  assert.fail(`expected REQUEST_INVALID at ${field}`);
}

test('each kind opens its store; describe names it without secrets', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-factory-'));
  try {
    const d = openBackupStore({ kind: 'dir', path: dir });
    assert.equal(d.kind, 'dir');
    await d.put('a/b', pseudoRandom(10), never);
    assert.deepEqual((await d.list('', never)).map((o) => o.key), ['a/b']);
    const s = openBackupStore({ ...sftp, port: 2222, credential: 'backup-key' }, { password: 'hunter2' });
    assert.equal(s.kind, 'sftp');
    assert.equal(s.describe, 'sftp:backup@10.0.0.5:2222/srv/backups');
    await s.close();
    const b = openBackupStore({ ...s3, region: 'eu-west-1', credential: 'bucket-key' }, s3keys);
    assert.equal(b.kind, 's3');
    assert.equal(b.describe, 's3:nubis-backups/prod/');
    assert.ok(!b.describe.includes('AKIA'));
    await b.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the s3 store the factory opens talks to the endpoint with the given keys', async () => {
  const standin = await startStandinS3({ bucket: 'nubis-backups', ...s3keys });
  const b = openBackupStore({ ...s3, endpoint: standin.endpoint }, s3keys);
  try {
    await b.put('x/y', pseudoRandom(1000), never);
    assert.ok(standin.objects.has('prod/x/y'));
  } finally {
    await b.close();
    await standin.close();
  }
});

test('bad configs name the field, say what was expected and open nothing', () => {
  invalid(() => openBackupStore('dir:/x'), 'where', /a store object/);
  invalid(() => openBackupStore({ kind: 'ftp' }, {}, 'backups[2].where'), 'backups[2].where.kind', /one of dir, sftp, s3, found "ftp"/);
  invalid(() => openBackupStore({ kind: 'dir', path: 'relative/dir' }), 'where.path', /absolute/);
  invalid(() => openBackupStore({ kind: 'dir', path: '/x', bucket: 'b' }), 'where.bucket', /no such field on a dir store/);
  invalid(() => openBackupStore({ kind: 'dir' }), 'where.path', /a dir store needs path/);
  invalid(() => openBackupStore({ ...sftp, host: undefined }, { password: 'hunter2' }), 'where.host', /needs host, user, path, hostKey/);
  invalid(() => openBackupStore({ ...sftp, hostKey: 'ssh-ed25519 AAAA' }, { password: 'hunter2' }), 'where.hostKey', /SHA256:<43 base64 characters>/);
  invalid(() => openBackupStore({ ...sftp, port: 70000 }, { password: 'hunter2' }), 'where.port', /1\.\.65535, found 70000/);
  invalid(() => openBackupStore({ ...sftp, path: 'srv' }, { password: 'hunter2' }), 'where.path', /absolute remote directory/);
  invalid(() => openBackupStore(sftp, {}), 'where.credential', /privateKey or password/);
  invalid(() => openBackupStore(sftp, { password: 42 as unknown as string }), 'where.credential.password', /value is not shown/);
  invalid(() => openBackupStore({ ...s3, bucket: 'Bad_Bucket' }, s3keys), 'where.bucket', /S3 bucket name/);
  invalid(() => openBackupStore({ ...s3, prefix: '/abs' }, s3keys), 'where.prefix', /\/-terminated/);
  invalid(() => openBackupStore({ ...s3, endpoint: 'ftp://x' }, s3keys), 'where.endpoint', /http\(s\) URL/);
  invalid(() => openBackupStore({ ...s3, forcePathStyle: 'yes' }, s3keys), 'where.forcePathStyle', /true or false/);
  invalid(() => openBackupStore({ ...s3, host: 'x' }, s3keys), 'where.host', /no such field on a s3 store/);
  invalid(() => openBackupStore(s3, { accessKeyId: 'AKIA' }), 'where.credential', /accessKeyId and secretAccessKey/);
});
