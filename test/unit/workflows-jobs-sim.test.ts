/**
 * Workflow jobs on the sim agent: simulated on a VirtualClock (init at once, complete after
 * NUBIS_SIM_SECONDS, abort on NUBIS_SIM_FAIL_TRY), relayed by the JobDispatcher.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.js';
import { createSimAgents, type SimAgents } from '../../src/drivers/sim/agent.js';
import { JobDispatcher } from '../../src/workflows/jobs/index.js';
import { never, waitFor } from './agent-test-helpers.js';
import { fakeRuntime } from './workflows-jobs-helpers.js';

const open: { agents: SimAgents; d: JobDispatcher }[] = [];

afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.d.close();
    o.agents.close();
  }
});

function setup(clock: VirtualClock, reachable = new Set(['n1', 'n2'])) {
  const agents = createSimAgents({ clock, reachable: async (id) => reachable.has(id) });
  const rt = fakeRuntime('wf', () => clock.now());
  const d = new JobDispatcher({ runtime: () => rt.runtime, clock, retryMs: 1000, unreachableLostMs: 60_000 });
  open.push({ agents, d });
  const node = (id: string) => ({ nodeId: id, agent: agents.client(id, 0) });
  return { agents, rt, d, node, reachable };
}

/** Lets the event loop run until `cond` holds (no clock time passes). */
const settle = (what: string, cond: () => boolean) => waitFor(what, cond, 5000, 1);

describe('sim agent jobs on a virtual clock', () => {
  test('init at once, complete after NUBIS_SIM_SECONDS of clock time, then the job is gone (no loss)', async () => {
    const clock = createVirtualClock(1_000_000);
    const { rt, d, node } = setup(clock);
    await d.start(rt.submit('/s/t', 1, { NUBIS_SIM_SECONDS: '2.5' }), node('n1'), '#!/bin/sh\n');
    await clock.advance(0);
    await settle('init', () => rt.calls.length === 1);
    assert.deepEqual(rt.calls[0]!.command, { verb: 'init', rid: rt.calls[0]!.identity.rid });
    assert.equal(rt.calls[0]!.at, 1_000_000);
    await clock.advance(2499);
    await new Promise((r) => setImmediate(r));
    assert.equal(rt.calls.length, 1);
    await clock.advance(1);
    await settle('complete and exit', () => d.running().length === 0);
    assert.deepEqual(rt.calls.map((c) => [c.command.verb, c.at]), [['init', 1_000_000], ['complete', 1_002_500]]);
    assert.equal(rt.runtime.node('/s/t')!.state, 'complete');
    assert.deepEqual(rt.lost, []);
    assert.match(await d.logs('wf', '/s/t', 1, node('n1')), /^sim: job \/s\/t try 1 on n1\nsim: --init\nsim: --complete\n$/);
  });

  test('NUBIS_SIM_FAIL_TRY aborts that try only; the default is one second', async () => {
    const clock = createVirtualClock(0);
    const { rt, d, node } = setup(clock);
    const stop = clock.autoAdvance();
    try {
      await d.start(rt.submit('/s/t', 1, { NUBIS_SIM_FAIL_TRY: '1' }), node('n1'), '');
      await settle('try 1 over', () => d.running().length === 0);
      assert.equal(rt.runtime.node('/s/t')!.state, 'aborted');
      assert.deepEqual(rt.calls.map((c) => c.command.verb), ['init', 'abort']);
      assert.equal(rt.calls[1]!.at, 1000);
      await d.start(rt.submit('/s/t', 2, { NUBIS_SIM_FAIL_TRY: '1' }), node('n1'), '');
      await settle('try 2 over', () => d.running().length === 0);
      assert.equal(rt.runtime.node('/s/t')!.state, 'complete');
      assert.deepEqual(rt.lost, []);
    } finally {
      stop();
    }
  });

  test('many jobs on two nodes run side by side in virtual time, each reported once, in order per job', async () => {
    const clock = createVirtualClock(0);
    const { rt, d, node } = setup(clock);
    const stop = clock.autoAdvance();
    try {
      for (let i = 0; i < 200; i++) await d.start(rt.submit(`/s/f/t${i}`, 1, { NUBIS_SIM_SECONDS: String(1 + (i % 5)) }), node(i % 2 ? 'n1' : 'n2'), '');
      await settle('all done', () => d.running().length === 0);
      for (let i = 0; i < 200; i++) {
        const mine = rt.calls.filter((c) => c.identity.path === `/s/f/t${i}`);
        assert.deepEqual(mine.map((c) => c.command.verb), ['init', 'complete']);
        assert.equal(mine[1]!.at - mine[0]!.at, (1 + (i % 5)) * 1000);
      }
      assert.ok(clock.now() <= 5000 + 1000, `virtual time ${clock.now()}`);
      assert.deepEqual(rt.lost, []);
    } finally {
      stop();
    }
  });

  test('a zombie init makes the sim job exit 1, which is a loss; kill is not', async () => {
    const clock = createVirtualClock(0);
    const { rt, d, node } = setup(clock);
    const sub = rt.submit('/s/z');
    await d.start({ ...sub, password: 'stale' }, node('n1'), '');
    await clock.advance(0);
    await settle('the loss', () => rt.lost.length === 1);
    assert.match(rt.lost[0]!.detail, /code 1/);
    assert.match(await d.logs('wf', '/s/z', 1, node('n1')), /nubis child: zombie: wrong password/);

    await d.start(rt.submit('/s/k', 1, { NUBIS_SIM_SECONDS: '100' }), node('n1'), '');
    await clock.advance(0);
    await settle('init', () => rt.calls.some((c) => c.identity.path === '/s/k'));
    assert.equal(await d.kill('wf', '/s/k', 1), true);
    await settle('the job gone', () => d.running().length === 0);
    assert.equal(rt.lost.length, 1);
  });

  test('a rebooted node loses its jobs (new epoch); NO_ECF reports nothing', async () => {
    const clock = createVirtualClock(0);
    const { agents, rt, d, node } = setup(clock);
    await d.start(rt.submit('/s/r', 1, { NUBIS_SIM_SECONDS: '50' }), node('n1'), '');
    await clock.advance(0);
    await settle('init', () => rt.calls.length === 1);
    agents.reset('n1');
    // the dispatcher's held feed read wakes on the clock
    await clock.advance(20_000);
    await settle('the loss', () => rt.lost.length === 1);
    assert.match(rt.lost[0]!.detail, /restarted/);

    const st = await node('n2').agent.jobStatus!(never());
    assert.deepEqual(st.jobs, []);
    await d.start(rt.submit('/s/q', 1, { NO_ECF: '' }), node('n2'), '');
    await clock.advance(1000);
    await settle('exit', () => d.running().length === 0);
    assert.equal(rt.calls.filter((c) => c.identity.path === '/s/q').length, 0);
  });

  test('an unreachable node\'s jobs are lost after unreachableLostMs of clock time', async () => {
    const clock = createVirtualClock(0);
    const { rt, d, node, reachable } = setup(clock);
    await d.start(rt.submit('/s/u', 1, { NUBIS_SIM_SECONDS: '500' }), node('n2'), '');
    await clock.advance(0);
    await settle('init', () => rt.calls.length === 1);
    reachable.delete('n2');
    const stop = clock.autoAdvance();
    try {
      await settle('the loss', () => rt.lost.length === 1);
    } finally {
      stop();
    }
    assert.match(rt.lost[0]!.detail, /has not answered/);
    assert.ok(rt.lost[0]!.at >= 60_000 && rt.lost[0]!.at < 100_000, String(rt.lost[0]!.at));
  });
});
