/**
 * Rolling updates on the real `local` cloud, through the CLI (issue 8, item 2): the webapp's
 * lb, apps and kv as real processes; `nubis scale`, then a re-apply with a changed env restarts
 * the apps in place one batch at a time (maxUnavailable 1) while the lb keeps answering every
 * request, and the run-time count survives; then a changed node template replaces every app
 * node, a new one first (maxSurge 1, maxUnavailable 0), again without a failed request. A pause
 * mid-way shows on `nubis status`. The test follows `nubis events -f` and waits on the events it
 * needs, never on a sleep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { CLI, ROOT, TEST_ENV, freePort, killGroup, runCli, serveApi, spawnTracked, startServe, stopProcess } from '../helpers/processes.js';
import { startCliSession } from '../helpers/cli-session.js';

interface Ev { id: number; kind: string; target?: string; outcome?: string; reason?: string; data?: Record<string, unknown> }

const EXAMPLE = fs.readFileSync(path.join(ROOT, 'examples/webapp/app.yaml'), 'utf8');

/** The webapp example as deployment `roll`, its apps on a node template of their own, with a rolling-update strategy. */
function spec(o: { greeting: string; memory: number; maxUnavailable: number; maxSurge: number }): string {
  const edits: [RegExp, string][] = [
    [/^name: webapp$/m, 'name: roll'],
    [/^nodeTemplates:\n/m, `nodeTemplates:\n  appnode: { cloud: local, requirements: { cores: 1, memory: ${o.memory}, os: linux } }\n`],
    [/^( {2}app:\n {4}nodeTemplate: )small$/m, '$1appnode'],
    [/^ {6}GREETING: .*$/m, `      GREETING: "${o.greeting}"\n    updateStrategy: { maxUnavailable: ${o.maxUnavailable}, maxSurge: ${o.maxSurge}, healthGate: { timeout: 2m } }`],
  ];
  let out = EXAMPLE;
  for (const [re, to] of edits) {
    assert.match(out, re, `the example still has ${re}`);
    out = out.replace(re, to);
  }
  return out;
}

/** `nubis events -f --output json` as a child: every event of the deployment, and waits on them. */
class EventFollower {
  readonly seen: Ev[] = [];
  private readonly waiters: { pred: (e: Ev) => boolean; resolve: (e: Ev) => void; reject: (e: Error) => void }[] = [];
  private readonly child: ChildProcess;
  private exited = false;

  constructor(env: Record<string, string>) {
    this.child = spawnTracked(process.execPath, [CLI, 'events', '-f', '--deployment', 'roll', '--output', 'json'], {
      cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...TEST_ENV, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child.once('exit', () => (this.exited = true));
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line) as Ev;
        this.seen.push(e);
        for (const w of [...this.waiters]) {
          if (!w.pred(e)) continue;
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    });
  }

  /** The first event (already seen or still to come) after id `after` that `pred` accepts. */
  next(what: string, after: number, pred: (e: Ev) => boolean): Promise<Ev> {
    const hit = this.seen.find((e) => e.id > after && pred(e));
    if (hit) return Promise.resolve(hit);
    if (this.exited) return Promise.reject(new Error(`the event stream ended before ${what}`));
    return new Promise((resolve, reject) => this.waiters.push({ pred: (e) => e.id > after && pred(e), resolve, reject: (e) => reject(new Error(`${e.message} while waiting for ${what}`)) }));
  }

  /** Fails every wait (the test timed out or was cancelled), so its `finally` runs. */
  abort(why: string): void {
    for (const w of this.waiters.splice(0)) w.reject(new Error(why));
  }

  get lastId(): number {
    return this.seen[this.seen.length - 1]?.id ?? 0;
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }

  kill(): void {
    killGroup(this.child);
  }
}

interface Probe {
  stop(): Promise<{ total: number; failed: string[]; backends: Set<string>; counts: number[] }>;
}

/** Probes still running: a failing test stops them in its `finally` (they would keep the process alive). */
const probes = new Set<Probe>();

/** Requests through the lb, one after another, until stopped: how many, and which failed and why. */
function probe(url: string): Probe {
  let running = true;
  const failed: string[] = [];
  const backends = new Set<string>();
  const counts: number[] = [];
  let total = 0;
  const loop = (async () => {
    while (running) {
      total++;
      try {
        const r = await fetch(url);
        const body = await r.text();
        if (r.status !== 200) failed.push(`${r.status} ${body.trim()}`);
        else {
          const j = JSON.parse(body) as { instance: string; count: number };
          backends.add(j.instance);
          counts.push(j.count);
        }
      } catch (e) {
        failed.push(String(e));
      }
      // a steady rate, not a deadline: the result is the list of failures
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const p: Probe = {
    async stop() {
      running = false;
      probes.delete(p);
      await loop;
      return { total, failed, backends, counts };
    },
  };
  probes.add(p);
  return p;
}

/** Processes of a local node (by NUBIS_NODE_ID in their environment) with GREETING set, and its value. */
function greetings(nodeIds: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      const id = env.find((e) => e.startsWith('NUBIS_NODE_ID='))?.slice('NUBIS_NODE_ID='.length);
      const g = env.find((e) => e.startsWith('GREETING='))?.slice('GREETING='.length);
      if (id && g !== undefined && nodeIds.includes(id)) out.set(id, g);
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

/** The fewest app instances running at once over `evs` (instance.phase events), starting from the `running` ones. */
function fewestRunning(evs: readonly Ev[], running: readonly string[]): number {
  const now = new Set(running);
  let fewest = now.size;
  for (const e of evs) {
    if (e.kind !== 'instance.phase' || !e.target?.startsWith('roll/app-')) continue;
    if (e.outcome === 'running') now.add(e.target);
    else now.delete(e.target);
    fewest = Math.min(fewest, now.size);
  }
  return fewest;
}

const APPS = [1, 2, 3, 4].map((o) => `roll/app-${o}`);

test('local cloud: a changed env restarts the apps in batches of maxUnavailable and a changed node template replaces them (surge), the lb never fails a request, the scaled count survives', { timeout: 480_000 }, async (t) => {
  const data = tempDir('nubis-rollout-local-');
  const work = tempDir('nubis-rollout-spec-');
  for (const f of ['app.mjs', 'kv.mjs', 'lb.mjs']) fs.copyFileSync(path.join(ROOT, 'examples/webapp', f), path.join(work, f));
  const file = path.join(work, 'app.yaml');
  const write = (o: Parameters<typeof spec>[0]): void => fs.writeFileSync(file, spec(o));
  const { port, env, serve, cli, json } = await startCliSession(data);
  const events = new EventFollower(env);
  // on a timeout the waits fail and the probes end, so the cleanup below runs
  t.signal.addEventListener('abort', () => {
    events.abort('the test was aborted');
    for (const p of [...probes]) void p.stop();
  }, { once: true });
  try {
    write({ greeting: 'one', memory: 256, maxUnavailable: 1, maxSurge: 0 });
    const applied = await cli('apply', '-f', file, '--wait', '--timeout', '180');
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    assert.equal((await cli('scale', 'roll', 'app', '4')).code, 0);
    await waitFor('4 apps ready', async () => {
      const s = await json('status', 'roll');
      return s.state === 'ready' && s.components.find((c: any) => c.name === 'app').running === 4;
    }, 120_000, 200);
    const lb = (await json('endpoints', 'roll')).endpoints.find((e: any) => e.component === 'lb');
    const lbUrl = `http://${lb.address}/`;
    const appNodes = async (): Promise<string[]> => (await json('status', 'roll')).instances.filter((i: any) => i.component === 'app' && i.desired).map((i: any) => i.node.id as string);
    const before = await appNodes();
    assert.deepEqual([...greetings(before).values()], ['one', 'one', 'one', 'one']);

    // 1. env changed: restart in place, one instance at a time behind the health gate
    write({ greeting: 'two', memory: 256, maxUnavailable: 1, maxSurge: 0 });
    const plan = await json('plan', '-f', file);
    assert.deepEqual(plan.rollout.map((l: any) => [l.instance, l.action, l.batch]), [['app-1', 'restart', 1], ['app-2', 'restart', 2], ['app-3', 'restart', 3], ['app-4', 'restart', 4]]);
    assert.deepEqual(plan.counts.map((c: any) => [c.component, c.count, c.wins]), [['app', 4, 'runtime']]);
    const mark1 = events.lastId;
    const traffic1 = probe(lbUrl);
    assert.equal((await cli('apply', '-f', file)).code, 0);
    await events.next('batch 1 of the env rollout', mark1, (e) => e.kind === 'instance.updated' && e.data?.['batch'] === 1);
    // paused at once (the API answers in milliseconds, a CLI start takes seconds on a busy machine)
    // while batches are left: status says where the rollout stands
    const paused = await serveApi(port, data, 'POST', '/v1/deployments/roll/rollout/pause', {});
    assert.equal(paused.status, 200, JSON.stringify(paused.json));
    assert.equal(paused.json.status, 'paused');
    const shown = await cli('rollout', 'status', 'roll');
    assert.match(shown.stdout, /^roll: rollout paused \(version 2\)/, shown.stdout);
    const mid = await cli('status', 'roll');
    assert.equal(mid.code, 0, mid.stderr);
    const line = /^rollout: batch ([1-3])\/4, (\d) of 4 updated, paused \(by [^)]+\)$/m.exec(mid.stdout);
    assert.ok(line && line[1] === line[2], `a rollout line under the head:\n${mid.stdout}`);
    const midJson = await json('status', 'roll');
    assert.deepEqual([midJson.rollout.status, midJson.rollout.batches, midJson.rollout.instances], ['paused', 4, 4]);
    assert.equal((await cli('rollout', 'resume', 'roll')).code, 0);
    const done1 = await events.next('the env rollout to complete', mark1, (e) => e.kind === 'rollout.completed' || e.kind === 'rollout.failed');
    assert.equal(done1.kind, 'rollout.completed', done1.reason);
    const t1 = await traffic1.stop();
    assert.deepEqual(t1.failed, [], `every request through the lb answered during the restarts (${t1.total} requests)`);
    assert.ok(t1.total > 20, `the lb was probed throughout (${t1.total} requests)`);
    const evs1 = events.seen.filter((e) => e.id > mark1 && e.id <= done1.id);
    const updated1 = evs1.filter((e) => e.kind === 'instance.updated');
    assert.deepEqual(updated1.map((e) => [e.target, e.data?.['batch'], e.data?.['how']]), [1, 2, 3, 4].map((b) => [`roll/app-${b}`, b, 'restart']));
    assert.deepEqual(evs1.filter((e) => e.kind.startsWith('rollout.')).map((e) => e.kind), ['rollout.started', 'rollout.paused', 'rollout.resumed', 'rollout.completed']);
    assert.equal(fewestRunning(evs1, APPS), 3, 'never more than maxUnavailable (1) app out of service, and one was');
    // each batch started only once the one before ran again (the health gate)
    for (let b = 1; b < 4; b++) {
      const back = evs1.find((e) => e.kind === 'instance.phase' && e.target === `roll/app-${b}` && e.outcome === 'running' && e.id > updated1[b - 1]!.id);
      assert.ok(back && back.id < updated1[b]!.id, `app-${b} running again before batch ${b + 1}`);
    }
    assert.deepEqual(await appNodes(), before, 'restarted in place: the same nodes');
    assert.deepEqual([...greetings(before).values()], ['two', 'two', 'two', 'two'], 'every app process runs with the new env');
    const after1 = await json('status', 'roll');
    assert.equal(after1.components.find((c: any) => c.name === 'app').desired, 4, 'the run-time count survived the re-apply');
    assert.equal(after1.rollout, undefined, 'no rollout line once it completed');
    // kv kept running: the counter went on growing across the rollout
    assert.ok(t1.counts.every((c, k) => k === 0 || c > t1.counts[k - 1]!), 'the kv counter never went back');

    // 2. node template changed: every app node replaced, a new one before its old one goes
    write({ greeting: 'two', memory: 512, maxUnavailable: 0, maxSurge: 1 });
    const plan2 = await json('plan', '-f', file);
    assert.deepEqual(plan2.rollout.map((l: any) => [l.instance, l.action]), [1, 2, 3, 4].map((o) => [`app-${o}`, 'replace']));
    const mark2 = events.lastId;
    const traffic2 = probe(lbUrl);
    assert.equal((await cli('apply', '-f', file)).code, 0);
    const done2 = await events.next('the replacing rollout to complete', mark2, (e) => e.kind === 'rollout.completed' || e.kind === 'rollout.failed');
    assert.equal(done2.kind, 'rollout.completed', done2.reason);
    await waitFor('the old app nodes gone and the deployment ready', async () => {
      const s = await json('status', 'roll');
      return s.state === 'ready' && s.instances.filter((i: any) => i.component === 'app').length === 4;
    }, 120_000, 200);
    const t2 = await traffic2.stop();
    assert.deepEqual(t2.failed, [], `every request through the lb answered during the replacement (${t2.total} requests)`);
    t.diagnostic(`through the lb: ${t1.total} requests during the restarts, ${t2.total} during the replacement, none failed`);
    const evs2 = events.seen.filter((e) => e.id > mark2);
    assert.equal(fewestRunning(evs2, APPS), 4, 'maxUnavailable 0: never fewer than four apps running');
    const s2 = await json('status', 'roll');
    assert.deepEqual(s2.instances.filter((i: any) => i.component === 'app').map((i: any) => i.name), ['app-5', 'app-6', 'app-7', 'app-8']);
    const after2 = await appNodes();
    assert.equal(after2.filter((n) => before.includes(n)).length, 0, 'every app on a new node');
    for (const o of [1, 2, 3, 4]) await events.next(`the old node of app-${o} deleted`, mark2, (e) => e.kind === 'node.state' && e.target === `roll/app-${o}` && e.outcome === 'deleted');
    assert.equal(s2.components.find((c: any) => c.name === 'app').desired, 4, 'the run-time count survived again');
    assert.deepEqual([...greetings(after2).values()], ['two', 'two', 'two', 'two']);
  } finally {
    for (const p of [...probes]) await p.stop();
    await events.stop().catch(() => events.kill());
    await cli('destroy', 'roll', '--wait');
    await stopProcess(serve);
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});
