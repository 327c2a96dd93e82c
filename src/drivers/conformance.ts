/**
 * The conformance suite every driver must pass (see the failure semantics in ./driver.ts).
 * Call `runDriverConformance` from a test file; it registers one node:test suite. `setup`
 * runs once before the cases and may return `skip`: case name → written reason, for cases
 * a platform cannot honour (the reason is shown in the test report). Case names are
 * exported as CONFORMANCE_CASES; the snapshot cases (./snapshot-conformance.ts) run for drivers
 * that have the snapshot calls and are skipped, saying so, for those that have none.
 *
 * Waiting for `running` polls `get` every `pollMs` (default 50 ms) until `runningTimeoutMs`
 * of wall time (default 60 s); a driver on a virtual clock should let that clock auto-advance.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isNubisError, NubisError } from '../errors/index.js';
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT, type CloudNode, type CreateNodeRequest, type Driver, type SnapshotRef } from './driver.js';
import { SNAPSHOT_CASES, snapshotCases, type SnapshotCase, type SnapshotConformance } from './snapshot-conformance.js';

export const CONFORMANCE_CASES = [
  'create returns a node with the given tags',
  'list by tag finds exactly it',
  'list with a non-matching tag finds nothing',
  'get returns the node and undefined for an unknown id',
  'create with the same idempotencyToken twice yields one node',
  'delete then list: gone',
  'delete of an unknown or deleted id succeeds',
  'reboot keeps the node',
  'node reaches running',
  'an aborted signal rejects with ABORTED and creates nothing',
  'errors are NubisErrors with a code',
] as const;

export type ConformanceCase = (typeof CONFORMANCE_CASES)[number] | SnapshotCase;

export interface ConformanceSetup extends SnapshotConformance {
  driver: Driver;
  teardown(): Promise<void>;
  skip?: Partial<Record<ConformanceCase, string>>;
  /** Wall-clock limit for reaching `running`. Default 60 000. */
  runningTimeoutMs?: number;
  pollMs?: number;
}

const signal = (): AbortSignal => new AbortController().signal;
const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function runDriverConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`driver conformance: ${name}`, () => {
    let env: ConformanceSetup | undefined;
    const run = `conf-${randomUUID().slice(0, 8)}`;
    const made: string[] = [];
    const snaps: SnapshotRef[] = [];

    before(async () => {
      env = await setup();
    });
    after(async () => {
      if (!env) return;
      for (const ref of snaps) await env.driver.deleteSnapshot?.(ref, signal()).catch(() => {});
      for (const id of made) await env.driver.delete(id, signal()).catch(() => {});
      await env.teardown();
    });

    let seq = 0;
    const request = (): CreateNodeRequest => {
      const key = `${run}/node-${seq++}`;
      const token = `${key}#${randomUUID()}`;
      return {
        key,
        tags: { [TAG_OWNER]: 'conformance', [TAG_TENANT]: 'default', [TAG_DEPLOYMENT]: run, [TAG_KEY]: key, [TAG_ATTEMPT]: token },
        idempotencyToken: token,
        requirements: { cores: 1, memoryMiB: 256 },
      };
    };
    const create = async (d: Driver, req = request()): Promise<CloudNode> => {
      const node = await d.create(req, signal());
      made.push(node.id);
      return node;
    };

    const cases: Record<(typeof CONFORMANCE_CASES)[number], (t: TestContext, d: Driver, env: ConformanceSetup) => Promise<void>> = {
      'create returns a node with the given tags': async (_t, d) => {
        const req = request();
        const node = await create(d, req);
        assert.ok(node.id, 'node has an id');
        for (const [k, v] of Object.entries(req.tags)) assert.equal(node.tags[k], v, `tag ${k}`);
        assert.ok(['provisioning', 'running'].includes(node.status), `status ${node.status}`);
        assert.equal(typeof node.createdAt, 'number');
      },
      'list by tag finds exactly it': async (_t, d) => {
        const req = request();
        const node = await create(d, req);
        const found = await d.list({ [TAG_KEY]: req.key }, signal());
        assert.deepEqual(found.map((n) => n.id), [node.id]);
        const both = await d.list({ [TAG_DEPLOYMENT]: run, [TAG_KEY]: req.key }, signal());
        assert.deepEqual(both.map((n) => n.id), [node.id]);
        // the sweep judges ownership from these tags alone: list returns every one of them
        for (const [k, v] of Object.entries(req.tags)) assert.equal(both[0]!.tags[k], v, `listed tag ${k}`);
      },
      'list with a non-matching tag finds nothing': async (_t, d) => {
        const req = request();
        await create(d, req);
        assert.deepEqual(await d.list({ [TAG_KEY]: `${req.key}-nope` }, signal()), []);
        assert.deepEqual(await d.list({ [TAG_KEY]: req.key, [TAG_OWNER]: 'someone-else' }, signal()), []);
      },
      'get returns the node and undefined for an unknown id': async (_t, d) => {
        const node = await create(d);
        const got = await d.get(node.id, signal());
        assert.equal(got?.id, node.id);
        assert.deepEqual(got?.tags, node.tags);
        assert.equal(await d.get(`no-such-node-${randomUUID()}`, signal()), undefined);
      },
      'create with the same idempotencyToken twice yields one node': async (_t, d) => {
        const req = request();
        const a = await create(d, req);
        const b = await create(d, req);
        assert.equal(b.id, a.id);
        assert.equal((await d.list({ [TAG_KEY]: req.key }, signal())).length, 1);
      },
      'delete then list: gone': async (_t, d) => {
        const req = request();
        const node = await create(d, req);
        await d.delete(node.id, signal());
        assert.deepEqual(await d.list({ [TAG_KEY]: req.key }, signal()), []);
        assert.equal(await d.get(node.id, signal()), undefined);
      },
      'delete of an unknown or deleted id succeeds': async (_t, d) => {
        const node = await create(d);
        await d.delete(node.id, signal());
        await d.delete(node.id, signal());
        await d.delete(`no-such-node-${randomUUID()}`, signal());
      },
      'reboot keeps the node': async (_t, d) => {
        const req = request();
        const node = await create(d, req);
        await d.reboot(node.id, signal());
        const got = await d.get(node.id, signal());
        assert.equal(got?.id, node.id);
        assert.deepEqual((await d.list({ [TAG_KEY]: req.key }, signal())).map((n) => n.id), [node.id]);
      },
      'node reaches running': async (_t, d, e) => {
        const node = await create(d);
        const deadline = Date.now() + (e.runningTimeoutMs ?? 60_000);
        let last = node.status;
        while (last !== 'running') {
          assert.ok(Date.now() < deadline, `node still ${last} at the deadline`);
          await realSleep(e.pollMs ?? 50);
          last = (await d.get(node.id, signal()))?.status ?? 'error';
          assert.notEqual(last, 'error', 'node went to error');
        }
      },
      'an aborted signal rejects with ABORTED and creates nothing': async (_t, d) => {
        const ac = new AbortController();
        ac.abort();
        const isAborted = (err: unknown): boolean => isNubisError(err) && err.code === 'ABORTED';
        const req = request();
        await assert.rejects(d.create(req, ac.signal), isAborted);
        await assert.rejects(d.list({ [TAG_KEY]: req.key }, ac.signal), isAborted);
        await assert.rejects(d.get('x', ac.signal), isAborted);
        await assert.rejects(d.delete('x', ac.signal), isAborted);
        assert.deepEqual(await d.list({ [TAG_KEY]: req.key }, signal()), []);
      },
      'errors are NubisErrors with a code': async (_t, d) => {
        // rebooting a node that does not exist must fail, and fail classified
        const err = await d.reboot(`no-such-node-${randomUUID()}`, signal()).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof NubisError, `expected a NubisError, got ${String(err)}`);
        assert.match(err.code, /^CLOUD_/);
        assert.equal(typeof err.retryable, 'boolean');
      },
    };

    for (const c of CONFORMANCE_CASES) {
      it(c, async (t) => {
        assert.ok(env, 'setup failed');
        const reason = env.skip?.[c];
        if (reason) {
          t.skip(reason);
          return;
        }
        await cases[c](t, env.driver, env);
      });
    }
    const snapshotBodies = snapshotCases(() => create(env!.driver), snaps);
    for (const c of SNAPSHOT_CASES) {
      it(c, async (t) => {
        assert.ok(env, 'setup failed');
        const reason =
          env.skip?.[c] ??
          (!env.driver.snapshot ? `the ${env.driver.platform} driver has no snapshot calls (they are optional)`
          : c === 'snapshot: one the cloud fails is error, never ready' && !env.failNextSnapshot ? 'this setup has no way to make the cloud fail a snapshot (no failNextSnapshot)'
          : undefined);
        if (reason) {
          t.skip(reason);
          return;
        }
        await snapshotBodies[c](env.driver, env);
      });
    }
  });
}
