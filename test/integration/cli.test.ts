/**
 * The built `nubis` CLI (dist/src/cli/main.js) as a user runs it, against a real server
 * (real control plane, sim cloud) on a free port, with NUBIS_SERVER and NUBIS_DATA pointing
 * at it: exit codes, --output json, progress, the token file, and `serve` / `up --detach`
 * as real processes. Waiting is polling with deadlines.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '../../src/store/index.js';
import { openTestStore } from '../helpers/postgres.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken, type ApiServer } from '../../src/api/index.js';
import type { DeploymentView } from '../../src/engine/views.js';
import { firstLine, spawnTracked, TEST_ENV } from '../helpers/processes.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const SPEC = (name: string): string => `name: ${name}
clouds:
  sim: {platform: sim, options: {path: ':memory:'}}
nodeTemplates:
  small: {cloud: sim}
components:
  app:
    nodeTemplate: small
    instances: {count: 2, max: 4}
    provides: {http: {}}
    artefacts: [site/, run.sh]
    lifecycle:
      start: "sh run.sh"
`;

let dir: string;
let dataDir: string;
let store: Store;
let cp: RunningControlPlane;
let api: ApiServer;
let server: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function nubis(args: string[], env: Record<string, string> = {}, cwd = dir): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', NUBIS_SERVER: server, NUBIS_DATA: dataDir, ...TEST_ENV, ...env },
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-cli-it-'));
  dataDir = path.join(dir, 'data');
  fs.mkdirSync(path.join(dir, 'site'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'site', 'index.html'), '<h1>hi</h1>\n');
  fs.writeFileSync(path.join(dir, 'run.sh'), 'echo running\n');
  fs.writeFileSync(path.join(dir, 'webapp.yaml'), SPEC('webapp'));
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'name: Bad_Name\nclouds: {}\nnodeTemplates: {}\ncomponents:\n  app: {nodeTemplate: nowhere}\n');
  store = await openTestStore(path.join(dataDir, 'nubis.db'));
  const events = createEventLog(store);
  cp = await createControlPlane({ dataDir, store, events });
  await cp.start();
  await ensureToken(store, dataDir);
  api = createApiServer({ controlPlane: cp, store });
  server = `http://127.0.0.1:${(await api.listen(0)).port}`;
});

after(async () => {
  await api.close();
  await cp.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--help and command help exit 0; unknown commands and flags exit 2', async () => {
  const help = await nubis(['--help']);
  assert.equal(help.code, 0);
  for (const c of ['up', 'serve', 'plan', 'apply', 'status', 'endpoints', 'events', 'logs', 'scale', 'destroy']) assert.match(help.stdout, new RegExp(`\\n  ${c} `));
  const planHelp = await nubis(['plan', '--help']);
  assert.equal(planHelp.code, 0);
  assert.match(planHelp.stdout, /usage: nubis plan -f <spec.yaml>/);
  const unknown = await nubis(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error\[USAGE\]: unknown command "frobnicate"/);
  const badFlag = await nubis(['status', '--nope']);
  assert.equal(badFlag.code, 2);
  const badOutput = await nubis(['status', '--output', 'yaml']);
  assert.equal(badOutput.code, 2);
  assert.match(badOutput.stderr, /--output: expected table or json/);
});

test('a bad spec exits 2 and prints every problem with file:line:col', async () => {
  const r = await nubis(['apply', '-f', 'bad.yaml']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error\[SPEC_INVALID\]: /);
  assert.match(r.stderr, /bad\.yaml:1:7: \$\.name: expected/);
  assert.match(r.stderr, /bad\.yaml:\d+:\d+: \$\.components\.app\.nodeTemplate/);
  const missing = await nubis(['plan', '-f', 'nope.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read spec file nope\.yaml/);
});

test('no server is exit 3; no token is exit 2 with a hint', async () => {
  const port = await freePort();
  const r = await nubis(['status'], { NUBIS_SERVER: `http://127.0.0.1:${port}` });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^error\[UNREACHABLE\]: cannot reach the Nubis server/);
  const noToken = await nubis(['status'], { NUBIS_DATA: path.join(dir, 'elsewhere') });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /^error\[UNAUTHORIZED\]: missing bearer token/);
  assert.match(noToken.stderr, /no token found/);
  const wrong = await nubis(['status', '--token', 'wrong']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /invalid bearer token/);
});

test('plan, apply --wait, status, endpoints, events, logs, scale, destroy', async () => {
  const plan = await nubis(['plan', '-f', 'webapp.yaml']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /Plan for deployment webapp \(new\):/);
  assert.match(plan.stdout, /^ {2}\+ create-node +webapp\/app-1 +on sim/m);
  assert.match(plan.stdout, /\+ install +webapp\/app-1 +after create-node:webapp\/app-1/);
  assert.match(plan.stdout, /2 to add, 0 to change, 0 to remove\./);
  assert.doesNotMatch(plan.stdout, /\x1b\[/, 'no colour when stdout is not a TTY');
  const planJson = await nubis(['plan', '-f', 'webapp.yaml', '--output', 'json']);
  assert.equal((JSON.parse(planJson.stdout) as { deployment: string }).deployment, 'webapp');

  const apply = await nubis(['apply', '-f', 'webapp.yaml', '--wait', '--timeout', '60s']);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stdout, /^webapp: created \(version 1\)$/m);
  assert.match(apply.stdout, /webapp\/app-1 +instance .*→ running/);
  assert.match(apply.stdout, /^webapp: ready$/m);

  const list = await nubis(['status', '--output', 'json']);
  assert.equal(list.code, 0);
  assert.deepEqual((JSON.parse(list.stdout) as { deployments: { name: string }[] }).deployments.map((d) => d.name), ['webapp']);
  const one = await nubis(['status', 'webapp', '-o', 'json']);
  const view = JSON.parse(one.stdout) as DeploymentView;
  assert.equal(view.state, 'ready');
  assert.equal(view.instances.length, 2);
  const table = await nubis(['status', 'webapp']);
  assert.match(table.stdout, /^INSTANCE +COMPONENT +PHASE +HEALTH +NODE +ENDPOINTS$/m);
  assert.match(table.stdout, /^app-1 +app +running +(healthy|unknown) +running +http=\S+:\d+$/m);

  const eps = await nubis(['endpoints', 'webapp', '--output', 'json']);
  const endpoints = (JSON.parse(eps.stdout) as { endpoints: { instance: string; address: string }[] }).endpoints;
  assert.deepEqual(endpoints.map((e) => e.instance).sort(), ['app-1', 'app-2']);
  const epsTable = await nubis(['endpoints', 'webapp']);
  assert.match(epsTable.stdout, /^app-1 +app +http +\S+:\d+$/m);

  const events = await nubis(['events', '--deployment', 'webapp', '--kind', 'deployment.*', '--output', 'json']);
  assert.equal(events.code, 0);
  const evs = (JSON.parse(events.stdout) as { events: { kind: string; actor: string }[] }).events;
  assert.ok(evs.some((e) => e.kind === 'deployment.applied' && e.actor === 'user:admin'));
  const eventsText = await nubis(['events', '--deployment', 'webapp']);
  assert.match(eventsText.stdout, /webapp\/app-2 +node .*→ running/);
  const badAfter = await nubis(['events', '--after', 'x']);
  assert.equal(badAfter.code, 2);

  const logs = await nubis(['logs', 'app-1']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /^== start \(run /m);
  const logsQualified = await nubis(['logs', 'webapp/app-2', '--step', 'install', '--output', 'json']);
  assert.ok((JSON.parse(logsQualified.stdout) as { logs: { step: string }[] }).logs.every((l) => l.step === 'install'));
  const badStep = await nubis(['logs', 'app-1', '--step', 'reboot']);
  assert.equal(badStep.code, 2);
  assert.match(badStep.stderr, /query parameter "step"/);

  const tooMany = await nubis(['scale', 'webapp', 'app', '9']);
  assert.equal(tooMany.code, 2);
  assert.match(tooMany.stderr, /^error\[SCALE_OUT_OF_BOUNDS\]/);
  const unknownDep = await nubis(['scale', 'nope', 'app', '1']);
  assert.equal(unknownDep.code, 2);
  assert.match(unknownDep.stderr, /^error\[NOT_FOUND\]/);
  const scaled = await nubis(['scale', 'webapp', 'app', '3']);
  assert.equal(scaled.code, 0, scaled.stderr);

  const destroy = await nubis(['destroy', 'webapp', '--wait', '--timeout', '60s']);
  assert.equal(destroy.code, 0, destroy.stderr);
  assert.match(destroy.stdout, /webapp: destroyed/);
  const gone = await nubis(['status', 'webapp']);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /^error\[NOT_FOUND\]/);
});

test('serve runs as a process: prints where it listens, creates a 0600 token, stops on SIGTERM', async () => {
  const data = path.join(dir, 'served');
  const child = spawnTracked(process.execPath, [CLI, 'serve', '--port', '0', '--data', data], { cwd: dir, env: { PATH: process.env['PATH'] ?? '', ...TEST_ENV } });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (out += d));
  child.stderr!.on('data', () => {});
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // ready when it printed the token file line (the last of its start lines)
    await firstLine(child, 'nubis serve', (l) => (l.startsWith('token file: ') ? true : undefined));
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    assert.match(out, new RegExp(`token file: ${path.join(data, 'token').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(created now\\)`));
    assert.equal(fs.statSync(path.join(data, 'token')).mode & 0o777, 0o600);
    const status = await nubis(['status'], { NUBIS_SERVER: url, NUBIS_DATA: data });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /no deployments/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.match(out, /stopped/);
});

test('up --detach starts a background server, applies, prints endpoints and exits 0; a second up reuses it', async () => {
  const data = path.join(dir, 'detached');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'shop.yaml'), SPEC('shop'));
  const first = await nubis(['up', '-f', 'shop.yaml', '--detach', '--data', data, '--port', String(port), '--timeout', '60s'], { NUBIS_DATA: '' });
  const pid = Number(/pid (\d+)/.exec(first.stdout)?.[1]);
  try {
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /started a background Nubis server/);
    assert.match(first.stdout, /^shop: ready$/m);
    assert.match(first.stdout, /^app-1 +app +http +\S+:\d+$/m);
    assert.ok(fs.existsSync(path.join(data, 'serve.log')));
    const second = await nubis(['up', '-f', 'shop.yaml', '--detach', '--data', data, '--port', String(port), '--timeout', '60s']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /reusing the Nubis server/);
    assert.match(second.stdout, /^shop: changed/m);
  } finally {
    if (pid > 0) process.kill(pid, 'SIGTERM');
  }
  // The background server stops on SIGTERM: its port stops answering (the test's timeout bounds the wait).
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
    if (!up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('up in the foreground serves, applies, and on SIGINT without a TTY leaves the deployment running', async () => {
  const data = path.join(dir, 'foreground');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'fg.yaml'), SPEC('fg'));
  const child = spawnTracked(process.execPath, [CLI, 'up', '-f', 'fg.yaml', '--data', data, '--port', String(port)], {
    cwd: dir, env: { PATH: process.env['PATH'] ?? '', ...TEST_ENV }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await firstLine(child, `nubis up (${err})`, (l) => (/press Ctrl-C/.test(l) ? true : undefined));
    assert.match(out, /fg\/app-1 +node .*→ running/, 'per-resource progress');
    assert.match(out, /^app-2 +app +http +\S+:\d+$/m, 'endpoints');
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, err);
  assert.match(out, /leaving fg running/);
});
