import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, NubisError, cloudErrorFromStatus, toNubisError } from '../../src/errors/index.js';
import { ROOT } from '../helpers/processes.js';

test('provider statuses map to stable codes; only throttling, server errors and unavailability are retryable', () => {
  const cases: [number, string, boolean][] = [
    [400, 'CLOUD_BAD_REQUEST', false],
    [401, 'CLOUD_UNAUTHORIZED', false],
    [402, 'CLOUD_PAYMENT_REQUIRED', false],
    [403, 'CLOUD_FORBIDDEN', false],
    [404, 'CLOUD_NOT_FOUND', false],
    [429, 'CLOUD_RATE_LIMITED', true],
    [500, 'CLOUD_INTERNAL', true],
    [503, 'CLOUD_UNAVAILABLE', true],
  ];
  for (const [status, code, retryable] of cases) {
    const e = cloudErrorFromStatus(status, 'x');
    assert.equal(e.code, code);
    assert.equal(e.retryable, retryable, `${status} retryable`);
    assert.deepEqual(e.details, { httpStatus: status });
  }
});

test('the catalogue is honest: every code is used in the source, every status is an HTTP error', () => {
  const src: string[] = [];
  const walk = (d: string): void => {
    for (const f of fs.readdirSync(d)) {
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.includes(`${path.sep}errors${path.sep}`)) src.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(path.join(ROOT, 'src'));
  const all = src.join('\n');
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    assert.ok(entry.status >= 400 && entry.status < 600, code);
    assert.ok(entry.summary.length > 10, `${code} has a summary`);
    const used = all.includes(`'${code}'`) || (code.startsWith('CLOUD_') && all.includes('cloudErrorFromStatus'));
    assert.ok(used, `${code} is used somewhere in src/`);
  }
});

test('errors serialise without their cause, and unknown errors become INTERNAL', () => {
  const e = new NubisError('CONFLICT', 'busy', { cause: new Error('secret inner detail') });
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'CONFLICT', message: 'busy', retryable: false });
  assert.equal(toNubisError(new Error('boom')).code, 'INTERNAL');
  const abort = new Error('stop');
  abort.name = 'AbortError';
  assert.equal(toNubisError(abort).code, 'ABORTED');
});
