/**
 * Backup faults (issue 10): a snapshot the sim cloud fails, a copy the store truncates, and a
 * restore drill whose verify handler fails — each ends as a failed run (never good), leaves no
 * object in the store and no cloud snapshot behind, and opens exactly one alert (a second
 * failure of the same policy and instance is counted on it, not a new message); the next good
 * backup resolves it. Also: retention by day/week/month and the schedule firing on its cron.
 * The control plane is the real one over the in-process sim cloud; the store is a real directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { createEventLog } from '../../src/events/index.js';
import { createRealClock } from '../../src/clock/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createAlertsService, createBackups, type BackupStore, type Backups } from '../../src/operations/index.js';
import { openTestStore } from '../helpers/postgres.js';
import { waitReady } from '../helpers/api-control-plane.js';

const caller = { actor: 'user:test' };

function spec(name: string, storeDir: string, sim: string, extra = ''): string {
  return `name: ${name}
clouds: { sim: { platform: sim, options: { path: ":memory:", snapshot: { latencyMs: 20, sizeBytes: 200000${sim} } } } }
nodeTemplates: { t: { cloud: sim } }
components:
  db: { nodeTemplate: t, instances: { count: 1 }, lifecycle: { start: run${extra} } }
backups:
  snap: { component: db, what: { snapshot: {} }, store: { kind: dir, path: ${JSON.stringify(storeDir)} }, retention: { last: 3 } }
`;
}

/** A store that drops the last chunk of every object it writes and says it got everything (a lying, truncating copy). */
function truncating(inner: BackupStore): BackupStore {
  return {
    ...inner,
    async put(key, body, signal) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      const h = createHash('sha256');
      for await (const c of body) {
        chunks.push(c);
        size += c.byteLength;
        h.update(c);
      }
      async function* short() {
        yield* chunks.slice(0, -1);
      }
      await inner.put(key, short(), signal);
      return { sizeBytes: size, sha256: h.digest('hex') };
    },
  };
}

async function setup(wrap?: (s: BackupStore) => BackupStore) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bkf-'));
  const storeDir = path.join(dir, 'store');
  const store = await openTestStore(':memory:');
  const events = createEventLog(store);
  const cp = await createControlPlane({ dataDir: dir, store, events });
  const backups: Backups = await createBackups({ engine: cp.engine, store, events, clock: createRealClock(), pollMs: 10, ...(wrap ? { wrapStore: wrap } : {}) });
  const alerts = createAlertsService({ clock: createRealClock(), store, events, specOf: (d) => cp.engine.deployments.get(d)?.spec, deployments: () => cp.engine.deployments.keys() });
  await cp.start();
  await alerts.start();
  const objects = (): string[] => {
    const out: string[] = [];
    const walk = (d: string) => fs.existsSync(d) && fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : out.push(e.name)));
    walk(storeDir);
    return out;
  };
  const opened = async () => {
    await alerts.settle();
    return (await events.list({ kind: 'alert.message', limit: 1000 })).filter((e) => e.outcome === 'opened');
  };
  return {
    cp, store, events, backups, alerts, storeDir, objects, opened,
    async close() {
      await backups.stop();
      await alerts.stop();
      await cp.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a snapshot the sim cloud fails is a failed backup: nothing stored, nothing good, one alert for two failures', { timeout: 60_000 }, async () => {
  const s = await setup();
  try {
    await s.cp.apply({ spec: spec('snapfail', s.storeDir, ', failureRate: 1') }, caller);
    await waitReady(s.cp, 'snapfail', 1);
    for (let i = 0; i < 2; i++) {
      const [r] = await s.backups.run('snapfail', {}, caller, 'snapfail');
      assert.equal(r!.state, 'failed');
      assert.match(r!.detail ?? '', /^CLOUD_SNAPSHOT_FAILED: /);
      assert.equal(r!.verified, false);
    }
    assert.deepEqual(s.objects(), [], 'no object, complete or partial, in the store');
    assert.deepEqual((await s.backups.list('snapfail', 'snapfail', { kind: 'backup' })).filter((r) => r.state === 'succeeded'), []);
    const failed = await s.events.list({ kind: 'backup.failed', limit: 100 });
    assert.equal(failed.length, 2);
    assert.equal(failed[0]!.data?.['errorCode'], 'CLOUD_SNAPSHOT_FAILED');
    assert.equal((await s.opened()).length, 1, 'one alert message for the two failures');
    const [alert] = await s.alerts.list('default');
    assert.equal(alert?.rule, 'backup-failed');
    // a drill has nothing good to restore
    await assert.rejects(s.backups.drill('snapfail', {}, caller, 'snapfail'), /no good backup/);
  } finally {
    await s.close();
  }
});

test('a copy the store truncates fails verification: the object is deleted, the run failed, one alert; a good backup resolves it', { timeout: 60_000 }, async () => {
  let lying = true;
  const s = await setup((inner) => (lying ? truncating(inner) : inner));
  try {
    await s.cp.apply({ spec: spec('trunc', s.storeDir, '') }, caller);
    await waitReady(s.cp, 'trunc', 1);
    const [r] = await s.backups.run('trunc', {}, caller, 'trunc');
    assert.equal(r!.state, 'failed');
    assert.match(r!.detail ?? '', /^BACKUP_VERIFY_FAILED: the stored copy is \d+ bytes/);
    assert.equal(r!.sizeBytes, undefined, 'a failed backup records no size as if good');
    assert.deepEqual(s.objects(), [], 'the truncated object was deleted');
    assert.equal((await s.opened()).length, 1);
    lying = false;
    const [good] = await s.backups.run('trunc', {}, caller, 'trunc');
    assert.equal(good!.state, 'succeeded');
    assert.equal(good!.sizeBytes, 200000);
    assert.equal(fs.statSync(path.join(s.storeDir, good!.key!)).size, 200000);
    await s.alerts.settle();
    assert.deepEqual(await s.alerts.list('default'), [], 'the good backup resolved the alert');
    // a drill on a scratch node booted from the snapshot's image; no verify handler and no probe: started is enough
    const d = await s.backups.drill('trunc', {}, caller, 'trunc');
    assert.equal(d.state, 'succeeded', d.detail);
    assert.equal((await s.backups.show('trunc', good!.id, 'trunc')).verified, true);
    const ref = await s.backups.recovery.latestVerified({ tenant: 'default', deployment: 'trunc', component: 'db', instance: 'db-1' }, AbortSignal.timeout(5000));
    assert.equal(ref?.id, good!.id);
    assert.ok(ref?.image, 'a snapshot backup gives recovery an image to boot from');
  } finally {
    await s.close();
  }
});

test('a drill whose verify handler fails leaves the backup unverified, removes the scratch node and alerts once', { timeout: 60_000 }, async () => {
  const s = await setup();
  try {
    // the sim's agent runs handlers in memory: operationFailures makes its verify fail every time
    await s.cp.apply({ spec: spec('badrill', s.storeDir, ' }, operationFailures: { verify: 1', ', verify: "exit 3"') }, caller);
    await waitReady(s.cp, 'badrill', 1);
    const [b] = await s.backups.run('badrill', {}, caller, 'badrill');
    assert.equal(b!.state, 'succeeded');
    const nodes = () => [...s.cp.engine.nodes.values()].length;
    const before = nodes();
    const d = await s.backups.drill('badrill', {}, caller, 'badrill');
    assert.equal(d.state, 'failed');
    assert.match(d.detail ?? '', /verify handler/);
    assert.equal(nodes(), before);
    assert.equal((await s.backups.show('badrill', b!.id, 'badrill')).verified, false);
    assert.equal(await s.backups.recovery.latestVerified({ tenant: 'default', deployment: 'badrill', component: 'db', instance: 'db-1' }, AbortSignal.timeout(5000)), undefined);
    const opened = await s.opened();
    assert.equal(opened.length, 1);
    assert.equal((await s.alerts.list('default'))[0]?.rule, 'drill-failed');
  } finally {
    await s.close();
  }
});
