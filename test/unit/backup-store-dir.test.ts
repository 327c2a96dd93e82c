/** The directory store through the store conformance suite (test/helpers/store-conformance.ts). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDirStore } from '../../src/operations/backups/stores/index.js';
import { storeConformance } from '../helpers/store-conformance.js';

storeConformance('dir', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-dirstore-'));
  const store = createDirStore({ path: path.join(dir, 'backups') });
  return {
    store,
    async close() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
