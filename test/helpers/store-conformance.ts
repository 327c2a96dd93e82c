/**
 * The backup store conformance suite: the cases every BackupStore (dir, sftp, s3) must pass,
 * through its public contract only. A test file opens its store once and registers the cases:
 *
 *   storeConformance('dir', async () => ({ store, close }));
 *
 * Each case works under its own key prefix, so the cases share one store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import type { BackupStore } from '../../src/operations/backups/stores/index.js';
import { isNubisError, type NubisError } from '../../src/errors/index.js';

export interface ConformanceTarget {
  store: BackupStore;
  close(): Promise<void>;
}

const never = new AbortController().signal;

/** `n` bytes of a seeded pseudo-random stream (AES-CTR keyed by the seed) in `chunk`-sized pieces: same seed, same bytes. */
export async function* pseudoRandom(n: number, chunk = 256 * 1024, seed = 'seed'): AsyncGenerator<Buffer> {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const ctr = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunk);
  for (let left = n; left > 0; ) {
    const len = Math.min(chunk, left);
    left -= len;
    yield ctr.update(zeros.subarray(0, len));
  }
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function* of(...bufs: Buffer[]): AsyncGenerator<Buffer> {
  for (const b of bufs) yield b;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The NubisError `p` rejects with (fails the test when it resolves or throws something else). */
export async function failure(p: Promise<unknown>): Promise<NubisError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isNubisError(e), `a NubisError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the operation to fail');
}

async function rejectsWith(p: Promise<unknown>, codes: string[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isNubisError(e), `a NubisError, got ${String(e)}`);
    assert.ok(codes.includes(e.code), `one of ${codes.join('|')}, got ${e.code}: ${e.message}`);
    return e.code;
  }
  assert.fail(`expected a rejection with ${codes.join('|')}`);
}

export interface ConformanceCase {
  name: string;
  run(store: BackupStore): Promise<void>;
}

export const conformanceCases: ConformanceCase[] = [
  {
    name: 'put, get, digest, list and delete one object; delete again is done; a missing object is NOT_FOUND',
    async run(s) {
      const body = randomBytes(100_000);
      const d = await s.put('basic/one.tar', of(body.subarray(0, 7), body.subarray(7)), never);
      assert.deepEqual(d, { sizeBytes: body.length, sha256: sha256(body) });
      assert.deepEqual(await s.digest('basic/one.tar', never), d);
      assert.ok((await collect(s.get('basic/one.tar', never))).equals(body));
      const listed = await s.list('basic/', never);
      assert.deepEqual(listed.map((o) => [o.key, o.sizeBytes]), [['basic/one.tar', body.length]]);
      assert.ok(listed[0]!.storedAt > Date.now() - 3_600_000 && listed[0]!.storedAt < Date.now() + 3_600_000, 'storedAt is a clock time');
      await s.delete('basic/one.tar', never);
      await s.delete('basic/one.tar', never);
      assert.deepEqual(await s.list('basic/', never), []);
      await rejectsWith(s.digest('basic/one.tar', never), ['NOT_FOUND']);
      await rejectsWith(collect(s.get('basic/one.tar', never)), ['NOT_FOUND']);
    },
  },
  {
    name: 'an empty object round-trips; a put over an existing key replaces it',
    async run(s) {
      assert.deepEqual(await s.put('replace/empty', of(), never), { sizeBytes: 0, sha256: sha256(Buffer.alloc(0)) });
      assert.deepEqual(await s.digest('replace/empty', never), { sizeBytes: 0, sha256: sha256(Buffer.alloc(0)) });
      await s.put('replace/x', of(Buffer.from('first version')), never);
      await s.put('replace/x', of(Buffer.from('second')), never);
      assert.equal((await collect(s.get('replace/x', never))).toString(), 'second');
      assert.deepEqual((await s.list('replace/', never)).map((o) => [o.key, o.sizeBytes]), [['replace/empty', 0], ['replace/x', 6]]);
    },
  },
  {
    name: 'keys with nested directories list under their prefix only, in key order',
    async run(s) {
      const keys = ['nested/a/b/c/deep.dump', 'nested/a/b/side', 'nested/a/top', 'nested/z/last', 'nestedsibling/other'];
      for (const k of [...keys].reverse()) await s.put(k, of(Buffer.from(k)), never);
      assert.deepEqual((await s.list('nested/', never)).map((o) => o.key), keys.slice(0, 4));
      assert.deepEqual((await s.list('nested/a/b/', never)).map((o) => o.key), ['nested/a/b/c/deep.dump', 'nested/a/b/side']);
      assert.deepEqual((await s.list('nested', never)).map((o) => o.key), keys);
      assert.equal((await collect(s.get('nested/a/b/c/deep.dump', never))).toString(), 'nested/a/b/c/deep.dump');
      await rejectsWith(s.put('nested/../escape', of(Buffer.from('x')), never), ['REQUEST_INVALID']);
    },
  },
  {
    name: 'an aborted put fails and leaves nothing listed',
    async run(s) {
      const ac = new AbortController();
      async function* body(): AsyncGenerator<Buffer> {
        for await (const b of pseudoRandom(8 * 1024 * 1024, 64 * 1024, 'abort')) {
          yield b;
          ac.abort(); // after the first chunk went out
        }
      }
      await rejectsWith(s.put('aborted/x.tar', body(), ac.signal), ['ABORTED']);
      assert.deepEqual(await s.list('aborted/', never), []);
      await rejectsWith(s.digest('aborted/x.tar', never), ['NOT_FOUND']);
    },
  },
  {
    name: 'a put whose source throws midway fails and leaves nothing listed',
    async run(s) {
      async function* body(): AsyncGenerator<Buffer> {
        let sent = 0;
        for await (const b of pseudoRandom(20 * 1024 * 1024, 256 * 1024, 'throws')) {
          yield b;
          sent += b.length;
          if (sent >= 6 * 1024 * 1024) throw new Error('the snapshot source broke');
        }
      }
      await assert.rejects(s.put('throws/x.tar', body(), never), /the snapshot source broke/);
      assert.deepEqual(await s.list('throws/', never), []);
      await rejectsWith(s.digest('throws/x.tar', never), ['NOT_FOUND']);
    },
  },
  {
    name: 'a large object (48 MiB) round-trips by SHA-256',
    async run(s) {
      const n = 48 * 1024 * 1024;
      const h = createHash('sha256');
      for await (const b of pseudoRandom(n, 1024 * 1024, 'large')) h.update(b);
      const want = { sizeBytes: n, sha256: h.digest('hex') };
      assert.deepEqual(await s.put('large/big.img', pseudoRandom(n, 1024 * 1024, 'large'), never), want);
      assert.deepEqual(await s.digest('large/big.img', never), want);
      const g = createHash('sha256');
      let size = 0;
      for await (const b of s.get('large/big.img', never)) {
        g.update(b);
        size += b.byteLength;
      }
      assert.deepEqual({ sizeBytes: size, sha256: g.digest('hex') }, want);
      assert.deepEqual((await s.list('large/', never)).map((o) => [o.key, o.sizeBytes]), [['large/big.img', n]]);
    },
  },
  {
    name: 'a list of 1100 objects returns every one (all pages), in key order',
    async run(s) {
      const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      const queue = [...keys];
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let k = queue.shift(); k !== undefined; k = queue.shift()) await s.put(k, of(Buffer.from(k)), never);
      }));
      const listed = await s.list('many/', never);
      assert.equal(listed.length, keys.length);
      assert.deepEqual(listed.map((o) => o.key), keys);
      assert.ok(listed.every((o) => o.sizeBytes === 10));
    },
  },
];

/** Registers every conformance case against the store `open` makes (once, closed after the last case). */
export function storeConformance(label: string, open: () => Promise<ConformanceTarget>): void {
  let target: ConformanceTarget | undefined;
  before(async () => {
    target = await open();
  });
  after(async () => {
    await target?.close();
  });
  for (const c of conformanceCases) {
    test(`${label} store: ${c.name}`, { timeout: 300_000 }, async () => {
      assert.ok(target, 'the store opened');
      await c.run(target.store);
    });
  }
}
