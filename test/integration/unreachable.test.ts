/**
 * Unreachable is not healthy, on the embedded `local` cloud through `nubis serve`, its API and
 * the CLI: every process of one app node (its agent and the app) is stopped with SIGSTOP — a
 * node whose link died: connections are accepted by the kernel and never answered. The
 * instance becomes unreachable (events for the node and the instance), the lb's update handler
 * runs without it so traffic no longer goes there (no 5 s stalls), `status` shows it with a
 * `!` line; after SIGCONT it is restored and traffic reaches it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { ROOT, freePort, runCli, serveApi, startServe, stopProcess } from '../helpers/processes.js';

/** Pids of processes whose environment marks them as belonging to the local node `nodeId`. */
function nodeProcesses(nodeId: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      if (env.includes(`NUBIS_NODE_ID=${nodeId}`)) out.push(Number(p));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

const signalAll = (pids: number[], sig: NodeJS.Signals): void => {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
};

async function timedGet(url: string): Promise<{ ms: number; backend: string | null; status: number }> {
  const t0 = performance.now();
  const r = await fetch(url);
  await r.text();
  return { ms: performance.now() - t0, backend: r.headers.get('x-backend'), status: r.status };
}

test('an app node that stops answering is unreachable, dropped from the lb, shown with !, and restored when it answers', { timeout: 240_000 }, async (t) => {
  const data = tempDir('nubis-unreachable-');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...args: string[]) => runCli(args, env);
  let stopped: number[] = [];
  const status = async (): Promise<any> => {
    const r = await cli('status', 'webapp', '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const events = async (kind: string, target?: string): Promise<any[]> => {
    const q = `/v1/events?deployment=webapp&kind=${encodeURIComponent(kind)}${target ? `&target=${encodeURIComponent(target)}` : ''}`;
    const r = await serveApi(port, data, 'GET', q);
    assert.equal(r.status, 200);
    return r.json.events as any[];
  };
  try {
    const applied = await cli('apply', '-f', path.join(ROOT, 'examples/webapp/app.yaml'), '--wait', '--timeout', '120');
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    const lb = (JSON.parse((await cli('endpoints', 'webapp', '--output', 'json')).stdout) as { endpoints: { component: string; address: string }[] }).endpoints.find((e) => e.component === 'lb')!;
    const lbUrl = `http://${lb.address}/`;
    const backends = async (n: number): Promise<{ names: Set<string>; maxMs: number }> => {
      const names = new Set<string>();
      let maxMs = 0;
      for (let i = 0; i < n; i++) {
        const r = await timedGet(lbUrl);
        assert.equal(r.status, 200);
        names.add(r.backend ?? '');
        maxMs = Math.max(maxMs, r.ms);
      }
      return { names, maxMs };
    };
    assert.deepEqual([...(await backends(6)).names].sort(), ['app-1', 'app-2', 'app-3']);

    const app2 = (await status()).instances.find((i: any) => i.name === 'app-2');
    const pids = nodeProcesses(app2.node.id);
    assert.ok(pids.length >= 2, `the node's agent and app run (${pids.length} processes)`);
    const lbUpdatesBefore = (await events('instance.wiring', 'webapp/lb-1')).length;
    signalAll(pids, 'SIGSTOP');
    stopped = pids;

    // the lb example with a dead backend it still has: a request sent there stalls until the
    // lb's 5 s backend timeout, then goes to the next one (measured, not asserted)
    const stalled = await backends(3);
    t.diagnostic(`lb with a dead backend still wired: slowest of 3 requests ${Math.round(stalled.maxMs)} ms`);

    const down = await waitFor('instance.unreachable', async () => (await events('instance.unreachable', 'webapp/app-2'))[0], 120_000, 250);
    assert.match(down.reason, /unreachable/);
    const nodeDown = (await events('node.unreachable', 'webapp/app-2'))[0];
    assert.ok(nodeDown, 'a node.unreachable event');
    assert.match(nodeDown.reason, /missed \d+ observations|reports the node/);
    await waitFor('lb update without app-2', async () => (await events('instance.wiring', 'webapp/lb-1')).length > lbUpdatesBefore, 60_000, 250);

    const after = await backends(9);
    assert.deepEqual([...after.names].sort(), ['app-1', 'app-3'], 'no traffic to the unreachable instance');
    t.diagnostic(`after the drop: slowest of 9 requests ${Math.round(after.maxMs)} ms`);
    assert.ok(after.maxMs < 4000, `no request waited for the dead backend's timeout (${Math.round(after.maxMs)} ms)`);

    const s = await status();
    const v = s.instances.find((i: any) => i.name === 'app-2');
    assert.equal(v.health, 'unreachable');
    assert.equal(v.node.state, 'unreachable');
    assert.equal(s.state, 'degraded');
    assert.equal(s.components.find((c: any) => c.name === 'app').running, 2);
    const text = await cli('status', 'webapp');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^! app-2: node unreachable/m);

    const lbUpdatesDown = (await events('instance.wiring', 'webapp/lb-1')).length;
    signalAll(pids, 'SIGCONT');
    stopped = [];
    await waitFor('instance.reachable', async () => (await events('instance.reachable', 'webapp/app-2'))[0], 120_000, 250);
    assert.ok((await events('node.reachable', 'webapp/app-2'))[0], 'a node.reachable event');
    await waitFor('lb update with app-2', async () => (await events('instance.wiring', 'webapp/lb-1')).length > lbUpdatesDown, 60_000, 250);
    assert.deepEqual([...(await backends(9)).names].sort(), ['app-1', 'app-2', 'app-3'], 'traffic reaches it again');
    const back = await status();
    assert.notEqual(back.instances.find((i: any) => i.name === 'app-2').health, 'unreachable');
    assert.doesNotMatch((await cli('status', 'webapp')).stdout, /node unreachable/);

    const destroyed = await cli('destroy', 'webapp', '--wait');
    assert.equal(destroyed.code, 0, destroyed.stderr);
  } finally {
    signalAll(stopped, 'SIGCONT');
    await cli('destroy', 'webapp', '--wait');
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
  }
});
