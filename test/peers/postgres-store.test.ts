/**
 * The store on a real PostgreSQL (Debian `postgresql`, started here on a free loopback port with
 * its own data directory, password authentication over TCP, stopped by pid):
 * - the store's own suites, the engine's crash-safety test (SIGKILLs during an apply of 50 nodes:
 *   0 duplicates, 0 orphans) and the API/tenant/CLI suites, run again with NUBIS_TEST_STORE so
 *   every store they open is a fresh PostgreSQL database; each must pass with as many tests as on
 *   SQLite;
 * - two stores on one database (two replicas' store layers): the node key stays unique and
 *   event ids stay unique under concurrent writes;
 * - `nubis serve --store` refuses a wrong password, a missing database and a URL that is not
 *   PostgreSQL at once, with a message that never shows the password.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore, type NodeRow } from '../../src/store/index.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { CLI, ROOT, runProcess, spawnTracked } from '../helpers/processes.js';
import { tempDir } from '../helpers/control-plane.js';

let pg: PostgresServer;
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
});

const dist = (p: string): string => path.join(ROOT, 'dist/test', p);

/** Runs test files in a child `node --test` (its own process group, tracked); its pass and fail counts. */
async function runSuite(files: string[], extra: Record<string, string>): Promise<{ pass: number; fail: number; out: string }> {
  // a child that sees NODE_TEST_CONTEXT reports to this runner instead of running its files: leave it out
  const env: Record<string, string> = { NO_COLOR: '1', NUBIS_GRAPHITE_PORT: 'off' };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  const child = spawnTracked(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=1', '--test-timeout=600000', ...files.map(dist)], { cwd: ROOT, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.resume();
  await new Promise((r) => child.once('close', r));
  const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(stdout)?.[1] ?? -1);
  return { pass: count('pass'), fail: count('fail'), out: stdout.split('\n').filter((l) => /^not ok|^# (pass|fail)|Error|expected|actual/.test(l)).slice(0, 60).join('\n') };
}

const STORE_SUITES = ['unit/store-events.test.js', 'unit/store-sync-writes.test.js', 'unit/registry.test.js', 'unit/credentials.test.js', 'unit/event-retention.test.js', 'unit/alerts.test.js'];
const SERVER_SUITES = ['integration/api.test.js', 'integration/tenants.test.js', 'integration/cli.test.js', 'integration/workflows-api.test.js'];

test('the store suites pass on PostgreSQL with as many tests as on SQLite', { timeout: 10 * 60_000 }, async () => {
  const sqlite = await runSuite(STORE_SUITES, { NUBIS_TEST_STORE: '' });
  const onPg = await runSuite(STORE_SUITES, { NUBIS_TEST_STORE: pg.url });
  assert.equal(sqlite.fail, 0, sqlite.out);
  assert.ok(sqlite.pass >= 19, `ran ${sqlite.pass} tests on SQLite`);
  assert.equal(onPg.fail, 0, onPg.out);
  assert.equal(onPg.pass, sqlite.pass, onPg.out);
});

test('the engine\'s crash-safety test passes on PostgreSQL: SIGKILLs mid-apply, 0 duplicates, 0 orphans', { timeout: 20 * 60_000 }, async () => {
  // 5 trials here (10 on SQLite in npm test): each trial's apply of 50 nodes runs against its own database
  const r = await runSuite(['integration/crash-safety.test.js'], { NUBIS_TEST_STORE: pg.url, NUBIS_CRASH_TRIALS: '5' });
  assert.equal(r.fail, 0, r.out);
  assert.equal(r.pass, 1, r.out);
});

test('the API, tenant and CLI suites pass on PostgreSQL', { timeout: 20 * 60_000 }, async () => {
  const r = await runSuite(SERVER_SUITES, { NUBIS_TEST_STORE: pg.url });
  assert.equal(r.fail, 0, r.out);
  assert.ok(r.pass >= 10, `ran ${r.pass} tests`);
});

test('two stores on one database keep node keys and event ids unique under concurrent writes', { timeout: 120_000 }, async () => {
  const url = await pg.createDatabase('replicas');
  const a = await openStore({ path: url });
  const b = await openStore({ path: url });
  try {
    const node = (s: string, i: number): NodeRow => ({
      key: 'd/n-1', deployment: 'd', cloud: 'sim', status: s, token: 'tok', provider_id: null, observed_json: null,
      attempts: i, last_error: null, created_at: 1, updated_at: i, placement_json: null, running_at: null, agent_up_at: null,
    });
    const ev = (i: number) => ({ ts: i, kind: 'test', actor: 'x', tenant: 'default', deployment: null, reason: null, correlation_id: null, target: null, outcome: null, data: null });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      writes.push(a.write(a.putNode(node('creating', i)), a.appendEvents([ev(i)])));
      writes.push(b.write(b.putNode(node('running', i)), b.appendEvents([ev(i)])));
    }
    await Promise.all(writes);
    assert.equal((await a.loadNodes()).length, 1, 'one row per node key');
    const events = await b.events({ limit: 1000 });
    assert.equal(events.length, 200);
    assert.equal(new Set(events.map((e) => e.id)).size, 200, 'event ids unique');
    assert.equal(await a.lastEventId(), Math.max(...events.map((e) => e.id)));
  } finally {
    await a.close();
    await b.close();
  }
});

test('nubis serve --store: a wrong password, a missing database and a non-PostgreSQL URL are refused at once, the password never shown', { timeout: 120_000 }, async () => {
  const data = tempDir('nubis-pg-serve-');
  const serve = (store: string) => runProcess(process.execPath, [CLI, 'serve', '--data', data, '--port', '0', '--graphite-port', 'off', '--store', store], { env: { ...process.env as Record<string, string>, NO_COLOR: '1' } });
  const wrong = pg.url.replace(pg.password, 'not-the-password');
  const r1 = await serve(wrong);
  assert.notEqual(r1.code, 0);
  assert.match(r1.stderr, /STORE_UNAVAILABLE|cannot open the store/, r1.stderr);
  assert.match(r1.stderr, /password authentication failed/, r1.stderr);
  assert.ok(!(r1.stdout + r1.stderr).includes('not-the-password'), 'the password is not shown');
  const r2 = await serve(pg.url.replace(/\/postgres$/, '/no_such_db'));
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /does not exist/, r2.stderr);
  assert.ok(!(r2.stdout + r2.stderr).includes(pg.password), 'the password is not shown');
  const r3 = await serve('mysql://u:secret@127.0.0.1/x');
  assert.notEqual(r3.code, 0);
  assert.match(r3.stderr, /expected a PostgreSQL URL/, r3.stderr);
  assert.ok(!r3.stderr.includes('secret'));
});
