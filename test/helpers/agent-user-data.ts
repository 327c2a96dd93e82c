/**
 * What cloud user data may carry for the agent (issue 7, item 9): the installation CA
 * certificate and a one-time bootstrap token, never the long-lived agent token.
 */
import assert from 'node:assert/strict';
import { loadAgentCa } from '../../src/agent/index.js';
import type { CloudAgentSecrets } from '../../src/drivers/agent-bootstrap.js';

/** Asserts `userData` holds `s`'s bootstrap token and the CA of `dataDir`, and not its agent token. */
export function assertOneTimeBootstrap(userData: string, dataDir: string, s: CloudAgentSecrets): void {
  assert.ok(userData.includes(s.bootstrapToken), 'user data carries the one-time bootstrap token');
  assert.ok(!userData.includes(s.agentToken), 'user data never carries the long-lived agent token');
  assert.ok(!/NUBIS_AGENT_TOKEN/.test(userData), 'no agent token variable in user data');
  const caBody = loadAgentCa(dataDir).caPem.split('\n')[1]!;
  assert.ok(userData.includes(caBody), 'user data carries the installation CA certificate');
  assert.ok(userData.includes(s.identity), 'user data names the node identity its certificate will have');
}
