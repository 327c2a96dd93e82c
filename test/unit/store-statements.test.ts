import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { openStore, type NodeRow } from '../../src/store/index.js';
import { StatementCache } from '../../src/store/statement-cache.js';
import { createEventLog } from '../../src/events/index.js';

/** A connection whose compiles are counted. */
function countingDb(): { db: SQLite.Database; compiled: string[] } {
  const db = new SQLite(':memory:');
  const compiled: string[] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    compiled.push(sql);
    return prepare(sql);
  }) as typeof db.prepare;
  return { db, compiled };
}

test('statement cache: one compile per SQL text, the same statement handed back, results unchanged', () => {
  const { db, compiled } = countingDb();
  const c = new StatementCache(db);
  c.prepare('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)').run([]);
  for (let i = 0; i < 100; i++) c.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run([i, `v${i}`]);
  const a = c.prepare('SELECT v FROM t WHERE k = ?');
  const b = c.prepare('SELECT v FROM t WHERE k = ?');
  assert.equal(a, b, 'the cached statement');
  assert.deepEqual(a.all([42]), [{ v: 'v42' }]);
  assert.equal(compiled.length, 3, 'create, insert, select: compiled once each');
  assert.deepEqual(c.stats(), { prepares: 3, hits: 100, cached: 3 });
  c.close();
  assert.equal(db.open, false, 'closing the cache closes the connection');
});

test('statement cache: bounded, the oldest out first; a busy statement is not shared', () => {
  const { db, compiled } = countingDb();
  const c = new StatementCache(db, 2);
  c.prepare('SELECT 1');
  c.prepare('SELECT 2');
  c.prepare('SELECT 2');
  c.prepare('SELECT 3'); // evicts 1
  assert.equal(c.stats().cached, 2);
  c.prepare('SELECT 3');
  assert.equal(compiled.filter((s) => s === 'SELECT 3').length, 1);
  c.prepare('SELECT 1');
  assert.equal(compiled.filter((s) => s === 'SELECT 1').length, 2, 'evicted, compiled again');
  c.prepare('SELECT 2');
  assert.equal(compiled.filter((s) => s === 'SELECT 2').length, 2, 'evicted, compiled again');

  c.prepare('CREATE TABLE t (k INTEGER)').run([]);
  for (let i = 0; i < 3; i++) c.prepare('INSERT INTO t VALUES (?)').run([i]);
  const sql = 'SELECT k FROM t ORDER BY k';
  const it = (c.prepare(sql) as unknown as SQLite.Statement).iterate();
  assert.deepEqual(it.next().value, { k: 0 });
  // while the first iterator is open, the same text gives a statement of its own
  const other = c.prepare(sql);
  assert.deepEqual(other.all([]), [{ k: 0 }, { k: 1 }, { k: 2 }]);
  assert.deepEqual([...it], [{ k: 1 }, { k: 2 }]);
  c.close();
});

const node = (i: number, status = 'running'): NodeRow => ({
  key: `d/n-${i}`, deployment: 'd', cloud: 'sim', status, token: `t${i}`, provider_id: `p${i}`, observed_json: null,
  attempts: 0, last_error: null, created_at: i, updated_at: i, placement_json: null, running_at: null, agent_up_at: null,
});

test('store: repeated writes and reads reuse their prepared statements; what is read back is what was written', async () => {
  const s = await openStore({ path: ':memory:' });
  const events = createEventLog(s);
  // warm: one of each statement
  await s.write(s.putNode(node(0)));
  await events.append({ kind: 'node.state', actor: 'engine', deployment: 'd', target: 'd/n-0' });
  await s.loadNodes();
  const before = s.statementStats();
  // 300 writes, each its own group commit (begin, upsert, commit), plus events and reads
  for (let i = 1; i <= 300; i++) {
    await Promise.all([
      s.write(s.putNode(node(i, i % 2 ? 'running' : 'provisioning'))),
      events.append({ kind: 'node.state', actor: 'engine', deployment: 'd', target: `d/n-${i}` }),
    ]);
  }
  for (let i = 1; i <= 300; i += 2) await s.write(s.putNode(node(i, 'deleting')));
  for (let i = 0; i < 20; i++) await s.loadNodes();
  const after = s.statementStats();
  assert.equal(after.prepares, before.prepares, `no statement compiled again (${after.prepares - before.prepares} were)`);
  assert.ok(after.hits - before.hits >= 300 * 4, `reused: ${after.hits - before.hits}`);

  const rows = await s.loadNodes();
  assert.equal(rows.length, 301);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  assert.deepEqual(byKey.get('d/n-7'), node(7, 'deleting'));
  assert.deepEqual(byKey.get('d/n-8'), node(8, 'provisioning'));
  const evs = await events.list({ deployment: 'd', limit: 1000 });
  assert.deepEqual(evs.map((e) => e.id), Array.from({ length: 301 }, (_, i) => i + 1), 'event ids assigned in order');
  await s.close();
});
