/**
 * Recovery on real sshd hosts (test/fixtures/ssh-hosts: network namespaces, own sshd each),
 * issue 10 item 3. One web component with a recovery policy on an `ssh` pool of three hosts:
 *
 * 1. its process is SIGKILLed (by pid: the hosts share this machine's process table): the
 *    ladder restarts it — one step;
 * 2. its host is frozen (every process of the host SIGSTOPped, sshd included): the agent does
 *    not answer, so the restart is skipped; the reboot cannot reach the host and fails; the
 *    node is recreated on another host of the pool — two steps, then healthy;
 * 3. the new host's link is taken down (`ip link set … down`): the reboot fails again, the
 *    recreate is over its limit, the ladder alerts and gives up, once.
 *
 * Needs root. Waits on events; every process it stopped is continued, every host removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { NubisEvent } from '../../src/events/index.js';
import path from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createRecovery } from '../../src/operations/index.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { sshHostsUp, type SshHostsFixture } from '../helpers/ssh-hosts.js';

const actor = { actor: 'user:ssh-recovery-test' };
const SERVER = `import http from 'node:http';
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.NUBIS_PORT_HTTP), process.env.NUBIS_HOST);
`;

async function hostPids(f: SshHostsFixture, i: number): Promise<number[]> {
  return (await f.host('pids', i)).split('\n').filter((p) => /^\d+$/.test(p)).map(Number);
}

function startPid(pids: number[]): number | undefined {
  return pids.find((p) => {
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      return env.includes('NUBIS_INSTANCE=web-1') && env.includes('NUBIS_STEP=start');
    } catch {
      return false;
    }
  });
}

const signalAll = (pids: number[], sig: NodeJS.Signals): void => {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      /* gone */
    }
  }
};

const steps = (evs: NubisEvent[]): string[] => evs.filter((e) => e.kind !== 'recovery.step' || e.data?.['phase'] !== 'source')
  .map((e) => (e.kind === 'recovery.step' ? `step:${String(e.data?.['step'])}` : e.kind.slice('recovery.'.length)));

test('ssh hosts: kill the component, freeze its host, take its link down — the ladder climbs exactly as far as needed and stops at its limit', { timeout: 480_000 }, async () => {
  const f = await sshHostsUp(3);
  const data = tempDir('nubis-ssh-recovery-');
  const frozen = new Set<number>();
  let cutLink = 0;
  const store = await openStore({ path: path.join(data, 'nubis.db') });
  const events = createEventLog(store);
  const cp = await createControlPlane({
    dataDir: data, store, events, discoveryIntervalMs: 0, retry: { attempts: 2, baseMs: 200 },
    engine: { sweepIntervalMs: 2000, observeIntervalMs: 1000, observeTimeoutMs: 2000 },
  });
  await createRecovery({ engine: cp.engine, store, events, clock: createRealClock() });
  await cp.start();
  const recoveryEvents = (): Promise<NubisEvent[]> => events.list({ deployment: 'sshrec', kind: 'recovery.*', limit: 1000 });
  const until = (what: string, from: number, kind: string): Promise<NubisEvent[]> => waitFor(what, async () => {
    const evs = (await recoveryEvents()).slice(from);
    return evs.some((e) => e.kind === kind) ? evs : undefined;
  }, 240_000, 250);
  /** The fixture host (1-based) of web-1's node, by its address. */
  const hostOf = (): number => {
    const address = cp.engine.nodes.get('sshrec/web-1')?.observed?.address;
    return f.hosts.findIndex((h) => h.address === address) + 1;
  };
  const healthy = (): Promise<unknown> => waitFor('web-1 running and healthy', () => {
    const i = cp.engine.instances.get('sshrec/web-1');
    return i?.phase === 'running' && i.health === 'healthy' ? i : undefined;
  }, 240_000, 100);
  try {
    const options = { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: f.privateKey, killGraceMs: 500, connectTimeoutMs: 3000, commandTimeoutMs: 8000 };
    const spec = JSON.stringify({
      name: 'sshrec',
      clouds: { pool: { platform: 'ssh', options } },
      nodeTemplates: { n: { cloud: 'pool' } },
      components: {
        web: {
          nodeTemplate: 'n', provides: { http: {} }, artefacts: ['server.mjs'],
          lifecycle: { start: 'exec node server.mjs', health: { http: { port: 'http', path: '/' }, interval: '1s', retries: 2 } },
          recovery: { window: '20s', failures: 3, limits: { restart: { max: 3, within: '10m' }, reboot: { max: 2, within: '10m' }, recreate: { max: 1, within: '10m' } } },
        },
      },
    });
    await cp.apply({ spec, file: 'sshrec.yaml', artefacts: { 'server.mjs': Buffer.from(SERVER).toString('base64') } }, actor);
    await healthy();

    // 1. the component dies: restarted, nothing more
    const first = hostOf();
    assert.ok(first > 0, 'the start process is on a pool host');
    const pid = startPid(await hostPids(f, first))!;
    process.kill(pid, 'SIGKILL');
    const one = await until('recovered from the kill', 0, 'recovery.recovered');
    assert.deepEqual(steps(one), ['detected', 'step:restart', 'recovered']);
    await healthy();

    // 2. the host freezes (sshd too): no restart (the agent does not answer), the reboot cannot reach it, a recreate on another host
    const pids = await hostPids(f, first);
    for (const p of pids) frozen.add(p);
    signalAll(pids, 'SIGSTOP');
    const two = await until('recovered from the freeze', one.length, 'recovery.recovered');
    assert.deepEqual(steps(two), ['detected', 'step:reboot', 'step:recreate', 'recovered'], two.map((e) => e.reason).join('\n'));
    assert.equal(two[0]!.data?.['failure'], 'unreachable');
    assert.match(two[1]!.reason ?? '', /skipped restart: the node does not answer/);
    assert.match(two[2]!.reason ?? '', /reboot failed/);
    await healthy();
    const second = hostOf();
    assert.ok(second > 0 && second !== first, `recreated on another host (${first} → ${second})`);
    // the frozen host comes back: the sweep removes its old node (a duplicate by tag)
    signalAll([...frozen], 'SIGCONT');
    frozen.clear();

    // 3. the new host's link goes down: the reboot fails, the recreate is over its limit: alert, give up — once
    await f.host('link-down', second);
    cutLink = second;
    const three = await until('gave up', one.length + two.length, 'recovery.gave-up');
    assert.deepEqual(steps(three), ['detected', 'step:reboot', 'step:alert', 'gave-up'], three.map((e) => e.reason).join('\n'));
    assert.match(three[3]!.reason ?? '', /recreate: its limit is reached \(1 of 1 within 10 min\)/);
    await new Promise((r) => setTimeout(r, 5000)); // a few observation rounds: nothing more is tried
    const all = await recoveryEvents();
    assert.equal(all.filter((e) => e.kind === 'recovery.gave-up').length, 1);
    assert.equal(all.length, one.length + two.length + three.length, 'no recovery event after the give-up');
  } finally {
    signalAll([...frozen], 'SIGCONT');
    if (cutLink) await f.host('link-up', cutLink).catch(() => undefined);
    await cp.destroy('sshrec', actor).catch(() => undefined);
    await waitFor('destroyed', async () => !(await cp.getDeployment('sshrec').then(() => true, () => false)), 120_000, 250).catch(() => undefined);
    await cp.stop();
    await store.close();
    await f.down();
  }
});
