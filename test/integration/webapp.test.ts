/**
 * The webapp example end to end on the embedded `local` cloud, through the CLI: real
 * processes, real HTTP through the load balancer, scale 3 → 5 → 2, destroy leaves nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { ROOT, freePort, runCli, startServe, stopProcess } from '../helpers/processes.js';

/** Pids of processes whose environment marks them as belonging to a local node under `root`. */
function nodeProcesses(nodeIds: string[]): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      const id = env.find((e) => e.startsWith('NUBIS_NODE_ID='))?.slice('NUBIS_NODE_ID='.length);
      if (id && nodeIds.includes(id)) out.push(Number(p));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

async function get(url: string): Promise<{ status: number; body: string; backend: string | null }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), backend: r.headers.get('x-backend') };
}

test('webapp: traffic through lb reaches every app, scale 3 → 5 → 2 with lb updates, destroy leaves nothing', { timeout: 240_000 }, async () => {
  const data = tempDir('nubis-webapp-');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...args: string[]) => runCli(args, env);
  try {
    const applied = await cli('apply', '-f', path.join(ROOT, 'examples/webapp/app.yaml'), '--wait', '--timeout', '120');
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);

    const endpoints = async () => (JSON.parse((await cli("endpoints", "webapp", "--output", "json")).stdout) as { endpoints: { instance: string; component: string; port: string; address: string }[] }).endpoints;
    const lb = (await endpoints()).find((e) => e.component === 'lb')!;
    assert.ok(lb, 'lb has an endpoint');
    const lbUrl = `http://${lb.address}/`;

    const seen = async (n: number): Promise<Set<string>> => {
      const names = new Set<string>();
      for (let i = 0; i < n; i++) {
        const r = await get(lbUrl);
        assert.equal(r.status, 200, r.body);
        names.add((JSON.parse(r.body) as { instance: string }).instance);
      }
      return names;
    };
    assert.deepEqual([...(await seen(9))].sort(), ['app-1', 'app-2', 'app-3']);
    // the apps share state through kv: the counter grows across instances
    const c1 = (JSON.parse((await get(lbUrl)).body) as { count: number }).count;
    const c2 = (JSON.parse((await get(lbUrl)).body) as { count: number }).count;
    assert.ok(c2 > c1, `counter grows through kv (${c1} → ${c2})`);

    const lbPid = Number(fs.readFileSync(path.join(data, 'local', 'nodes', (await status()).instances.find((i: any) => i.name === 'lb-1').node.id, 'instances', 'lb-1', 'lb.pid'), 'utf8'));

    assert.equal((await cli('scale', 'webapp', 'app', '5')).code, 0);
    await waitFor('5 backends behind lb', async () => (await seen(10)).size === 5, 90_000, 200);
    // lb learned of the new backends through its update handler, without a restart
    const logs = await cli('logs', 'lb-1', '--deployment', 'webapp', '--step', 'update');
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /update/);
    const lbPidAfter = Number(fs.readFileSync(path.join(data, 'local', 'nodes', (await status()).instances.find((i: any) => i.name === 'lb-1').node.id, 'instances', 'lb-1', 'lb.pid'), 'utf8'));
    assert.equal(lbPidAfter, lbPid, 'lb kept running');

    assert.equal((await cli('scale', 'webapp', 'app', '2')).code, 0);
    await waitFor('2 apps', async () => {
      const s = await status();
      return s.state === 'ready' && s.instances.filter((i: any) => i.component === 'app').length === 2;
    }, 90_000, 200);
    assert.deepEqual([...(await seen(6))].sort(), ['app-1', 'app-2'], 'the youngest went first');

    const bad = await cli('scale', 'webapp', 'app', '11');
    assert.equal(bad.code, 2, 'out of bounds is invalid input');
    assert.match(bad.stderr, /SCALE_OUT_OF_BOUNDS/);

    const nodeIds = (await status()).instances.map((i: any) => i.node.id as string);
    assert.ok(nodeProcesses(nodeIds).length >= 4, 'node processes exist while running');

    const destroyed = await cli('destroy', 'webapp', '--wait');
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.deepEqual(nodeProcesses(nodeIds), [], 'no process left');
    const nodesDir = path.join(data, 'local', 'nodes');
    assert.deepEqual(fs.existsSync(nodesDir) ? fs.readdirSync(nodesDir) : [], [], 'no sandbox left');
    const inventory = JSON.parse(fs.readFileSync(path.join(data, 'local', 'inventory.json'), 'utf8')) as { nodes: unknown[] };
    assert.deepEqual(inventory.nodes, [], 'no cloud resource left');
    await assert.rejects(get(lbUrl));
  } finally {
    await cli('destroy', 'webapp', '--wait');
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
  }

  async function status(): Promise<any> {
    const r = await cli('status', 'webapp', '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }
});
