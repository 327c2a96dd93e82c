/**
 * Invariant 4 end to end: canary secrets planted in credentials never appear in any output.
 * A real `nubis serve` (its stdout and stderr captured as the serve log) and the real CLI:
 * store credentials, register a cloud that uses one, plan and apply a spec placed by
 * requirements plus a spec cloud naming a credential, read status, events, logs, SLA,
 * provoke errors, rotate the key with the server stopped and start again on the new key.
 * Then every output is searched: HTTP responses, CLI stdout and stderr, the event log, the
 * serve log, and the bytes of every file in the data directory (the SQLite database, its WAL)
 * except the key files themselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, ROOT, TEST_ENV, firstLine, freePort, runCli, spawnTracked, stopProcess } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';

const CANARIES = [1, 2, 3].map((i) => `CANARY${i}-${crypto.randomBytes(12).toString('hex')}`);
const outputs: { where: string; text: string }[] = [];

function record(where: string, text: string): string {
  outputs.push({ where, text });
  return text;
}

interface Serve {
  child: ChildProcess;
  log: () => string;
}

async function serve(dataDir: string, port: number): Promise<Serve> {
  const child = spawnTracked(process.execPath, [CLI, 'serve', '--data', dataDir, '--port', String(port)], {
    cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...TEST_ENV, NUBIS_KEY: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await firstLine(child, 'nubis serve', (l) => (l.startsWith('nubis listening on ') ? true : undefined)).catch((e: unknown) => {
    throw new Error(`${String(e)}: ${log}`);
  });
  return { child, log: () => log };
}

test('canary secrets never appear in responses, CLI output, events, the serve log or the database', async () => {
  const dir = tempDir('nubis-secrets-');
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const server = `http://127.0.0.1:${port}`;
  const env = { NUBIS_SERVER: server, NUBIS_DATA: dataDir, NUBIS_KEY: '' };
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const r = await runCli(args, env, dir);
    record(`nubis ${args.join(' ')} (stdout)`, r.stdout);
    record(`nubis ${args.join(' ')} (stderr)`, r.stderr);
    return r;
  };
  let s = await serve(dataDir, port);
  const token = fs.readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
  const http = async (method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> => {
    const res = await fetch(server + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = record(`${method} ${url}`, await res.text());
    return { status: res.status, text };
  };
  try {
    assert.equal(fs.statSync(path.join(dataDir, 'secret.key')).mode & 0o777, 0o600);
    fs.writeFileSync(path.join(dir, 'reg.json'), JSON.stringify({ username: 'ops', password: CANARIES[0] }));
    fs.writeFileSync(path.join(dir, 'lab.json'), JSON.stringify({ fields: { apiKey: CANARIES[1] } }));
    assert.equal((await cli('credentials', 'set', 'reg-account', '--from-file', 'reg.json')).code, 0);
    const lab = await cli('credentials', 'set', 'lab-account', '--from-file', 'lab.json');
    assert.equal(lab.code, 0, lab.stderr);
    assert.match(lab.stdout, /credential lab-account stored \(fields: apiKey\)/);
    const list = await cli('credentials', 'list');
    assert.match(list.stdout, /reg-account\s+password, username/);
    await cli('credentials', 'list', '-o', 'json');

    fs.writeFileSync(path.join(dir, 'cloud.yaml'), [
      'name: simreg',
      'platform: sim',
      'options: { path: ":memory:" }',
      'credential: reg-account',
      'locations: [{ id: here, geography: FI }]',
      'offers: [{ id: s2, cores: 2, memoryMiB: 2048, pricePerHour: 0.02 }, { id: s4, cores: 4, memoryMiB: 4096, pricePerHour: 0.05 }]',
      'images: [{ id: u2204, os: ubuntu, osVersion: "22.04" }]',
      '',
    ].join('\n'));
    const add = await cli('clouds', 'add', '-f', 'cloud.yaml');
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /cloud simreg registered \(sim\)/);
    assert.match(add.stdout, /discovery: not supported/);
    await cli('clouds', 'list');
    await cli('clouds', 'offers', 'simreg');
    await cli('clouds', 'discover', 'simreg');
    await cli('clouds', 'list', '-o', 'json');
    await http('GET', '/v1/credentials/reg-account');
    await http('GET', '/v1/clouds/simreg');

    fs.writeFileSync(path.join(dir, 'app.yaml'), [
      'name: placed',
      'clouds:',
      '  lab: { platform: sim, options: { path: ":memory:" }, credential: lab-account }',
      'nodeTemplates:',
      '  picked: { requirements: { cores: 2, memory: 2048, os: linux } }',
      '  pinned: { cloud: lab }',
      'components:',
      '  app: { nodeTemplate: picked, instances: { count: 2 }, lifecycle: { install: "true", start: run } }',
      '  tool: { nodeTemplate: pinned, lifecycle: { start: run } }',
      '',
    ].join('\n'));
    const plan = await cli('plan', '-f', 'app.yaml');
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /cheapest fit: simreg\/here s2 2c\/2048MiB \$0\.02\/h ubuntu 22\.04 \(2 candidates\)/);
    const apply = await cli('apply', '-f', 'app.yaml', '--wait', '--timeout', '60s');
    assert.equal(apply.code, 0, apply.stderr);
    const status = await cli('status', 'placed', '-o', 'json');
    const view = JSON.parse(status.stdout) as { state: string; instances: { node: { cloud: string } }[] };
    assert.equal(view.state, 'ready');
    assert.deepEqual(view.instances.map((i) => i.node.cloud).sort(), ['lab', 'simreg', 'simreg']);
    await cli('status');
    await cli('events', '--limit', '10000');
    await cli('logs', 'app-1', '--deployment', 'placed');
    await cli('clouds', 'sla', 'simreg');
    await http('GET', '/v1/events?limit=10000');
    await http('GET', '/v1/deployments/placed');

    // errors: none may echo a value
    const e1 = await http('PUT', '/v1/credentials/oops', { fields: { pw: CANARIES[2] }, extra: CANARIES[2] });
    assert.equal(e1.status, 400);
    const e2 = await http('PUT', '/v1/credentials/oops', { fields: { pw: 5, other: CANARIES[2] } });
    assert.equal(e2.status, 400);
    const e3 = await http('PUT', '/v1/clouds/leaky', { platform: 'sim', options: { endpoint: 'x', password: CANARIES[2] } });
    assert.equal(e3.status, 400);
    assert.match(e3.text, /\$\.options\.password: secrets do not go in cloud options/);
    const e4 = await http('PUT', '/v1/credentials/oops', `{"fields": {"pw": "${CANARIES[2]}"`);
    assert.equal(e4.status, 400);
    const e5 = await http('DELETE', '/v1/credentials/reg-account');
    assert.equal(e5.status, 409);
    await cli('credentials', 'set', 'Bad Name', '--from-file', 'reg.json');
    const noToken = await fetch(`${server}/v1/credentials`);
    record('GET /v1/credentials without a token', await noToken.text());

    // rotate with the server stopped, start again: the registered cloud and the spec cloud still open their credentials
    await stopProcess(s.child);
    record('serve log (first run)', s.log());
    const rot = await cli('keys', 'rotate');
    assert.equal(rot.code, 0, rot.stderr);
    assert.match(rot.stdout, /key rotated: 2 credentials re-sealed/);
    s = await serve(dataDir, port);
    await waitFor('ready again on the rotated key', async () => {
      const r = await runCli(['status', 'placed', '-o', 'json'], env, dir);
      const v = JSON.parse(r.stdout || '{}') as { state?: string; instances?: { phase: string }[] };
      return v.state === 'ready' && v.instances?.length === 3 && v.instances.every((i) => i.phase === 'running');
    }, 60_000, 200);
    const evs = await http('GET', '/v1/events?kind=node.*&limit=10000');
    assert.equal(/CREDENTIAL_/.test(evs.text), false, 'no credential failed to open after rotation');
    await cli('destroy', 'placed', '--wait', '--timeout', '60s');
    await http('GET', '/v1/events?limit=10000');
    await stopProcess(s.child);
    record('serve log (second run)', s.log());

    // the search
    const forms = CANARIES.flatMap((c) => [c, Buffer.from(c).toString('base64'), Buffer.from(c).toString('hex')]);
    for (const o of outputs) for (const c of forms) assert.equal(o.text.includes(c), false, `${o.where} shows a canary`);
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    const files = walk(dataDir).filter((f) => !path.basename(f).startsWith('secret.key'));
    assert.ok(files.some((f) => f.endsWith('nubis.db')));
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      for (const c of forms) assert.equal(bytes.includes(c), false, `${path.relative(dataDir, f)} holds a canary`);
    }
    assert.ok(outputs.length > 40, `searched ${outputs.length} outputs`);
  } finally {
    await stopProcess(s.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
