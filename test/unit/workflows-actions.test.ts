/**
 * Engine actions over fake ports on a virtual clock: a scale finishes on the event that makes
 * the count true (no polling), a failed instance, a kill and a timeout reject with their
 * reasons, waitMetric queries on the Clock until the condition holds, and backup is refused
 * until backups exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.js';
import { NubisError } from '../../src/errors/index.js';
import type { DeploymentView, InstanceView } from '../../src/engine/index.js';
import { runAction, actionTimeout, actionOptions, parseActionText, printAction, type ActionPorts } from '../../src/workflows/actions/index.js';

/**
 * A deployment whose engine brings one instance per second of clock time towards the desired
 * count, emitting an event after each change. `fail` makes the named instance fail.
 */
function fakePlane(clock: VirtualClock, components: Record<string, { desired: number; min?: number; max?: number }>, fail?: string) {
  const desired = new Map(Object.entries(components).map(([k, v]) => [k, v.desired]));
  const instances: InstanceView[] = [];
  const watchers = new Set<() => void>();
  let looks = 0;
  let ordinal = 0;
  const inst = (component: string, phase: InstanceView['phase']): InstanceView => ({
    name: `${component}-${++ordinal}`, component, ordinal, desired: true, phase, health: 'unknown',
    node: { key: `d/${component}-${ordinal}`, cloud: 'sim', state: phase === 'running' ? 'running' : 'provisioning' }, endpoints: {}, createdAt: '',
  });
  for (const [c, n] of desired) for (let i = 0; i < n; i++) instances.push(inst(c, 'running'));
  const view = (): DeploymentView => ({
    name: 'd', state: 'applying', version: 1, createdAt: '', updatedAt: '',
    components: [...desired].map(([name, d]) => ({ name, desired: d, running: instances.filter((i) => i.component === name && i.phase === 'running').length, min: components[name]!.min ?? 0, max: components[name]!.max ?? 100 })),
    instances: instances.map((i) => ({ ...i, node: { ...i.node } })),
  });
  const step = (): boolean => {
    for (const [c, d] of desired) {
      const mine = instances.filter((i) => i.component === c);
      const pending = mine.find((i) => i.phase !== 'running' && i.phase !== 'failed' && i.desired);
      if (pending) {
        if (pending.name === fail) {
          pending.phase = 'failed';
          pending.node.state = 'failed';
          pending.lastError = 'HANDLER_FAILED: install exited 1';
        } else {
          pending.phase = 'running';
          pending.node.state = 'running';
        }
        return true;
      }
      const live = mine.filter((i) => i.desired);
      if (live.length < d) {
        instances.push(inst(c, 'pending'));
        return true;
      }
      if (live.length > d) {
        live[live.length - 1]!.desired = false;
        return true;
      }
      const gone = mine.find((i) => !i.desired);
      if (gone) {
        instances.splice(instances.indexOf(gone), 1);
        return true;
      }
    }
    return false;
  };
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      await clock.sleep(1000);
      if (step()) for (const w of [...watchers]) w();
    }
  };
  void loop();
  const ports: ActionPorts = {
    clock,
    async getDeployment(name) {
      looks++;
      if (name !== 'd') throw new NubisError('NOT_FOUND', `no deployment named ${JSON.stringify(name)}`);
      return view();
    },
    async scale(_d, c, n) {
      const max = components[c]?.max ?? 100;
      if (n > max) throw new NubisError('SCALE_OUT_OF_BOUNDS', `${c} must have between 0 and ${max} instances; ${n} is outside`);
      desired.set(c, n);
      return view();
    },
    watch(_d, fn) {
      watchers.add(fn);
      return () => watchers.delete(fn);
    },
    async specCount() {
      return 1;
    },
    pool: (name) => (name === 'compute' ? { deployment: 'd', component: 'compute' } : undefined),
  };
  return { ports, stop: () => { stopped = true; }, looks: () => looks, watchers: () => watchers.size, instances };
}

async function withClock<T>(fn: (clock: VirtualClock) => Promise<T>): Promise<T> {
  const clock = createVirtualClock(Date.parse('2026-12-03T06:00:00Z'));
  const stop = clock.autoAdvance();
  try {
    return await fn(clock);
  } finally {
    stop();
  }
}

test('start, scale N, destroyPool and stop wait for the count on events and say what they did', async () => {
  await withClock(async (clock) => {
    const p = fakePlane(clock, { main: { desired: 0 }, compute: { desired: 0 } });
    try {
      const t0 = clock.now();
      const started = await runAction({ verb: 'start', deployment: 'd', component: 'main' }, p.ports);
      assert.equal(started.detail, 'd/main scaled 0 → 1 running in 2 s');
      const scaled = await runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 3 }, p.ports);
      assert.match(scaled.detail, /^d\/compute scaled 0 → 3 running in 6 s$/);
      // one look per event plus the first: no polling on time
      assert.ok(p.looks() <= 2 + 8 + 4, `looked ${p.looks()} times`);
      assert.equal(p.watchers(), 0, 'unsubscribed');
      assert.equal((await runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 3 }, p.ports)).detail, 'd/compute already at 3 running in 0 s');
      const destroyed = await runAction({ verb: 'destroyPool', pool: 'compute' }, p.ports);
      assert.match(destroyed.detail, /^d\/compute scaled 3 → 0 \(none left\)/);
      assert.equal(p.instances.filter((i) => i.component === 'compute').length, 0, 'gone, not just undesired');
      await runAction({ verb: 'stop', deployment: 'd', component: 'main' }, p.ports);
      assert.equal(p.instances.length, 0);
      assert.ok(clock.now() - t0 < 30_000);
    } finally {
      p.stop();
    }
  });
});

test('a failed instance, a kill, a timeout, a bad count and unknown names reject with the reason', async () => {
  await withClock(async (clock) => {
    const p = fakePlane(clock, { compute: { desired: 0, max: 4 } }, 'compute-2');
    try {
      await assert.rejects(runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 2 }, p.ports), (e: unknown) => {
        assert.ok(e instanceof NubisError);
        assert.equal(e.code, 'HANDLER_FAILED');
        assert.match(e.message, /^scale d\/compute 2: compute-2 failed: HANDLER_FAILED: install exited 1$/);
        return true;
      });
      await assert.rejects(runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 9 }, p.ports), { code: 'SCALE_OUT_OF_BOUNDS' });
      await assert.rejects(runAction({ verb: 'scale', deployment: 'd', component: 'nope', count: 1 }, p.ports), { code: 'NOT_FOUND', message: /has no component "nope"; it has compute/ });
      await assert.rejects(runAction({ verb: 'scale', deployment: 'x', component: 'compute', count: 1 }, p.ports), { code: 'NOT_FOUND' });
      await assert.rejects(runAction({ verb: 'destroyPool', pool: 'other' }, p.ports), { code: 'NOT_FOUND', message: /no pool "other"/ });
      await assert.rejects(runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: -1 }, p.ports), { code: 'REQUEST_INVALID' });
    } finally {
      p.stop();
    }
    const q = fakePlane(clock, { compute: { desired: 0 } });
    try {
      const kill = new AbortController();
      const pending = runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 5 }, q.ports, { signal: kill.signal });
      await clock.sleep(2500);
      kill.abort();
      await assert.rejects(pending, { code: 'ABORTED', message: /killed while waiting/ });
      assert.equal(q.watchers(), 0);
      await assert.rejects(runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 50 }, q.ports, { timeoutMs: 10_000 }), {
        code: 'CLOUD_TIMEOUT', message: /compute not at 50 running after 10 s/,
      });
    } finally {
      q.stop();
    }
  });
});

test('waitMetric queries on the Clock until the condition holds; backup is refused until backups exist', async () => {
  await withClock(async (clock) => {
    const t0 = clock.now();
    const asked: number[] = [];
    const ports: ActionPorts = {
      clock,
      getDeployment: () => Promise.reject(new Error('unused')),
      scale: () => Promise.reject(new Error('unused')),
      watch: () => () => undefined,
      pool: () => undefined,
      async queryMetric(q) {
        assert.equal(q, 'sum(files_arrived)');
        asked.push(clock.now() - t0);
        const minutes = (clock.now() - t0) / 60_000;
        return minutes < 1 ? undefined : Math.floor(minutes * 10);
      },
    };
    const r = await runAction({ verb: 'waitMetric', query: 'sum(files_arrived)', op: '>=', threshold: 30 }, ports);
    assert.equal(r.detail, 'sum(files_arrived) = 30 (>= 30) after 180 s');
    assert.deepEqual(asked, Array.from({ length: 13 }, (_, i) => i * 15_000));
    await assert.rejects(runAction({ verb: 'waitMetric', query: 'sum(files_arrived)', op: '>', threshold: 1e9 }, ports, { timeoutMs: 60_000 }), {
      code: 'UNAVAILABLE', message: /not true after 60 s \(last value \d+\)/,
    });
    const { queryMetric: _q, ...bare } = ports;
    await assert.rejects(runAction({ verb: 'waitMetric', query: 'x', op: '>', threshold: 1 }, bare), { code: 'UNAVAILABLE', message: /no metrics/ });
    await assert.rejects(runAction({ verb: 'backup', deployment: 'd', component: 'db' }, ports), {
      code: 'UNAVAILABLE', message: 'backup d/db: this control plane runs no backups',
    });
    assert.deepEqual(await runAction({ verb: 'backup', deployment: 'd', component: 'db' }, { ...ports, backup: async (d, c) => `backed up ${d}/${c}` }), { detail: 'backed up d/db' });
  });
  assert.equal(actionTimeout({}), undefined);
  assert.equal(actionTimeout({ NUBIS_ACTION_TIMEOUT: '30m' }), 1_800_000);
  assert.equal(actionTimeout({ NUBIS_ACTION_TIMEOUT: '1500' }), 1500);
  assert.throws(() => actionTimeout({ NUBIS_ACTION_TIMEOUT: 'soon' }), { code: 'REQUEST_INVALID' });
});

test('NUBIS_ACTION texts parse to actions and print back; bad ones say what is wrong', () => {
  const cases: [string, unknown][] = [
    ['start postproc main', { verb: 'start', deployment: 'postproc', component: 'main' }],
    ['stop  postproc main ', { verb: 'stop', deployment: 'postproc', component: 'main' }],
    ['scale postproc compute 4', { verb: 'scale', deployment: 'postproc', component: 'compute', count: 4 }],
    ['destroyPool compute', { verb: 'destroyPool', pool: 'compute' }],
    ['waitMetric sum(rate(files_total[5m])) by (job) >= 2.5', { verb: 'waitMetric', query: 'sum(rate(files_total[5m])) by (job)', op: '>=', threshold: 2.5 }],
    ['backup postproc main', { verb: 'backup', deployment: 'postproc', component: 'main' }],
  ];
  for (const [text, want] of cases) {
    const a = parseActionText(text);
    assert.deepEqual(a, want, text);
    assert.deepEqual(parseActionText(printAction(a)), a);
  }
  for (const [text, why] of [
    ['launch x y', /unknown verb "launch"; expected one of start, stop, scale, destroyPool, waitMetric, backup/],
    ['scale postproc compute', /scale takes <deployment> <component> <count>/],
    ['scale postproc compute -1', /count "-1": expected an integer ≥ 0/],
    ['start Postproc main', /deployment "Postproc"/],
    ['waitMetric up', /waitMetric takes <query> <op> <threshold>/],
  ] as const) assert.throws(() => parseActionText(text), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID' && why.test(e.message), text);
});

test('scale with a ready-by time waits on the Clock until the measured provisioning must start, and says so', async () => {
  await withClock(async (clock) => {
    const p = fakePlane(clock, { compute: { desired: 0 } });
    try {
      const t0 = clock.now();
      let scaledAt: number | undefined;
      const progress: string[] = [];
      const ports: ActionPorts = {
        ...p.ports,
        scale: async (d, c, n) => {
          scaledAt = clock.now();
          return p.ports.scale(d, c, n);
        },
        provisioning: async () => ({ cloud: 'sim', samples: 12, medianMs: 40_000, p90Ms: 60_000, concurrency: 4, slowdown: 1 }),
      };
      const opts = actionOptions({ NUBIS_READY_BY: '06:10' }, t0);
      assert.equal(opts.readyBy, t0 + 600_000);
      const r = await runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 3 }, ports, { ...opts, onProgress: (t) => progress.push(t) });
      assert.equal(scaledAt, t0 + 600_000 - 90_000, 'starts p90 + 30 s margin before the deadline');
      assert.deepEqual(progress, ['starts 06:08:30: 3 nodes take p90 1m on cloud sim at concurrency 3 from 12 measured, +30s margin, ready by 06:10:00']);
      assert.match(r.detail, /scaled 0 → 3 running/);
      // late: starts at once; a kill while waiting aborts
      const late: string[] = [];
      await runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 5 }, ports, { readyBy: clock.now() + 10_000, onProgress: (t) => late.push(t) });
      assert.match(late[0]!, /^starts now \(\d\d:\d\d:\d\d\), \w+ late: 2 nodes/);
      const kill = new AbortController();
      const waiting = runAction({ verb: 'scale', deployment: 'd', component: 'compute', count: 6 }, ports, { readyBy: clock.now() + 3_600_000, signal: kill.signal });
      await clock.sleep(60_000);
      kill.abort();
      await assert.rejects(waiting, { code: 'ABORTED' });
    } finally {
      p.stop();
    }
  });
});
