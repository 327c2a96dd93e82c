/**
 * Alerts on a virtual clock: deduplication (one open alert per rule and subject), the quiet
 * period (a reminder only after it), the resolved message when the subject's success event
 * comes, acknowledgement, retry backoff with jitter of the delivery queue, metric rules with
 * `for`, the explanation and runbook link of a provider error, the spec section's errors, and
 * docs/runbooks.md equal to what the tables write (every link has its section).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openStore, type Store } from '../../src/store/index.js';
import { createEventLog, type EventLog } from '../../src/events/index.js';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.js';
import { createAlertsService, backoffMs, runbooksMarkdown, slug, type AlertsService, DeliveryError } from '../../src/operations/index.js';
import { parseSpec, type AppSpec } from '../../src/model/index.js';
import { isNubisError } from '../../src/errors/index.js';
import { DeliveryQueue } from '../../src/operations/alerts/deliveries.js';
import type { QueryResult } from '../../src/metrics/index.js';

const MIN = 60_000;

interface Rig {
  store: Store;
  events: EventLog;
  clock: VirtualClock;
  alerts: AlertsService;
  close(): Promise<void>;
}

async function rig(opts: { specs?: Record<string, AppSpec>; query?: (expr: string) => QueryResult } = {}): Promise<Rig> {
  const clock = createVirtualClock(1_000_000);
  const store = await openStore({ path: ':memory:' });
  const events = createEventLog(store, clock.now);
  const specs = opts.specs ?? {};
  const alerts = createAlertsService({
    clock, store, events, specOf: (d) => specs[d], deployments: () => Object.keys(specs),
    ...(opts.query ? { query: { instant: async (e: string) => opts.query!(e) } } : {}),
    metricTickMs: 1_000,
  });
  await alerts.start();
  return { store, events, clock, alerts, close: async () => { await alerts.stop(); await store.close(); } };
}

const messages = async (events: EventLog, outcome?: string): Promise<string[]> =>
  (await events.list({ kind: 'alert.message' })).filter((e) => outcome === undefined || e.outcome === outcome).map((e) => e.reason ?? '');

test('a failed backup opens one alert; repeats within the quiet period are counted, not sent; after it a reminder; success resolves it', async () => {
  const r = await rig();
  try {
    const fail = (reason: string) => r.events.append({ deployment: 'shop', kind: 'backup.failed', actor: 'backups', target: 'shop/db-nightly', outcome: 'error', reason });
    await fail('store full: 0 bytes left on /backups');
    await r.alerts.settle();
    await fail('store full again');
    await r.clock.advance(30 * MIN);
    await fail('store full a third time');
    await r.alerts.settle();
    let open = await r.alerts.list('default');
    assert.equal(open.length, 1, 'same rule + same subject = one open alert');
    assert.equal(open[0]!.count, 3);
    assert.equal(open[0]!.rule, 'backup-failed');
    assert.equal(open[0]!.severity, 'critical');
    assert.deepEqual(await messages(r.events, 'opened'), [open[0]!.title].map((t) => `[CRITICAL] ${t}`));
    assert.equal((await messages(r.events)).length, 1, 'no repeat notification within the quiet period (1h)');
    // past the quiet period: a reminder
    await r.clock.advance(31 * MIN);
    await fail('still full');
    await r.alerts.settle();
    assert.equal((await messages(r.events, 'reminder')).length, 1);
    assert.match((await messages(r.events, 'reminder'))[0]!, /still open, 4×/);
    // another subject is another alert
    await r.events.append({ deployment: 'shop', kind: 'backup.failed', actor: 'backups', target: 'shop/files', reason: 'snapshot failed' });
    await r.alerts.settle();
    assert.equal((await r.alerts.list('default')).length, 2);
    // the subject's success event resolves it, with a resolved message
    await r.events.append({ deployment: 'shop', kind: 'backup.succeeded', actor: 'backups', target: 'shop/db-nightly', reason: 'verified 12 MB' });
    await r.alerts.settle();
    open = await r.alerts.list('default');
    assert.deepEqual(open.map((a) => a.subject), ['shop/files']);
    const resolved = await r.alerts.list('default', { state: 'resolved' });
    assert.equal(resolved.length, 1);
    assert.match(resolved[0]!.resolution ?? '', /backup.succeeded: verified 12 MB/);
    assert.equal((await messages(r.events, 'resolved')).length, 1);
    const text = (await r.events.list({ kind: 'alert.message' })).find((e) => e.outcome === 'resolved')!.data!['text'] as string;
    assert.match(text, /^Resolved: backup.succeeded/);
    assert.match(text, /Runbook: docs\/runbooks.md#backup-failed/);
    // a new failure after resolution is a new alert, sent again
    await fail('full once more');
    await r.alerts.settle();
    assert.equal((await messages(r.events, 'opened')).length, 3);
  } finally {
    await r.close();
  }
});

test('acknowledged: no reminders, still resolved with a message; the other tenant sees nothing', async () => {
  const r = await rig();
  try {
    await r.events.append({ deployment: 'acme.web', kind: 'recovery.gave-up', actor: 'recovery', target: 'acme.web/app-1', reason: '3 restarts in 10m' });
    await r.alerts.settle();
    const [a] = await r.alerts.list('acme');
    assert.ok(a);
    assert.equal(a.subject, 'web/app-1', 'shown in the tenant\'s own names');
    assert.equal(a.deployment, 'web');
    assert.deepEqual(await r.alerts.list('default'), []);
    await assert.rejects(r.alerts.ack('default', a.id, 'user:x'), (e: unknown) => isNubisError(e) && e.code === 'NOT_FOUND');
    const acked = await r.alerts.ack('acme', a.id, 'user:ops');
    assert.equal(acked.state, 'acked');
    await r.clock.advance(2 * 3_600_000);
    await r.events.append({ deployment: 'acme.web', kind: 'recovery.gave-up', actor: 'recovery', target: 'acme.web/app-1', reason: 'again' });
    await r.alerts.settle();
    assert.equal((await messages(r.events, 'reminder')).length, 0);
    await r.events.append({ deployment: 'acme.web', kind: 'recovery.recovered', actor: 'recovery', target: 'acme.web/app-1', reason: 'healthy' });
    await r.alerts.settle();
    assert.equal((await messages(r.events, 'resolved')).length, 1);
    await assert.rejects(r.alerts.ack('acme', a.id, 'user:ops'), (e: unknown) => isNubisError(e) && e.code === 'CONFLICT');
  } finally {
    await r.close();
  }
});

test('a non-retryable provider error (node failed, alert) carries the code\'s explanation and runbook; running resolves it', async () => {
  const r = await rig();
  try {
    await r.events.append({ deployment: 'web', kind: 'node.state', actor: 'engine', target: 'web/app-1', outcome: 'creating', data: { from: 'pending', to: 'creating' } });
    await r.events.append({ deployment: 'web', kind: 'node.state', actor: 'engine', target: 'web/app-1', outcome: 'failed', reason: 'create failed', data: { code: 'CLOUD_PAYMENT_REQUIRED', httpStatus: 402, alert: true } });
    await r.alerts.settle();
    const [a] = await r.alerts.list('default');
    assert.ok(a);
    assert.equal(a.rule, 'provider-error');
    assert.equal(a.explanation.code, 'CLOUD_PAYMENT_REQUIRED');
    assert.match(a.explanation.whatToDo, /Top up the account/);
    assert.equal(a.explanation.runbookUrl, 'docs/runbooks.md#cloud-http-402');
    await r.events.append({ deployment: 'web', kind: 'node.state', actor: 'engine', target: 'web/app-1', outcome: 'running', data: { to: 'running' } });
    await r.alerts.settle();
    assert.deepEqual(await r.alerts.list('default'), []);
  } finally {
    await r.close();
  }
});

test('a metric rule fires after `for`, once; resolves when the value is back inside; missing data changes nothing', async () => {
  let value: number | undefined = 95;
  const spec = parseSpec(`
name: web
clouds: { local: { platform: local } }
nodeTemplates: { small: { cloud: local } }
components: { app: { nodeTemplate: small } }
alerts:
  rules:
    disk-full:
      on: { metric: { expr: 'max(disk_used_percent)', above: 90, for: 2m, interval: 30s } }
      severity: warning
`, { file: 'app.yaml' });
  const r = await rig({
    specs: { web: spec },
    query: () => ({ resultType: 'vector', result: value === undefined ? [] : [{ labels: { instance: 'app-1' }, t: 0, v: value }] }),
  });
  try {
    await r.alerts.settle();
    await r.clock.advance(MIN);
    await r.alerts.settle();
    assert.equal((await r.alerts.list('default')).length, 0, 'not before 2m');
    await r.clock.advance(61_000);
    await r.alerts.settle();
    const open = await r.alerts.list('default');
    assert.equal(open.length, 1);
    assert.match(open[0]!.what, /is 95 \(above 90\) for 120 s/);
    value = undefined;
    await r.clock.advance(5 * MIN);
    await r.alerts.settle();
    assert.equal((await r.alerts.list('default')).length, 1, 'missing data neither fires nor resolves');
    value = 40;
    await r.clock.advance(31_000);
    await r.alerts.settle();
    assert.equal((await r.alerts.list('default')).length, 0);
    assert.equal((await messages(r.events, 'opened')).length, 1);
    assert.equal((await messages(r.events, 'resolved')).length, 1);
  } finally {
    await r.close();
  }
});

test('the delivery queue retries retryable failures with jittered exponential backoff, then gives up with an event', async () => {
  const clock = createVirtualClock(0);
  const store = await openStore({ path: ':memory:' });
  const events = createEventLog(store, clock.now);
  const tries: number[] = [];
  let fails = 2;
  const q = new DeliveryQueue({
    clock, store, append: (...e) => events.append(...e),
    attempt: async () => {
      tries.push(clock.now());
      if (fails-- > 0) throw new DeliveryError('HTTP 503', true);
    },
    maxAttempts: () => 3, backoffBaseMs: 1_000, backoffCapMs: 10_000, random: () => 0.5,
  });
  try {
    await q.start();
    const row = { id: 'd1', tenant: 'default', alert: 'a1', channel: 'hook', message: 'opened', payload_json: '{}', state: 'pending', attempts: 0, next_at: 0, last_error: null, created_at: 0, updated_at: 0 };
    await store.write(store.alerts.putDelivery(row));
    q.add([row]);
    await q.settled();
    for (let i = 0; i < 20 && q.pending() > 0; i++) {
      await clock.advance(500);
      await q.settled();
    }
    assert.deepEqual(tries, [0, 500, 1500], 'waits 0.5×1 s, then 0.5×2 s');
    assert.equal((await events.list({ kind: 'alert.delivered' })).length, 1);
    // a delivery that keeps failing is given up after its attempts, with an event
    fails = 99;
    tries.length = 0;
    q.add([{ ...row, id: 'd2' }]);
    await q.settled();
    for (let i = 0; i < 40 && q.pending() > 0; i++) {
      await clock.advance(500);
      await q.settled();
    }
    assert.equal(tries.length, 3);
    const failed = await events.list({ kind: 'alert.delivery-failed' });
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.reason ?? '', /gave up after 3 attempts: HTTP 503/);
    assert.equal((await store.alerts.pendingDeliveries()).length, 0);
  } finally {
    await q.stop();
    await store.close();
  }
  assert.equal(backoffMs(1, 1_000, 300_000, () => 0.999), 999);
  assert.equal(backoffMs(10, 1_000, 300_000, () => 1), 300_000, 'capped');
});

test('the spec\'s alerts section: precise errors with paths; a built-in rule adjusted by name', () => {
  const base = `
name: web
clouds: { local: { platform: local } }
nodeTemplates: { small: { cloud: local } }
components: { app: { nodeTemplate: small } }
`;
  const bad = (text: string): string[] => {
    try {
      parseSpec(base + text, { file: 'app.yaml' });
    } catch (e) {
      assert.ok(isNubisError(e) && e.code === 'SPEC_INVALID');
      return ((e.details as { problems: { message: string }[] }).problems).map((p) => p.message);
    }
    assert.fail('expected SPEC_INVALID');
  };
  const p1 = bad(`alerts:\n  channels:\n    hook: { kind: webhook }\n  rules:\n    mine: { severity: critical }\n`);
  assert.ok(p1.some((m) => /app\.yaml:\d+:\d+: \$\.alerts\.channels\.hook\.url: expected the URL to POST to, found missing key/.test(m)), p1.join('\n'));
  assert.ok(p1.some((m) => /\$\.alerts\.rules\.mine\.on: expected events or metric/.test(m)), p1.join('\n'));
  const p2 = bad(`alerts:\n  channels:\n    mail: { kind: smtp, host: mx, from: nobody, to: [ops@example.com], url: 'http://x' }\n`);
  assert.ok(p2.some((m) => /\$\.alerts\.channels\.mail\.from: expected a mail address/.test(m)), p2.join('\n'));
  assert.ok(p2.some((m) => /\$\.alerts\.channels\.mail\.url: expected no url on a smtp channel/.test(m)), p2.join('\n'));
  const p3 = bad(`alerts:\n  rules:\n    cpu: { on: { metric: { expr: up, for: 2m } } }\n`);
  assert.ok(p3.some((m) => /\$\.alerts\.rules\.cpu\.on\.metric: expected at least one of above, below/.test(m)), p3.join('\n'));
  const ok = parseSpec(base + `alerts:\n  rules:\n    backup-failed: { channels: [mail], quiet: 4h }\n  channels:\n    mail: { kind: smtp, host: mx.example.com, from: nubis@example.com, to: [ops@example.com] }\n`, { file: 'app.yaml' });
  const r = ok.alerts!.rules['backup-failed']!;
  assert.equal(r.quietMs, 4 * 3_600_000);
  assert.deepEqual(r.channels, ['mail']);
  assert.equal(r.on.kind, 'events');
  assert.equal(ok.alerts!.channels['mail']!.port, 25);
});

test('docs/runbooks.md is what the tables write, and every runbook link has its section', async () => {
  const text = fs.readFileSync(new URL('../../../docs/runbooks.md', import.meta.url), 'utf8');
  assert.equal(text, runbooksMarkdown(), 'run node dist/src/operations/alerts/write-runbooks.js');
  const anchors = new Set([...text.matchAll(/^#{2,3} (.+)$/gm)].map((m) => slug(m[1]!)));
  const r = await rig();
  try {
    const codes = ['CLOUD_UNAUTHORIZED', 'CLOUD_QUOTA_EXCEEDED', 'AGENT_UNREACHABLE', 'HANDLER_FAILED', 'CLOUD_TIMEOUT'];
    let i = 0;
    for (const code of codes) await r.events.append({ deployment: 'web', kind: 'node.state', actor: 'engine', target: `web/n-${i++}`, outcome: 'failed', data: { code, alert: true } });
    await r.events.append({ deployment: 'web', kind: 'node.state', actor: 'engine', target: 'web/n-ec2', outcome: 'failed', data: { code: 'CLOUD_NOT_FOUND', httpStatus: 400, providerCode: 'InvalidAMIID.NotFound', platform: 'ec2', alert: true } });
    for (const k of ['backup.failed', 'drill.failed', 'restore.failed', 'recovery.gave-up', 'budget.exceeded']) await r.events.append({ deployment: 'web', kind: k, actor: 'x', target: 'web/t' });
    await r.alerts.settle();
    const all = await r.alerts.list('default');
    assert.equal(all.length, codes.length + 1 + 5);
    for (const a of all) assert.ok(anchors.has(a.explanation.runbookUrl.split('#')[1]!), `${a.explanation.runbookUrl} has a section`);
    assert.ok(all.some((a) => a.explanation.runbook === 'ec2-InvalidAMIID.NotFound'));
  } finally {
    await r.close();
  }
});
