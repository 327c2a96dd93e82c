/**
 * The directory store on a file system that fills up: a 4 MiB tmpfs mounted by the test (needs
 * root; unmounted in finally). The put that does not fit is BACKUP_STORE_FULL and leaves
 * nothing behind, listed or not; what fitted before is still there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDirStore } from '../../src/operations/backups/stores/index.js';
import { requireRoot } from '../helpers/ssh-hosts.js';
import { failure, pseudoRandom } from '../helpers/store-conformance.js';

const never = new AbortController().signal;

test('dir store: a full file system is BACKUP_STORE_FULL and leaves no partial file', { timeout: 120_000 }, async () => {
  requireRoot();
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-dirfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'nubis-dirfull', mnt]);
  try {
    const s = createDirStore({ path: path.join(mnt, 'backups') });
    await s.put('a/fits', pseudoRandom(100_000), never);
    const e = await failure(s.put('a/too-big', pseudoRandom(16 * 1024 * 1024), never));
    assert.equal(e.code, 'BACKUP_STORE_FULL', e.message);
    assert.equal(e.retryable, false);
    assert.deepEqual((await s.list('', never)).map((o) => o.key), ['a/fits']);
    assert.deepEqual(fs.readdirSync(path.join(mnt, 'backups', 'a')), ['fits'], 'no partial left');
  } finally {
    execFileSync('umount', [mnt]);
    fs.rmdirSync(mnt);
  }
});
