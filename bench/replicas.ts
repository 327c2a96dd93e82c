/**
 * `node dist/bench/replicas.js [--quick]`: the control plane on PostgreSQL and as replicas
 * (issue 13), beside SQLite in the same run. Starts a real PostgreSQL (Debian `postgresql`, its
 * own data directory on a free loopback port, as the peers tier does).
 *
 * 1. 3 components × 1,000 instances to running (bench/scale.ts: sim, zero latency, in process),
 *    on SQLite and on PostgreSQL; the ratio of wall times (target ≤ 1.5×).
 * 2. Failover: three `serve --replica` processes over one PostgreSQL and a sim cloud in its own
 *    process; during an apply of 50 nodes the leader is SIGKILLed; the time from the kill to the
 *    first event the new leader commits (its controllers acting again), median over trials
 *    (target ≤ 5 s), with the lease (2 s here) and the takeover instant by database time.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import pg from 'pg';
import { child } from './child.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { startSimServerProcess } from '../test/helpers/processes.js';
import { call, findToken, startReplicaProcess, type ReplicaProcess } from '../test/helpers/replicas.js';

const quick = process.argv.includes('--quick');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[][] = [];
const server = await startPostgres();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-replicas-'));

interface ScaleOut { wallMs: number; cpuMs: number; peakRssMB: number; running: number; instances: number; loadavg: number }

try {
  // 1. the engine on each database
  const runs = quick ? 1 : 3;
  const on: Record<'sqlite' | 'postgres', ScaleOut[]> = { sqlite: [], postgres: [] };
  for (let i = 0; i < runs; i++) {
    delete process.env['NUBIS_BENCH_STORE'];
    on.sqlite.push(child<ScaleOut>('scale.js', ['1000']));
    process.env['NUBIS_BENCH_STORE'] = await server.createDatabase('bench');
    on.postgres.push(child<ScaleOut>('scale.js', ['1000']));
    delete process.env['NUBIS_BENCH_STORE'];
  }
  const m = (xs: ScaleOut[], k: 'wallMs' | 'cpuMs' | 'peakRssMB'): number => median(xs.map((x) => x[k]));
  const ratio = m(on.postgres, 'wallMs') / m(on.sqlite, 'wallMs');
  rows.push([
    '3 components × 1,000 instances to running (sim, zero latency): PostgreSQL vs SQLite',
    `PostgreSQL ${(m(on.postgres, 'wallMs') / 1000).toFixed(2)} s wall, ${(m(on.postgres, 'cpuMs') / 1000).toFixed(2)} s CPU, ${m(on.postgres, 'peakRssMB').toFixed(0)} MB; SQLite ${(m(on.sqlite, 'wallMs') / 1000).toFixed(2)} s wall, ${(m(on.sqlite, 'cpuMs') / 1000).toFixed(2)} s CPU, ${m(on.sqlite, 'peakRssMB').toFixed(0)} MB`,
    'within 1.5× of SQLite',
    `${ratio.toFixed(2)}× (${runs} run(s) each; PostgreSQL on this machine, fsync off; load ${os.loadavg()[0]!.toFixed(1)})`,
  ]);

  // 2. failover
  const leaseMs = 2000;
  const store = await server.createDatabase('failover');
  const sim = await startSimServerProcess(['--db', path.join(root, 'sim.db'), '--time-scale', '100', '--latency', '500-2000']);
  const replicas = new Map<string, ReplicaProcess>();
  const start = async (id: string): Promise<void> => {
    replicas.set(id, await startReplicaProcess({ dataDir: path.join(root, id), store, id, leaseMs, extraArgs: ['--graphite-port', 'off'] }));
  };
  const alive = (): ReplicaProcess[] => [...replicas.values()].filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  const db = new pg.Client({ connectionString: store });
  try {
    await start('a');
    const leaderOf = async (): Promise<ReplicaProcess> => {
      for (;;) {
        for (const r of alive()) {
          const v = await fetch(`${r.url}/readyz`).then((x) => x.json() as Promise<{ ready: boolean; role: string }>).catch(() => undefined);
          if (v?.ready && v.role === 'leader') return r;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    await leaderOf();
    const token = findToken([path.join(root, 'a')])!;
    await start('b');
    await start('c');
    await db.connect();
    const resumes: number[] = [];
    const takeovers: number[] = [];
    const trials = quick ? 3 : 7;
    for (let t = 1; t <= trials; t++) {
      const l = await leaderOf();
      const f = alive().find((r) => r.id !== l.id)!;
      const spec = `name: f${t}\nclouds:\n  sim: { platform: sim, options: { url: ${JSON.stringify(sim.url)} } }\nnodeTemplates:\n  w: { cloud: sim }\ncomponents:\n  c:\n    nodeTemplate: w\n    instances: { count: 50, max: 100 }\n    lifecycle: { start: "run" }\n`;
      const applied = await call(f.url, token, 'POST', '/v1/deployments', { spec, file: 'f.yaml' });
      if (applied.status !== 201) throw new Error(`apply: ${JSON.stringify(applied.json)}`);
      await new Promise((res) => setTimeout(res, 100 + Math.random() * 300));
      const lastId = Number((await db.query('select coalesce(max(id), 0)::int8 as m from events')).rows[0].m);
      const dead = (await db.query(`select expires_at::float8 as e from leases where name = 'control-plane'`)).rows[0].e as number;
      const killedAt = performance.now();
      await l.stop('SIGKILL');
      let resumedAt = 0;
      for (;;) {
        const r = await db.query('select id from events where id > $1 limit 1', [lastId]);
        if (r.rows.length > 0) {
          resumedAt = performance.now();
          break;
        }
        await new Promise((res) => setTimeout(res, 10));
      }
      resumes.push(resumedAt - killedAt);
      const taken = (await db.query(`select acquired_at::float8 as a from leases where name = 'control-plane'`)).rows[0].a as number;
      takeovers.push(taken - (dead - leaseMs));
      await start(l.id);
      for (;;) {
        const v = await call(alive()[0]!.url, token, 'GET', `/v1/deployments/f${t}`);
        if (v.json?.state === 'ready') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      await call(alive()[0]!.url, token, 'DELETE', `/v1/deployments/f${t}`);
    }
    rows.push([
      `failover: leader SIGKILL mid-apply (50 nodes, 3 replicas, lease ${leaseMs} ms) → the new leader's first event`,
      `${(median(resumes) / 1000).toFixed(2)} s median (${trials} trials: ${resumes.map((x) => (x / 1000).toFixed(2)).join(', ')} s)`,
      '≤ 5 s median',
      `lease taken over ${(median(takeovers) / 1000).toFixed(2)} s (median, database time) after the dead leader's last renew; the rest is the new leader loading its state and starting`,
    ]);
  } finally {
    await db.end().catch(() => {});
    for (const r of replicas.values()) await r.stop('SIGKILL').catch(() => {});
    await sim.stop();
  }
} finally {
  await server.stop();
  fs.rmSync(root, { recursive: true, force: true });
}

console.log('| benchmark | result (median) | target | notes |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
