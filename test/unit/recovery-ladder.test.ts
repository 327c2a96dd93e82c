/**
 * The recovery ladder (src/operations/recovery/ladder.ts) on a virtual clock: detection over
 * a window, the order of steps and what each failure kind skips, give-up limits, the stable
 * period and reset; and a property: over random failure histories no step is taken more than
 * its limit within its window, and a give-up is announced once and then nothing happens.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, type RecoverySpec } from '../../src/model/index.js';
import { createPrng } from '../../src/drivers/sim/prng.js';
import { freshLadder, resetLadder, stepEnded, transition, type LadderEvent, type LadderState, type Sighting } from '../../src/operations/index.js';

const policy = (over: Partial<RecoverySpec> = {}): RecoverySpec => ({
  windowMs: 30_000, failures: 3, ladder: ['restart', 'reboot', 'recreate', 'alert'],
  limits: { restart: { max: 3, withinMs: 600_000 }, reboot: { max: 2, withinMs: 3_600_000 }, recreate: { max: 1, withinMs: 21_600_000 } },
  stableMs: 300_000, stepTimeoutMs: 600_000, ...over,
});
const probeFail = (n = 1): Sighting => ({ kind: 'failed', failure: 'component', count: n, hard: false, reason: 'http GET /health: status 500' });
const died: Sighting = { kind: 'failed', failure: 'component', count: 1, hard: true, reason: 'its process exited' };
const unreachable: Sighting = { kind: 'failed', failure: 'unreachable', count: 1, hard: true, reason: 'its node does not answer' };
const gone: Sighting = { kind: 'failed', failure: 'gone', count: 1, hard: true, reason: 'the cloud no longer has its node' };
const healthy: Sighting = { kind: 'healthy' };
const tick: Sighting = { kind: 'tick' };

/** Drives one ladder on a virtual time line, carrying out every step at once (successfully unless told). */
class Drive {
  state: LadderState = freshLadder();
  now = 1_000_000;
  readonly events: LadderEvent[] = [];
  readonly steps: { step: string; at: number }[] = [];
  constructor(readonly p: RecoverySpec, private readonly failStep: (step: string) => string | undefined = () => undefined) {}
  see(s: Sighting, advanceMs = 0): this {
    this.now += advanceMs;
    let r = transition(this.state, this.p, s, this.now);
    this.events.push(...r.events);
    while (r.act) {
      this.steps.push({ step: r.act.step, at: this.now });
      r = stepEnded(r.state, this.p, this.now, this.failStep(r.act.step));
      this.events.push(...r.events);
    }
    this.state = r.state;
    return this;
  }
  kinds(): string[] {
    return this.events.map((e) => (e.kind === 'recovery.step' ? `step:${String(e.data['step'])}` : e.kind.slice('recovery.'.length)));
  }
}

test('probe failures are counted over the window: fewer than `failures` within it detect nothing', () => {
  const d = new Drive(policy());
  d.see(probeFail(), 0).see(probeFail(), 20_000).see(probeFail(), 20_000); // the first has left the window
  assert.deepEqual(d.kinds(), []);
  d.see(probeFail(), 1000);
  assert.deepEqual(d.kinds(), ['detected', 'step:restart']);
  assert.match(d.events[0]!.reason, /3 probe failures within 30 s/);
});

test('a counter delta of several failures detects at once; a dead process needs no window', () => {
  assert.deepEqual(new Drive(policy()).see(probeFail(3)).kinds(), ['detected', 'step:restart']);
  assert.deepEqual(new Drive(policy()).see(died).kinds(), ['detected', 'step:restart']);
});

test('a step that does not help makes way for the next; healthy again ends the incident with recovered', () => {
  const d = new Drive(policy());
  d.see(died).see(died, 2000);
  assert.deepEqual(d.kinds(), ['detected', 'step:restart', 'step:reboot']);
  d.see(healthy, 5000);
  assert.deepEqual(d.kinds().slice(-1), ['recovered']);
  assert.equal(d.state.status, 'watching');
  assert.equal(d.events.at(-1)!.data['step'], 'reboot');
  // the next incident starts at the first step again
  d.see(died, 60_000);
  assert.deepEqual(d.kinds().slice(-2), ['detected', 'step:restart']);
});

test('an unreachable node skips restart; a node that is gone goes straight to recreate', () => {
  const u = new Drive(policy()).see(unreachable);
  assert.deepEqual(u.kinds(), ['detected', 'step:reboot']);
  assert.match(u.events[1]!.reason, /skipped restart: the node does not answer/);
  const g = new Drive(policy()).see(gone);
  assert.deepEqual(g.kinds(), ['detected', 'step:recreate']);
  assert.match(g.events[1]!.reason, /reboot: the cloud no longer has the node/);
});

test('a step that cannot be carried out (reboot refused) climbs at once', () => {
  const d = new Drive(policy(), (s) => (s === 'reboot' ? 'CLOUD_UNAVAILABLE: ssh connect timed out' : undefined)).see(unreachable);
  assert.deepEqual(d.kinds(), ['detected', 'step:reboot', 'step:recreate']);
  assert.match(d.events[2]!.reason, /reboot failed: CLOUD_UNAVAILABLE/);
});

test('a step that does not bring the instance back within stepTimeout climbs', () => {
  const d = new Drive(policy({ stepTimeoutMs: 60_000 })).see(died);
  d.see(tick, 59_000);
  assert.deepEqual(d.kinds(), ['detected', 'step:restart']);
  d.see(tick, 1000);
  assert.deepEqual(d.kinds(), ['detected', 'step:restart', 'step:reboot']);
  assert.match(d.events[2]!.reason, /restart did not bring it back within 1 min/);
});

test('a component that keeps dying climbs through the limits and gives up once; afterwards nothing happens', () => {
  const d = new Drive(policy());
  // dies, is restarted and is healthy again, every 10 s
  for (let i = 0; i < 30; i++) d.see(died, 5000).see(healthy, 5000);
  const steps = d.steps.map((s) => s.step);
  assert.deepEqual(steps, ['restart', 'restart', 'restart', 'reboot', 'reboot', 'recreate']);
  assert.equal(d.kinds().filter((k) => k === 'gave-up').length, 1);
  assert.equal(d.kinds().filter((k) => k === 'step:alert').length, 1);
  assert.equal(d.state.status, 'gave-up');
  const after = d.events.length;
  for (let i = 0; i < 10; i++) d.see(died, 1000).see(probeFail(5), 1000);
  assert.equal(d.events.length, after, 'no event after a give-up');
});

test('a ladder without alert gives up when every step is spent', () => {
  const d = new Drive(policy({ ladder: ['restart'], limits: { ...policy().limits, restart: { max: 2, withinMs: 60_000 } } }));
  d.see(died).see(healthy, 1000).see(died, 1000).see(healthy, 1000).see(died, 1000);
  assert.deepEqual(d.kinds(), ['detected', 'step:restart', 'recovered', 'detected', 'step:restart', 'recovered', 'detected', 'gave-up']);
  assert.match(d.events.at(-1)!.reason, /every step of the ladder is spent.*restart: its limit is reached \(2 of 2 within 1 min\)/);
});

test('a give-up ends after `stable` healthy, or when a person resets it; limits age out by themselves', () => {
  const p = policy({ ladder: ['restart', 'alert'], limits: { ...policy().limits, restart: { max: 1, withinMs: 120_000 } }, stableMs: 60_000 });
  const d = new Drive(p).see(died).see(died, 1000);
  assert.equal(d.state.status, 'gave-up');
  d.see(healthy, 1000).see(died, 30_000).see(healthy, 1000).see(tick, 59_000);
  assert.equal(d.state.status, 'gave-up', 'a failure restarts the stable period');
  d.see(tick, 1000);
  assert.equal(d.state.status, 'watching');
  assert.match(d.events.at(-1)!.reason, /healthy for 1 min after giving up/);
  // the restart taken 92 s ago still counts: the next failure alerts
  d.see(died, 0);
  assert.deepEqual(d.kinds().slice(-3), ['detected', 'step:alert', 'gave-up']);
  const r = resetLadder(d.state, 'user:alice');
  assert.equal(r.state.status, 'watching');
  assert.deepEqual(r.state.taken.restart, []);
  assert.match(r.events[0]!.reason, /reset by user:alice after a give-up/);
});

test('nothing is decided while a step is being carried out', () => {
  const p = policy();
  const r = transition(freshLadder(), p, died, 0);
  assert.equal(r.act?.step, 'restart');
  // the step's own stop reads as a failure and its start as healthy: neither counts before stepEnded
  const during = transition(transition(r.state, p, died, 10).state, p, healthy, 20);
  assert.deepEqual(during.events, []);
  assert.equal(during.state.status, 'recovering');
});

test('property: over random histories no step exceeds its limit in any window, and a give-up is announced once', () => {
  const sightings: Sighting[] = [died, unreachable, gone, probeFail(), probeFail(2), healthy, healthy, tick];
  for (let seed = 1; seed <= 300; seed++) {
    const g = createPrng(seed);
    const rnd = (): number => g.next();
    const p = policy({
      failures: 1 + Math.floor(rnd() * 4),
      windowMs: 5_000 + Math.floor(rnd() * 60_000),
      stableMs: 10_000 + Math.floor(rnd() * 600_000),
      stepTimeoutMs: 5_000 + Math.floor(rnd() * 120_000),
      limits: {
        restart: { max: Math.floor(rnd() * 4), withinMs: 60_000 + Math.floor(rnd() * 600_000) },
        reboot: { max: Math.floor(rnd() * 3), withinMs: 60_000 + Math.floor(rnd() * 3_600_000) },
        recreate: { max: Math.floor(rnd() * 2), withinMs: 60_000 + Math.floor(rnd() * 7_200_000) },
      },
    });
    const d = new Drive(p, () => (rnd() < 0.2 ? 'injected' : undefined));
    let gaveUps = 0;
    for (let i = 0; i < 400; i++) {
      const before = d.events.length;
      const wasGaveUp = d.state.status === 'gave-up';
      d.see(sightings[Math.floor(rnd() * sightings.length)]!, Math.floor(rnd() * 20_000));
      const fresh = d.events.slice(before);
      if (wasGaveUp) {
        // while given up: at most the stable-period recovery, and nothing acts before it
        assert.ok(fresh.every((e) => e.kind !== 'recovery.step' || d.state.status !== 'gave-up'), `seed ${seed}: acted while given up`);
        if (d.state.status === 'gave-up') assert.deepEqual(fresh, [], `seed ${seed}: events while given up`);
      }
      gaveUps += fresh.filter((e) => e.kind === 'recovery.gave-up').length;
      if (d.state.status === 'gave-up') assert.ok(gaveUps >= 1);
      if (d.state.status !== 'gave-up') gaveUps = 0;
      assert.ok(gaveUps <= 1, `seed ${seed}: gave up twice without recovering in between`);
    }
    for (const step of ['restart', 'reboot', 'recreate'] as const) {
      const at = d.steps.filter((s) => s.step === step).map((s) => s.at);
      const { max, withinMs } = p.limits[step];
      for (let i = 0; i < at.length; i++) {
        const inWindow = at.filter((t) => t <= at[i]! && at[i]! - t < withinMs).length;
        assert.ok(inWindow <= max, `seed ${seed}: ${inWindow} ${step}s within ${withinMs} ms (max ${max})`);
      }
    }
  }
});

test('the spec: defaults, and precise errors for a ladder, limits and durations', () => {
  const base = (rec: string): string => [
    'name: r', 'clouds: { s: { platform: sim } }', 'nodeTemplates: { t: { cloud: s } }', 'components:',
    `  app: { nodeTemplate: t, lifecycle: { start: run }, recovery: ${rec} }`, '',
  ].join('\n');
  const spec = parseSpec(base('{}'), { file: 'r.yaml' });
  assert.deepEqual(spec.components['app']!.recovery, policy());
  const custom = parseSpec(base('{ window: 10s, failures: 2, ladder: [restart, alert], limits: { restart: { max: 5, within: 1m } }, stable: 30s }'), { file: 'r.yaml' });
  assert.deepEqual(custom.components['app']!.recovery?.limits.restart, { max: 5, withinMs: 60_000 });
  assert.deepEqual(custom.components['app']!.recovery?.ladder, ['restart', 'alert']);
  const bad = (rec: string): string[] => {
    try {
      parseSpec(base(rec), { file: 'r.yaml' });
    } catch (e) {
      return ((e as { details: { problems: { message: string }[] } }).details.problems).map((p) => p.message);
    }
    assert.fail('expected SPEC_INVALID');
  };
  assert.deepEqual(bad('{ ladder: [restart, restart] }'), ['r.yaml:5:84: $.components.app.recovery.ladder[1]: expected each step at most once, found "restart" again']);
  assert.match(bad('{ ladder: [alert, restart] }')[0]!, /ladder\[0\]: expected alert as the last step \(it gives up\), found alert at position 1 of 2/);
  assert.match(bad('{ ladder: [restart], limits: { reboot: { max: 1, within: 1h } } }')[0]!, /recovery\.limits\.reboot: expected a limit for a step in the ladder \(restart\)/);
  assert.match(bad('{ ladder: [restart, explode] }')[0]!, /recovery\.ladder\[1\]: expected/);
  assert.match(bad('{ window: 0s }')[0]!, /recovery\.window: expected duration from 1ms to 168h, found duration "0s"/);
  assert.match(bad('{ limits: { restart: { max: 1 } } }')[0]!, /recovery\.limits\.restart/);
  assert.match(bad('{ failures: 0 }')[0]!, /recovery\.failures: expected/);
  assert.match(bad('{ retries: 3 }')[0]!, /recovery/);
});
