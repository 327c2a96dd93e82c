/** The driver conformance suite against the local driver: real agents in a temp root. */
import { rmSync } from 'node:fs';
import { createRealClock } from '../../src/clock/index.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { createLocalDriver } from '../../src/drivers/local/index.js';
import { tempDir } from './agent-test-helpers.js';

runDriverConformance('local', async () => {
  const root = tempDir('local-conformance');
  const driver = createLocalDriver({ cloud: 'here', options: { root, portBase: 24000, killGraceMs: 500 }, dataDir: root, clock: createRealClock() });
  return {
    driver,
    runningTimeoutMs: 15_000,
    async teardown() {
      for (const n of await driver.list({}, new AbortController().signal)) await driver.delete(n.id, new AbortController().signal);
      await driver.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
});
