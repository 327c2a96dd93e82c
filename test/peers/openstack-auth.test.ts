/**
 * A wrong password against a real OpenStack (the peer tier: NUBIS_OPENSTACK or OS_* from the
 * environment, see test/helpers/openstack-env.ts). A real Keystone locks an account after a few
 * failed logins, so the token requests the driver SENDS are counted over many engine sweeps:
 * one for the wrong password, however long the deployment exists; then the right password,
 * set with the credential registry while the control plane runs, makes the deployment's node
 * run without a restart, and destroy finishes. No test here waits on an agent at a server's
 * address (those addresses belong to no machine here): convergence is the node running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { createEventLog } from '../../src/events/index.js';
import { createControlPlane } from '../../src/engine/index.js';
import { createOpenStackDriver, defaultDriverFactories } from '../../src/drivers/index.js';
import type { RequestRecord } from '../../src/drivers/openstack/index.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { openStackOptions, readOpenStackEnv } from '../helpers/openstack-env.js';

const found = readOpenStackEnv();

if ('error' in found) {
  test('openstack peer tier (wrong password): a cloud is configured', () => {
    assert.fail(found.error);
  });
} else {
  const env = found;
  test(`openstack at ${env.authUrl}: a wrong password costs one login over many sweeps; the right one converges without restart`, { timeout: 600_000 }, async (t) => {
    const dir = tempDir('nubis-os-peer-auth-');
    const records: RequestRecord[] = [];
    const logins = (): number => records.filter((r) => r.service === 'identity' && r.method === 'POST' && r.path.endsWith('/auth/tokens')).length;
    const store = await openStore({ path: path.join(dir, 'nubis.db') });
    const events = createEventLog(store);
    const cp = await createControlPlane({
      dataDir: dir, store, events,
      drivers: {
        ...defaultDriverFactories(),
        openstack: (ctx) => createOpenStackDriver({ ...ctx, options: { ...ctx.options, onRequest: (r: RequestRecord) => records.push(r) } }),
      },
      engine: { sweepIntervalMs: 50 },
    });
    await cp.start();
    t.after(async () => {
      await cp.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const by = { actor: 'user:test' };
    await cp.registry.setCredential('default', 'oscred', { ...env.credentials, ...(env.credentials['password'] !== undefined ? { password: `${env.credentials['password']}-wrong` } : { applicationCredentialSecret: 'wrong' }) }, by);
    const spec = [
      'name: osauth',
      `clouds: { os: { platform: openstack, credential: oscred, options: ${JSON.stringify(openStackOptions(env))} } }`,
      'nodeTemplates: { t: { cloud: os } }',
      'components: { app: { nodeTemplate: t, instances: { count: 1 }, lifecycle: { start: run } } }',
      '',
    ].join('\n');
    await cp.apply({ spec }, by);
    const refused = async (): Promise<number> => (await cp.getDeployment('osauth')).clouds?.find((c) => c.cloud === 'os')?.refused ?? 0;
    await waitFor('the cloud stopped, then 200 calls refused', async () => (await refused()) >= 200, 120_000);
    assert.equal(logins(), 1, `token requests sent for the wrong password: ${logins()}`);
    const v = await cp.getDeployment('osauth');
    assert.match(v.clouds![0]!.reason, /authentication failed \(401\)/);

    await cp.registry.setCredential('default', 'oscred', env.credentials, by);
    await waitFor('the node running', async () => (await cp.getDeployment('osauth')).instances[0]?.node.state === 'running', 300_000, 500);
    assert.equal((await cp.getDeployment('osauth')).clouds, undefined);
    await cp.destroy('osauth', by);
    await waitFor('osauth gone', async () => !(await cp.listDeployments()).some((d) => d.name === 'osauth'), 300_000, 500);
  });
}
