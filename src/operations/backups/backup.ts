/**
 * One backup of one instance. The source is either an archive streamed from the node's agent
 * (`local`, `ssh`: a tar of the listed paths and of the `backup` handler's dump, with the size and
 * SHA-256 the agent counted as it sent it) or a cloud snapshot (`sim`, `openstack`: the driver's
 * snapshot, polled until ready, read back with the cloud's checksum checked). The bytes go to the
 * store, which makes them visible only once complete; then the store reads its copy back and
 * its size and SHA-256 must equal the source's. Anything else — a snapshot the cloud failed, a
 * store that fills up, a short or altered copy, a control plane that stops — is a failed backup:
 * the object and the snapshot are deleted, `backup.failed` is recorded (one alert), and nothing
 * is listed as good.
 */
import { abortAfter } from '../../clock/index.js';
import { snapshotCall, type Driver, type SnapshotRef } from '../../drivers/index.js';
import type { Deployment, InstanceRec } from '../../engine/index.js';
import { NubisError } from '../../errors/index.js';
import type { BackupPolicySpec } from '../../model/index.js';
import type { BackupRunRow } from '../../store/index.js';
import { counted, type BackupsContext, type RunCause } from './context.js';
import { runHandler, DUMP_DIR } from './handlers.js';
import type { BackupStore } from './stores/index.js';

/** What the source recorded. */
interface Digest {
  sizeBytes: number;
  sha256: string;
}

const same = (a: Digest, b: Digest): boolean => a.sizeBytes === b.sizeBytes && a.sha256 === b.sha256;

/** The key of a backup's object: `<deployment id>/<policy>/<instance>/<run id>.<tar|img>`. */
export function objectKey(row: BackupRunRow): string {
  return `${row.deployment}/${row.policy}/${row.instance}/${row.id}.${row.what === 'snapshot' ? 'img' : 'tar'}`;
}

async function archiveSource(x: BackupsContext, d: Deployment, p: BackupPolicySpec, inst: InstanceRec, row: BackupRunRow, store: BackupStore, signal: AbortSignal): Promise<Digest> {
  const n = x.o.engine.nodes.get(inst.key)!;
  const agent = x.o.engine.cloudFor(d, n.cloud).driver.agent(n.observed!);
  if (!agent.archive) throw new NubisError('CLOUD_UNSUPPORTED', `the agent of a ${n.cloud} node cannot archive instance files; back it up with what: { snapshot: {} }`);
  if (p.what.kind !== 'archive') throw new NubisError('INTERNAL', 'not an archive policy');
  const paths = [...p.what.paths];
  if (p.what.dump) {
    await runHandler(x, d, p, inst.name, 'backup', row, signal);
    paths.push(DUMP_DIR);
  }
  const a = await agent.archive(inst.name, paths, signal);
  const sent = await store.put(row.store_key!, a.bytes, signal);
  const source = a.source();
  if (!source) throw new NubisError('BACKUP_VERIFY_FAILED', 'the archive ended without the size and SHA-256 of its source');
  if (!same(sent, source)) throw new NubisError('BACKUP_VERIFY_FAILED', `the store took ${sent.sizeBytes} bytes (sha256 ${sent.sha256}); the node sent ${source.sizeBytes} (sha256 ${source.sha256})`);
  return source;
}

/** Polls the snapshot until the cloud says ready; CLOUD_SNAPSHOT_FAILED when it failed it or it vanished. */
async function snapshotReady(x: BackupsContext, driver: Driver, ref: SnapshotRef, signal: AbortSignal): Promise<void> {
  const status = snapshotCall(driver, 'snapshotStatus');
  for (;;) {
    const s = await status(ref, signal);
    if (s === 'ready') return;
    if (s === 'error') throw new NubisError('CLOUD_SNAPSHOT_FAILED', `the cloud failed snapshot ${ref.id} (it went to an error state)`);
    if (s === 'gone') throw new NubisError('CLOUD_SNAPSHOT_FAILED', `snapshot ${ref.id} vanished before it was ready`);
    await x.sleep(x.pollMs, signal);
  }
}

async function snapshotSource(x: BackupsContext, d: Deployment, p: BackupPolicySpec, inst: InstanceRec, row: BackupRunRow, store: BackupStore, signal: AbortSignal): Promise<Digest> {
  const n = x.o.engine.nodes.get(inst.key)!;
  if (!n.providerId) throw new NubisError('CONFLICT', `the node of ${inst.name} has no cloud id yet`);
  const driver = x.o.engine.cloudFor(d, n.cloud).driver;
  const tags = { 'nubis-backup': row.id, 'nubis-deployment': d.name, 'nubis-tenant': d.tenant };
  const ref = await snapshotCall(driver, 'snapshot')(n.providerId, { name: `nubis-${row.id}`, tags, volumes: p.what.kind === 'snapshot' && p.what.volumes }, signal);
  // the snapshot exists now: recorded before anything else, so a failure (or a restart) deletes it
  row.source_json = JSON.stringify({ cloud: n.cloud, ref });
  await x.save(row);
  await snapshotReady(x, driver, ref, signal);
  const c = counted(await snapshotCall(driver, 'readSnapshot')(ref, signal));
  const sent = await store.put(row.store_key!, c.bytes, signal);
  const source = c.result()!;
  if (ref.sha256 && ref.sha256 !== source.sha256) throw new NubisError('BACKUP_VERIFY_FAILED', `the snapshot read has sha256 ${source.sha256}, the cloud recorded ${ref.sha256}`);
  if (!same(sent, source)) throw new NubisError('BACKUP_VERIFY_FAILED', `the store took ${sent.sizeBytes} bytes; ${source.sizeBytes} were read from the cloud`);
  return source;
}

/** Deletes what a failed backup left: its object and its cloud snapshot (best effort; both are idempotent). */
export async function discard(x: BackupsContext, d: Deployment | undefined, row: BackupRunRow, store: BackupStore | undefined): Promise<void> {
  const signal = AbortSignal.timeout(60_000);
  if (store && row.store_key) await store.delete(row.store_key, signal).catch(() => undefined);
  if (row.source_json && d) {
    const s = JSON.parse(row.source_json) as { cloud?: string; ref?: SnapshotRef };
    if (s.cloud && s.ref) {
      try {
        await snapshotCall(x.o.engine.cloudFor(d, s.cloud).driver, 'deleteSnapshot')(s.ref, signal);
      } catch {
        // left in the cloud: tagged nubis-backup=<run id>
      }
    }
  }
}

/** Takes one backup of `inst` under policy `p`; resolves with its row (succeeded or failed), never rejects for a failed backup. */
export async function backupInstance(x: BackupsContext, d: Deployment, p: BackupPolicySpec, inst: InstanceRec, cause: RunCause): Promise<BackupRunRow> {
  const release = x.claim(d, p.name, inst.name);
  const row = x.newRow('backup', d, p, inst.name, cause);
  row.store_key = objectKey(row);
  const t = abortAfter(p.timeoutMs, x.stopping.signal);
  let store: BackupStore | undefined;
  let failure: unknown;
  try {
    await x.begin(row);
    store = await x.openStore(d, p);
    const source = p.what.kind === 'archive' ? await archiveSource(x, d, p, inst, row, store, t.signal) : await snapshotSource(x, d, p, inst, row, store, t.signal);
    // verification after the copy: the store reads its object back
    const stored = await store.digest(row.store_key, t.signal);
    if (!same(stored, source)) {
      throw new NubisError('BACKUP_VERIFY_FAILED', `the stored copy is ${stored.sizeBytes} bytes (sha256 ${stored.sha256}); the source recorded ${source.sizeBytes} (sha256 ${source.sha256})`);
    }
    row.size_bytes = source.sizeBytes;
    row.sha256 = source.sha256;
  } catch (e) {
    failure = t.signal.aborted && !x.stopping.signal.aborted ? new NubisError('HANDLER_TIMEOUT', `the backup took longer than ${p.timeoutMs} ms`) : e;
    if (x.stopping.signal.aborted) failure = new NubisError('BACKUP_INTERRUPTED', 'the control plane stopped during the backup');
    row.size_bytes = null;
    row.sha256 = null;
    await discard(x, d, row, store);
  } finally {
    t.clear();
  }
  try {
    const where = `${row.store_desc}/${row.store_key}`;
    await x.end(row, failure, failure === undefined ? `backup of ${inst.name} stored and verified in ${where}` : `backup of ${inst.name} failed`);
  } finally {
    await store?.close().catch(() => undefined);
    release();
  }
  return row;
}
