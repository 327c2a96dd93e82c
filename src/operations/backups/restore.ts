/**
 * Restores and restore drills. A restore puts a good backup back: an archive is read from the
 * store (its size and SHA-256 checked against the backup's as it streams), extracted into the
 * target instance's directory by its node's agent (which counts what it received), and the
 * component's `restore` handler reads the dump; a snapshot backup recreates the instance's node
 * from the snapshot's image. In place (the backup's own instance) or onto another instance of
 * the component (a new node). A drill restores onto a scratch node made for it alone, brings the
 * component up there (install, configure, the restore, start), runs the `verify` handler (or
 * waits for the health probe) and deletes the scratch node whatever happened; only a drill that
 * passed marks the backup verified — the only backups recovery uses.
 */
import { randomBytes } from 'node:crypto';
import { abortAfter } from '../../clock/index.js';
import type { AgentClient } from '../../agent/index.js';
import { TAG_DEPLOYMENT, TAG_TENANT, type CloudNode, type Driver, type SnapshotRef } from '../../drivers/index.js';
import type { Deployment, InstanceRec } from '../../engine/index.js';
import { NubisError } from '../../errors/index.js';
import type { BackupPolicySpec } from '../../model/index.js';
import type { BackupRunRow } from '../../store/index.js';
import { checked, type BackupsContext, type RunCause } from './context.js';
import { runHandler } from './handlers.js';

/** The tag a drill's scratch node carries (its run id); no owner tag, so the sweep leaves it to the drill. */
export const TAG_DRILL = 'nubis-drill';

const digestOf = (b: BackupRunRow) => ({ sizeBytes: Number(b.size_bytes), sha256: b.sha256! });

/** Streams the backup's archive from the store into the instance directory on `agent`'s node, checked both ways. */
async function extractArchive(x: BackupsContext, d: Deployment, p: BackupPolicySpec, b: BackupRunRow, instance: string, agent: AgentClient, signal: AbortSignal): Promise<void> {
  if (!agent.extract) throw new NubisError('CLOUD_UNSUPPORTED', 'this node\'s agent cannot extract archives');
  const store = await x.openStore(d, p);
  try {
    const got = await agent.extract(instance, checked(store.get(b.store_key!, signal), digestOf(b), `reading ${b.id} from ${b.store_desc}`), signal);
    if (got.sizeBytes !== Number(b.size_bytes) || got.sha256 !== b.sha256) {
      throw new NubisError('BACKUP_VERIFY_FAILED', `the node received ${got.sizeBytes} bytes (sha256 ${got.sha256}); backup ${b.id} is ${b.size_bytes} (sha256 ${b.sha256})`);
    }
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** The good backup of this id in the deployment; NOT_FOUND or CONFLICT (not a good backup). */
export async function goodBackup(x: BackupsContext, d: Deployment, id: string): Promise<BackupRunRow> {
  const b = await x.o.store.backups.get(d.name, id);
  if (!b || b.kind !== 'backup') throw new NubisError('NOT_FOUND', `deployment ${d.spec.name} has no backup ${JSON.stringify(id)}`, { details: { path: 'backup' } });
  if (b.state !== 'succeeded') throw new NubisError('CONFLICT', `backup ${id} is ${b.state}, not a good backup`, { details: { path: 'backup' } });
  return b;
}

/** Restores backup `b` onto `inst` (running); resolves with the restore's row, failed or succeeded. */
export async function restoreBackup(x: BackupsContext, d: Deployment, p: BackupPolicySpec, b: BackupRunRow, inst: InstanceRec, cause: RunCause): Promise<BackupRunRow> {
  const release = x.claim(d, p.name, inst.name);
  const row = x.newRow('restore', d, p, inst.name, cause, { backup_id: b.id, store_key: b.store_key, size_bytes: b.size_bytes, sha256: b.sha256, what: b.what });
  const t = abortAfter(p.timeoutMs, x.stopping.signal);
  let failure: unknown;
  try {
    await x.begin(row);
    if (b.what === 'snapshot') {
      const s = JSON.parse(b.source_json ?? '{}') as { ref?: SnapshotRef };
      if (!s.ref) throw new NubisError('CONFLICT', `backup ${b.id} keeps no cloud image to restore from`);
      await x.o.engine.recovery.recreate(inst.key, `restore of backup ${b.id}`, { image: s.ref.id });
    } else {
      const n = x.o.engine.nodes.get(inst.key);
      if (!n?.observed) throw new NubisError('AGENT_UNREACHABLE', `the node of ${inst.name} is gone`);
      await extractArchive(x, d, p, b, inst.name, x.o.engine.cloudFor(d, n.cloud).driver.agent(n.observed), t.signal);
      if (p.what.kind === 'archive' && p.what.dump && p.handlers.restore) await runHandler(x, d, p, inst.name, 'restore', row, t.signal);
    }
  } catch (e) {
    failure = x.stopping.signal.aborted ? new NubisError('BACKUP_INTERRUPTED', 'the control plane stopped during the restore') : e;
  } finally {
    t.clear();
  }
  try {
    await x.end(row, failure, failure === undefined ? `backup ${b.id} restored onto ${inst.name}` : `restore of ${b.id} onto ${inst.name} failed`);
  } finally {
    release();
  }
  return row;
}

// --- drills ------------------------------------------------------------------------------------

interface Scratch {
  driver: Driver;
  node: CloudNode;
  agent: AgentClient;
}

/** Polls until the scratch node runs and its agent answers. */
async function scratchReady(x: BackupsContext, driver: Driver, id: string, signal: AbortSignal): Promise<Scratch> {
  for (;;) {
    const node = await driver.get(id, signal).catch(() => undefined);
    if (node?.status === 'error') throw new NubisError('CLOUD_UNAVAILABLE', `the scratch node ${id} went to an error state`);
    if (node?.status === 'running') {
      const agent = driver.agent(node);
      const up = await agent.status(signal).then(() => true, () => false);
      if (up) return { driver, node, agent };
    }
    await x.sleep(x.pollMs, signal);
  }
}

async function makeScratch(x: BackupsContext, d: Deployment, source: InstanceRec, b: BackupRunRow, row: BackupRunRow, signal: AbortSignal): Promise<Scratch> {
  const n = x.o.engine.nodes.get(source.key);
  if (!n) throw new NubisError('CONFLICT', `instance ${source.name} has no node record to copy for the drill`);
  const driver = x.o.engine.cloudFor(d, n.cloud).driver;
  const comp = d.spec.components[source.component]!;
  const requirements = d.spec.nodeTemplates[comp.nodeTemplate]?.requirements ?? {};
  const s = b.what === 'snapshot' ? (JSON.parse(b.source_json ?? '{}') as { ref?: SnapshotRef }) : {};
  const { cloud: _c, ...placement } = n.placement ?? { cloud: n.cloud };
  if (s.ref) placement.image = s.ref.id;
  const token = `${row.id}-${randomBytes(3).toString('hex')}`;
  const node = await driver.create({
    key: `${d.name}/${source.component}-drill-${row.id.slice(3)}`, idempotencyToken: token, requirements,
    tags: { [TAG_TENANT]: d.tenant, [TAG_DEPLOYMENT]: d.name, [TAG_DRILL]: row.id },
    ...(Object.keys(placement).length ? { placement } : {}),
  }, signal);
  // the scratch node exists: recorded first, so a failed drill (or a restart) deletes it
  row.source_json = JSON.stringify({ cloud: n.cloud, scratch: node.id });
  await x.save(row);
  return scratchReady(x, driver, node.id, signal);
}

/** Brings the component up on the scratch node from the backup, then runs verify or waits for the probe. */
async function drillOn(x: BackupsContext, d: Deployment, p: BackupPolicySpec, b: BackupRunRow, source: InstanceRec, sc: Scratch, row: BackupRunRow, signal: AbortSignal): Promise<string> {
  const comp = d.spec.components[source.component]!;
  const { env } = x.o.engine.handlers.env(d.name, source.name, sc.node);
  const step = async (name: 'install' | 'configure' | 'start'): Promise<void> => {
    const h = comp.handlers[name];
    const r = await sc.agent.runStep({
      runId: `${row.id}:${name}`, instance: source.name, step: name, ...(h ? { command: h.run } : {}), timeoutMs: h?.timeoutMs ?? 60_000,
      env: { ...env, NUBIS_STEP: name }, wiring: undefined,
      ...(name === 'install' ? { files: await x.o.engine.handlers.artefacts(d.name) } : {}),
      ...(name === 'start' ? { health: x.o.engine.handlers.probe(d.name, source.component, sc.node) } : {}),
    }, signal);
    if (r.state !== 'succeeded') throw new NubisError('HANDLER_FAILED', `${name} on the scratch node ${r.state === 'timed-out' ? 'timed out' : `exited with ${r.exitCode ?? r.signal}`}: ${r.output.slice(-500).trim()}`);
  };
  await step('install');
  if (b.what === 'archive') {
    await extractArchive(x, d, p, b, source.name, sc.agent, signal);
    if (p.what.kind === 'archive' && p.what.dump && p.handlers.restore) await runHandler(x, d, p, source.name, 'restore', row, signal, sc);
  }
  await step('configure');
  await step('start');
  if (p.handlers.verify) {
    await runHandler(x, d, p, source.name, 'verify', row, signal, sc);
    return 'the verify handler passed';
  }
  if (!comp.health) return 'the component started (it has no health probe and no verify handler)';
  return waitHealthy(x, sc.agent, source.name, signal);
}

async function waitHealthy(x: BackupsContext, agent: AgentClient, instance: string, signal: AbortSignal): Promise<string> {
  for (;;) {
    const s = (await agent.status(signal)).instances.find((i) => i.instance === instance);
    if (s?.process === 'exited') throw new NubisError('HANDLER_FAILED', `the restored ${instance} exited (code ${s.exitCode ?? '?'}) on the scratch node`);
    if (s?.health === 'healthy') return 'the health probe passed';
    if (s?.health === 'unhealthy') throw new NubisError('HANDLER_FAILED', `the health probe failed on the scratch node: ${s.healthDetail ?? 'unhealthy'}`);
    await x.sleep(x.pollMs, signal);
  }
}

/** Deletes a drill's scratch node (best effort; the row names it, and a restart tries again). */
export async function removeScratch(x: BackupsContext, d: Deployment | undefined, row: BackupRunRow): Promise<void> {
  if (!d || !row.source_json) return;
  const s = JSON.parse(row.source_json) as { cloud?: string; scratch?: string };
  if (!s.cloud || !s.scratch) return;
  await x.o.engine.cloudFor(d, s.cloud).driver.delete(s.scratch, AbortSignal.timeout(120_000)).catch(() => undefined);
}

/** Drills backup `b`: resolves with the drill's row; a pass marks the backup verified (in the same commit). */
export async function drillBackup(x: BackupsContext, d: Deployment, p: BackupPolicySpec, b: BackupRunRow, cause: RunCause): Promise<BackupRunRow> {
  const source = x.o.engine.instances.get(`${d.name}/${b.instance}`) ?? x.o.engine.instancesOf(d.name).find((i) => i.component === p.component);
  if (!source) throw new NubisError('CONFLICT', `component ${p.component} has no instance to model the scratch node on`);
  const release = x.claim(d, p.name, `drill:${b.id}`);
  const row = x.newRow('drill', d, p, b.instance, cause, { backup_id: b.id, what: b.what, store_key: b.store_key, size_bytes: b.size_bytes, sha256: b.sha256 });
  const t = abortAfter(p.timeoutMs, x.stopping.signal);
  let failure: unknown;
  let passed = '';
  try {
    await x.begin(row);
    const sc = await makeScratch(x, d, source, b, row, t.signal);
    passed = await drillOn(x, d, p, b, source, sc, row, t.signal);
  } catch (e) {
    failure = x.stopping.signal.aborted ? new NubisError('BACKUP_INTERRUPTED', 'the control plane stopped during the drill') : e;
  } finally {
    t.clear();
    await removeScratch(x, d, row);
  }
  try {
    if (failure === undefined) {
      b.verified_at = x.o.clock.now();
      await x.save(b);
    }
    await x.end(row, failure, failure === undefined ? `restore drill of ${b.id} passed: ${passed}; the scratch node was removed` : `restore drill of ${b.id} failed (the scratch node was removed)`);
  } finally {
    release();
  }
  return row;
}
