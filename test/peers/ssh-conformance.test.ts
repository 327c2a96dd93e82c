/**
 * The driver conformance suite against the ssh driver: nine real sshd hosts in network
 * namespaces on this machine (test/fixtures/ssh-hosts/sshd-hosts.sh), one per node the suite
 * makes. Needs root.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import type { Driver } from '../../src/drivers/driver.js';
import { createSshDriver } from '../../src/drivers/ssh/index.js';
import { sshHostsUp } from '../helpers/ssh-hosts.js';

runDriverConformance('ssh', async () => {
  const hosts = await sshHostsUp(9);
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-ssh-conformance-'));
  let driver: Driver;
  try {
    driver = createSshDriver({
      cloud: 'pool',
      options: { hosts: hosts.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: hosts.privateKey, killGraceMs: 500 },
      dataDir: data,
      clock: createRealClock(),
    });
  } catch (e) {
    await hosts.down();
    throw e;
  }
  return {
    driver,
    runningTimeoutMs: 20_000,
    pollMs: 200,
    async teardown() {
      try {
        for (const n of await driver.list({}, new AbortController().signal)) await driver.delete(n.id, new AbortController().signal);
        await driver.close();
      } finally {
        await hosts.down();
        fs.rmSync(data, { recursive: true, force: true });
      }
    },
  };
});
