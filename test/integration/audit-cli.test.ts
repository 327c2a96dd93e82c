/**
 * The audit trail (issue 11 item 8) through the CLI of a real `nubis serve`: `nubis events`
 * filters by actor, resource, correlation id and (administrator only) tenant; `nubis events
 * export` writes JSON lines whose hashes chain; and after one event row is changed with direct
 * SQL on the server's database, `nubis events verify` names exactly that event (exit 1). An
 * event removed from the middle is reported at the event after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startCliSession } from '../helpers/cli-session.js';
import { serveApi, stopProcess } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';

const SPEC = (name: string): string => [
  `name: ${name}`,
  'clouds: { sim: { platform: sim, options: { path: ":memory:" } } }',
  'nodeTemplates: { t: { cloud: sim } }',
  'components:',
  '  app: { nodeTemplate: t, instances: { count: 2, max: 10 }, provides: { http: {} }, lifecycle: { start: run } }',
  '',
].join('\n');

test('audit: filters, JSON-lines export whose hashes chain, and verify names the tampered event', { timeout: 300_000 }, async () => {
  const data = tempDir('nubis-audit-');
  const work = tempDir('nubis-audit-spec-');
  const file = path.join(work, 'app.yaml');
  fs.writeFileSync(file, SPEC('audited'));
  const { port, serve, cli, json } = await startCliSession(data);
  try {
    const applied = await cli('apply', '-f', file, '--wait', '--timeout', '120');
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    const scaled = await cli('scale', 'audited', 'app', '3');
    assert.equal(scaled.code, 0, scaled.stderr + scaled.stdout);
    await waitFor('app-3 running', async () => {
      const v = (await serveApi(port, data, 'GET', '/v1/deployments/audited')).json;
      return v.state === 'ready' && v.components[0].running === 3;
    }, 120_000);
    // a second tenant with events of its own
    const minted = await serveApi(port, data, 'POST', '/v1/tokens', { name: 'ci', tenant: 'acme' });
    assert.equal(minted.status, 201, JSON.stringify(minted.json));
    const acme = minted.json.token as string;
    const acmeApi = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers: { authorization: `Bearer ${acme}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: r.status, json: await r.json().catch(() => undefined) as any };
    };
    assert.equal((await acmeApi('PUT', '/v1/leaks/policies/sim', { deleteAfter: '2h' })).status, 201, 'a first policy is created');

    // by actor: the user's own actions only
    const byUser = (await json('events', '--actor', 'user:admin', '--limit', '10000')).events as any[];
    assert.ok(byUser.some((e) => e.kind === 'deployment.applied') && byUser.some((e) => e.kind === 'deployment.scaled'));
    assert.ok(byUser.every((e) => e.actor === 'user:admin'));
    const engineOnly = (await json('events', '--actor', 'eng*', '--limit', '10000')).events as any[];
    assert.ok(engineOnly.length > 0 && engineOnly.every((e) => e.actor === 'engine'));
    // by resource and by correlation id
    const node = (await json('events', '--target', 'audited/app-3', '--limit', '10000')).events as any[];
    assert.ok(node.length > 0 && node.every((e) => e.target === 'audited/app-3'));
    const scaleEvent = byUser.find((e) => e.kind === 'deployment.scaled');
    assert.ok(scaleEvent.correlationId, 'the scale carried its request\'s correlation id');
    const why = (await json('events', '--correlation', scaleEvent.correlationId, '--limit', '10000')).events as any[];
    assert.ok(why.some((e) => e.kind === 'deployment.scaled') && why.some((e) => e.kind === 'node.state' && e.target === 'audited/app-3'), 'the request and the node it caused');
    assert.ok(why.every((e) => e.correlationId === scaleEvent.correlationId));
    // tenants: the administrator may read acme's log; acme only its own
    const acmeLog = (await json('events', '--tenant', 'acme', '--limit', '10000')).events as any[];
    assert.ok(acmeLog.some((e) => e.kind === 'leak.policy-set' && e.actor === 'user:ci'));
    assert.ok(acmeLog.every((e) => e.tenant === 'acme'));
    assert.equal((await acmeApi('GET', '/v1/events?tenant=default')).status, 403);
    assert.ok(((await acmeApi('GET', '/v1/events?limit=10000')).json.events as any[]).every((e) => e.tenant === 'acme'));

    // export: JSON lines, each linked to the one before it (per tenant)
    const out = path.join(work, 'audit.jsonl');
    const exp = await cli('events', 'export', '--out', out);
    assert.equal(exp.code, 0, exp.stderr);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length > 20);
    assert.equal(lines[0].prevHash, '0'.repeat(64));
    for (let i = 1; i < lines.length; i++) {
      assert.ok(lines[i].id > lines[i - 1].id);
      assert.equal(lines[i].prevHash, lines[i - 1].hash, `event ${lines[i].id} links to ${lines[i - 1].id}`);
    }
    const filtered = (await cli('events', 'export', '--kind', 'node.*')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(filtered.length > 0 && filtered.every((e) => e.kind.startsWith('node.')));

    const ok = await cli('events', 'verify');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /default: \d+ event\(s\) checked; intact/);
    assert.match(ok.stdout, /acme: \d+ event\(s\) checked; intact/);

    // tamper with one row directly in the database: verify names exactly it
    const victim = lines[Math.floor(lines.length / 2)];
    const db = new Database(path.join(data, 'nubis.db'));
    try {
      db.pragma('busy_timeout = 10000');
      assert.equal(db.prepare("UPDATE events SET reason = 'nothing happened here' WHERE id = ?").run(victim.id).changes, 1);
    } finally {
      db.close();
    }
    const broken = await cli('events', 'verify');
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(broken.stdout, new RegExp(`default: .*BROKEN at event #${victim.id}: its contents do not match its hash`));
    assert.match(broken.stdout, /acme: \d+ event\(s\) checked; intact/);
    const v = await json('events', 'verify', '--tenant', 'default').catch(() => undefined);
    assert.equal(v, undefined, 'verify exits 1 with --output json too');

    // a removed row: reported at the event after it
    const db2 = new Database(path.join(data, 'nubis.db'));
    const next = lines[lines.length - 2];
    try {
      db2.pragma('busy_timeout = 10000');
      db2.prepare("UPDATE events SET reason = ? WHERE id = ?").run(victim.reason ?? null, victim.id);
      db2.prepare('DELETE FROM events WHERE id = ?').run(next.id);
    } finally {
      db2.close();
    }
    const removed = await serveApi(port, data, 'GET', '/v1/events/verify?tenant=default');
    assert.equal(removed.status, 200);
    assert.equal(removed.json.ok, false);
    assert.equal(removed.json.chains[0].broken.id, lines[lines.length - 1].id);
    assert.match(removed.json.chains[0].broken.reason, /link does not match/);
  } finally {
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});
