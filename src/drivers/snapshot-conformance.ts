/**
 * The snapshot cases of the conformance suite (./conformance.ts), for drivers that have the
 * optional snapshot calls: create → ready → read bytes → delete → gone; deletes are idempotent;
 * a snapshot the cloud fails is reported as `error`, never `ready`; a snapshot of no node fails
 * classified. Waiting polls `snapshotStatus` every `pollMs` up to `runningTimeoutMs` of wall time.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { isNubisError } from '../errors/index.js';
import type { CloudNode, Driver, SnapshotRef, SnapshotStatus } from './driver.js';

export const SNAPSHOT_CASES = [
  'snapshot: create → ready → read bytes → delete → gone',
  'snapshot: delete twice, and of an unknown snapshot, succeeds',
  'snapshot: one the cloud fails is error, never ready',
  'snapshot: of an unknown node fails classified',
] as const;

export type SnapshotCase = (typeof SNAPSHOT_CASES)[number];

export interface SnapshotConformance {
  /** Makes the cloud fail the next snapshot (absent: that case is skipped, with the reason given in `skip`). */
  failNextSnapshot?(): Promise<void> | void;
  runningTimeoutMs?: number;
  pollMs?: number;
}

const signal = (): AbortSignal => new AbortController().signal;
const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function settle(d: Driver, ref: SnapshotRef, env: SnapshotConformance): Promise<SnapshotStatus> {
  const deadline = Date.now() + (env.runningTimeoutMs ?? 60_000);
  for (;;) {
    const s = await d.snapshotStatus!(ref, signal());
    if (s !== 'pending') return s;
    assert.ok(Date.now() < deadline, `snapshot ${ref.id} still pending at the deadline`);
    await realSleep(env.pollMs ?? 50);
  }
}

async function runningNode(d: Driver, create: () => Promise<CloudNode>, env: SnapshotConformance): Promise<CloudNode> {
  const node = await create();
  const deadline = Date.now() + (env.runningTimeoutMs ?? 60_000);
  for (let n: CloudNode | undefined = node; n?.status !== 'running'; n = await d.get(node.id, signal())) {
    assert.ok(Date.now() < deadline, `node ${node.id} not running at the deadline`);
    assert.notEqual(n?.status, 'error', 'node went to error');
    await realSleep(env.pollMs ?? 50);
  }
  return node;
}

/** The case bodies; `create` makes a node the suite deletes afterwards, `made` collects snapshots to delete. */
export function snapshotCases(create: () => Promise<CloudNode>, made: SnapshotRef[]): Record<SnapshotCase, (d: Driver, env: SnapshotConformance) => Promise<void>> {
  const take = async (d: Driver, node: CloudNode): Promise<SnapshotRef> => {
    const ref = await d.snapshot!(node.id, { name: `conf-snap-${randomUUID().slice(0, 8)}`, tags: { 'nubis-owner': 'conformance' }, volumes: true }, signal());
    made.push(ref);
    assert.ok(ref.id, 'the snapshot has an id');
    assert.equal(typeof ref.createdAt, 'number');
    return ref;
  };
  return {
    'snapshot: create → ready → read bytes → delete → gone': async (d, env) => {
      const node = await runningNode(d, create, env);
      const ref = await take(d, node);
      assert.equal(await settle(d, ref, env), 'ready');
      const h = createHash('sha256');
      let bytes = 0;
      for await (const chunk of await d.readSnapshot!(ref, signal())) {
        bytes += chunk.byteLength;
        h.update(chunk);
      }
      assert.ok(bytes > 0, 'the snapshot has bytes');
      if (ref.sizeBytes !== undefined) assert.equal(bytes, ref.sizeBytes, 'as many bytes as the cloud recorded');
      if (ref.sha256 !== undefined) assert.equal(h.digest('hex'), ref.sha256, 'the SHA-256 the cloud recorded');
      await d.deleteSnapshot!(ref, signal());
      assert.equal(await d.snapshotStatus!(ref, signal()), 'gone');
    },
    'snapshot: delete twice, and of an unknown snapshot, succeeds': async (d, env) => {
      const node = await runningNode(d, create, env);
      const ref = await take(d, node);
      await settle(d, ref, env);
      await d.deleteSnapshot!(ref, signal());
      await d.deleteSnapshot!(ref, signal());
      assert.equal(await d.snapshotStatus!(ref, signal()), 'gone');
      const unknown: SnapshotRef = { ...ref, id: `no-such-${randomUUID()}`, parts: [] };
      await d.deleteSnapshot!(unknown, signal());
      assert.equal(await d.snapshotStatus!(unknown, signal()), 'gone');
    },
    'snapshot: one the cloud fails is error, never ready': async (d, env) => {
      const node = await runningNode(d, create, env);
      await env.failNextSnapshot!();
      const ref = await take(d, node);
      assert.equal(await settle(d, ref, env), 'error');
      await d.deleteSnapshot!(ref, signal());
      assert.equal(await d.snapshotStatus!(ref, signal()), 'gone');
    },
    'snapshot: of an unknown node fails classified': async (d) => {
      const err = await d.snapshot!(`no-such-node-${randomUUID()}`, { name: 'conf-none', tags: {}, volumes: false }, signal()).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(isNubisError(err), `expected a NubisError, got ${String(err)}`);
      assert.match(err.code, /^CLOUD_(NOT_FOUND|BAD_REQUEST)$/);
      assert.equal(err.retryable, false);
    },
  };
}
