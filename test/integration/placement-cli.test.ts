/**
 * Placement policies through the public surface: a real `nubis serve` and the built CLI over a
 * sim cloud with a host model (option `hosts`). `plan` names each new node's host and why;
 * `apply` puts the nodes where `plan` said (the sim refuses a create on a full host, and the
 * servers' host tags are read back from the sim's own inventory file); anti-affinity that
 * cannot hold fails the plan with its error; load-aware follows the hosts' CPU load pushed to
 * the metrics API; a bad rank expression is refused with its position.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startCliSession } from '../helpers/cli-session.js';
import { serveApi, stopProcess } from '../helpers/processes.js';

const hosts = (n: number, nodes: number): string => `[${Array.from({ length: n }, (_, i) => `{name: h${i + 1}, nodes: ${nodes}, cores: 8, attributes: {rack: r${(i % 2) + 1}}}`).join(', ')}]`;

const spec = (simPath: string, placement: string, count: number, extra = ''): string => `name: placed
clouds:
  pool: {platform: sim, options: {path: ${JSON.stringify(simPath)}, hosts: ${hosts(3, 2)}}}
nodeTemplates:
  t: {cloud: pool, requirements: {cores: 1}, placement: ${placement}}
components:
  web:
    nodeTemplate: t
    instances: {count: ${count}, max: 20}
    lifecycle: {start: "sleep 1000"}
${extra}`;

/** Host of each live server, by node key, from the sim's inventory file (what the cloud holds). */
function simHosts(simPath: string): Map<string, string> {
  const db = new Database(simPath, { readonly: true, fileMustExist: true });
  try {
    const out = new Map<string, string>();
    const rows = db.prepare('SELECT * FROM servers').all() as Record<string, unknown>[];
    for (const r of rows) {
      if (r['deleted_at'] !== null && r['deleted_at'] !== undefined) continue;
      const tags = JSON.parse(String(r['tags_json'] ?? r['tags'] ?? '{}')) as Record<string, string>;
      if (tags['nubis-key'] && tags['nubis-sim-host']) out.set(tags['nubis-key'], tags['nubis-sim-host']);
    }
    return out;
  } finally {
    db.close();
  }
}

test('plan shows the host and reason per node; apply places them there; anti-affinity, load-aware and bad ranks through the CLI', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-placement-'));
  const simPath = path.join(dir, 'pool.db');
  const s = await startCliSession(path.join(dir, 'data'));
  try {
    const file = path.join(dir, 'placed.yaml');
    // packing: fill h1, then h2
    fs.writeFileSync(file, spec(simPath, '{policy: packing}', 3));
    const plan = await s.cli('plan', '-f', file);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /\+ create-node +placed\/web-1 +on pool host h1 +\(new node; packing: h1 \(0 of 2 nodes in use, the fullest of 3 with room\)\)/);
    assert.match(plan.stdout, /\+ create-node +placed\/web-2 +on pool host h1 +\(new node; packing: h1 \(1 of 2 nodes in use/);
    assert.match(plan.stdout, /\+ create-node +placed\/web-3 +on pool host h2 +\(new node; packing: h2 \(0 of 2 nodes in use, the fullest of 2 with room\)\)/);
    const planJson = await s.json('plan', '-f', file);
    const creates = (planJson.actions as { kind: string; target: string; host?: string; placement?: string }[]).filter((a) => a.kind === 'create-node');
    assert.deepEqual(creates.map((a) => a.host), ['h1', 'h1', 'h2']);
    assert.ok(creates.every((a) => a.placement?.startsWith('packing: ')));

    const applied = await s.cli('apply', '-f', file, '--wait', '--timeout', '120s');
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    assert.deepEqual(Object.fromEntries(simHosts(simPath)), { 'placed/web-1': 'h1', 'placed/web-2': 'h1', 'placed/web-3': 'h2' });
    const events = await s.json('events', '--deployment', 'placed', '--kind', 'node.state');
    const placedEv = (events.events as { target: string; reason?: string; data?: { host?: string } }[]).filter((e) => e.reason?.startsWith('placed: '));
    assert.equal(placedEv.length, 3, 'one placement event (the create intent) per node');
    assert.equal(placedEv.find((e) => e.target === 'placed/web-3')?.data?.host, 'h2');

    // scaling out: the plan counts what is on the hosts now (h1 full, h2 has one)
    fs.writeFileSync(file, spec(simPath, '{policy: packing}', 6));
    const more = await s.json('plan', '-f', file);
    const next = (more.actions as { kind: string; target: string; host?: string }[]).filter((a) => a.kind === 'create-node').map((a) => `${a.target}@${a.host}`);
    assert.deepEqual(next, ['placed/web-4@h2', 'placed/web-5@h3', 'placed/web-6@h3']);
    // one more than the hosts hold: the plan says no host has room
    fs.writeFileSync(file, spec(simPath, '{policy: packing}', 7));
    const over = await s.cli('plan', '-f', file);
    assert.notEqual(over.code, 0);
    assert.match(over.stderr + over.stdout, /PLACEMENT_HOST_FULL|no host has room for web-7/);

    // anti-affinity: h1 is full (web-1, web-2), so two instances fit (h3, then h2) and a third cannot, and the plan says so
    fs.writeFileSync(file, spec(simPath, '{policy: striping, antiAffinity: true}', 2).replace('name: placed', 'name: spread').replace(/web/g, 'db'));
    const ok = await s.json('plan', '-f', file);
    const spreadHosts = (ok.actions as { kind: string; host?: string }[]).filter((a) => a.kind === 'create-node').map((a) => a.host);
    assert.deepEqual(spreadHosts, ['h3', 'h2'], 'striping: the emptiest first, never two on one host');
    fs.writeFileSync(file, spec(simPath, '{policy: striping, antiAffinity: true}', 3).replace('name: placed', 'name: spread').replace(/web/g, 'db'));
    const impossible = await s.cli('plan', '-f', file);
    assert.notEqual(impossible.code, 0);
    assert.match(impossible.stderr + impossible.stdout, /PLACEMENT_ANTI_AFFINITY.*db-3 cannot be placed with anti-affinity/);

    // load-aware: the least loaded host first, from samples pushed to the metrics API
    const push = await serveApi(s.port, path.join(dir, 'data'), 'POST', '/v1/metrics/push', {
      samples: [
        { name: 'host.cpu.percent', labels: { host: 'h1' }, v: 90, t: Date.now() },
        { name: 'host.cpu.percent', labels: { host: 'h2' }, v: 70, t: Date.now() },
        { name: 'host.cpu.percent', labels: { host: 'h3' }, v: 5, t: Date.now() },
      ],
    });
    assert.equal(push.status, 200, JSON.stringify(push.json));
    fs.writeFileSync(file, spec(simPath, '{policy: load-aware}', 1).replace('name: placed', 'name: loaded'));
    const la = await s.cli('plan', '-f', file);
    assert.equal(la.code, 0, la.stderr);
    assert.match(la.stdout, /loaded\/web-1 +on pool host h3 +\(new node; load-aware: h3 \(cpu 5 %, the least loaded of 2 with room\)\)/);

    // a custom rank with a syntax error: file:line:col, the JSON path and the column in the expression
    fs.writeFileSync(file, spec(simPath, '{policy: custom, rank: "free_cores *"}', 1));
    const bad = await s.cli('plan', '-f', file);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /:5:\d+: \$\.nodeTemplates\.t\.placement\.rank: expected a valid rank expression \(rank expression at column 13: expected a value at the end of the expression\)/);
    fs.writeFileSync(file, spec(simPath, "{policy: custom, rank: \"rack == 'r2' ? 10 : 0\"}", 1).replace('name: placed', 'name: ranked'));
    const ranked = await s.json('plan', '-f', file);
    assert.equal((ranked.actions as { kind: string; host?: string }[]).find((a) => a.kind === 'create-node')?.host, 'h2');

    fs.writeFileSync(file, spec(simPath, '{policy: packing}', 3));
    const gone = await s.cli('destroy', 'placed', '--wait', '--timeout', '120s');
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal(simHosts(simPath).size, 0);
  } finally {
    await stopProcess(s.serve);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
