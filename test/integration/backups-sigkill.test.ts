/**
 * A control-plane SIGKILL during a backup (issue 10): `nubis serve` is killed while the archive
 * is being copied into the directory store (the store's `.partial-` file exists); the restarted
 * server marks that run failed (BACKUP_INTERRUPTED, never good), lists no partial object as a
 * backup, deletes what the crash left, and opens exactly one alert. A backup after the restart
 * succeeds and resolves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { freePort, killGroup, runCli, serveApi, startServe } from '../helpers/processes.js';

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(path.join(d, e.name)) : out.push(path.join(d, e.name)));
  };
  walk(dir);
  return out;
}

test('SIGKILL of the control plane during a backup: failed on restart, nothing partial listed, one alert', { timeout: 300_000 }, async () => {
  const data = tempDir('nubis-bkk-');
  const work = tempDir('nubis-bkk-spec-');
  const storeDir = tempDir('nubis-bkk-store-');
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const cli = (...args: string[]) => runCli(args, env);
  const api = (method: string, p: string, body?: unknown) => serveApi(port, data, method, p, body);
  let serve = await startServe(data, port);
  try {
    const file = path.join(work, 'k.yaml');
    fs.writeFileSync(file, `name: k
clouds: { local: { platform: local, options: { portBase: ${30000 + Math.floor(Math.random() * 200) * 50} } } }
nodeTemplates: { n: { cloud: local } }
components:
  db:
    nodeTemplate: n
    lifecycle:
      install: "mkdir -p data && head -c 400000000 /dev/zero > data/big"
      start: "exec sleep 100000"
backups:
  k: { component: db, what: { paths: [data] }, store: { kind: dir, path: ${JSON.stringify(storeDir)} } }
`);
    const up = await cli('apply', '-f', file, '--wait', '--timeout', '180');
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const started = await api('POST', '/v1/deployments/k/backups', { wait: false });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const id = started.json.runs[0].id as string;
    // the readiness signal: the store has begun writing the object
    await waitFor('the partial object', () => files(storeDir).some((f) => f.includes('.partial-')), 60_000, 2);
    killGroup(serve, 'SIGKILL');
    await new Promise((r) => serve.once('exit', r));
    assert.ok(!files(storeDir).some((f) => !f.includes('.partial-')), 'no complete object was written before the kill');

    serve = await startServe(data, port);
    const failed = await waitFor('the interrupted backup marked failed', async () => {
      const r = await api('GET', `/v1/deployments/k/backups/${id}`);
      return r.json.state === 'failed' ? r.json : undefined;
    }, 60_000);
    assert.match(failed.detail, /^BACKUP_INTERRUPTED: /);
    assert.equal(failed.verified, false);
    assert.equal(failed.sizeBytes, undefined);
    const list = await api('GET', '/v1/deployments/k/backups?kind=backup');
    assert.deepEqual(list.json.runs.filter((r: { state: string }) => r.state === 'succeeded'), [], 'no backup listed as good');
    assert.deepEqual(files(storeDir).filter((f) => !f.includes('.partial-')), [], 'no object under the run\'s key');
    const evs = (await api('GET', '/v1/events?deployment=k&kind=backup.failed')).json.events as { data: Record<string, unknown> }[];
    assert.equal(evs.length, 1, 'one failed event');
    assert.equal(evs[0]!.data['errorCode'], 'BACKUP_INTERRUPTED');
    const alerts = await waitFor('one alert', async () => {
      const a = (await api('GET', '/v1/alerts?deployment=k')).json.alerts as { rule: string }[];
      return a.length > 0 ? a : undefined;
    }, 30_000);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.rule, 'backup-failed');

    // the restarted server backs up fine, and that resolves the alert
    const again = await cli('backups', 'run', 'k');
    assert.equal(again.code, 0, again.stderr + again.stdout);
    await waitFor('the alert resolved', async () => ((await api('GET', '/v1/alerts?deployment=k')).json.alerts as unknown[]).length === 0, 30_000);
  } finally {
    await cli('destroy', 'k', '--wait', '--timeout', '120').catch(() => undefined);
    killGroup(serve, 'SIGTERM');
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
});
