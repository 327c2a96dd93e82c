/**
 * Three control-plane replicas (`nubis serve --replica`) over one real PostgreSQL (Debian
 * `postgresql`, its own data directory on a free loopback port) and one sim cloud in its own
 * process (it outlives any replica; what it RECEIVED is counted):
 * - every replica serves the API: a follower forwards to the leader; /healthz, /readyz and
 *   GET /v1/control-plane (and `nubis status --control-plane`) say who leads;
 * - an event stream on a follower sees what the leader writes (LISTEN/NOTIFY), across failovers;
 * - SIGKILL of the leader at a random instant during an apply of 50 nodes, 20 trials: the lease
 *   passes to another replica with the next token, only after the dead one's expired (database
 *   time), the apply converges, the cloud got exactly 50 creates and 0 deletes, 0 duplicates,
 *   0 orphans, and every expected event is in the log and reached the stream;
 * - SIGSTOP of the leader past its lease: another takes over; after SIGCONT the paused one's
 *   late writes are refused by the database (its log and the server's log say FENCED) and it
 *   steps down;
 * - a replica cut off from the database (its connections through a TCP proxy the test cuts)
 *   steps down, says not ready, refuses writes with STORE_UNAVAILABLE, still answers reads
 *   through the others; the other two keep working.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createSimCloud, type SimCloud } from '../../src/drivers/sim/index.js';
import { TAG_DEPLOYMENT, TAG_KEY } from '../../src/drivers/driver.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { runCli, startSimServerProcess } from '../helpers/processes.js';
import { call, findToken, startCuttableProxy, startReplicaProcess, type CuttableProxy, type ReplicaProcess } from '../helpers/replicas.js';

const LEASE_MS = 1500;
const TRIALS = Number(process.env['NUBIS_REPLICA_TRIALS'] ?? 20);
const NODES = 50;

let server: PostgresServer;
let storeUrl: string;
let root: string;
let sim: Awaited<ReturnType<typeof startSimServerProcess>>;
let cloud: SimCloud;
let token: string;
const replicas = new Map<string, ReplicaProcess>();
let proxy: CuttableProxy;

function spec(name: string, url: string, nodes = NODES): string {
  return `name: ${name}
clouds:
  sim: { platform: sim, options: { url: ${JSON.stringify(url)} } }
nodeTemplates:
  worker: { cloud: sim }
components:
  compute:
    nodeTemplate: worker
    instances: { count: ${nodes}, min: 0, max: 100 }
    lifecycle:
      start: "run"
`;
}

async function start(id: string, viaProxy = false): Promise<ReplicaProcess> {
  const url = viaProxy ? storeUrl.replace(`:${server.port}/`, `:${proxy.port}/`) : storeUrl;
  const r = await startReplicaProcess({ dataDir: path.join(root, id), store: url, id, leaseMs: LEASE_MS, extraArgs: ['--graphite-port', 'off'] });
  replicas.set(id, r);
  return r;
}

async function leaseRow(): Promise<{ holder: string; token: number; acquired_at: number; expires_at: number } | undefined> {
  const c = new pg.Client({ connectionString: storeUrl });
  await c.connect();
  try {
    const r = await c.query(`select holder, token::int as token, acquired_at::float8 as acquired_at, expires_at::float8 as expires_at from leases where name = 'control-plane'`);
    return r.rows[0];
  } finally {
    await c.end();
  }
}

/** Who leads, as the replicas say (every live one agrees), once one does and its controllers are up. */
async function leader(exclude: string[] = []): Promise<ReplicaProcess> {
  return waitFor('a leader', async () => {
    for (const r of replicas.values()) {
      if (exclude.includes(r.id) || r.child.exitCode !== null || r.child.signalCode !== null) continue;
      const ready = await fetch(`${r.url}/readyz`).then((x) => x.json() as Promise<{ ready: boolean; role: string }>).catch(() => undefined);
      if (ready?.ready && ready.role === 'leader') return r;
    }
    return undefined;
  }, 60_000, 50);
}

function follower(of: ReplicaProcess): ReplicaProcess {
  return [...replicas.values()].find((r) => r.id !== of.id && r.child.exitCode === null && r.child.signalCode === null)!;
}

/** An API call that retries while no replica leads (503 retryable) or the one asked is gone. */
async function retrying(base: () => string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  for (;;) {
    const r = await call(base(), token, method, p, body);
    if (r.status !== 0 && !(r.status === 503 && r.json?.error?.retryable)) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** An SSE client that reconnects (Last-Event-ID) to any live replica, as a browser would. */
class Stream {
  readonly ids = new Set<number>();
  readonly kinds: { id: number; kind: string; deployment?: string; target?: string; outcome?: string }[] = [];
  private last = 0;
  private ac = new AbortController();
  private stopped = false;
  done: Promise<void>;
  constructor(private readonly pick: () => string) {
    this.done = this.loop();
  }
  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const r = await fetch(`${this.pick()}/v1/events/stream?after=${this.last}`, { headers: { authorization: `Bearer ${token}` }, signal: this.ac.signal });
        if (!r.ok || !r.body) throw new Error(String(r.status));
        let buf = '';
        for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
          buf += Buffer.from(chunk).toString('utf8');
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!data) continue;
            const e = JSON.parse(data) as { id: number; kind: string; deployment?: string; target?: string; outcome?: string };
            this.ids.add(e.id);
            this.kinds.push(e);
            this.last = Math.max(this.last, e.id);
          }
        }
      } catch {
        /* the replica went away: reconnect to another */
      }
      if (!this.stopped) await new Promise((res) => setTimeout(res, 100));
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.ac.abort();
    await this.done;
  }
}

const ofDeployment = (tag: string | undefined, name: string): boolean => tag === name || (tag?.endsWith(`.${name}`) ?? false);
const alive = (): ReplicaProcess[] => [...replicas.values()].filter((r) => r.child.exitCode === null && r.child.signalCode === null);
const anyUrl = (): string => alive()[Math.floor(Math.random() * alive().length)]!.url;

before(async () => {
  root = tempDir('nubis-replicas-');
  server = await startPostgres();
  storeUrl = await server.createDatabase('replicas');
  proxy = await startCuttableProxy(server.port);
  const db = path.join(root, 'sim.db');
  // 1 sim second = 10 ms: each node takes 0.5–2 s of sim time (5–20 ms real) to come up
  sim = await startSimServerProcess(['--db', db, '--time-scale', '100', '--latency', '500-2000']);
  cloud = createSimCloud({ path: db });
  const first = await start('a');
  await leader();
  token = findToken([first.dataDir])!;
  assert.ok(token, 'the first leader made the admin token');
  await start('b');
  // the third reaches the database through a proxy the partition test cuts
  await start('c', true);
  await waitFor('three ready replicas', async () => (await Promise.all(alive().map((r) => fetch(`${r.url}/readyz`).then((x) => x.status)))).every((s) => s === 200), 60_000);
  await waitFor('every replica sees the three', async () => (await Promise.all(alive().map((r) => call(r.url, token, 'GET', '/v1/control-plane')))).every((v) => v.json?.replicas?.length === 3), 60_000);
});

after(async () => {
  for (const r of replicas.values()) await r.stop('SIGKILL').catch(() => {});
  cloud?.close();
  await sim?.stop();
  await proxy?.close();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('every replica answers: a follower forwards to the leader; /healthz, /readyz, /v1/control-plane and status --control-plane agree on who leads', { timeout: 120_000 }, async () => {
  const l = await leader();
  for (const r of alive()) {
    const h = await fetch(`${r.url}/healthz`).then((x) => x.json() as Promise<{ ok: boolean; role: string }>);
    assert.equal(h.ok, true);
    assert.equal(h.role, r.id === l.id ? 'leader' : 'follower');
    const v = await call(r.url, token, 'GET', '/v1/control-plane');
    assert.equal(v.status, 200);
    assert.equal(v.json.leader.replica, l.id, `${r.id} names the leader`);
    assert.deepEqual(v.json.replicas.map((x: any) => x.id).sort(), ['a', 'b', 'c']);
    assert.equal((await fetch(`${r.url}/v1/control-plane`)).status, 401, 'the control-plane view needs a token');
  }
  const f = follower(l);
  const applied = await retrying(() => f.url, 'POST', '/v1/deployments', { spec: spec('hello', sim.url, 2), file: 'hello.yaml' });
  assert.equal(applied.status, 201, JSON.stringify(applied.json));
  await waitFor('hello ready through a follower', async () => (await call(f.url, token, 'GET', '/v1/deployments/hello')).json?.state === 'ready', 60_000, 100);
  const cli = await runCli(['status', '--control-plane', '--server', f.url, '--token', token]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`leader ${l.id}\\s+lease token \\d+`));
  assert.match(cli.stdout, new RegExp(`${f.id} \\*`), 'the answering replica is marked');
  for (const id of ['a', 'b', 'c']) assert.match(cli.stdout, new RegExp(`^${id}`, 'm'));
  assert.equal((await retrying(() => f.url, 'DELETE', '/v1/deployments/hello')).status < 300, true);
  await waitFor('hello gone', async () => (await call(f.url, token, 'GET', '/v1/deployments/hello')).status === 404, 60_000, 100);
});

test(`${TRIALS} SIGKILLs of the leader at random instants during an apply of ${NODES} nodes: takeover with the next token, 0 duplicates, 0 orphans, no event lost`, { timeout: 15 * 60_000 }, async () => {
  const stream = new Stream(anyUrl);
  const gaps: number[] = [];
  const kills: number[] = [];
  try {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const name = `t${trial}`;
      const l = await leader();
      const f = follower(l);
      assert.ok(f, `trial ${trial}: a follower of ${l.id} among ${[...replicas.values()].map((r) => `${r.id}:${r.child.exitCode}/${r.child.signalCode}`).join(' ')}\n${[...replicas.values()].filter((r) => r.child.exitCode !== null).map((r) => `${r.id}:\n${r.log().slice(-3000)}`).join('\n')}`);
      const sent = cloud.totals();
      const applying = call(f.url, token, 'POST', '/v1/deployments', { spec: spec(name, sim.url), file: `${name}.yaml` });
      const killAt = Math.floor(Math.random() * 800);
      kills.push(killAt);
      await new Promise((r) => setTimeout(r, killAt));
      await l.stop('SIGKILL');
      // the dead leader cannot renew any more: this row is its last lease
      const dead = (await leaseRow())!;
      await applying;
      const next = await leader([l.id]);
      const taken = (await leaseRow())!;
      assert.equal(taken.holder, next.id);
      assert.ok(taken.token > dead.token, `trial ${trial}: a new holder has a greater token (${dead.token} → ${taken.token})`);
      if (dead.holder === l.id) {
        // database time: the new lease began only once the dead one's had run out
        assert.ok(taken.acquired_at >= dead.expires_at, `trial ${trial}: taken at ${taken.acquired_at}, the dead lease ran to ${dead.expires_at}`);
        gaps.push(taken.acquired_at - (dead.expires_at - LEASE_MS));
      }
      // the killed replica comes back (a supervisor restarts it) as a follower
      const restarting = start(l.id, l.id === 'c');
      // a client whose apply was lost retries it
      if ((await retrying(anyUrl, 'GET', `/v1/deployments/${name}`)).status === 404) {
        const again = await retrying(anyUrl, 'POST', '/v1/deployments', { spec: spec(name, sim.url), file: `${name}.yaml` });
        assert.ok(again.status === 201 || again.status === 200, JSON.stringify(again.json));
      }
      await waitFor(`trial ${trial} ready`, async () => (await call(anyUrl(), token, 'GET', `/v1/deployments/${name}`)).json?.state === 'ready', 120_000, 100);
      const view = (await retrying(anyUrl, 'GET', `/v1/deployments/${name}`)).json;
      const ids = new Set<string>(view.instances.map((i: any) => i.node.id));
      const live = cloud.inventory().filter((s) => s.status !== 'deleted' && ofDeployment(s.tags[TAG_DEPLOYMENT], name));
      const keys = live.map((s) => s.tags[TAG_KEY]);
      const now = cloud.totals();
      assert.equal(view.instances.length, NODES);
      assert.equal(now.created - sent.created, NODES, `trial ${trial}: servers made (one create reached the cloud per node)`);
      assert.equal(now.calls.delete - sent.calls.delete, 0, `trial ${trial}: deletes sent`);
      assert.equal(keys.length - new Set(keys).size, 0, `trial ${trial}: duplicates`);
      assert.equal(live.filter((s) => !ids.has(s.id)).length, 0, `trial ${trial}: orphans`);
      assert.equal(live.length, NODES);
      // every expected event is in the log: applied, and each node's running
      const events = (await retrying(anyUrl, 'GET', `/v1/events?deployment=${name}&limit=10000&after=0`)).json.events as { kind: string; target?: string; outcome?: string }[];
      assert.ok(events.some((e) => e.kind === 'deployment.applied'), `trial ${trial}: deployment.applied`);
      const running = new Set(events.filter((e) => e.kind === 'node.state' && e.outcome === 'running').map((e) => e.target));
      assert.equal(running.size, NODES, `trial ${trial}: a node.state running event for every node`);
      // teardown through any replica leaves nothing
      assert.ok((await retrying(anyUrl, 'DELETE', `/v1/deployments/${name}`)).status < 300);
      await waitFor(`trial ${trial} destroyed`, async () => (await call(anyUrl(), token, 'GET', `/v1/deployments/${name}`)).status === 404, 120_000, 100);
      assert.equal(cloud.inventory().filter((s) => s.status !== 'deleted' && ofDeployment(s.tags[TAG_DEPLOYMENT], name)).length, 0, `trial ${trial}: nothing left after teardown`);
      await restarting;
    }
    // the stream (reconnecting across failovers) got every event the log holds
    const c = new pg.Client({ connectionString: storeUrl });
    await c.connect();
    const stored = (await c.query(`select id::int as id from events order by id`)).rows.map((r: { id: number }) => r.id);
    await c.end();
    await waitFor('the stream caught up', () => stored.every((id) => stream.ids.has(id)), 30_000, 100);
    const missing = stored.filter((id) => !stream.ids.has(id));
    assert.deepEqual(missing, [], 'events the stream never delivered');
  } finally {
    await stream.stop();
    const sorted = [...gaps].sort((a, b) => a - b);
    console.log(`kill instants (ms after the apply was sent): ${kills.join(' ')}`);
    console.log(`takeover after the dead leader's last renew (database ms; lease ${LEASE_MS}): ${gaps.map((g) => g.toFixed(0)).join(' ')}; median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)}, max ${sorted[sorted.length - 1]?.toFixed(0)}, within 2 × lease: ${gaps.filter((g) => g <= 2 * LEASE_MS).length}/${gaps.length}`);
  }
});

test('SIGSTOP of the leader past its lease: another takes over, and after SIGCONT the paused one\'s late writes are fenced and it steps down', { timeout: 5 * 60_000 }, async () => {
  const l = await leader();
  const f = follower(l);
  const before = (await leaseRow())!;
  // paused mid-apply: answers from the cloud and writes are waiting when it wakes
  const applied = await retrying(() => f.url, 'POST', '/v1/deployments', { spec: spec('paused', sim.url), file: 'paused.yaml' });
  assert.equal(applied.status, 201, JSON.stringify(applied.json));
  await new Promise((r) => setTimeout(r, 100));
  l.child.kill('SIGSTOP');
  try {
    const next = await leader([l.id]);
    const taken = (await leaseRow())!;
    assert.equal(taken.holder, next.id);
    assert.equal(taken.token, before.token + 1, 'the next token');
  } finally {
    l.child.kill('SIGCONT');
  }
  await l.untilLog(new RegExp(`replica ${l.id} steps down`));
  const line = await l.untilLog(/FENCED|fenced/).catch(() => '');
  const refusedByServer = server.proc.output().match(new RegExp(`fenced: ${l.id} no longer holds lease control-plane with token ${before.token}`, 'g')) ?? [];
  assert.ok(line !== '' || refusedByServer.length > 0, `the paused leader's writes were refused by the database; its log:\n${l.log().slice(-2000)}`);
  console.log(`after SIGCONT: replica log "${line.trim()}"; the server refused ${refusedByServer.length} statement(s) of token ${before.token}`);
  // it is a follower now, and the deployment converges under the new leader
  await waitFor('the paused one is a follower', async () => (await fetch(`${l.url}/healthz`).then((x) => x.json() as Promise<{ role: string }>)).role === 'follower', 30_000);
  await waitFor('paused ready', async () => (await call(anyUrl(), token, 'GET', '/v1/deployments/paused')).json?.state === 'ready', 120_000, 100);
  const live = cloud.inventory().filter((s) => s.status !== 'deleted' && ofDeployment(s.tags[TAG_DEPLOYMENT], 'paused'));
  assert.equal(live.length, NODES);
  assert.equal(new Set(live.map((s) => s.tags[TAG_KEY])).size, NODES, 'no duplicate');
  assert.ok((await retrying(anyUrl, 'DELETE', '/v1/deployments/paused')).status < 300);
  await waitFor('paused destroyed', async () => (await call(anyUrl(), token, 'GET', '/v1/deployments/paused')).status === 404, 120_000, 100);
});

test('a replica cut off from the database steps down and is read-only; the others keep working', { timeout: 5 * 60_000 }, async () => {
  // make the proxied replica lead, so the cut takes the leader away
  let l = await leader();
  for (let i = 0; l.id !== 'c' && i < 5; i++) {
    await l.stop('SIGKILL');
    await leader([l.id]).catch(() => undefined);
    await start(l.id);
    l = await leader();
  }
  const c = replicas.get('c')!;
  const urls = (): string[] => alive().map((r) => r.url).sort();
  await waitFor('c knows where the others are', async () => JSON.stringify((await call(c.url, token, 'GET', '/v1/control-plane')).json.replicas.map((r: any) => r.url).sort()) === JSON.stringify(urls()), 30_000);
  proxy.cut();
  try {
    await waitFor('c not ready', async () => (await fetch(`${c.url}/readyz`)).status === 503, 30_000, 50);
    const ready = await fetch(`${c.url}/readyz`).then((x) => x.json() as Promise<{ reason: string }>);
    assert.match(ready.reason, /database/);
    const other = await leader(['c']);
    assert.notEqual(other.id, 'c');
    const refused = await call(c.url, token, 'POST', '/v1/deployments', { spec: spec('cut', sim.url, 3), file: 'cut.yaml' });
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error.code, 'STORE_UNAVAILABLE');
    assert.match(refused.json.error.message, /cannot reach the database.*send writes to another replica/);
    // reads still answer, through a replica that can reach it (503 retryable while the others elect a leader)
    const list = await retrying(() => c.url, 'GET', '/v1/deployments');
    assert.equal(list.status, 200, JSON.stringify(list.json));
    // the others work: an apply through one of them converges
    const ok = await retrying(() => other.url, 'POST', '/v1/deployments', { spec: spec('cut', sim.url, 3), file: 'cut.yaml' });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    await waitFor('cut ready', async () => (await call(other.url, token, 'GET', '/v1/deployments/cut')).json?.state === 'ready', 60_000, 100);
    assert.match(c.log(), /replica c steps down/);
  } finally {
    proxy.heal();
  }
  await waitFor('c ready again', async () => (await fetch(`${c.url}/readyz`)).status === 200, 60_000, 100);
  assert.equal((await fetch(`${c.url}/healthz`).then((x) => x.json() as Promise<{ role: string }>)).role, 'follower');
});
