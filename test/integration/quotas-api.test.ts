/**
 * Quotas through the public surface of a real `nubis serve`: the administrator sets tenant
 * `default` to 7 nodes with `nubis quotas set`; then 20 applies of different two-node
 * deployments are sent to the API at once. At most 3 fit (6 nodes) and exactly as many are
 * accepted as fit; every other answer is 422 QUOTA_EXCEEDED naming the quota (nodes), the
 * current use, the request and the limit, and leaves no deployment behind. The stored use, the
 * deployments' desired nodes and the nodes actually running never pass the limit. Afterwards
 * `plan` refuses the next deployment with the same reason, a scale past the quota is refused,
 * and a destroyed deployment gives its share back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { startCliSession, type CliSession } from '../helpers/cli-session.js';
import { stopProcess } from '../helpers/processes.js';
import { callApi } from '../helpers/http-api.js';

const spec = (name: string): string => `name: ${name}
clouds: { sim: { platform: sim, options: { path: ":memory:" } } }
nodeTemplates: { t: { cloud: sim, requirements: { cores: 2, memory: 512 } } }
components:
  app: { nodeTemplate: t, instances: { count: 2, max: 10 }, lifecycle: { start: run } }
`;

test('20 concurrent applies never pass a tenant\'s node quota, and each refusal says why', { timeout: 240_000 }, async () => {
  const dir = tempDir('nubis-quotas-');
  let s: CliSession | undefined;
  try {
    s = await startCliSession(path.join(dir, 'data'));
    const token = fs.readFileSync(path.join(dir, 'data', 'token'), 'utf8').trim();
    const api = (method: string, p: string, body?: unknown) => callApi(s!.env.NUBIS_SERVER, token, method, p, body);
    const set = await s.json('quotas', 'set', '--nodes', '7', '--cores', '100');
    assert.deepEqual(set.limits, { nodes: 7, cores: 100, memory: null, deployments: null });

    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => api('POST', '/v1/deployments', { spec: spec(`q${i}`), file: `q${i}.yaml` })));
    const accepted = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    assert.equal(accepted.length, 3, answers.map((a) => `${a.status} ${a.text.slice(0, 200)}`).join('\n'));
    for (const r of refused) {
      assert.equal(r.status, 422, r.text);
      const e = r.json.error;
      assert.equal(e.code, 'QUOTA_EXCEEDED');
      assert.equal(e.details.quota, 'nodes');
      assert.equal(e.details.limit, 7);
      assert.equal(e.details.requested, 2);
      assert.ok(e.details.used + 2 > 7 && e.details.used <= 6, JSON.stringify(e.details));
      assert.match(e.message, /^quota nodes of tenant default: \d nodes in use by its other deployments \+ 2 asked by deployment q\d+ = \d+ > 7$/);
    }
    const list = (await api('GET', '/v1/deployments')).json.deployments as { name: string; instances: { desired: number } }[];
    assert.equal(list.length, 3, 'refused applies leave no deployment');
    assert.equal(list.reduce((n, d) => n + d.instances.desired, 0), 6);
    const shown = await s.json('quotas', 'show');
    assert.deepEqual(shown.used, { nodes: 6, cores: 12, memory: 3072, deployments: 3 });
    assert.deepEqual(shown.deployments.map((d: { name: string }) => d.name).sort(), list.map((d) => d.name).sort());
    // what runs is what was admitted
    for (const d of list) {
      await waitFor(`${d.name} ready`, async () => ((await api('GET', `/v1/deployments/${d.name}`)).json.state === 'ready' ? true : undefined), 120_000);
    }
    const created = ((await api('GET', '/v1/events?kind=driver.call&limit=10000')).json.events as { data: { op: string }; outcome: string }[]).filter((e) => e.data.op === 'create' && e.outcome === 'ok');
    assert.equal(created.length, 6, 'six nodes were created in the cloud');

    // plan says it before anything is applied; a scale past the quota is refused; the CLI exits 1
    const planned = await api('POST', '/v1/plan', { spec: spec('q99') });
    assert.equal(planned.status, 422);
    assert.equal(planned.json.error.code, 'QUOTA_EXCEEDED');
    fs.writeFileSync(path.join(dir, 'q98.yaml'), spec('q98'));
    const cliPlan = await s.cli('plan', '-f', path.join(dir, 'q98.yaml'));
    assert.equal(cliPlan.code, 1, cliPlan.stderr);
    assert.match(cliPlan.stderr, /error\[QUOTA_EXCEEDED\]: quota nodes of tenant default: 6 nodes in use by its other deployments \+ 2 asked by deployment q98 = 8 > 7/);
    const first = list[0]!.name;
    const scaled = await api('POST', `/v1/deployments/${first}/scale`, { component: 'app', count: 4 });
    assert.equal(scaled.status, 422, scaled.text);
    assert.equal(scaled.json.error.code, 'QUOTA_EXCEEDED');
    assert.equal((await api('POST', `/v1/deployments/${first}/scale`, { component: 'app', count: 1 })).status, 200);
    // a destroyed deployment gives its share back once it is gone
    assert.equal((await s.cli('destroy', first, '--wait')).code, 0);
    await waitFor('quota given back', async () => ((await s!.json('quotas', 'show')).used.nodes === 4 ? true : undefined), 60_000);
    assert.equal((await api('POST', '/v1/plan', { spec: spec('q99') })).status, 200);
  } finally {
    if (s) await stopProcess(s.serve);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
