import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NubisError } from '../../src/errors/index.js';
import { locateInSpec, withSpecPosition } from '../../src/model/index.js';

const TEXT = `name: w
clouds:
  pool:
    platform: ssh
    options:
      hosts:
        - { address: 10.0.0.1 }
        - address: 10.0.0.2
          port: 99999
      remoteRot: /opt
`;

test('a JSON path is found in the YAML text, else its nearest ancestor', () => {
  assert.deepEqual(locateInSpec(TEXT, 'clouds.pool.options.remoteRot'), { line: 10, col: 18 });
  assert.deepEqual(locateInSpec(TEXT, 'clouds.pool.options.hosts[1].port'), { line: 9, col: 17 });
  assert.deepEqual(locateInSpec(TEXT, '$.clouds.pool.options.hosts[0]'), { line: 7, col: 11 });
  assert.deepEqual(locateInSpec(TEXT, 'clouds.pool.options.privateKeyPath'), { line: 6, col: 7 }, 'missing: its parent mapping');
  assert.equal(locateInSpec(TEXT, 'nowhere.at.all'), undefined);
});

test('withSpecPosition prefixes file:line:col to a SPEC_INVALID naming a path; other errors pass through', () => {
  const e = new NubisError('SPEC_INVALID', 'clouds.pool.options.remoteRot: unknown option', { details: { path: 'clouds.pool.options.remoteRot' } });
  const out = withSpecPosition(e, TEXT, 'app.yaml') as NubisError;
  assert.equal(out.message, 'app.yaml:10:18: clouds.pool.options.remoteRot: unknown option');
  assert.deepEqual(out.details, { path: 'clouds.pool.options.remoteRot', file: 'app.yaml', line: 10, col: 18 });
  assert.equal(withSpecPosition(out, TEXT, 'app.yaml'), out, 'once');
  const other = new NubisError('FORBIDDEN', 'no');
  assert.equal(withSpecPosition(other, TEXT, 'app.yaml'), other);
  const noPath = new NubisError('SPEC_INVALID', 'x');
  assert.equal(withSpecPosition(noPath, TEXT, 'app.yaml'), noPath);
});
