/**
 * The image policy through the public surface: a real `nubis serve`, the CLI and the API. The
 * administrator registers endorser keys and sets tenant `default` to endorsed-only; entries
 * are endorsed with `nubis images endorse` (signed locally with a private key file) or, for an
 * already expired one, signed here and posted to the API. Each bad image is refused at `plan`
 * (CLI exit 1, API 422 IMAGE_REFUSED) with its own check: unendorsed, expired, checksum
 * mismatch (the cloud's image changed under its entry), bad signature (the endorser's key was
 * replaced), unknown endorser key (the key was removed), revoked. The endorsed image plans and
 * runs on `sim`, whose model reports each image's SHA-256.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from '../helpers/control-plane.js';
import { startCliSession, type CliSession } from '../helpers/cli-session.js';
import { stopProcess } from '../helpers/processes.js';
import { callApi } from '../helpers/http-api.js';
import { signImageMetadata } from '../../src/controls/index.js';

const sha = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');
const IMAGES: Record<string, string> = {
  good: sha('good image bytes'), plain: sha('nobody endorsed me'), old: sha('an old image'), changed: sha('bytes after tampering'),
  resigned: sha('signed with a replaced key'), orphan: sha('endorser gone'), withdrawn: sha('revoked later'),
};

function keyPair(dir: string, name: string): { priv: string; pub: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const priv = path.join(dir, `${name}.pem`);
  const pub = path.join(dir, `${name}.pub.pem`);
  fs.writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { priv, pub };
}

function spec(dir: string, name: string, image: string): string {
  const images = Object.entries(IMAGES).map(([id, h]) => `${id}: { sha256: "${h}" }`).join(', ');
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `name: ${name}
clouds: { sim: { platform: sim, options: { path: ":memory:", image: ${image}, images: { ${images} } } } }
nodeTemplates: { t: { cloud: sim } }
components:
  app: { nodeTemplate: t, instances: { count: 2 }, lifecycle: { install: "echo in", start: run } }
`);
  return file;
}

test('the image policy refuses unendorsed, expired, tampered and wrongly signed images at plan, and runs an endorsed one', { timeout: 240_000 }, async () => {
  const dir = tempDir('nubis-images-');
  const data = path.join(dir, 'data');
  let s: CliSession | undefined;
  try {
    s = await startCliSession(data);
    const token = fs.readFileSync(path.join(data, 'token'), 'utf8').trim();
    const api = (method: string, p: string, body?: unknown) => callApi(s!.env.NUBIS_SERVER, token, method, p, body);
    const alice = keyPair(dir, 'alice');
    const bob = keyPair(dir, 'bob');
    const bob2 = keyPair(dir, 'bob2');
    const carol = keyPair(dir, 'carol');
    for (const [n, k] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) {
      assert.equal((await s.cli('images', 'keys', 'add', n, '--public-key', k.pub)).code, 0);
    }
    assert.equal((await s.cli('images', 'policy', 'set', 'endorsed')).code, 0);

    const endorse = (id: string, image: string, sum: string, who: string, key: string) =>
      s!.cli('images', 'endorse', id, '--image', image, '--os', 'debian', '--os-version', '12', '--sha256', sum, '--endorser', who, '--key', key, '--expires', '30d');
    for (const [id, image, sum, who, key] of [
      ['good', 'good', IMAGES['good']!, 'alice', alice.priv],
      // the entry says what the image was; the cloud's copy changed since
      ['changed', 'changed', sha('bytes as endorsed'), 'alice', alice.priv],
      ['resigned', 'resigned', IMAGES['resigned']!, 'bob', bob.priv],
      ['orphan', 'orphan', IMAGES['orphan']!, 'carol', carol.priv],
      ['withdrawn', 'withdrawn', IMAGES['withdrawn']!, 'alice', alice.priv],
    ] as const) {
      const r = await endorse(id, image, sum, who, key);
      assert.equal(r.code, 0, `${id}: ${r.stderr}`);
    }
    // a signature by another key than the endorser's is refused before anything is stored
    const forged = await endorse('forged', 'good', IMAGES['good']!, 'alice', bob.priv);
    assert.equal(forged.code, 2, forged.stderr);
    assert.match(forged.stderr, /REQUEST_INVALID.*bad signature/);
    // an entry that has expired (signed here: the CLI endorses from now on)
    const oldMeta = { id: 'old', image: 'old', os: 'debian', osVersion: '11', sha256: IMAGES['old']!, endorser: 'alice', created: '2020-01-01T00:00:00.000Z', expires: '2021-01-01T00:00:00.000Z' };
    const posted = await api('POST', '/v1/images', { metadata: oldMeta, signature: signImageMetadata(oldMeta, fs.readFileSync(alice.priv, 'utf8')) });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    // bob's key is replaced after he signed; carol's is removed; one entry is revoked
    assert.equal((await s.cli('images', 'keys', 'add', 'bob', '--public-key', bob2.pub)).code, 0);
    assert.equal((await s.cli('images', 'keys', 'rm', 'carol')).code, 0);
    assert.equal((await s.cli('images', 'revoke', 'withdrawn')).code, 0);

    const listed = await s.json('images', 'list');
    const status = Object.fromEntries(listed.entries.map((e: any) => [e.id, e.status]));
    assert.deepEqual(status, { changed: 'valid', good: 'valid', old: 'expired', orphan: 'unknown-endorser-key', resigned: 'bad-signature', withdrawn: 'revoked' });

    const cases: [string, string][] = [
      ['plain', 'unendorsed'], ['old', 'expired'], ['changed', 'checksum-mismatch'], ['resigned', 'bad-signature'], ['orphan', 'unknown-endorser-key'], ['withdrawn', 'revoked'],
    ];
    for (const [image, check] of cases) {
      const file = spec(dir, `web-${image}`, image);
      const r = await s.cli('plan', '-f', file);
      assert.notEqual(r.code, 0, `${image}: plan passed: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`IMAGE_REFUSED.*image policy "endorsed images only" \\(tenant default\\) refuses image "${image}".*: ${check}:`), `${image}: ${r.stderr}`);
      const viaApi = await api('POST', '/v1/plan', { spec: fs.readFileSync(file, 'utf8'), file: path.basename(file) });
      assert.equal(viaApi.status, 422, `${image}: ${JSON.stringify(viaApi.json)}`);
      const err = (viaApi.json as any).error;
      assert.equal(err.code, 'IMAGE_REFUSED');
      assert.equal(err.details.check, check);
      assert.equal(err.details.image, image);
      assert.deepEqual(err.details.policy, { mode: 'endorsed', scope: 'tenant default', tenant: 'default' });
      // apply refuses the spec whole: nothing is stored
      const applied = await s.cli('apply', '-f', file);
      assert.notEqual(applied.code, 0);
      assert.equal((await api('GET', `/v1/deployments/web-${image}`)).status, 404);
    }

    // the endorsed image plans, applies and runs
    const good = spec(dir, 'web-good', 'good');
    const plan = await s.cli('plan', '-f', good);
    assert.equal(plan.code, 0, plan.stderr);
    const applied = await s.cli('apply', '-f', good);
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor('web-good ready', async () => {
      const v = (await api('GET', '/v1/deployments/web-good')).json as any;
      return v.state === 'ready' && v.components[0].running === 2 ? v : undefined;
    }, 120_000);
    // the checksum was asked of the cloud at plan, apply and before each create
    const calls = ((await api('GET', '/v1/events?kind=driver.call&limit=10000')).json as any).events.filter((e: any) => e.data.op === 'imageChecksum' && e.target === 'good');
    assert.ok(calls.length >= 4, `imageChecksum calls for good: ${calls.length}`);
    // an open policy for the cloud lets the unendorsed image through
    assert.equal((await s.cli('images', 'policy', 'set', 'open', '--cloud', 'sim')).code, 0);
    assert.equal((await s.cli('plan', '-f', spec(dir, 'web-plain', 'plain'))).code, 0);
    assert.equal((await s.cli('destroy', 'web-good', '--wait')).code, 0);
  } finally {
    if (s) await stopProcess(s.serve);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
