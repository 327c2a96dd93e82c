import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDeployment } from '../../src/cli/commands/status.js';
import { createStyle } from '../../src/cli/format.js';
import type { DeploymentView } from '../../src/engine/views.js';

const plain = createStyle(false);

function view(extra: Partial<DeploymentView> = {}): DeploymentView {
  return {
    name: 'web', state: 'applying', version: 3, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    components: [{ name: 'web', desired: 5, running: 4, min: 1, max: 5 }], instances: [], ...extra,
  };
}

test('status text: a rollout line under the head while it runs, is paused or failed; none otherwise', () => {
  assert.doesNotMatch(formatDeployment(plain, view()), /rollout:/);
  const paused = formatDeployment(plain, view({ rollout: { status: 'paused', version: 3, batch: 2, batches: 5, updated: 3, instances: 5, reason: 'paused by alice', line: 'batch 2/5, 3 of 5 updated, paused (by alice)' } }));
  assert.equal(paused.split('\n')[1], 'rollout: batch 2/5, 3 of 5 updated, paused (by alice)');
  const failed = formatDeployment(plain, view({ rollout: { status: 'failed', version: 3, batch: 3, batches: 5, updated: 3, instances: 5, line: 'batch 3/5, 3 of 5 updated, failed: health gate timed out on web-3 (failed): …' } }));
  assert.match(failed.split('\n')[1]!, /^rollout: batch 3\/5, 3 of 5 updated, failed: health gate timed out on web-3/);
});

test('status text: a refused or capped scale of a rule or schedule is a ! line with its code', () => {
  const out = formatDeployment(plain, view({
    scaling: [{ component: 'web', by: 'rule:busy', wanted: 8, bound: 'max', limit: 5, limitOf: 'instances.max', code: 'SCALE_OUT_OF_BOUNDS', reason: 'rule busy wanted web at 8, refused: above 5 (instances.max)', at: '2026-01-01T00:00:01.000Z' }],
  }));
  assert.match(out, /^! rule busy wanted web at 8, refused: above 5 \(instances\.max\) \(SCALE_OUT_OF_BOUNDS, 2026-01-01T00:00:01\.000Z\)$/m);
});
