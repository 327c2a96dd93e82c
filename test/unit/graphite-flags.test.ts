/** `serve --graphite-listen/--graphite-tenants/--graphite-port`: what opens where, and what is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { graphiteListenFlags } from '../../src/cli/commands/graphite-flags.js';

test('--graphite-listen needs --graphite-tenants off loopback; parses host:port and [v6]:port', () => {
  assert.equal(graphiteListenFlags(undefined, undefined), undefined);
  assert.deepEqual(graphiteListenFlags('127.0.0.1:0', undefined), { graphiteHost: '127.0.0.1', graphitePort: 0 });
  assert.deepEqual(graphiteListenFlags('0.0.0.0:2003', '10.0.0.0/8=acme'), { graphiteHost: '0.0.0.0', graphitePort: 2003, graphiteTenants: [{ cidr: '10.0.0.0/8', tenant: 'acme' }] });
  assert.deepEqual(graphiteListenFlags('[::]:2004', '::/0=default')?.graphiteHost, '::');
  assert.throws(() => graphiteListenFlags('0.0.0.0:2003', undefined), /--graphite-tenants/);
  assert.throws(() => graphiteListenFlags('0.0.0.0', '10.0.0.0/8=a'), /expected <host>:<port>/);
  assert.throws(() => graphiteListenFlags('0.0.0.0:70000', '10.0.0.0/8=a'), /above 65535/);
  assert.throws(() => graphiteListenFlags(undefined, '10.0.0.0/8=a'), /needs --graphite-listen/);
  assert.throws(() => graphiteListenFlags('0.0.0.0:1', '10.0.0.0/40=a'), /--graphite-tenants: .*prefix length/);
});
