/**
 * cloudsigma snapshots against the CloudSigma API 2.0 stand-in (test/helpers/standin-cloudsigma.ts
 * and standin-cloudsigma-snapshots.ts, from the API 2.0 documentation, "Snapshots"): one POST
 * /snapshots/ for the boot drive and the other disks (CD-ROMs left out), creating → available,
 * DELETE (404 is done). What was sent is read from the stand-in's request log. No real
 * CloudSigma is contacted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import type { Driver, SnapshotRef } from '../../src/drivers/driver.js';
import { createCloudSigmaDriver } from '../../src/drivers/cloudsigma/index.js';
import { wrapDriver } from '../../src/drivers/runtime.js';
import { startCloudSigmaStandin, type CloudSigmaStandin } from '../helpers/standin-cloudsigma.js';

const sig = (): AbortSignal => new AbortController().signal;

describe('cloudsigma snapshots over the stand-in', () => {
  let s: CloudSigmaStandin;
  let d: Driver;
  let dir: string;
  let server: string;
  const poll = async (ref: SnapshotRef): Promise<string> => {
    for (;;) {
      const st = await d.snapshotStatus!(ref, sig());
      if (st !== 'pending') return st;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const sentPosts = (from: number): string[] => s.requests.slice(from).filter((l) => l.startsWith('POST /api/2.0/snapshots/'));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-cssnap-'));
    s = await startCloudSigmaStandin({ username: 'u@example.com', password: 'canary-cs-pass', transitionMs: 10, cloneMs: 0, snapshotMs: 50 });
    // a server with a boot disk, a CD-ROM and a data disk
    server = s.addSourceServer('db');
    const data = s.addDrive('db-data');
    s.servers().find((x) => x.uuid === server)!.drives.push(data);
    const inner = createCloudSigmaDriver({
      cloud: 'cs-snap', options: { endpoint: s.url, cloneFrom: server, pollMs: 10 }, dataDir: dir, clock: createRealClock(),
      credentials: { username: 'u@example.com', password: 'canary-cs-pass' },
    });
    d = wrapDriver(inner, { cloud: 'cs-snap', clock: createRealClock(), retry: { baseMs: 5 } });
  });
  after(async () => {
    await d.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one POST for the boot disk and the data disk (not the CD-ROM), meta carries the tags, creating → available, delete twice', async () => {
    const from = s.requests.length;
    const ref = await d.snapshot!(server, { name: 'nubis-b1', tags: { 'nubis-backup': 'b1' }, volumes: true }, sig());
    const posts = sentPosts(from);
    assert.equal(posts.length, 1, 'one POST /snapshots/ for all drives');
    const body = JSON.parse(posts[0]!.split(' ').slice(2).join(' ')) as { objects: { drive: string; meta: Record<string, string> }[] };
    const srv = s.servers().find((x) => x.uuid === server)!;
    assert.deepEqual(body.objects.map((o) => o.drive), [srv.drives[0], srv.drives[2]], 'boot disk first, the CD-ROM left out');
    assert.ok(body.objects.every((o) => o.meta['nubis-backup'] === 'b1'));
    assert.equal(ref.parts?.length, 1);
    assert.equal(await poll(ref), 'ready');
    await assert.rejects(d.readSnapshot!(ref, sig()), { code: 'CLOUD_UNSUPPORTED', retryable: false });
    await d.deleteSnapshot!(ref, sig());
    assert.equal(s.snapshots().length, 0, 'image and part deleted');
    await d.deleteSnapshot!(ref, sig());
    assert.equal(await d.snapshotStatus!(ref, sig()), 'gone');
    assert.equal(s.requests.slice(from).filter((l) => l.startsWith('DELETE /api/2.0/snapshots/')).length, 4, 'two deletes of two snapshots, the second pair answered 404');
  });

  it('without volumes only the boot disk; a failed snapshot is error; an unknown server is CLOUD_NOT_FOUND; a 503 on create is retryable and not retried', async () => {
    const ref = await d.snapshot!(server, { name: 'nubis-b2', tags: {}, volumes: false }, sig());
    assert.equal(ref.parts, undefined);
    await poll(ref);
    await d.deleteSnapshot!(ref, sig());
    s.failSnapshots(1);
    const bad = await d.snapshot!(server, { name: 'nubis-b3', tags: {}, volumes: true }, sig());
    assert.equal(await poll(bad), 'error');
    await d.deleteSnapshot!(bad, sig());
    await assert.rejects(d.snapshot!('00000000-0000-4000-8000-000000000000', { name: 'x', tags: {}, volumes: true }, sig()), { code: 'CLOUD_NOT_FOUND' });
    await assert.rejects(d.snapshot!('drive:abc', { name: 'x', tags: {}, volumes: true }, sig()), { code: 'CLOUD_NOT_FOUND' });
    s.fail('snapshots.create', { status: 503 });
    const before = s.received('snapshots.create');
    const held = s.snapshots().length;
    await assert.rejects(d.snapshot!(server, { name: 'nubis-b4', tags: {}, volumes: true }, sig()), { code: 'CLOUD_UNAVAILABLE', retryable: true });
    assert.equal(s.received('snapshots.create') - before, 1);
    assert.equal(s.snapshots().length, held, 'a refused POST leaves nothing');
    assert.equal(held, 0, 'every earlier snapshot was deleted');
  });
});
