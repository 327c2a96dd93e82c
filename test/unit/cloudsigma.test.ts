/**
 * The cloudsigma driver against a CloudSigma API 2.0 stand-in (test/helpers/standin-cloudsigma.ts),
 * built from the published CloudSigma API 2.0 documentation — Pagination (limit/offset,
 * meta.total_count), Errors ([{error_point, error_type, error_message}]), Servers (list, detail,
 * create, edit, delete with recurse, actions start/stop/shutdown/clone), Drives (clone), Tags
 * (create, edit, list servers of a tag), Subscriptions, VLANs, IPs — and seed 000 §2.6 (Basic
 * authentication, listing), §4.1 (error codes 400 401 402 403 404 405 406 500 503) and §5.2
 * (bulk_clone_start with count and auto_start, listing clones by tag, shutdown, delete with
 * drives). No real CloudSigma is contacted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertOneTimeBootstrap } from '../helpers/agent-user-data.js';
import { agentSecrets, loadAgentSecret } from '../../src/drivers/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.js';
import { runDriverConformance } from '../../src/drivers/conformance.js';
import { TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, type CreateNodeRequest } from '../../src/drivers/driver.js';
import { createCloudSigmaDriver, nubisName, parseNubisName, tagsFromName, type CloudSigmaDriver } from '../../src/drivers/cloudsigma/index.js';
import { explainCloudError } from '../../src/drivers/explain.js';
import { NubisError } from '../../src/errors/index.js';
import { startCloudSigmaStandin, type CloudSigmaStandin } from '../helpers/standin-cloudsigma.js';

const USER = 'ops@example.invalid';
const PASSWORD = 'canary-cs-password-93d1e7';
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const sig = (): AbortSignal => new AbortController().signal;

function makeDriver(s: CloudSigmaStandin, dir: string, cloneFrom: string, options: Record<string, unknown> = {}, credentials: Record<string, string> = { username: USER, password: PASSWORD }): CloudSigmaDriver {
  return createCloudSigmaDriver({
    cloud: 'cs-test',
    options: { endpoint: s.url, cloneFrom, pollMs: 5, ...options },
    dataDir: dir,
    clock: createRealClock(),
    credentials,
  });
}

const req = (key: string, token = `${key}#1`): CreateNodeRequest => ({
  key,
  tags: { [TAG_OWNER]: 'cs-test', [TAG_DEPLOYMENT]: 'batch', [TAG_KEY]: key },
  idempotencyToken: token,
  requirements: { cores: 2, memoryMiB: 2048 },
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

runDriverConformance('cloudsigma over the API 2.0 stand-in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-csconf-'));
  const s = await startCloudSigmaStandin({ username: USER, password: PASSWORD, transitionMs: 20 });
  const driver = makeDriver(s, dir, s.addSourceServer());
  return {
    driver,
    failNextSnapshot: () => s.failSnapshots(1),
    snapshotBytes: false,
    async teardown() {
      await driver.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('cloudsigma driver over the stand-in', () => {
  let s: CloudSigmaStandin;
  let d: CloudSigmaDriver;
  let dir: string;
  let source: string;
  const thrown: NubisError[] = [];
  const capture = async (p: Promise<unknown>): Promise<NubisError> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof NubisError, `expected a NubisError, got ${String(e)}`);
    thrown.push(e);
    return e;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-cs-'));
    s = await startCloudSigmaStandin({ username: USER, password: PASSWORD, transitionMs: 10 });
    source = s.addSourceServer();
    d = makeDriver(s, dir, source);
  });
  after(async () => {
    await d.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create clones the source, labels it (meta, tags, cloud-init user data) and starts it', async () => {
    const node = await d.create(req('batch/compute-0'), sig());
    const srv = s.servers().find((x) => x.uuid === node.id)!;
    assert.deepEqual(parseNubisName(srv.name), { ownerPrefix: 'cs_2dtest', key: 'batch/compute-0', attempt: 'batch/compute-0#1' }, 'the clone call names it after its owner, key and attempt');
    assert.equal(srv.meta['nubis-idempotency'], 'batch/compute-0#1');
    assert.deepEqual(node.tags, req('batch/compute-0').tags);
    assert.ok(['starting', 'running'].includes(srv.status));
    const userData = Buffer.from(srv.meta['cloudinit-user-data']!, 'base64').toString();
    assert.ok(userData.startsWith('#!/bin/sh'));
    // as sent to the cloud: a one-time bootstrap token and the CA, never the long-lived token
    assertOneTimeBootstrap(userData, dir, agentSecrets(loadAgentSecret('cloudsigma', 'cs-test', dir), req('batch/compute-0').tags)!);
    assert.ok(s.requests.some((l) => l.startsWith(`POST /api/2.0/servers/${source}/action/?do=clone`)));
    assert.ok(s.requests.some((l) => l.startsWith(`POST /api/2.0/servers/${node.id}/action/?do=start`)));
    await sleep(20);
    const running = await d.get(node.id, sig());
    assert.equal(running?.status, 'running');
    assert.ok(running?.agent?.url.startsWith('https://10.0.'), 'the agent is reached on the runtime IP, over TLS');
    // CloudSigma tags named key=value hold the server
    for (const [k, v] of Object.entries(node.tags)) {
      assert.ok(s.tags().some((t) => t.name === `${k}=${v}` && t.resources.includes(node.id)), `tag ${k}=${v}`);
    }
    assert.deepEqual((await d.listByTag(`${TAG_KEY}=batch/compute-0`, sig())).map((n) => n.id), [node.id]);
  });

  it('idempotency without a client token: a repeated create finds the server by tags and token', async () => {
    const before = s.servers().length;
    const a = await d.create(req('batch/idem-0', 'tok-a'), sig());
    const b = await d.create(req('batch/idem-0', 'tok-a'), sig());
    assert.equal(b.id, a.id);
    assert.equal(s.servers().length, before + 1);
  });

  it('a failed start leaves a tagged server that a repeated create starts', async () => {
    s.fail('servers.start', { status: 503, message: 'concurrent update' });
    const e = await capture(d.create(req('batch/start-0', 'tok-s'), sig()));
    assert.equal(e.code, 'CLOUD_UNAVAILABLE');
    assert.equal(e.retryable, true);
    const left = await d.list({ [TAG_KEY]: 'batch/start-0' }, sig());
    assert.equal(left.length, 1);
    assert.equal(left[0]!.status, 'stopped');
    const again = await d.create(req('batch/start-0', 'tok-s'), sig());
    assert.equal(again.id, left[0]!.id);
    assert.ok(['provisioning', 'running'].includes(again.status));
  });

  it('a failed label deletes the clone, so nothing untagged is left', async () => {
    const before = s.servers().length;
    s.fail('servers.update', { status: 400, message: 'Invalid meta', type: 'validation' });
    const e = await capture(d.create(req('batch/label-0'), sig()));
    assert.equal(e.code, 'CLOUD_BAD_REQUEST');
    assert.equal(s.servers().length, before);
  });

  it('delete stops a running server, then deletes it with recurse=all_drives', async () => {
    const node = await d.create(req('batch/del-0'), sig());
    await sleep(20);
    const drivesOf = s.servers().find((x) => x.uuid === node.id)!.drives;
    await d.delete(node.id, sig());
    assert.ok(s.requests.some((l) => l.startsWith(`POST /api/2.0/servers/${node.id}/action/?do=stop`)));
    assert.ok(s.requests.some((l) => l.startsWith(`DELETE /api/2.0/servers/${node.id}/?recurse=all_drives`)));
    assert.equal(s.servers().some((x) => x.uuid === node.id), false);
    for (const id of drivesOf) assert.equal(s.drives().some((x) => x.uuid === id), false, 'all its drives are gone');
    // …including the CD-ROM it shared with its source (the hazard the recurse option documents)
    assert.equal(s.servers().find((x) => x.uuid === source)!.drives.length, 1);
    await d.delete(node.id, sig());
  });

  it('recurse=disks keeps the CD-ROM a clone shares with its source', async () => {
    const src = s.addSourceServer('with-iso');
    const dd = makeDriver(s, dir, src, { recurse: 'disks' });
    const node = await dd.create(req('batch/iso-0'), sig());
    const [disk, iso] = s.servers().find((x) => x.uuid === node.id)!.drives;
    await dd.delete(node.id, sig());
    assert.equal(s.drives().some((x) => x.uuid === disk), false);
    assert.equal(s.drives().some((x) => x.uuid === iso), true);
    await dd.close();
  });

  it('reboot is stop then start; shutdown and start are exposed', async () => {
    const node = await d.create(req('batch/rb-0'), sig());
    await sleep(20);
    await d.reboot(node.id, sig());
    assert.ok(['provisioning', 'running'].includes((await d.get(node.id, sig()))!.status));
    await sleep(20);
    await d.shutdown(node.id, sig());
    await sleep(20);
    assert.equal((await d.get(node.id, sig()))!.status, 'stopped');
    await d.start(node.id, sig());
  });

  it('bulkCloneStart makes count clones, started and tagged with the given keys', async () => {
    const nodes = await d.bulkCloneStart(3, { [TAG_OWNER]: 'cs-test', [TAG_DEPLOYMENT]: 'bulk' }, sig(), { keys: ['bulk/c-0', 'bulk/c-1', 'bulk/c-2'] });
    assert.equal(nodes.length, 3);
    assert.deepEqual(nodes.map((n) => n.tags[TAG_KEY]).sort(), ['bulk/c-0', 'bulk/c-1', 'bulk/c-2']);
    assert.ok(s.requests.some((l) => l.includes('do=bulk_clone_start') && l.includes('"count":3')));
    assert.equal((await d.list({ [TAG_DEPLOYMENT]: 'bulk' }, sig())).length, 3);
    assert.equal((await d.listByTag(`${TAG_DEPLOYMENT}=bulk`, sig())).length, 3);
    for (const n of nodes) assert.ok(['provisioning', 'running'].includes(n.status));
    for (const n of nodes) await d.delete(n.id, sig());
  });

  it('list pages with limit/offset (page size 2, 5 servers)', async () => {
    const ps = await startCloudSigmaStandin({ username: USER, password: PASSWORD });
    const pd = makeDriver(ps, dir, ps.addSourceServer(), { pageSize: 2 });
    for (let i = 0; i < 5; i++) await pd.create(req(`page/n-${i}`), sig());
    const before = ps.requests.length;
    const found = await pd.list({ [TAG_DEPLOYMENT]: 'batch', [TAG_OWNER]: 'cs-test' }, sig());
    assert.equal(found.length, 5);
    const pages = ps.requests.slice(before).filter((l) => l.startsWith('GET /api/2.0/servers/detail/'));
    assert.deepEqual(pages.map((l) => l.split(' ')[1]), [
      '/api/2.0/servers/detail/?limit=2&offset=0', '/api/2.0/servers/detail/?limit=2&offset=2', '/api/2.0/servers/detail/?limit=2&offset=4',
    ], '6 servers (5 clones and the source) in 3 pages');
    await pd.close();
    await ps.close();
  });

  it('listBilled: subscriptions, VLANs and IPs, with what is left attached to nothing', async () => {
    const node = await d.create(req('batch/bill-0'), sig());
    const usedVlan = s.addVlan([node.id]);
    const leakedVlan = s.addVlan([]);
    const ip = s.addIp(node.id);
    const freeIp = s.addIp();
    s.addSubscription('vlan', '00000000-0000-0000-0000-000000000000');
    const billed = await d.listBilled(sig());
    const vlan = (id: string) => billed.vlans.find((v) => v.id === id)!;
    assert.equal(vlan(usedVlan).unattached, false);
    assert.deepEqual(vlan(usedVlan).attachedTo, [node.id]);
    assert.equal(vlan(leakedVlan).unattached, true);
    assert.equal(billed.ips.find((p) => p.id === ip)!.unattached, false);
    assert.equal(billed.ips.find((p) => p.id === freeIp)!.unattached, true);
    assert.ok(billed.subscriptions.some((x) => x.resource === 'vlan' && x.unattached), 'a subscription for a VLAN that no longer exists');
    assert.ok(vlan(leakedVlan).subscriptionId);
    // after the server is deleted its VLAN keeps billing: the leak of seed 000 §6.5
    await d.delete(node.id, sig());
    assert.equal((await d.listBilled(sig())).vlans.find((v) => v.id === usedVlan)!.unattached, true);
  });

  it('error responses map to codes, retryable flags and explanations (seed 000 §4.1)', async () => {
    const cases: Array<[number, string, boolean, string]> = [
      [400, 'CLOUD_BAD_REQUEST', false, 'validation'], [401, 'CLOUD_UNAUTHORIZED', false, 'permission'],
      [402, 'CLOUD_PAYMENT_REQUIRED', false, 'billing'], [403, 'CLOUD_FORBIDDEN', false, 'permission'],
      [404, 'CLOUD_NOT_FOUND', false, 'notexist'], [405, 'CLOUD_BAD_REQUEST', false, 'validation'],
      [406, 'CLOUD_BAD_REQUEST', false, 'validation'], [429, 'CLOUD_RATE_LIMITED', true, 'backend'],
      [500, 'CLOUD_INTERNAL', true, 'backend'], [503, 'CLOUD_UNAVAILABLE', true, 'concurrency'],
    ];
    for (const [status, code, retryable, type] of cases) {
      s.fail('servers.clone', { status, type, message: `injected ${status}` });
      const e = await capture(d.create(req(`batch/err-${status}`), sig()));
      assert.equal(e.code, code, `${status}`);
      assert.equal(e.retryable, retryable, `${status} retryable`);
      assert.match(e.message, new RegExp(`injected ${status}`));
      const x = explainCloudError(e, 'cloudsigma');
      assert.equal(x.httpStatus, status);
      assert.equal(x.providerCode, type);
    }
    assert.match(explainCloudError(thrown.find((e) => e.code === 'CLOUD_PAYMENT_REQUIRED')!, 'cloudsigma').whatToDo, /Top up/);
    // real ones, not injected: wrong password (401), unknown server on reboot (404)
    const wrong = makeDriver(s, dir, source, {}, { username: USER, password: 'wrong' });
    assert.equal((await capture(wrong.list({}, sig()))).code, 'CLOUD_UNAUTHORIZED');
    await wrong.close();
    assert.equal((await capture(d.reboot('00000000-0000-0000-0000-00000000dead', sig()))).code, 'CLOUD_NOT_FOUND');
    const bad = makeDriver(s, dir, '00000000-0000-0000-0000-00000000beef');
    assert.equal((await capture(bad.create(req('batch/nosrc'), sig()))).code, 'CLOUD_NOT_FOUND');
    await bad.close();
    const gone = makeDriver(s, dir, source, { endpoint: 'http://127.0.0.1:1/api/2.0/' });
    const u = await capture(gone.get('x', sig()));
    assert.equal(u.code, 'CLOUD_UNAVAILABLE');
    assert.equal(u.retryable, true);
    await gone.close();
  });

  it('the password never appears in errors or in the request log', () => {
    assert.ok(thrown.length >= 10);
    for (const e of thrown) {
      const text = `${e.message} ${JSON.stringify(e)} ${String(e.cause ?? '')} ${JSON.stringify(explainCloudError(e))}`;
      assert.ok(!text.includes(PASSWORD) && !text.includes(BASIC), `secret in error: ${e.message}`);
    }
    for (const line of s.requests) assert.ok(!line.includes(PASSWORD) && !line.includes(BASIC), `secret in request log: ${line}`);
  });
});

/**
 * No leak on partial failure, and CloudSigma's asynchronous clones, counted in what the stand-in
 * RECEIVED. References (CloudSigma API 2.0): "Servers → Cloning" and "Drives → Cloning" (202
 * Accepted, "execution is proceeding"; the example drive-clone answer is a drive in status
 * `cloning_dst`), "Servers → Editing" (meta and tags are written by a PUT of their own, so they
 * are not atomic with the clone), "Drives → Deleting", "Pagination" (limit/offset,
 * meta.total_count). The reference documents no eventual consistency, so none is modelled.
 */
describe('cloudsigma: partial failures leave nothing billing; asynchronous clones are waited for', () => {
  const opened: Array<{ s: CloudSigmaStandin; d: CloudSigmaDriver[]; dir: string }> = [];
  async function fresh(standin: { cloneMs?: number } = {}, options: Record<string, unknown> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'nubis-csleak-'));
    const s = await startCloudSigmaStandin({ username: USER, password: PASSWORD, transitionMs: 10, ...standin });
    const source = s.addSourceServer();
    const d = makeDriver(s, dir, source, options);
    opened.push({ s, d: [d], dir });
    const baseline = { servers: s.servers().map((x) => x.uuid), drives: s.drives().map((x) => x.uuid) };
    /** What the stand-in holds beyond the source: every server and drive there bills. */
    const extra = () => ({
      servers: s.servers().filter((x) => !baseline.servers.includes(x.uuid)).length,
      drives: s.drives().filter((x) => !baseline.drives.includes(x.uuid)).length,
    });
    return { s, d, dir, source, extra, track: (x: CloudSigmaDriver) => opened.at(-1)!.d.push(x) };
  }
  after(async () => {
    for (const o of opened) {
      for (const d of o.d) await d.close();
      await o.s.close();
      rmSync(o.dir, { recursive: true, force: true });
    }
  });
  const failure = async (p: Promise<unknown>): Promise<NubisError> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof NubisError, `expected a NubisError, got ${String(e)}`);
    return e;
  };

  it('names parse back into the tags they stand for, whatever the characters', () => {
    const owner = 'c0ffee12-3456-4789-abcd-0123456789ab';
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ [TAG_OWNER]: owner, 'nubis-tenant': 'acme' }, 'web/api-0', '6f0d3f0e-4bb1-4a55-9b0e-1f2a3b4c5d6e'],
      [{ [TAG_OWNER]: owner, 'nubis-tenant': 'a.b_c' }, 'd/x.y_z-1', 'tok #1 ü/.'],
      [{ [TAG_OWNER]: 'ab-cd-ef-gh' }, 'batch/compute-12', 'batch/compute-12#1'],
    ];
    for (const [tags, key, attempt] of cases) {
      const name = nubisName(tags, key, attempt);
      assert.match(name, /^nubis-[A-Za-z0-9_]+-[A-Za-z0-9_.-]+$/, name);
      const parsed = parseNubisName(name);
      assert.ok(parsed, name);
      assert.deepEqual(tagsFromName(parsed, tags[TAG_OWNER]), {
        [TAG_OWNER]: tags[TAG_OWNER], ...(tags['nubis-tenant'] ? { 'nubis-tenant': tags['nubis-tenant'] } : {}),
        [TAG_DEPLOYMENT]: key.split('/')[0], [TAG_KEY]: key, 'nubis-attempt': attempt,
      });
      assert.equal(tagsFromName(parsed, 'someone-else')[TAG_OWNER], parsed.ownerPrefix, 'another owner is never claimed');
    }
    for (const other of ['nubis batch/x', 'web-1', 'nubis-abc-', 'nubis-abc-.', 'nubis-ab.c-t.k.a', 'nubis-abc-t.k_zz.a']) assert.equal(parseNubisName(other), undefined, other);
  });

  it('a tag step that fails (retryable) leaves the clone findable by name, and the retry labels that clone: one clone call', async () => {
    const { s, d, extra } = await fresh();
    s.fail('servers.update', { status: 503, message: 'concurrent update' });
    const e = await failure(d.create(req('batch/tag-0', 'tok-t0'), sig()));
    assert.equal(e.code, 'CLOUD_UNAVAILABLE');
    const half = await d.list({ [TAG_OWNER]: 'cs-test' }, sig());
    assert.equal(half.length, 1, 'the untagged clone is listed by its name');
    assert.deepEqual(half[0]!.tags, { [TAG_OWNER]: 'cs-test', [TAG_DEPLOYMENT]: 'batch', [TAG_KEY]: 'batch/tag-0', 'nubis-attempt': 'tok-t0' });
    assert.equal(half[0]!.status, 'error', 'half-made');
    const again = await d.create(req('batch/tag-0', 'tok-t0'), sig());
    assert.equal(again.id, half[0]!.id, 'the retry finishes the same clone');
    assert.deepEqual(again.tags, req('batch/tag-0').tags);
    assert.equal(s.received('servers.clone'), 1);
    assert.deepEqual(extra(), { servers: 1, drives: 1 });
    await d.delete(again.id, sig());
    assert.deepEqual(extra(), { servers: 0, drives: 0 });
  });

  it('a tag step that fails for good: the driver removes the clone once its copy ends (0 servers, 0 drives)', async () => {
    const { s, d, extra } = await fresh({ cloneMs: 150 });
    s.fail('servers.update', { status: 400, type: 'validation', message: 'Invalid meta' });
    const e = await failure(d.create(req('batch/tag-1'), sig()));
    assert.equal(e.code, 'CLOUD_BAD_REQUEST');
    assert.deepEqual(extra(), { servers: 0, drives: 0 });
    assert.equal(s.received('servers.clone'), 1);
    assert.equal(s.received('servers.delete'), 1, 'one DELETE, sent after the copy ended (the stand-in refuses it before)');
  });

  it('…and when that removal fails too, list finds the untagged clone by name and delete removes it with its drives', async () => {
    const { s, d, extra } = await fresh();
    s.fail('servers.update', { status: 400, type: 'validation', message: 'Invalid meta' });
    s.fail('servers.delete', { status: 503, type: 'concurrency' });
    await failure(d.create(req('batch/tag-2', 'tok-t2'), sig()));
    assert.deepEqual(extra(), { servers: 1, drives: 1 }, 'left behind, billing …');
    const left = await d.list({ [TAG_OWNER]: 'cs-test', [TAG_KEY]: 'batch/tag-2' }, sig());
    assert.equal(left.length, 1, '… but findable by its name');
    assert.equal(left[0]!.tags['nubis-attempt'], 'tok-t2');
    assert.deepEqual(await d.list({ [TAG_OWNER]: 'someone-else' }, sig()), [], 'another owner never sees it');
    assert.equal((await d.get(left[0]!.id, sig()))?.status, 'error');
    await d.delete(left[0]!.id, sig());
    assert.deepEqual(extra(), { servers: 0, drives: 0 });
    assert.equal(s.received('servers.clone'), 1);
  });

  it('cloneKind drive: a server that cannot be made removes the cloned drive; when that fails the drive is a listed node', async () => {
    const { s, dir, extra, track } = await fresh();
    const disk = s.addDrive('prepared-disk');
    const dd = makeDriver(s, dir, disk, { cloneKind: 'drive' });
    track(dd);
    const base = extra();
    s.fail('servers.create', { status: 400, type: 'validation' });
    await failure(dd.create(req('batch/drv-0', 'tok-d0'), sig()));
    assert.deepEqual(extra(), base, 'the cloned drive was removed');
    s.fail('servers.create', { status: 400, type: 'validation' });
    s.fail('drives.delete', { status: 503, type: 'concurrency' });
    await failure(dd.create(req('batch/drv-1', 'tok-d1'), sig()));
    const left = await dd.list({ [TAG_OWNER]: 'cs-test', [TAG_KEY]: 'batch/drv-1' }, sig());
    assert.deepEqual(left.map((n) => [n.id.startsWith('drive:'), n.status, n.tags['nubis-attempt']]), [[true, 'error', 'tok-d1']]);
    await dd.delete(left[0]!.id, sig());
    assert.deepEqual(extra(), base);
    // a retryable failure keeps the drive for the retry, which makes its server from it
    s.fail('servers.create', { status: 503, type: 'concurrency' });
    await failure(dd.create(req('batch/drv-2', 'tok-d2'), sig()));
    const n = await dd.create(req('batch/drv-2', 'tok-d2'), sig());
    assert.ok(['provisioning', 'running'].includes(n.status));
    assert.equal(s.received('drives.clone'), 3, 'one drive clone per create, none for the retry');
    await dd.delete(n.id, sig());
    assert.deepEqual(extra(), base);
  });

  it('bulkCloneStart whose tagging fails stops and deletes the clones it could not tag (seed 000 Listing 10)', async () => {
    const { s, d, extra } = await fresh();
    s.fail('servers.update', { status: 400, type: 'validation', message: 'Invalid meta' });
    const e = await failure(d.bulkCloneStart(3, { [TAG_OWNER]: 'cs-test', [TAG_DEPLOYMENT]: 'bulk' }, sig(), { keys: ['bulk/c-0', 'bulk/c-1', 'bulk/c-2'] }));
    assert.equal(e.code, 'CLOUD_BAD_REQUEST');
    assert.equal(s.received('servers.bulk_clone_start'), 1);
    assert.equal(s.received('servers.delete'), 3, 'each untagged clone deleted');
    assert.deepEqual(extra(), { servers: 0, drives: 0 }, 'nothing left billing');
  });

  it('the driver starts a server only when its drives are copied, polling no faster than pollMs', async () => {
    const POLL = 50;
    const { s, d } = await fresh({ cloneMs: 300 }, { pollMs: POLL });
    // the stand-in, like the API, refuses to start a server whose drive is cloning_dst
    const auth = { authorization: `Basic ${BASIC}`, accept: 'application/json', 'content-type': 'application/json' };
    const raw = (await (await fetch(`${s.url}servers/${s.servers()[0]!.uuid}/action/?do=clone`, { method: 'POST', headers: auth, body: '{"name":"by-hand"}' })).json()) as { uuid: string };
    const early = await fetch(`${s.url}servers/${raw.uuid}/action/?do=start`, { method: 'POST', headers: auth, body: '{}' });
    assert.equal(early.status, 403);
    assert.match(JSON.stringify(await early.json()), /being cloned/);

    const node = await d.create(req('batch/async-0'), sig());
    const t = s.timeline;
    const clone = t.filter((x) => x.op === 'servers.clone').at(-1)!;
    const starts = t.filter((x) => x.op === 'servers.start' && x.at >= clone.at);
    assert.equal(starts.length, 1, 'one start, accepted');
    const disk = s.servers().find((x) => x.uuid === node.id)!.drives.find((id) => s.drives().find((x) => x.uuid === id)?.media === 'disk')!;
    const polls = t.filter((x) => x.op === 'drives.get' && x.line.includes(`/drives/${disk}/`) && x.at > clone.at && x.at <= starts[0]!.at);
    // how many polls fit in the copy depends on how busy the machine is; that it waited for the copy does not
    assert.ok(polls.length >= 1, `it polled the cloning drive (${polls.length} times)`);
    assert.ok(starts[0]!.at - clone.at >= 300 - 2, `the start came ${starts[0]!.at - clone.at} ms after the clone, before its 300 ms copy ended`);
    for (let i = 1; i < polls.length; i++) assert.ok(polls[i]!.at - polls[i - 1]!.at >= POLL - 2, `poll ${i} came ${polls[i]!.at - polls[i - 1]!.at} ms after the one before`);
    assert.ok(polls.length <= Math.ceil((starts[0]!.at - clone.at) / POLL) + 1, 'no more polls than the interval allows');
    assert.ok(['provisioning', 'running'].includes(node.status));
  });

  it('the wait for a clone has a deadline (CLOUD_TIMEOUT, retryable) and an abort; neither sends a start', async () => {
    const { s, d } = await fresh({ cloneMs: 60_000 }, { pollMs: 20, cloneTimeoutMs: 150 });
    const e = await failure(d.create(req('batch/slow-0', 'tok-s0'), sig()));
    assert.equal(e.code, 'CLOUD_TIMEOUT');
    assert.equal(e.retryable, true);
    const left = await d.list({ [TAG_KEY]: 'batch/slow-0' }, sig());
    assert.deepEqual(left.map((n) => n.status), ['stopped'], 'the labelled clone stays for the retry (the sweep sees it by tag)');
    const ac = new AbortController();
    const pending = d.create(req('batch/slow-1', 'tok-s1'), ac.signal);
    while (s.received('servers.clone') < 2) await sleep(5);
    ac.abort();
    assert.equal((await failure(pending)).code, 'ABORTED');
    assert.equal(s.received('servers.start'), 0);
  });
});
