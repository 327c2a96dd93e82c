/**
 * Backups, units: retention (last N plus daily/weekly/monthly in the policy's time zone), the
 * spec's `backups` section (normalised defaults; each problem with file:line:col and path), the
 * agent's instance archives (a tar out with the digest the agent counted, a tar in; a cut or a
 * bad path is an error, never a short success), and the workflow action `backup D C` reaching
 * the backups service with the workflow's tenant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { toPrune } from '../../src/operations/index.js';
import { parseSpec } from '../../src/model/index.js';
import { createHttpAgentClient, startAgent } from '../../src/agent/index.js';
import { controlPlanePorts, runAction } from '../../src/workflows/actions/index.js';
import { createRealClock } from '../../src/clock/index.js';
import { tempDir } from './agent-test-helpers.js';

const DAY = 86_400_000;

test('retention keeps the newest N and the newest of each of the last days, weeks and months', () => {
  const t0 = Date.UTC(2026, 0, 1, 12); // Thu 1 Jan 2026
  // two backups a day for 70 days
  const all = Array.from({ length: 140 }, (_, i) => ({ id: `b${String(i).padStart(3, '0')}`, takenAt: t0 + Math.floor(i / 2) * DAY + (i % 2) * 3_600_000 }));
  const keep = (r: { last: number; daily: number; weekly: number; monthly: number }) => {
    const gone = new Set(toPrune(all, r, 'UTC').map((b) => b.id));
    return all.filter((b) => !gone.has(b.id)).map((b) => b.id);
  };
  assert.deepEqual(keep({ last: 3, daily: 0, weekly: 0, monthly: 0 }), ['b137', 'b138', 'b139']);
  // 3 days: the newest of each of the last 3 days (the second of each day), plus the last 1
  assert.deepEqual(keep({ last: 1, daily: 3, weekly: 0, monthly: 0 }), ['b135', 'b137', 'b139']);
  const monthly = keep({ last: 1, daily: 0, weekly: 0, monthly: 3 });
  // newest of March (day 69 = 11 Mar), of February (28 Feb = day 58), of January (31 Jan = day 30)
  assert.deepEqual(monthly, ['b061', 'b117', 'b139']);
  const weekly = keep({ last: 1, daily: 0, weekly: 2, monthly: 0 });
  assert.equal(weekly.length, 2, weekly.join(','));
  // a Sunday (ISO week's last day) and the newest are kept: 2026-03-08 is a Sunday, day 66
  assert.deepEqual(weekly, ['b133', 'b139']);
  // the calendar is the policy's: 23:30 UTC on 1 Jan is 2 Jan in Helsinki
  const tz = [{ id: 'a', takenAt: Date.UTC(2026, 0, 1, 21, 30) }, { id: 'b', takenAt: Date.UTC(2026, 0, 1, 23, 30) }];
  assert.deepEqual(toPrune(tz, { last: 0, daily: 2, weekly: 0, monthly: 0 } as never, 'Europe/Helsinki').map((b) => b.id), []);
  assert.deepEqual(toPrune(tz, { last: 0, daily: 2, weekly: 0, monthly: 0 } as never, 'UTC').map((b) => b.id), ['a']);
});

const base = `name: shop
clouds: { local: { platform: local } }
nodeTemplates: { n: { cloud: local } }
components:
  db:
    lifecycle:
      start: run
      backup: { run: "pg_dump > \\"$NUBIS_BACKUP_DIR/db.sql\\"", timeout: 5m }
      restore: psql < "$NUBIS_BACKUP_DIR/db.sql"
    nodeTemplate: n
backups:
`;

test('the backups section: defaults, and each problem with its line, column and path', () => {
  const spec = parseSpec(`${base}  nightly:
    component: db
    schedule: { cron: "30 2 * * *", timeZone: Europe/Helsinki }
    what: { dump: true, paths: [conf] }
    store: { kind: sftp, host: backup.example.com, user: nubis, path: /srv/b, hostKey: "SHA256:${'A'.repeat(43)}", credential: bk }
    drill: { schedule: { cron: "0 4 * * 0" } }
  snap:
    component: db
    what: { snapshot: { volumes: true } }
    store: { kind: s3, bucket: my-backups, prefix: shop, endpoint: "http://127.0.0.1:9000", forcePathStyle: true, credential: s3 }
    retention: { last: 2, daily: 7, weekly: 4, monthly: 12 }
    onDestroy: true
`, { file: 'app.yaml' });
  const n = spec.backups!['nightly']!;
  assert.deepEqual(n.what, { kind: 'archive', dump: true, paths: ['conf'] });
  assert.deepEqual(n.schedule, { cron: '30 2 * * *', timeZone: 'Europe/Helsinki' });
  assert.deepEqual(n.drill, { schedule: { cron: '0 4 * * 0', timeZone: 'UTC' } });
  assert.deepEqual(n.retention, { last: 7, daily: 0, weekly: 0, monthly: 0 });
  assert.equal(n.onDestroy, false);
  assert.equal(n.timeoutMs, 3_600_000);
  assert.deepEqual(n.handlers.backup, { run: 'pg_dump > "$NUBIS_BACKUP_DIR/db.sql"', timeoutMs: 300_000 });
  assert.ok(n.handlers.restore && !n.handlers.verify);
  const s = spec.backups!['snap']!;
  assert.deepEqual(s.what, { kind: 'snapshot', volumes: true });
  assert.equal(s.onDestroy, true);
  assert.equal(s.store.kind, 's3');
  // the handlers are not lifecycle steps the engine runs
  assert.deepEqual(Object.keys(spec.components['db']!.handlers), ['start']);

  const problems = (policy: string): string[] => {
    try {
      parseSpec(`${base}${policy}`, { file: 'app.yaml' });
    } catch (e) {
      return ((e as { details?: { problems?: { message: string }[] } }).details?.problems ?? []).map((p) => p.message);
    }
    return [];
  };
  assert.deepEqual(problems(`  p:
    component: web
    what: { snapshot: {}, dump: true }
    store: { kind: sftp, host: h, user: u, path: /b, credential: c }
    schedule: { cron: "61 * * * *", timeZone: Mars/Olympus }
`), [
    'app.yaml:13:16: $.backups.p.component: expected name of a component (db), found unknown component "web"',
    'app.yaml:14:11: $.backups.p.what: expected exactly one of snapshot, or dump and/or paths, found snapshot with dump or paths',
    'app.yaml:15:12: $.backups.p.store: expected hostKey (a sftp store needs host, user, path, hostKey, credential), found no hostKey',
    'app.yaml:16:23: $.backups.p.schedule.cron: expected a valid cron expression, found "61 * * * *" (minute: expected a number from 0 to 59, found 61)',
    'app.yaml:16:47: $.backups.p.schedule.timeZone: expected an IANA time zone such as UTC or Europe/Helsinki, found unknown time zone "Mars/Olympus"',
  ]);
  const more = problems(`  p:
    component: db
    what: { paths: [data, data, /etc] }
    store: { kind: dir, path: relative/dir, region: eu }
    timeout: 100ms
`);
  assert.ok(more.some((m) => /\$\.backups\.p\.what\.paths\[1\]: expected each path once/.test(m)), more.join('\n'));
  assert.ok(more.some((m) => /\$\.backups\.p\.what\.paths\[2\]: expected a path inside the instance directory/.test(m)), more.join('\n'));
  assert.ok(more.some((m) => /\$\.backups\.p\.store\.path: expected an absolute directory, found relative path "relative\/dir"/.test(m)), more.join('\n'));
  assert.ok(more.some((m) => /\$\.backups\.p\.store\.region: expected a field of a dir store \(path\)/.test(m)), more.join('\n'));
  assert.ok(more.some((m) => /\$\.backups\.p\.timeout: expected duration from 1s to 24h/.test(m)), more.join('\n'));
  // a dump needs the component's backup handler
  const noHandler = base.replace(/      backup: .*\n/, '');
  assert.throws(() => parseSpec(`${noHandler}  p: { component: db, what: { dump: true }, store: { kind: dir, path: /b } }\n`, { file: 'a.yaml' }), /\$\.backups\.p\.what\.dump: expected a backup handler in components\.db\.lifecycle\.backup/);
  // unknown keys are refused, like everywhere in the spec
  assert.throws(() => parseSpec(`${base}  p: { component: db, what: { dump: true }, store: { kind: dir, path: /b }, keep: 3 }\n`, { file: 'a.yaml' }), /\$\.backups\.p\.keep: expected one of the keys/);
});

test('agent archives: a tar of instance paths out with the agent\'s digest, into another instance; bad paths and missing files fail', async () => {
  const dir = tempDir('agent-archive');
  const agent = await startAgent({ sandbox: dir, nodeId: 'n1', token: 'tok', killGraceMs: 300 });
  const client = createHttpAgentClient(agent.url, 'tok');
  try {
    const inst = path.join(dir, 'instances', 'db-1');
    fs.mkdirSync(path.join(inst, 'data', 'sub'), { recursive: true });
    const payload = Buffer.alloc(1_000_000, 7);
    fs.writeFileSync(path.join(inst, 'data', 'sub', 'blob'), payload);
    fs.writeFileSync(path.join(inst, 'conf'), 'x=1\n');
    const a = await client.archive!('db-1', ['data', 'conf'], AbortSignal.timeout(10_000));
    const chunks: Buffer[] = [];
    for await (const c of a.bytes) chunks.push(Buffer.from(c));
    const tar = Buffer.concat(chunks);
    assert.deepEqual(a.source(), { sizeBytes: tar.length, sha256: createHash('sha256').update(tar).digest('hex') });
    async function* body() {
      yield tar;
    }
    const got = await client.extract!('db-2', body(), AbortSignal.timeout(10_000));
    assert.deepEqual(got, a.source());
    assert.deepEqual(fs.readFileSync(path.join(dir, 'instances', 'db-2', 'data', 'sub', 'blob')), payload);
    assert.equal(fs.readFileSync(path.join(dir, 'instances', 'db-2', 'conf'), 'utf8'), 'x=1\n');
    await assert.rejects(client.archive!('db-1', ['../db-2'], AbortSignal.timeout(5000)), { code: 'REQUEST_INVALID' });
    // a missing path: tar fails on the node; the stream fails at its end, never a short success
    const missing = await client.archive!('db-1', ['nope'], AbortSignal.timeout(5000));
    await assert.rejects((async () => { for await (const _ of missing.bytes) void _; })(), /tar on the node failed/);
    async function* junk() {
      yield Buffer.from('not a tar file at all'.repeat(100));
    }
    await assert.rejects(client.extract!('db-3', junk(), AbortSignal.timeout(5000)), { code: 'REQUEST_INVALID' });
  } finally {
    await agent.close({ killProcesses: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a workflow\'s backup action reaches the backups service with its tenant\'s deployment id and caller', async () => {
  const seen: string[] = [];
  const ports = controlPlanePorts({
    controlPlane: { getDeployment: () => Promise.reject(new Error('unused')), scale: () => Promise.reject(new Error('unused')), events: { subscribe: () => () => undefined } as never },
    clock: createRealClock(), caller: { actor: 'workflow:nightly', tenant: 'acme' },
    backupNow: async (d, c, caller) => {
      seen.push(`${d} ${c} ${caller.actor}`);
      return 'stored';
    },
  });
  assert.deepEqual(await runAction({ verb: 'backup', deployment: 'shop', component: 'db' }, ports), { detail: 'stored' });
  assert.deepEqual(seen, ['acme.shop db workflow:nightly']);
});
