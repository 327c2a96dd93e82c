/**
 * A broken cloud says why and backs off (issue 7, item 7), through the API and the built CLI.
 *
 * The cloud is the sim behind a credential check: a call made with the wrong password is
 * answered 401 (as a Keystone or a CloudSigma answers a wrong password) and counted as a login
 * attempt SENT. The engine sweeps every 40 ms, so "for as long as the deployment exists" is
 * hundreds of sweeps within the test.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { createEventLog, type EventLog } from '../../src/events/index.js';
import { createControlPlane, type RunningControlPlane } from '../../src/engine/index.js';
import { createApiServer, ensureToken } from '../../src/api/index.js';
import { cloudErrorFromStatus } from '../../src/errors/index.js';
import { createSimDriver, defaultDriverFactories, type Driver, type DriverFactory } from '../../src/drivers/index.js';
import type { DeploymentView } from '../../src/engine/views.js';
import { runCli } from '../helpers/processes.js';
import { tempDir, waitFor } from '../helpers/control-plane.js';

const GOOD = 'right-horse-battery';

/** The sim, but every call made with another password than GOOD is answered 401. */
function passwordSim(sent: { rejected: number; accepted: number }): DriverFactory {
  return (ctx) => {
    const inner = createSimDriver(ctx);
    const gate = (): void => {
      if (ctx.credentials?.['password'] !== GOOD) {
        sent.rejected++;
        throw cloudErrorFromStatus(401, 'sim: the request you have made requires authentication');
      }
      sent.accepted++;
    };
    const d: Driver = {
      platform: 'sim',
      create: async (r, s) => (gate(), inner.create(r, s)),
      get: async (id, s) => (gate(), inner.get(id, s)),
      list: async (t, s) => (gate(), inner.list(t, s)),
      delete: async (id, s) => (gate(), inner.delete(id, s)),
      reboot: async (id, s) => (gate(), inner.reboot(id, s)),
      agent: (n) => inner.agent(n),
      close: () => inner.close(),
    };
    return d;
  };
}

interface Env {
  dir: string;
  cp: RunningControlPlane;
  events: EventLog;
  env: Record<string, string>;
  sent: { rejected: number; accepted: number };
  file(name: string, text: string): string;
}

async function start(t: TestContext): Promise<Env> {
  const dir = tempDir('nubis-health-');
  const store = await openStore({ path: path.join(dir, 'nubis.db') });
  const events = createEventLog(store);
  const sent = { rejected: 0, accepted: 0 };
  const cp = await createControlPlane({
    dataDir: dir, store, events,
    drivers: { ...defaultDriverFactories(), sim: passwordSim(sent) },
    engine: { sweepIntervalMs: 40, backoffBaseMs: 20, backoffMaxMs: 200, observeIntervalMs: 100 },
    retireIntervalMs: 50,
  });
  await cp.start();
  await ensureToken(store, dir);
  const api = createApiServer({ controlPlane: cp, store });
  const { port } = await api.listen(0);
  t.after(async () => {
    await api.close();
    await cp.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  return { dir, cp, events, env: { NUBIS_SERVER: `http://127.0.0.1:${port}`, NUBIS_DATA: dir }, sent, file };
}

const spec = (dir: string): string => [
  'name: shop',
  'clouds:',
  `  os: { platform: sim, credential: oscred, options: { path: ${JSON.stringify(path.join(dir, 'sim-os.db'))} } }`,
  'nodeTemplates: { t: { cloud: os } }',
  'components:',
  '  app: { nodeTemplate: t, instances: { count: 2 }, lifecycle: { start: run } }',
  '',
].join('\n');

/** Waits until the engine has tried `n` more calls to the stopped cloud (each failed fast, without reaching it). */
async function refusedCalls(cp: RunningControlPlane, n: number): Promise<number> {
  const now = async (): Promise<number> => (await cp.getDeployment('shop')).clouds?.[0]?.refused ?? 0;
  const from = await now();
  return waitFor(`${n} refused calls`, async () => ((await now()) >= from + n ? now() : undefined), 60_000);
}

test('wrong password: status says why, ≤ 1 login per credential change over hundreds of sweeps, credentials set converges without restart, destroy finishes', async (t) => {
  const e = await start(t);
  const wrong = e.file('wrong.json', JSON.stringify({ username: 'shop', password: 'wrong-horse' }));
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', wrong], e.env)).code, 0);
  const applied = await runCli(['apply', '-f', e.file('shop.yaml', spec(e.dir))], e.env);
  assert.equal(applied.code, 0, applied.stderr);

  // status shows the reason, on the deployment and on the affected instances
  const v = await waitFor('the cloud reported unusable', async () => {
    const d = await e.cp.getDeployment('shop');
    return d.clouds?.some((c) => c.cloud === 'os' && c.health === 'unusable') ? d : undefined;
  });
  assert.match(v.clouds![0]!.reason, /authentication failed \(401\): check the credential/);
  assert.ok(v.instances.every((i) => /^cloud os: authentication failed \(401\).*calls stopped until its credential or entry changes/.test(i.lastError ?? '')), JSON.stringify(v.instances));
  const status = await runCli(['status', 'shop'], e.env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /! cloud os: authentication failed \(401\): check the credential.* — calls stopped until its credential or entry changes/);
  assert.match(status.stdout, /! app-1: cloud os: authentication failed/);

  // hundreds of sweeps later, still one rejected login (the sweep at apply)
  const atStop = e.sent.rejected;
  const refused = await refusedCalls(e.cp, 100);
  assert.equal(atStop, 1, 'one login attempt for the wrong password');
  assert.equal(e.sent.rejected, 1, `logins sent while the cloud is stopped, over ${refused} calls the engine tried: ${e.sent.rejected - 1}`);
  const unusable = await e.events.list({ kind: 'cloud.unusable' });
  assert.equal(unusable.length, 1, 'one event for the change, none per attempt');
  assert.equal((await e.events.list({ kind: 'driver.call', limit: 100_000 })).length, 1, 'fail-fast calls are not cloud calls');

  // the same wrong password again: exactly one more attempt
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', wrong], e.env)).code, 0);
  await waitFor('the retried login', () => e.sent.rejected === 2 || undefined);
  await refusedCalls(e.cp, 50);
  assert.equal(e.sent.rejected, 2, '≤ 1 login per credential change');

  // the right password reaches the running handle: converges without a restart
  const right = e.file('right.json', JSON.stringify({ username: 'shop', password: GOOD }));
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', right], e.env)).code, 0);
  const ready = await waitFor('shop ready', async () => {
    const d = await e.cp.getDeployment('shop');
    return d.state === 'ready' ? d : undefined;
  }, 60_000);
  assert.equal(ready.clouds, undefined, 'no cloud problem left');
  assert.equal(e.sent.rejected, 2);
  assert.ok((await e.events.list({ kind: 'cloud.healthy' })).length >= 1);

  const destroyed = await runCli(['destroy', 'shop', '--wait', '--timeout', '60s'], e.env);
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.match(destroyed.stdout, /shop: destroyed/);
});

test('destroy of a deployment whose cloud is unusable ends with the reason; destroy --forget drops it, lists what may be left, and records it', async (t) => {
  const e = await start(t);
  const right = e.file('right.json', JSON.stringify({ username: 'shop', password: GOOD }));
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', right], e.env)).code, 0);
  assert.equal((await runCli(['apply', '-f', e.file('shop.yaml', spec(e.dir)), '--wait', '--timeout', '60s'], e.env)).code, 0);
  const running = await e.cp.getDeployment('shop');
  const ids = running.instances.map((i) => i.node.id).sort();
  assert.equal(ids.length, 2);

  // the password is changed at the provider's side and Nubis is given a wrong one
  const wrong = e.file('wrong.json', JSON.stringify({ username: 'shop', password: 'expired' }));
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', wrong], e.env)).code, 0);
  const wait = await runCli(['destroy', 'shop', '--wait', '--timeout', '120s'], e.env);
  assert.equal(wait.code, 1, wait.stdout + wait.stderr);
  assert.match(wait.stderr, /deployment shop cannot be destroyed while cloud os is unusable/);
  assert.match(wait.stderr, /cloud os: authentication failed \(401\)/);
  assert.match(wait.stderr, /nubis destroy shop --forget/);
  assert.equal((await e.cp.getDeployment('shop')).state, 'destroying');

  const forget = await runCli(['destroy', 'shop', '--forget', '-o', 'json'], e.env);
  assert.equal(forget.code, 0, forget.stderr);
  const f = JSON.parse(forget.stdout) as { leftovers: { key: string; id?: string; cloud: string }[] };
  assert.deepEqual(f.leftovers.map((l) => l.id).sort(), ids, 'the provider ids of the nodes it could not delete');
  assert.deepEqual(f.leftovers.map((l) => l.key).sort(), ['shop/app-1', 'shop/app-2']);
  assert.equal((await runCli(['status', 'shop'], e.env)).code, 2, 'the deployment is gone');
  const ev = await e.events.list({ kind: 'deployment.forgotten' });
  assert.equal(ev.length, 1);
  assert.equal((ev[0]!.data?.['leftovers'] as unknown[]).length, 2);
  const table = await runCli(['destroy', 'nothing-here', '--forget'], e.env);
  assert.equal(table.code, 2, 'an unknown deployment is an input error');
});

test('a typo in an option is refused with its path at clouds add and at apply; stop() resolves with a broken cloud', async (t) => {
  const e = await start(t);
  const cloud = e.file('ec2.yaml', 'name: aws\nplatform: ec2\noptions: { region: eu-north-1, instanceTpye: t3.micro }\n');
  const add = await runCli(['clouds', 'add', '-f', cloud], e.env);
  assert.equal(add.code, 2, add.stdout + add.stderr);
  assert.match(add.stderr, /\$\.options\.instanceTpye: unknown option \(did you mean instanceType\?\)/);
  const wrongType = await runCli(['clouds', 'add', '-f', e.file('ec2b.yaml', 'name: aws\nplatform: ec2\noptions: { region: eu-north-1, pageSize: "ten" }\n')], e.env);
  assert.equal(wrongType.code, 2);
  assert.match(wrongType.stderr, /\$\.options\.pageSize: expected an integer from 1 to 1000, found "ten"/);
  assert.equal((await runCli(['clouds', 'list', '-o', 'json'], e.env)).stdout.includes('"aws"'), false, 'nothing half-applied');

  const bad = [
    'name: typo',
    'clouds: { aws: { platform: ec2, options: { region: eu-north-1, instanceTpye: t3.micro } } }',
    'nodeTemplates: { t: { cloud: aws } }',
    'components: { app: { nodeTemplate: t, instances: { count: 1 }, lifecycle: { start: run } } }',
    '',
  ].join('\n');
  const plan = await runCli(['plan', '-f', e.file('typo.yaml', bad)], e.env);
  assert.equal(plan.code, 2);
  assert.match(plan.stderr, /clouds\.aws\.options\.instanceTpye: unknown option \(did you mean instanceType\?\)/);
  const apply = await runCli(['apply', '-f', e.file('typo.yaml', bad)], e.env);
  assert.equal(apply.code, 2);
  assert.match(apply.stderr, /clouds\.aws\.options\.instanceTpye: unknown option/);
  assert.equal(e.cp.engine.deployments.size, 0);
  assert.equal(e.cp.engine.stats().passes, 0, 'the runtime never saw it');
  // plan has no side effects: it builds no handle, so the sim never opens its inventory (the
  // credential the spec names must exist: plan and apply refuse an unknown one)
  const cred = e.file('good.json', JSON.stringify({ username: 'shop', password: GOOD }));
  assert.equal((await runCli(['credentials', 'set', 'oscred', '--from-file', cred], e.env)).code, 0);
  const planned = await runCli(['plan', '-f', e.file('shop.yaml', spec(e.dir))], e.env);
  assert.equal(planned.code, 0, planned.stderr);
  assert.equal(fs.existsSync(path.join(e.dir, 'sim-os.db')), false, 'plan opened no cloud');
  // a cloud that cannot be built (a credential the sim factory refuses) does not make stop() reject
  await e.cp.apply({ spec: spec(e.dir) }, { actor: 'user:test' }).catch(() => undefined);
  await assert.doesNotReject(e.cp.stop());
});
