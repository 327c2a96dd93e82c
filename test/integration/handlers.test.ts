/**
 * Lifecycle handlers that fail, exit non-zero or time out are reported with their output and
 * retried per the handler's policy; real processes on the local cloud.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';

const actor = { actor: 'user:test' };

function spec(lifecycle: string): string {
  return `name: h
clouds:
  local: { platform: local, options: { portBase: 36000 } }
nodeTemplates:
  n: { cloud: local }
components:
  c:
    nodeTemplate: n
    lifecycle:
${lifecycle}
`;
}

test('handlers: non-zero exit, timeout, and a flaky step that succeeds on retry', { timeout: 120_000 }, async (t) => {
  const dir = tempDir();
  const cp = await startControlPlane(dir, { engine: { backoffBaseMs: 50, backoffMaxMs: 200, observeIntervalMs: 200 } });
  try {
    await t.test('exits non-zero: retried `retries` times, then failed with its output', async () => {
      await cp.apply({ spec: spec('      install: { run: "echo boom-$NUBIS_INSTANCE >&2; exit 3", retries: 1 }') }, actor);
      await waitFor('failed', async () => (await cp.getDeployment('h')).state === 'degraded');
      const d = await cp.getDeployment('h');
      assert.equal(d.instances[0]!.phase, 'failed');
      assert.match(d.instances[0]!.lastError!, /install: HANDLER_FAILED: install handler exited with 3\nboom-c-1/);
      const logs = await cp.logs('h', 'c-1', 'install');
      assert.equal(logs.length, 2, 'one run plus one retry');
      for (const l of logs) {
        assert.equal(l.state, 'failed');
        assert.equal(l.exitCode, 3);
        assert.match(l.output, /boom-c-1/);
      }
      const retries = await waitFor('the retry event', async () => {
        const r = await cp.events.list({ deployment: 'h', kind: 'instance.retry' });
        return r.length > 0 ? r : undefined;
      });
      assert.equal(retries.length, 1);
      assert.match(String(retries[0]!.data?.['output']), /boom-c-1/);
      // the view leads the audit log by one commit: wait for the event rather than race it
      const failed = await waitFor('the failed event', async () => {
        const f = (await cp.events.list({ deployment: 'h', kind: 'instance.phase' })).filter((e) => e.outcome === 'failed');
        return f.length > 0 ? f : undefined;
      });
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.data?.['alert'], true);
    });

    await t.test('times out: the process tree is killed, reported as HANDLER_TIMEOUT', async () => {
      await cp.apply({ spec: spec('      install: { run: "echo started; sleep 30", timeout: 300ms, retries: 0 }') }, actor);
      await waitFor('failed again', async () => {
        const d = await cp.getDeployment('h');
        return d.state === 'degraded' && /HANDLER_TIMEOUT/.test(d.instances[0]?.lastError ?? '') ? d : undefined;
      });
      const logs = (await cp.logs('h', 'c-1', 'install')).filter((l) => l.state === 'timed-out');
      assert.equal(logs.length, 1);
      assert.match(logs[0]!.output, /started/);
    });

    await t.test('fails once, then succeeds on retry', async () => {
      const marker = `${dir}/flaky-marker`;
      await cp.apply({ spec: spec(`      install: { run: "if [ -f ${marker} ]; then echo ok; else touch ${marker}; echo first >&2; exit 1; fi", retries: 2 }\n      start: { run: "exec sleep 600" }`) }, actor);
      await waitFor('ready', async () => (await cp.getDeployment('h')).state === 'ready', 30_000);
      const runs = (await cp.logs('h', 'c-1', 'install')).slice(-2);
      assert.deepEqual(runs.map((r) => r.state), ['failed', 'succeeded']);
      assert.ok(fs.existsSync(marker));
    });

    await t.test('the agent token (a secret) never reaches the store, events or views', async () => {
      const inventory = JSON.parse(fs.readFileSync(`${dir}/local/inventory.json`, 'utf8')) as { nodes: { agentToken: string }[] };
      const secret = inventory.nodes[0]!.agentToken;
      assert.ok(secret.length >= 16);
      const everything = [
        fs.readFileSync(`${dir}/nubis.db`),
        fs.existsSync(`${dir}/nubis.db-wal`) ? fs.readFileSync(`${dir}/nubis.db-wal`) : Buffer.alloc(0),
      ];
      for (const b of everything) assert.equal(b.includes(secret), false, 'not in the database');
      assert.ok(!JSON.stringify(await cp.events.list({ limit: 100000 })).includes(secret), 'not in events');
      assert.ok(!JSON.stringify(await cp.getDeployment('h')).includes(secret), 'not in views');
      assert.ok(!JSON.stringify(await cp.logs('h', 'c-1')).includes(secret), 'not in logs');
    });

    await t.test('a process that dies is restarted', async () => {
      const before = (await cp.getDeployment('h')).instances[0]!;
      const nodeDir = `${dir}/local/nodes/${before.node.id}`;
      const pids = fs.readFileSync(`${nodeDir}/agent-state.json`, 'utf8');
      assert.ok(pids.length > 0);
      // kill the supervised `sleep 600` the start handler runs
      const victims = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\u0000600') && fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`NUBIS_NODE_ID=${before.node.id}`);
        } catch {
          return false;
        }
      });
      assert.equal(victims.length, 1);
      process.kill(Number(victims[0]), 'SIGKILL');
      await waitFor('restarted', async () => (await cp.events.list({ deployment: 'h', kind: 'instance.phase' })).some((e) => /restart/.test(e.reason ?? '')), 30_000);
      await waitFor('ready again', async () => (await cp.getDeployment('h')).state === 'ready', 30_000);
    });

    await cp.destroy('h', actor);
    await waitFor('gone', async () => (await cp.listDeployments()).length === 0, 30_000);
    assert.deepEqual(fs.readdirSync(`${dir}/local/nodes`), []);
  } finally {
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
