/**
 * Backups on the real `local` cloud through `nubis serve`, the CLI and the API (issue 10, items
 * 1 and 2): a policy with the component's `backup` handler dump and a listed directory of the
 * instance; `nubis backups run` stores a tar in a directory store whose size and SHA-256 the
 * test checks itself; the backup is not verified until `nubis backups drill` restored it onto a
 * scratch node (a new sandbox), where the `verify` handler proved the data byte-identical by
 * checksum, and the scratch node is gone afterwards; a restore in place puts the data back after
 * it was overwritten; a spec with a bad policy is refused with file:line:col; and destroy takes
 * the final backup first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/control-plane.js';
import { freePort, killGroup, runCli, serveApi, startServe } from '../helpers/processes.js';

const SERVER = `import http from 'node:http';
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.NUBIS_PORT_HTTP), '127.0.0.1');
`;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Ev { kind: string; target?: string; outcome?: string; reason?: string; data?: Record<string, unknown> }

/** Every file under `dir` named `name` (the instance's data inside local node sandboxes). */
function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === name) out.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

function spec(name: string, portBase: number, storeDir: string, drillOut: string, extra = ''): string {
  return `name: ${name}
clouds: { local: { platform: local, options: { portBase: ${portBase} } } }
nodeTemplates: { n: { cloud: local } }
components:
  db:
    nodeTemplate: n
    provides: { http: {} }
    artefacts: [server.mjs]
    env: { DRILL_OUT: ${JSON.stringify(drillOut)} }
    lifecycle:
      install: "mkdir -p data && (test -f data/seed || head -c 300000 /dev/urandom > data/seed)"
      start: exec node server.mjs
      health: { http: { port: http, path: / }, interval: 300ms, retries: 2 }
      backup: "cp data/seed \\"$NUBIS_BACKUP_DIR/dump.bin\\" && sha256sum data/seed > \\"$NUBIS_BACKUP_DIR/seed.sha\\""
      restore: "cmp \\"$NUBIS_BACKUP_DIR/dump.bin\\" data/seed"
      verify: "sha256sum -c \\"$NUBIS_BACKUP_DIR/seed.sha\\" && sha256sum data/seed | cut -d' ' -f1 > \\"$DRILL_OUT/$NUBIS_BACKUP_RUN.sha\\""
backups:
  nightly:
    component: db
    schedule: { cron: "0 3 * * *", timeZone: Europe/Helsinki }
    what: { dump: true, paths: [data] }
    store: { kind: dir, path: ${JSON.stringify(storeDir)} }
    retention: { last: 2 }
${extra}`;
}

test('local: backup to a directory store, drill on a scratch node byte-identical by checksum, restore in place, final backup on destroy', { timeout: 400_000 }, async () => {
  const data = tempDir('nubis-bk-');
  const work = tempDir('nubis-bk-spec-');
  const storeDir = tempDir('nubis-bk-store-');
  const drillOut = tempDir('nubis-bk-drill-');
  fs.writeFileSync(path.join(work, 'server.mjs'), SERVER);
  const port = await freePort();
  const env = { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: data };
  const serve = await startServe(data, port);
  const cli = (...args: string[]) => runCli(args, env);
  const api = (method: string, p: string, body?: unknown) => serveApi(port, data, method, p, body);
  const events = async (kind: string): Promise<Ev[]> => (await api('GET', `/v1/events?deployment=bk&kind=${encodeURIComponent(kind)}&limit=1000`)).json.events as Ev[];
  try {
    // a bad policy is refused whole, with where and what
    const bad = path.join(work, 'bad.yaml');
    fs.writeFileSync(bad, spec('bk', 30000, storeDir, drillOut).replace('paths: [data]', 'paths: [../etc]').replace('kind: dir, path:', 'kind: dir, bucket: xyz, path:'));
    const refused = await cli('plan', '-f', bad);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + refused.stdout, /:\d+:\d+: \$\.backups\.nightly\.what\.paths\[0\]: expected a path inside the instance directory/);
    assert.match(refused.stderr + refused.stdout, /\$\.backups\.nightly\.store\.bucket: expected a field of a dir store/);

    const file = path.join(work, 'bk.yaml');
    fs.writeFileSync(file, spec('bk', 30000 + Math.floor(Math.random() * 200) * 50, storeDir, drillOut));
    const up = await cli('apply', '-f', file, '--wait', '--timeout', '180');
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const seeds = findFiles(path.join(data, 'local'), 'seed');
    assert.equal(seeds.length, 1, `one instance data file: ${seeds.join(', ')}`);
    const original = fs.readFileSync(seeds[0]!);

    const pol = await cli('backups', 'policies', 'bk');
    assert.equal(pol.code, 0, pol.stderr);
    assert.match(pol.stdout, /nightly: db, archive of backup handler dump, data → dir:/);
    assert.match(pol.stdout, /schedule 0 3 \* \* \* Europe\/Helsinki \(next 20\d\d-/);

    // run: through the CLI; the answer carries size and hash, the store holds exactly those bytes
    const run = await cli('backups', 'run', 'bk', '-o', 'json');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const [b] = (JSON.parse(run.stdout) as { runs: { id: string; state: string; key: string; sizeBytes: number; sha256: string; verified: boolean }[] }).runs;
    assert.equal(b!.state, 'succeeded');
    assert.equal(b!.verified, false, 'not verified before a drill');
    const obj = path.join(storeDir, b!.key);
    const bytes = fs.readFileSync(obj);
    assert.equal(bytes.length, b!.sizeBytes);
    assert.equal(sha(bytes), b!.sha256);
    assert.deepEqual(fs.readdirSync(path.dirname(obj)).filter((f) => f.includes('.partial-')), [], 'no partial object left');
    const inTar = execFileSync('tar', ['-xOf', obj, 'data/seed']);
    assert.equal(sha(inTar), sha(original), 'the archived data is the instance\'s');
    assert.equal(sha(execFileSync('tar', ['-xOf', obj, '.nubis-backup/dump.bin'])), sha(original), 'the handler dump is in the archive');
    const [succeeded] = await events('backup.succeeded');
    assert.equal(succeeded?.data?.['policy'], 'nightly');

    // drill: a scratch node, restored and verified there, then removed
    const nodesBefore = fs.readdirSync(path.join(data, 'local', 'nodes')).length;
    const drill = await cli('backups', 'drill', 'bk', '-o', 'json');
    assert.equal(drill.code, 0, drill.stderr + drill.stdout);
    const dv = JSON.parse(drill.stdout) as { id: string; state: string; backup: string };
    assert.equal(dv.state, 'succeeded');
    assert.equal(dv.backup, b!.id);
    const onScratch = fs.readFileSync(path.join(drillOut, `${dv.id}.sha`), 'utf8').trim();
    assert.equal(onScratch, sha(original), 'the data on the scratch node is byte-identical');
    const nodeDirs = fs.readdirSync(path.join(data, 'local', 'nodes'));
    assert.ok(nodeDirs.length <= nodesBefore, `the scratch node was removed (${nodeDirs.join(', ')})`);
    const shown = await api('GET', `/v1/deployments/bk/backups/${b!.id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.json.verified, true, 'verified after the drill passed');
    assert.equal((await events('drill.passed')).length, 1);
    const lst = await cli('backups', 'list', 'bk', '--kind', 'backup');
    assert.match(lst.stdout, new RegExp(`${b!.id}  backup  nightly  db-1  succeeded verified`));

    // restore in place: the data is overwritten, then put back from the backup
    fs.writeFileSync(seeds[0]!, 'overwritten');
    const rs = await cli('backups', 'restore', 'bk', b!.id, '-o', 'json');
    assert.equal(rs.code, 0, rs.stderr + rs.stdout);
    assert.equal(JSON.parse(rs.stdout).state, 'succeeded');
    assert.equal(sha(fs.readFileSync(seeds[0]!)), sha(original), 'restored byte-identical in place');

    // an unknown backup and a bad body are clear 4xx errors
    assert.equal((await api('POST', '/v1/deployments/bk/backups/bk-000000000000/restore', {})).status, 404);
    assert.equal((await api('POST', '/v1/deployments/bk/backups', { policy: 'nope' })).status, 404);
    assert.equal((await api('POST', '/v1/deployments/bk/backups', { instance: 5 })).status, 400);

    // retention keeps 2: a third backup prunes the oldest (object deleted, row pruned)
    assert.equal((await cli('backups', 'run', 'bk')).code, 0);
    assert.equal((await cli('backups', 'run', 'bk')).code, 0);
    assert.equal(fs.existsSync(obj), false, 'the oldest object was pruned');
    assert.equal((await api('GET', `/v1/deployments/bk/backups/${b!.id}`)).json.state, 'pruned');

    // destroy with onDestroy: the final backup is taken before anything is deleted
    fs.writeFileSync(file, spec('bk', 30000 + Math.floor(Math.random() * 200) * 50, storeDir, drillOut).replace('    retention: { last: 2 }', '    retention: { last: 2 }\n    onDestroy: true'));
    const again = await cli('apply', '-f', file, '--wait', '--timeout', '180');
    assert.equal(again.code, 0, again.stderr + again.stdout);
    const gone = await cli('destroy', 'bk', '--wait', '--timeout', '120');
    assert.equal(gone.code, 0, gone.stderr + gone.stdout);
    const all = (await api('GET', '/v1/events?deployment=bk&limit=1000')).json.events as (Ev & { id: number })[];
    const final = all.find((e) => e.kind === 'backup.succeeded' && e.data?.['trigger'] === 'destroy');
    const destroying = all.find((e) => e.kind === 'deployment.destroying');
    assert.ok(final && destroying && final.id < destroying.id, 'the final backup succeeded before the destroy began');
  } finally {
    await cli('destroy', 'bk', '--wait', '--timeout', '120').catch(() => undefined);
    killGroup(serve, 'SIGTERM');
  }
});
