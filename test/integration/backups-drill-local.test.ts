/**
 * The restore-drill scenario (test/helpers/backup-drill.ts) on the real `local` cloud with the
 * directory store, through `nubis serve` and the CLI: back up db-1, wreck its data, restore in
 * place and onto db-2, drill on a scratch node (a new sandbox) — every file byte-identical by
 * SHA-256 read from the sandboxes themselves; the backup counts as verified only after the
 * drill; the scratch sandbox is gone. What was sent is counted: the store holds exactly the one
 * object, of the backup's size and hash, and nothing partial.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/control-plane.js';
import { freePort, killGroup, runCli, startServe } from '../helpers/processes.js';
import { backupRestoreDrill, drillSpec, localSums, SERVER, type DrillSite } from '../helpers/backup-drill.js';

/** Every file under `dir`, relative. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const go = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? go(path.join(d, e.name)) : out.push(path.relative(dir, path.join(d, e.name))));
  };
  if (fs.existsSync(dir)) go(dir);
  return out;
}

test('local + dir store: backup, wreck, restore in place and onto another instance, drill on a scratch sandbox — byte-identical by SHA-256', { timeout: 400_000 }, async () => {
  const data = tempDir('nubis-bkd-');
  const work = tempDir('nubis-bkd-spec-');
  const storeDir = tempDir('nubis-bkd-store-');
  const drillOut = tempDir('nubis-bkd-drill-');
  const nodes = path.join(data, 'local', 'nodes');
  /** The sandbox directory of `instance` (exactly one node holds it). */
  const instanceDir = (instance: string): string => {
    const hits = fs.existsSync(nodes) ? fs.readdirSync(nodes).map((n) => path.join(nodes, n, 'instances', instance)).filter((p) => fs.existsSync(p)) : [];
    assert.equal(hits.length, 1, `one sandbox holds ${instance}: ${hits.join(', ')}`);
    return hits[0]!;
  };
  const site: DrillSite = {
    cloud: `{ platform: local, options: { portBase: ${31000 + Math.floor(Math.random() * 300) * 20} } }`,
    store: `{ kind: dir, path: ${JSON.stringify(storeDir)} }`,
    drillOut,
    files: async (instance) => localSums(instanceDir(instance)),
    drillFindings: async (run) => fs.readFileSync(path.join(drillOut, `${run}.sums`), 'utf8'),
    nodeCount: async () => (fs.existsSync(nodes) ? fs.readdirSync(nodes).length : 0),
  };
  fs.writeFileSync(path.join(work, 'server.mjs'), SERVER);
  fs.writeFileSync(path.join(work, 'bkd.yaml'), drillSpec('bkd', site));
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  try {
    const up = await runCli(['apply', '-f', path.join(work, 'bkd.yaml'), '--wait', '--timeout', '180'], env);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const b = await backupRestoreDrill({
      site, deployment: 'bkd', port, data, env,
      countSent: async () => {
        const before = walk(storeDir);
        return async (size) => {
          const added = walk(storeDir).filter((f) => !before.includes(f));
          assert.equal(added.length, 1, `one object written to the store: ${added.join(', ')}`);
          const bytes = fs.readFileSync(path.join(storeDir, added[0]!));
          assert.equal(bytes.length, size, 'the store holds exactly the backup\'s bytes');
          assert.ok(!added[0]!.includes('.partial-'));
        };
      },
    });
    const obj = fs.readFileSync(path.join(storeDir, b.key!));
    assert.equal(createHash('sha256').update(obj).digest('hex'), b.sha256, 'the stored object has the recorded SHA-256');
  } finally {
    await runCli(['destroy', 'bkd', '--wait', '--timeout', '120'], env).catch(() => undefined);
    killGroup(serve, 'SIGTERM');
  }
});
