/**
 * Operator explanations and classification of provider errors (src/drivers/explain.ts).
 * References: seed 000 §4.1 (CloudSigma API 2.0 error codes 400 401 402 403 404 405 406 500 503,
 * after RFC 2616) and the EC2 API reference, "Error codes for the Amazon EC2 API".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NubisError } from '../../src/errors/index.js';
import { classifyEc2Error, classifyHttpError, explainCloudError, EC2_ERROR_ENTRIES, HTTP_STATUS_ENTRIES } from '../../src/drivers/explain.js';

test('every status of seed 000 §4.1 (and 429) has a code, a retryable flag, a meaning and what to do', () => {
  const expected: Array<[number, string, boolean]> = [
    [400, 'CLOUD_BAD_REQUEST', false], [401, 'CLOUD_UNAUTHORIZED', false], [402, 'CLOUD_PAYMENT_REQUIRED', false],
    [403, 'CLOUD_FORBIDDEN', false], [404, 'CLOUD_NOT_FOUND', false], [405, 'CLOUD_BAD_REQUEST', false],
    [406, 'CLOUD_BAD_REQUEST', false], [429, 'CLOUD_RATE_LIMITED', true], [500, 'CLOUD_INTERNAL', true], [503, 'CLOUD_UNAVAILABLE', true],
  ];
  for (const [status, code, retryable] of expected) {
    const err = classifyHttpError(status, 'cloudsigma create x: boom', 'validation');
    assert.equal(err.code, code, `${status}`);
    assert.equal(err.retryable, retryable, `${status} retryable`);
    const x = explainCloudError(err, 'cloudsigma');
    assert.equal(x.code, code);
    assert.equal(x.retryable, retryable);
    assert.equal(x.httpStatus, status);
    assert.equal(x.runbook, `cloud-http-${status}`);
    assert.ok(x.meaning.length > 20 && x.whatToDo.length > 10, `${status} explained`);
    assert.ok(HTTP_STATUS_ENTRIES[status]);
  }
});

test('402 tells the operator to top up and that resources may be deleted (seed 000 §4.1, §6.5)', () => {
  const x = explainCloudError(classifyHttpError(402, 'cloudsigma start s: not enough funds'), 'cloudsigma');
  assert.match(x.meaning, /funds/);
  assert.match(x.whatToDo, /Top up/);
  assert.match(x.whatToDo, /delete/);
  assert.match(explainCloudError(classifyHttpError(503, 'x')).meaning, /concurrent updates|capacity/);
  assert.match(explainCloudError(classifyHttpError(406, 'x')).meaning, /Accept/);
  assert.match(explainCloudError(classifyHttpError(405, 'x')).meaning, /method/i);
});

test('EC2 error codes map to our codes', () => {
  const expected: Array<[string, number, string, boolean]> = [
    ['InsufficientInstanceCapacity', 500, 'CLOUD_UNAVAILABLE', true],
    ['RequestLimitExceeded', 503, 'CLOUD_RATE_LIMITED', true],
    ['UnauthorizedOperation', 403, 'CLOUD_FORBIDDEN', false],
    ['AuthFailure', 401, 'CLOUD_UNAUTHORIZED', false],
    ['InvalidAMIID.NotFound', 400, 'CLOUD_NOT_FOUND', false],
    ['InstanceLimitExceeded', 400, 'CLOUD_QUOTA_EXCEEDED', false],
    ['IdempotentParameterMismatch', 400, 'CLOUD_CONFLICT', false],
    ['IncorrectInstanceState', 400, 'CLOUD_CONFLICT', true],
    ['InvalidParameterValue', 400, 'CLOUD_BAD_REQUEST', false],
    ['InternalError', 500, 'CLOUD_INTERNAL', true],
    ['Unavailable', 503, 'CLOUD_UNAVAILABLE', true],
    // unknown codes: by suffix, else by status
    ['InvalidRouteTableID.NotFound', 400, 'CLOUD_NOT_FOUND', false],
    ['RouteLimitExceeded', 400, 'CLOUD_QUOTA_EXCEEDED', false],
    ['SomethingNew', 503, 'CLOUD_UNAVAILABLE', true],
    ['SomethingNewer', 400, 'CLOUD_BAD_REQUEST', false],
  ];
  for (const [aws, status, code, retryable] of expected) {
    const err = classifyEc2Error(aws, status, 'ec2 create x: boom');
    assert.equal(err.code, code, aws);
    assert.equal(err.retryable, retryable, `${aws} retryable`);
    const x = explainCloudError(err, 'ec2');
    assert.equal(x.providerCode, aws);
    assert.equal(x.runbook, `ec2-${aws}`);
    assert.ok(x.whatToDo.length > 5);
  }
  assert.match(explainCloudError(classifyEc2Error('InsufficientInstanceCapacity', 500, 'x'), 'ec2').whatToDo, /zone|instance type/);
  for (const e of Object.values(EC2_ERROR_ENTRIES)) assert.match(e.code, /^CLOUD_/);
});

test('errors without a status are explained by their code, and non-Nubis errors are wrapped', () => {
  const x = explainCloudError(new NubisError('CLOUD_UNAVAILABLE', 'cloudsigma list: endpoint unreachable (ECONNREFUSED)'));
  assert.equal(x.retryable, true);
  assert.match(x.whatToDo, /endpoint/);
  assert.equal(explainCloudError(new Error('weird')).code, 'INTERNAL');
  assert.equal(explainCloudError(new NubisError('ABORTED', 'x')).retryable, true);
});
