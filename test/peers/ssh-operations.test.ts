/**
 * Custom operations on two real sshd hosts (test/fixtures/ssh-hosts/sshd-hosts.sh): a
 * component's operation runs through each host's agent with its typed parameter as
 * NUBIS_PARAM_*, each host's output comes back with its own exit code, one host failing is
 * reported while the other succeeds, and a timed-out operation leaves no process behind on its
 * host (the same check first sees a running one's process there). Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, tempDir, waitFor } from '../helpers/control-plane.js';
import { hostProcesses, sshHostsUp } from '../helpers/ssh-hosts.js';

const actor = { actor: 'user:ssh-operations-test' };

test('operations on an ssh pool of two hosts: per-host output and exit code, a failing host reported, a timeout leaves nothing running', { timeout: 170_000 }, async () => {
  const f = await sshHostsUp(2);
  const data = tempDir('nubis-ssh-ops-');
  let cp: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  try {
    const options = { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: f.privateKey, killGraceMs: 500 };
    const spec = `name: sshops
clouds:
  pool: { platform: ssh, options: ${JSON.stringify(options)} }
nodeTemplates:
  n: { cloud: pool }
components:
  app:
    nodeTemplate: n
    instances: { count: 2 }
    lifecycle: { start: "exec sleep 100000" }
    operations:
      where:
        run: 'echo "$NUBIS_INSTANCE on $(cat /etc/hostname 2>/dev/null || hostname) tag=$NUBIS_PARAM_TAG"; test "$NUBIS_PARAM_FAIL_ON" != "$NUBIS_INSTANCE" || exit 5'
        params:
          tag: { type: string, pattern: "^[a-z0-9-]+$", required: true }
          fail_on: { type: string, default: none }
      linger:
        run: 'sleep 1234 & wait'
        timeout: 1s
      hold:
        run: 'sleep 4321 & wait'
        timeout: 15s
`;
    cp = await startControlPlane(data, { discoveryIntervalMs: 0, engine: { sweepIntervalMs: 1000 } });
    await cp.apply({ spec, file: 'app.yaml' }, actor);
    await waitFor('sshops ready', async () => (await cp!.getDeployment('sshops')).state === 'ready', 90_000, 250);

    const ok = await cp.runOperation('sshops', 'app', 'where', { params: { tag: 'first' } }, actor);
    assert.equal(ok.state, 'succeeded', JSON.stringify(ok.instances));
    assert.deepEqual(ok.instances.map((i) => [i.instance, i.exitCode]), [['app-1', 0], ['app-2', 0]]);
    for (const i of ok.instances) assert.match(i.output, new RegExp(`^${i.instance} on \\S+ tag=first\\n$`));
    assert.notEqual(ok.instances[0]!.output.split(' ')[2], undefined);

    const partial = await cp.runOperation('sshops', 'app', 'where', { params: { tag: 'second', fail_on: 'app-2' } }, actor);
    assert.equal(partial.state, 'partial');
    assert.deepEqual(partial.instances.map((i) => [i.instance, i.state, i.exitCode]), [['app-1', 'succeeded', 0], ['app-2', 'failed', 5]]);

    const view = await cp.getDeployment('sshops');
    const hostIndex = (instance: string): number => {
      const node = view.instances.find((i) => i.name === instance)!.node;
      return f.hosts.findIndex((h) => node.address === h.address) + 1;
    };
    // the check sees an operation's process while it runs (so its absence below means something)
    const held = await cp.runOperation('sshops', 'app', 'hold', { instances: ['app-1'], wait: false }, actor);
    await waitFor('sleep 4321 on the host', async () => (await hostProcesses(f, hostIndex('app-1'))).some((c) => c.includes('sleep 4321')), 15_000, 100);
    await waitFor('hold timed out', async () => (await cp!.operationRun('sshops', held.id)).state !== 'running', 30_000, 250);
    await waitFor('no sleep 4321 left on the host', async () => !(await hostProcesses(f, hostIndex('app-1'))).some((c) => c.includes('sleep 4321')), 20_000, 200);
    const slow = await cp.runOperation('sshops', 'app', 'linger', { instances: ['app-1'] }, actor);
    assert.equal(slow.instances[0]!.state, 'timed-out');
    const host = hostIndex('app-1');
    assert.ok(host >= 1, 'the instance\'s host is one of the fixture\'s');
    await waitFor('no sleep 1234 left on the host', async () => !(await hostProcesses(f, host)).some((c) => c.includes('sleep 1234')), 20_000, 200);
  } finally {
    await cp?.close();
    await f.down();
  }
});
