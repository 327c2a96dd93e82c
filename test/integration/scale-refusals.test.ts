/**
 * Scale requests beyond a component's bounds, through the API of a real server (server-root
 * composition with rules and schedules, in-memory sim cloud): `scale` answers 422
 * SCALE_OUT_OF_BOUNDS with the limit; a rule that asks beyond `instances.max` is capped there
 * and says so; a schedule beyond it is refused. Both appear on the deployment's status until a
 * scale of the component goes through, and every refusal is a `scale.refused` event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { callApi, type ApiAnswer } from '../helpers/http-api.js';
import { startServer } from '../../src/cli/server-root.js';

const SPEC = `name: caps
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 1, min: 1, max: 3 }, lifecycle: { start: run } }
  web: { nodeTemplate: t, instances: { count: 1, min: 1, max: 2 }, lifecycle: { start: run } }
rules:
  grow:
    component: app
    when: { count: { atOrAbove: 1 } }
    interval: 200ms
    action: { scale: out, by: 5 }
    cooldown: 1s
`;

test('a scale beyond the bounds: 422 with the limit for a person; a rule capped and a schedule refused show on status and as events', { timeout: 120_000 }, async () => {
  const data = tempDir('nubis-caps-');
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const api = (method: string, p: string, body?: unknown): Promise<ApiAnswer> => callApi(server.url, token, method, p, body);
  const events = async (kind: string): Promise<any[]> => (await api('GET', `/v1/events?kind=${kind}&deployment=caps&limit=1000`)).json.events;
  try {
    assert.equal((await api('POST', '/v1/deployments', { spec: SPEC })).status, 201);

    // a person: the answer says it all, status stays clean
    const over = await api('POST', '/v1/deployments/caps/scale', { component: 'web', count: 5 });
    assert.equal(over.status, 422, over.text);
    assert.equal(over.json.error.code, 'SCALE_OUT_OF_BOUNDS');
    assert.equal(over.json.error.retryable, false);
    assert.deepEqual(over.json.error.details, { component: 'web', count: 5, min: 1, max: 2, bound: 'max', limit: 2 });
    const under = await api('POST', '/v1/deployments/caps/scale', { component: 'web', count: 0 });
    assert.deepEqual([under.status, under.json.error.details.bound, under.json.error.details.limit], [422, 'min', 1]);
    const mine = (await events('scale.refused')).filter((e) => e.target === 'caps/web');
    assert.deepEqual(mine.map((e) => [e.outcome, e.data.wanted, e.data.limit, e.data.limitOf]), [['refused', 5, 2, 'instances.max'], ['refused', 0, 1, 'instances.min']]);
    assert.equal(((await api('GET', '/v1/deployments/caps')).json.scaling ?? []).filter((r: any) => r.component === 'web').length, 0, 'a person\'s refusal is not kept on status');

    // a rule: out by 5 from 1 is capped at max 3; then it can go no further and is refused
    const capped = await waitFor('the rule capped', async () => (await events('scale.refused')).find((e) => e.actor === 'rule:grow' && e.outcome === 'capped'), 30_000);
    assert.deepEqual([capped.data.wanted, capped.data.applied, capped.data.bound, capped.data.limit, capped.data.limitOf, capped.data.code], [6, 3, 'max', 3, 'instances.max', 'SCALE_OUT_OF_BOUNDS']);
    const refused = await waitFor('the rule refused at its bound', async () => (await events('scale.refused')).find((e) => e.actor === 'rule:grow' && e.outcome === 'refused'), 30_000);
    assert.deepEqual([refused.data.wanted, refused.data.limit], [8, 3]);
    const fired = (await events('rule.fired')).find((e) => e.data.rule === 'grow');
    assert.deepEqual(fired.data.capped, { wanted: 6, bound: 'max', limit: 3, limitOf: 'instances.max' }, 'the firing says it was capped');
    const suppressed = (await events('rule.suppressed')).find((e) => e.data.reason === 'bounds');
    assert.deepEqual([suppressed.data.wanted, suppressed.data.limit], [8, 3]);
    assert.match(suppressed.reason, /asked for 8, beyond max 3 \(instances\.max\)/);
    const v1 = (await api('GET', '/v1/deployments/caps')).json;
    assert.equal(v1.components.find((c: any) => c.name === 'app').desired, 3);
    const appLine = v1.scaling.find((r: any) => r.component === 'app');
    assert.deepEqual([appLine.by, appLine.wanted, appLine.bound, appLine.limit, appLine.code, appLine.applied], ['rule:grow', 8, 'max', 3, 'SCALE_OUT_OF_BOUNDS', undefined]);
    assert.equal(appLine.reason, 'rule grow wanted app at 8, refused: above 3 (instances.max)');

    // a schedule: set web to 4 (max 2) is refused, not cut down
    const at = new Date(Date.now() + 1500).toISOString();
    const put = await api('PUT', '/v1/schedules/big', { deployment: 'caps', component: 'web', at, count: 4 });
    assert.equal(put.status, 201, put.text);
    const fire = await waitFor('the schedule fired', async () => (await events('schedule.fired')).find((e) => e.data.schedule === 'big'), 30_000);
    assert.equal(fire.outcome, 'error');
    assert.match(fire.reason, /between 1 and 2/);
    const sched = (await events('scale.refused')).find((e) => e.actor === 'schedule:big');
    assert.deepEqual([sched.outcome, sched.data.wanted, sched.data.limit], ['refused', 4, 2]);
    const v2 = (await api('GET', '/v1/deployments/caps')).json;
    assert.equal(v2.components.find((c: any) => c.name === 'web').desired, 1, 'nothing changed');
    const webLine = v2.scaling.find((r: any) => r.component === 'web');
    assert.deepEqual([webLine.by, webLine.wanted, webLine.limit, webLine.limitOf], ['schedule:big', 4, 2, 'instances.max']);

    // a scale of web that goes through clears its line; app's stays
    assert.equal((await api('POST', '/v1/deployments/caps/scale', { component: 'web', count: 2 })).status, 200);
    const v3 = (await api('GET', '/v1/deployments/caps')).json;
    assert.deepEqual(v3.scaling.map((r: any) => r.component), ['app']);
    // the spec applied again (its bounds may be new): the lines go
    const spec2 = SPEC.replace('max: 3 }', 'max: 4 }').replace(/rules:[\s\S]*$/, '');
    assert.equal((await api('POST', '/v1/deployments', { spec: spec2 })).status, 200);
    assert.equal((await api('GET', '/v1/deployments/caps')).json.scaling, undefined);
  } finally {
    await server.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('a cloud quota is the cloud\'s to refuse: the scale is accepted, the node that does not fit fails with CLOUD_QUOTA_EXCEEDED on status and as an event', { timeout: 60_000 }, async () => {
  const data = tempDir('nubis-quota-');
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  const token = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
  const api = (method: string, p: string, body?: unknown): Promise<ApiAnswer> => callApi(server.url, token, method, p, body);
  try {
    const spec = `name: q
clouds: { sim: { platform: sim, options: { path: ":memory:", quota: { servers: 2 } } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 2, min: 1, max: 10 }, lifecycle: { start: run } }
`;
    assert.equal((await api('POST', '/v1/deployments', { spec })).status, 201);
    await waitFor('2 running', async () => (await api('GET', '/v1/deployments/q')).json.state === 'ready');
    const scaled = await api('POST', '/v1/deployments/q/scale', { component: 'app', count: 3 });
    assert.equal(scaled.status, 200, 'within the component\'s bounds: accepted');
    const v = await waitFor('the third node refused by the cloud', async () => {
      const d = (await api('GET', '/v1/deployments/q')).json;
      return d.state === 'degraded' ? d : undefined;
    });
    const third = v.instances.find((i: any) => i.name === 'app-3');
    assert.equal(third.node.state, 'failed');
    assert.match(third.lastError, /^CLOUD_QUOTA_EXCEEDED: server quota of 2 reached/);
    const failed = (await api('GET', '/v1/events?deployment=q&kind=node.state&limit=1000')).json.events.filter((e: any) => e.target === 'q/app-3' && e.outcome === 'failed');
    assert.equal(failed.length, 1);
  } finally {
    await server.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
