/**
 * Backups on real sshd hosts (the project's netns fixture, test/helpers/ssh-hosts.ts), issue 10:
 * an `ssh` pool of three hosts runs a component of two instances; its backup policy's long-term
 * store is SFTP on host 3 of that pool (host key pinned, the key a stored credential). Through
 * `nubis serve` and the CLI: the restore-drill scenario (test/helpers/backup-drill.ts) — back up
 * db-1, wreck its data, restore in place and onto db-2, drill on a scratch node; every file's
 * SHA-256 is read back over ssh from the hosts and equals the original's, the backup is verified
 * only after the drill, and the scratch node's directory is gone from every host. What was sent
 * to the store is counted on host 3's link (bytes into its namespace during the run) and on its
 * disk (exactly one object, the backup's size and hash).
 *
 * Then the fault: a second policy whose SFTP store is a 4 MiB tmpfs on host 3 fills up during a
 * real backup run — the run fails with BACKUP_STORE_FULL (twice), no partial file is left and
 * nothing is listed as good, a drill of that policy has nothing to restore, and one alert is open
 * for the two failures. Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/control-plane.js';
import { freePort, killGroup, runCli, startServe } from '../helpers/processes.js';
import { sshHostsUp } from '../helpers/ssh-hosts.js';
import { backupRestoreDrill, cliJson, drillSpec, parseSums, SERVER, type DrillSite, type RunView } from '../helpers/backup-drill.js';

const STORE_PATH = '/opt/backups';
const FULL_PATH = '/opt/full';

test('ssh pool + SFTP store on one of its hosts: backup, wreck, restore in place and onto another instance, drill — byte-identical; a store that fills up fails the run, alerts once', { timeout: 900_000 }, async () => {
  const f = await sshHostsUp(3);
  const data = tempDir('nubis-bkssh-');
  const work = tempDir('nubis-bkssh-spec-');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const cli = (...args: string[]) => runCli(args, env);
  const store = f.hosts[2]!;
  const hostIndex = (address: string): number => {
    const i = f.hosts.findIndex((h) => h.address === address);
    assert.ok(i >= 0, `${address} is a pool host`);
    return i + 1;
  };
  /** Node directories on every host (each host's /opt is its own directory of the fixture). */
  const nodeDirs = (): string[] => f.hosts.flatMap((h) => {
    const d = path.join(f.stateDir, h.name, 'opt', 'nubis', 'nodes');
    return fs.existsSync(d) ? fs.readdirSync(d).map((n) => `${h.name}/${n}`) : [];
  });
  const site: DrillSite = {
    cloud: JSON.stringify({ platform: 'ssh', options: { hosts: f.hosts.map((h) => ({ address: h.address, name: h.name })), privateKeyPath: f.privateKey, killGraceMs: 500 } }),
    store: JSON.stringify({ kind: 'sftp', host: store.address, port: store.port, user: f.user, path: STORE_PATH, hostKey: store.fingerprint, credential: 'bkstore' }),
    drillOut: '/opt/drill-out',
    async files(instance, address) {
      const out = await f.ssh(hostIndex(address), `cd /opt/nubis/nodes/*/instances/${instance} && find db files -type f | sort | xargs -r sha256sum`);
      return parseSums(out);
    },
    async drillFindings(run) {
      const found: string[] = [];
      for (let i = 1; i <= f.hosts.length; i++) found.push(await f.ssh(i, `cat /opt/drill-out/${run}.sums 2>/dev/null || true`));
      const hits = found.filter((t) => t.trim() !== '');
      assert.equal(hits.length, 1, 'one host ran the drill');
      return hits[0]!;
    },
    nodeCount: async () => nodeDirs().length,
  };
  const full = `  full:
    component: db
    what: { dump: true, paths: [files] }
    store: ${JSON.stringify({ kind: 'sftp', host: store.address, user: f.user, path: `${FULL_PATH}/backups`, hostKey: store.fingerprint, credential: 'bkstore' })}
`;
  const serve = await startServe(data, port);
  try {
    await f.ssh(3, `mkdir -p ${FULL_PATH} && mount -t tmpfs -o size=4m,mode=0700 nubis-bk-full ${FULL_PATH}`);
    fs.writeFileSync(path.join(work, 'cred.json'), JSON.stringify({ privateKey: fs.readFileSync(f.privateKey, 'utf8') }));
    const cred = await cli('credentials', 'set', 'bkstore', '--from-file', path.join(work, 'cred.json'));
    assert.equal(cred.code, 0, cred.stderr + cred.stdout);
    fs.writeFileSync(path.join(work, 'server.mjs'), SERVER);
    fs.writeFileSync(path.join(work, 'bkssh.yaml'), drillSpec('bkssh', site, full));
    const up = await cli('apply', '-f', path.join(work, 'bkssh.yaml'), '--wait', '--timeout', '300');
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const pol = await cli('backups', 'policies', 'bkssh');
    assert.match(pol.stdout, new RegExp(`nightly: db, archive of backup handler dump, files → sftp:root@${store.address.replace(/\./g, '\\.')}:22${STORE_PATH}`));

    const intoStoreHost = (): number => Number(fs.readFileSync(`/sys/class/net/${store.link}/statistics/tx_bytes`, 'utf8'));
    const b: RunView = await backupRestoreDrill({
      site, deployment: 'bkssh', port, data, env,
      countSent: async () => {
        const before = intoStoreHost();
        const objects = await f.ssh(3, `find ${STORE_PATH} -type f 2>/dev/null | sort`);
        return async (size) => {
          const into = intoStoreHost() - before;
          // the archive went to host 3 once: its bytes plus SSH framing, not twice
          assert.ok(into >= size && into < size * 1.25 + 200_000, `${into} bytes went into host 3 for a ${size}-byte archive`);
          const now = (await f.ssh(3, `find ${STORE_PATH} -type f | sort`)).split('\n').filter((l) => l !== '' && !objects.split('\n').includes(l));
          assert.equal(now.length, 1, `one object on the SFTP server: ${now.join(', ')}`);
          assert.ok(!now[0]!.includes('.partial-'), now[0]);
          assert.equal(Number((await f.ssh(3, `stat -c %s ${now[0]}`)).trim()), size, 'the SFTP server holds exactly the backup\'s bytes');
        };
      },
    });
    const [onDisk] = (await f.ssh(3, `sha256sum ${STORE_PATH}/${b.key}`)).split(/\s+/);
    assert.equal(onDisk, b.sha256, 'the object on host 3 has the recorded SHA-256');

    // the fault: the full store's tmpfs cannot take a 4.6 MB archive
    for (let i = 0; i < 2; i++) {
      const r = await cli('backups', 'run', 'bkssh', '--policy', 'full', '--instance', 'db-1', '-o', 'json');
      assert.equal(r.code, 1, `a failed run exits 1: ${r.stderr}${r.stdout}`);
      const [run] = (JSON.parse(r.stdout) as { runs: RunView[] }).runs;
      assert.equal(run!.state, 'failed');
      assert.match(run!.detail ?? '', /^BACKUP_STORE_FULL: /);
      assert.equal(run!.sizeBytes, undefined, 'a failed run records no size as if good');
    }
    assert.equal((await f.ssh(3, `find ${FULL_PATH} -type f | wc -l`)).trim(), '0', 'no partial file left on the full store');
    const { runs } = await cliJson<{ runs: RunView[] }>(cli, 'backups', 'list', 'bkssh', '--policy', 'full', '--kind', 'backup');
    assert.deepEqual(runs.map((r) => r.state), ['failed', 'failed'], 'nothing of the full store is listed as good');
    const drill = await cli('backups', 'drill', 'bkssh', '--policy', 'full');
    assert.notEqual(drill.code, 0);
    assert.match(drill.stderr + drill.stdout, /no good backup/);
    const { alerts } = await cliJson<{ alerts: { rule: string; state: string; count: number; subject: string }[] }>(cli, 'alerts', 'list', '--deployment', 'bkssh');
    const failed = alerts.filter((a) => a.rule === 'backup-failed');
    assert.equal(failed.length, 1, `one alert for the two failures: ${JSON.stringify(alerts)}`);
    assert.equal(failed[0]!.count, 2);
    assert.equal(failed[0]!.state, 'open');
  } finally {
    await cli('destroy', 'bkssh', '--wait', '--timeout', '180').catch(() => undefined);
    killGroup(serve, 'SIGTERM');
    await f.ssh(3, `umount ${FULL_PATH}`).catch(() => undefined);
    await f.down();
  }
});
