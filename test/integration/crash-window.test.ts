/**
 * Issue 7, item 5: a SIGKILL of the control plane while the local driver has a node recorded
 * as `provisioning` but not yet as `running` must not wedge the deployment. The driver's test
 * hook (`NUBIS_LOCAL_TEST_HOLD`, documented in src/drivers/local/index.ts) stops every create
 * inside that window, so the kill lands there deterministically; after a restart the
 * deployment converges, the half-made nodes are deleted (not adopted forever), nothing of
 * them keeps running, and `destroy --wait` finishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findProcessesByEnv } from '../../src/agent/index.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { freePort, localAppSpec, runCli, serveApi as api, startServe, stopProcess } from '../helpers/processes.js';

const COUNT = 3;

function spec(portBase: number): string {
  return localAppSpec('cw', portBase, `{ count: ${COUNT} }`, '      start: "exec sleep 600"\n');
}

interface InvNode { id: string; status: string }
const inventory = (dataDir: string): InvNode[] => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dataDir, 'local', 'inventory.json'), 'utf8')) as { nodes: InvNode[] }).nodes;
  } catch {
    return [];
  }
};

for (const window of ['after-record', 'after-agent'] as const) {
  test(`SIGKILL ${window === 'after-record' ? 'after the provisioning record, before the agent' : 'after the agent answers, before the running record'}: the deployment converges and destroy finishes`, { timeout: 180_000 }, async () => {
    const dataDir = tempDir('nubis-cw-');
    const port = await freePort();
    const portBase = 40_000 + Math.floor(Math.random() * 200) * 10;
    let child: ChildProcess | undefined;
    const seenIds = new Set<string>();
    try {
      child = await startServe(dataDir, port, { NUBIS_LOCAL_TEST_HOLD: window });
      assert.equal((await api(port, dataDir, 'POST', '/v1/deployments', { spec: spec(portBase), file: 'cw.yaml' })).status, 201);
      const holdLog = path.join(dataDir, 'local', 'test-hold.log');
      // the creation limiter starts at 2: two creates are inside the window, the third waits for a permit
      const held = await waitFor('two creates held in the window', () => {
        const lines = fs.existsSync(holdLog) ? fs.readFileSync(holdLog, 'utf8').trim().split('\n').filter(Boolean) : [];
        return lines.length >= 2 ? lines.map((l) => l.split(' ')[0]!) : undefined;
      }, 60_000);
      for (const n of inventory(dataDir)) {
        seenIds.add(n.id);
        assert.equal(n.status, 'provisioning', 'the kill lands between the two inventory writes');
      }
      await stopProcess(child, 'SIGKILL');
      child = await startServe(dataDir, port);

      const ready = await waitFor('ready after the restart', async () => {
        const v = (await api(port, dataDir, 'GET', '/v1/deployments/cw')).json;
        return v.state === 'ready' && v.instances.filter((i: any) => i.phase === 'running').length === COUNT ? v : undefined;
      }, 120_000, 200);
      assert.equal(ready.instances.length, COUNT);
      const inv = inventory(dataDir);
      for (const n of inv) seenIds.add(n.id);
      assert.equal(inv.length, COUNT, 'exactly the wanted nodes exist');
      assert.ok(inv.every((n) => n.status === 'running'));
      for (const id of held) {
        assert.ok(!inv.some((n) => n.id === id), `half-made node ${id} was deleted, not adopted`);
        assert.deepEqual(findProcessesByEnv('NUBIS_NODE_ID', id), [], `no process of half-made node ${id} is left`);
      }
      // deletes SENT: one per half-made node, none of a wanted one
      const calls = (await api(port, dataDir, 'GET', '/v1/events?kind=driver.call&limit=10000')).json.events as any[];
      const deletes = calls.filter((e) => e.data?.op === 'delete');
      assert.ok(deletes.length >= held.length, `the half-made nodes were deleted (${deletes.length} deletes)`);
      for (const e of deletes) assert.ok(!inv.some((n) => n.id === e.target), `no delete of wanted node ${e.target}`);

      const destroyed = await runCli(['destroy', 'cw', '--wait', '--timeout', '2m', '--server', `http://127.0.0.1:${port}`, '--data', dataDir]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
      assert.deepEqual(inventory(dataDir), []);
      for (const id of seenIds) assert.deepEqual(findProcessesByEnv('NUBIS_NODE_ID', id), [], `no process of node ${id} is left`);
    } finally {
      if (child) await stopProcess(child, 'SIGKILL');
      // whatever a failed run left: kill it by the node ids it recorded
      for (const n of inventory(dataDir)) seenIds.add(n.id);
      for (const id of seenIds) for (const pid of findProcessesByEnv('NUBIS_NODE_ID', id)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });
}
