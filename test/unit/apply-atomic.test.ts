/**
 * A deployment and the event that records it are one commit (issue 13: "no event lost" when a
 * replica is SIGKILLed mid-apply). With the operators' controls on (as `nubis serve` runs), an
 * apply, a scale and a destroy write the quota reservation, the deployment row and its event
 * in one guarded item of the group commit. The process "dies" right after the commit that holds
 * the deployment row (no later write of the store reaches the database, as a killed process
 * writes nothing more); the store reopened from the same database must hold that row's event too.
 * Before the fix the event was the next commit, so a kill between the two left a deployment
 * that nothing in the audit log had applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { createSimDriver, type DriverFactory } from '../../src/drivers/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type Deployment } from '../../src/engine/index.js';
import { createOperatorControls } from '../../src/controls/index.js';
import { createRealClock } from '../../src/clock/index.js';
import type { DeploymentRow, Store, WriteOp } from '../../src/store/index.js';
import { simSpec, tempDir } from '../helpers/control-plane.js';
import { openTestStore } from '../helpers/postgres.js';

const SPEC = (count: number): string => simSpec('atom', { app: count }, { simPath: ':memory:' });

/** The sim cloud in memory: what the engine does after the commit does not matter here. */
const SIM: Record<string, DriverFactory> = { sim: (ctx) => createSimDriver({ ...ctx, options: { path: ':memory:' } }) };

/**
 * The store as a process that dies right after the first commit holding a deployment row: no
 * later write reaches the database (they resolve without writing, so that the code after them,
 * which a killed process would never run, neither hangs the test nor fails it).
 */
function dyingAfterDeploymentWrite(store: Store): { store: Store; died: () => boolean } {
  const deploymentOps = new WeakSet<WriteOp>();
  let dead = false;
  const commit = (write: (...ops: WriteOp[]) => Promise<void>) => async (...ops: WriteOp[]): Promise<void> => {
    if (dead) return;
    await write(...ops);
    if (ops.some((op) => deploymentOps.has(op))) dead = true;
  };
  const wrapped: Store = Object.create(store, {
    putDeployment: { value: (row: Parameters<Store['putDeployment']>[0]) => { const op = store.putDeployment(row); deploymentOps.add(op); return op; } },
    write: { value: commit((...ops) => store.write(...ops)) },
    writeGuarded: { value: commit((...ops) => store.writeGuarded(...ops)) },
  }) as Store;
  return { store: wrapped, died: () => dead };
}

type ControlPlane = Awaited<ReturnType<typeof createControlPlane>>;

/** Runs `act` on a control plane with the operators' controls (as `nubis serve` has) over a store that dies after its next deployment commit. */
async function dyingDuring(what: string, dir: string, act: (cp: ControlPlane) => Promise<unknown>): Promise<void> {
  const real = await openTestStore(path.join(dir, 'nubis.db'));
  const dying = dyingAfterDeploymentWrite(real);
  const events = createEventLog(dying.store);
  let engine: { deployments: Map<string, Deployment> } | undefined;
  const controls = createOperatorControls({ store: dying.store, events, clock: createRealClock(), deployment: (id) => engine?.deployments.get(id) });
  const cp = await createControlPlane({ dataDir: dir, store: dying.store, events, discoveryIntervalMs: 0, admission: () => controls.admission, drivers: SIM });
  engine = cp.engine;
  await cp.start();
  try {
    await act(cp);
    assert.ok(dying.died(), `${what}: the deployment row was committed, then the process died`);
  } finally {
    await cp.stop().catch(() => undefined);
    await real.close();
  }
}

/** What the database holds for a restarted process. */
async function stored(dir: string): Promise<{ deployment?: DeploymentRow; kinds: string[] }> {
  const store = await openTestStore(path.join(dir, 'nubis.db'));
  try {
    const deployment = (await store.loadDeployments()).find((d) => d.name === 'atom');
    const kinds = (await store.events({ deployment: 'atom', limit: 10_000 })).map((e) => e.kind);
    return { ...(deployment ? { deployment } : {}), kinds };
  } finally {
    await store.close();
  }
}

const caller = { actor: 'user:test' };

test('a crash right after the apply commits: the deployment and its deployment.applied event are both there', { timeout: 60_000 }, async () => {
  const dir = tempDir('nubis-atomic-');
  try {
    await dyingDuring('apply', dir, (cp) => cp.apply({ spec: SPEC(2), file: 'atom.yaml' }, caller));
    const after = await stored(dir);
    assert.ok(after.deployment, 'the deployment was committed');
    assert.deepEqual(after.kinds, ['deployment.applied'], 'the event of the committed apply (and nothing written after the crash)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a crash right after a scale or a destroy commits: its event is in the same commit', { timeout: 60_000 }, async () => {
  const cases: [string, string, (cp: ControlPlane) => Promise<unknown>, (d: DeploymentRow) => boolean][] = [
    ['scale', 'deployment.scaled', (cp) => cp.scale('atom', 'app', 3, caller), (d) => (JSON.parse(d.counts_json) as Record<string, number>)['app'] === 3],
    ['destroy', 'deployment.destroying', (cp) => cp.destroy('atom', caller), (d) => d.status === 'destroying'],
  ];
  for (const [what, kind, act, changed] of cases) {
    const dir = tempDir('nubis-atomic-');
    try {
      // the first apply commits in full (its process ends cleanly); the crash comes with the next write of the deployment
      const store = await openTestStore(path.join(dir, 'nubis.db'));
      const cp = await createControlPlane({ dataDir: dir, store, events: createEventLog(store), discoveryIntervalMs: 0, drivers: SIM });
      await cp.start();
      await cp.apply({ spec: SPEC(2), file: 'atom.yaml' }, caller);
      await cp.stop();
      await store.close();
      await dyingDuring(what, dir, act);
      const after = await stored(dir);
      assert.ok(after.deployment && changed(after.deployment), `${what}: the row changed`);
      assert.ok(after.kinds.includes(kind), `${what}: its ${kind} event is there too (${after.kinds.join(', ')})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
