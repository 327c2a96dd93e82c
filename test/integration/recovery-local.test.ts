/**
 * Recovery on the real `local` cloud, through `nubis serve`, the CLI and the API (issue 10,
 * item 3): the component's process is SIGKILLed (found by pid through its environment) and the
 * ladder restarts it until it answers again; a component that keeps dying climbs the ladder —
 * restart, restart, reboot (the node's agent and processes killed and started again), recreate
 * (a new node) — and gives up at its limits with exactly one gave-up event, after which nothing
 * more is tried until `nubis recovery reset`. The tests wait on events, never on a sleep,
 * except to show that nothing happens after the give-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { freePort, killGroup, runCli, serveApi, startServe } from '../helpers/processes.js';

const SERVER = `import http from 'node:http';
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.NUBIS_PORT_HTTP), '127.0.0.1');
`;

function spec(name: string, portBase: number, component: string): string {
  return [`name: ${name}`, `clouds: { local: { platform: local, options: { portBase: ${portBase} } } }`, 'nodeTemplates: { n: { cloud: local } }', 'components:', component].join('\n');
}

/** Pids of the start process of an instance of a deployment (by the env the agent gives handlers). */
function startPids(deployment: string, instance: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      if (env.includes(`NUBIS_DEPLOYMENT=${deployment}`) && env.includes(`NUBIS_INSTANCE=${instance}`) && env.includes('NUBIS_STEP=start')) out.push(Number(p));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

interface Ev { id: number; kind: string; target?: string; outcome?: string; reason?: string; data?: Record<string, unknown> }

async function setup(prefix: string) {
  const data = tempDir(`nubis-${prefix}-`);
  const work = tempDir(`nubis-${prefix}-spec-`);
  fs.writeFileSync(path.join(work, 'server.mjs'), SERVER);
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...args: string[]) => runCli(args, env);
  const events = async (deployment: string | undefined, kind = 'recovery.*'): Promise<Ev[]> => {
    const r = await serveApi(port, data, 'GET', `/v1/events?${deployment ? `deployment=${deployment}&` : ''}kind=${encodeURIComponent(kind)}&limit=1000`);
    assert.equal(r.status, 200);
    return r.json.events as Ev[];
  };
  const apply = async (name: string, component: string): Promise<void> => {
    const file = path.join(work, `${name}.yaml`);
    fs.writeFileSync(file, spec(name, 30000 + Math.floor(Math.random() * 200) * 50, component));
    const r = await cli('apply', '-f', file, '--wait', '--timeout', '180');
    assert.equal(r.code, 0, r.stderr + r.stdout);
  };
  const close = async (names: string[]): Promise<void> => {
    for (const n of names) await cli('destroy', n, '--wait', '--timeout', '120').catch(() => undefined);
    killGroup(serve, 'SIGTERM');
  };
  return { data, port, cli, events, apply, close };
}

const kinds = (evs: Ev[]): string[] => evs.map((e) => (e.kind === 'recovery.step' ? `step:${String(e.data?.['step'])}${e.data?.['phase'] ? `:${String(e.data['phase'])}` : ''}` : e.kind.slice('recovery.'.length)));

test('local: a killed component is restarted by its recovery policy and answers again; status shows the ladder', { timeout: 300_000 }, async () => {
  const s = await setup('recovery-kill');
  try {
    await s.apply('reckill', [
      '  web:',
      '    nodeTemplate: n',
      '    provides: { http: {} }',
      '    artefacts: [server.mjs]',
      '    lifecycle:',
      '      start: exec node server.mjs',
      '      health: { http: { port: http, path: / }, interval: 500ms, retries: 2 }',
      '    recovery: { window: 10s, failures: 2, limits: { restart: { max: 5, within: 10m } } }',
      '',
    ].join('\n'));
    const st = JSON.parse((await s.cli('recovery', 'status', 'reckill', '--output', 'json')).stdout);
    assert.equal(st.instances[0].status, 'watching');
    assert.match(st.instances[0].line, /^watching: 0\/2 failures in 10s; restart 0\/5 per 10m, reboot 0\/2 per 1h, recreate 0\/1 per 6h$/);
    const [pid] = startPids('reckill', 'web-1');
    assert.ok(pid, 'the start process of web-1 is found by its environment');
    process.kill(pid, 'SIGKILL');
    const evs = await waitFor('recovered', async () => {
      const e = await s.events('reckill');
      return e.some((x) => x.kind === 'recovery.recovered') ? e : undefined;
    }, 120_000, 200);
    assert.deepEqual(kinds(evs), ['detected', 'step:restart', 'recovered']);
    assert.equal(evs[0]!.reason, 'its process exited');
    assert.equal(evs[0]!.data?.['failure'], 'component');
    assert.equal(evs[1]!.data?.['tenant'], 'default');
    const v = await waitFor('web-1 running', async () => {
      const r = await serveApi(s.port, s.data, 'GET', '/v1/deployments/reckill');
      const i = r.json.instances[0];
      return i.phase === 'running' && i.health === 'healthy' ? i : undefined;
    }, 60_000);
    const answer = await fetch(`http://${v.endpoints.http}/`);
    assert.equal(await answer.text(), 'ok');
    const newPid = startPids('reckill', 'web-1')[0];
    assert.ok(newPid && newPid !== pid, 'a new start process runs');
    const status = await s.cli('status', 'reckill');
    assert.match(status.stdout, /recovery\n {2}web-1: watching: 0\/2 failures in 10s; restart 1\/5 per 10m/);
  } finally {
    await s.close(['reckill']);
  }
});

test('local: a component that keeps dying climbs restart → reboot → recreate and gives up once at its limits; reset starts again', { timeout: 420_000 }, async () => {
  const s = await setup('recovery-climb');
  try {
    await s.apply('recclimb', [
      '  job:',
      '    nodeTemplate: n',
      '    lifecycle:',
      // alive long enough to count as started, then it dies, every time
      '      start: exec node -e "setTimeout(() => process.exit(3), 1500)"',
      '    recovery:',
      '      window: 10s',
      '      failures: 2',
      '      limits: { restart: { max: 2, within: 10m }, reboot: { max: 1, within: 10m }, recreate: { max: 1, within: 10m } }',
      '      stepTimeout: 2m',
      '',
    ].join('\n'));
    const evs = await waitFor('gave up', async () => {
      const e = await s.events('recclimb');
      return e.some((x) => x.kind === 'recovery.gave-up') ? e : undefined;
    }, 300_000, 250);
    const steps = kinds(evs).filter((k) => k.startsWith('step:') && !k.endsWith(':source'));
    assert.deepEqual(steps, ['step:restart', 'step:restart', 'step:reboot', 'step:recreate', 'step:alert'], kinds(evs).join(' '));
    const source = evs.find((e) => e.data?.['phase'] === 'source');
    assert.match(source?.reason ?? '', /recreating job-1 fresh: it has no verified backup/);
    const gaveUp = evs.filter((e) => e.kind === 'recovery.gave-up');
    assert.equal(gaveUp.length, 1);
    assert.match(gaveUp[0]!.reason ?? '', /the ladder reached alert.*restart: its limit is reached \(2 of 2 within 10 min\); reboot: its limit is reached \(1 of 1 within 10 min\); recreate: its limit is reached \(1 of 1 within 10 min\)/);
    // the reboot and the recreate's delete went through the local driver (this server's data dir is the test's own)
    const calls = (await s.events(undefined, 'driver.call')).map((e) => String(e.data?.['op']));
    assert.ok(calls.includes('reboot') && calls.includes('delete'), calls.join(' '));
    // nothing more happens: a few observation rounds later, still one give-up and no step
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal((await s.events('recclimb')).length, evs.length, 'no recovery event after the give-up');
    const st = JSON.parse((await s.cli('recovery', 'status', 'recclimb', '--output', 'json')).stdout);
    assert.equal(st.instances[0].status, 'gave-up');
    assert.match(st.instances[0].line, /^gave up at .*run `nubis recovery reset recclimb job-1`$/);
    // a person acts: the ladder starts again from its first step
    const reset = await s.cli('recovery', 'reset', 'recclimb', 'job-1');
    assert.equal(reset.code, 0, reset.stderr);
    const again = await waitFor('restarted after reset', async () => {
      const e = await s.events('recclimb');
      const after = e.slice(evs.length);
      return after.some((x) => x.kind === 'recovery.step') ? after : undefined;
    }, 120_000, 250);
    assert.deepEqual(kinds(again).slice(0, 3), ['reset', 'detected', 'step:restart']);
    assert.equal(again[0]!.reason?.startsWith('reset by user:admin after a give-up'), true);
    const bad = await s.cli('recovery', 'reset', 'recclimb', 'nope-1');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no instance nope-1 with a recovery policy/);
  } finally {
    await s.close(['recclimb']);
  }
});
