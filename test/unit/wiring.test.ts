import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { parseSpec } from '../../src/model/index.js';
import { computeWiring, wiringEnv, wiringHash } from '../../src/engine/wiring.js';
import type { Deployment, InstanceRec, NodeRec } from '../../src/engine/state.js';

const SPEC = `name: w
clouds: { c: { platform: sim } }
nodeTemplates: { t: { cloud: c } }
components:
  app: { nodeTemplate: t, instances: { count: 3 }, provides: { http: {} }, lifecycle: { start: s } }
  lb:
    nodeTemplate: t
    instances: { count: 2 }
    requires: { backends: { component: app, port: http, optional: true } }
    lifecycle: { start: s, update: u }
`;
const dep = (): Deployment => ({ name: 'w', tenant: 'default', spec: parseSpec(SPEC, { file: 'w.yaml' }), specText: SPEC, file: 'w.yaml', version: 1, status: 'active', counts: {}, ordinals: {}, createdAt: 0, updatedAt: 0 });
const inst = (component: string, ordinal: number): InstanceRec => ({
  key: `w/${component}-${ordinal}`, deployment: 'w', component, ordinal, name: `${component}-${ordinal}`, desired: true, phase: 'running',
  runSeq: 0, restarts: 0, attempts: 0, createdAt: 0, updatedAt: 0, health: 'healthy', processAlive: undefined,
});
const node = (i: InstanceRec, address: string): NodeRec => ({
  key: i.key, deployment: 'w', cloud: 'c', status: 'running', token: 't', providerId: i.key, observed: { id: i.key, tags: {}, status: 'running', address, createdAt: 0 }, attempts: 0, createdAt: 0, updatedAt: 0,
});
/** The hash as it was computed before the memo: stored hashes must not change. */
const reference = (requires: unknown): string => crypto.createHash('sha1').update(JSON.stringify(requires)).digest('hex').slice(0, 16);

test('wiring: the provider list is built once per change and shared by every requirer; hashes and env as before', () => {
  const d = dep();
  // app-3 before app-1 in the map: the list is in ordinal order all the same
  const apps = [inst('app', 3), inst('app', 1), inst('app', 2)];
  const lbs = [inst('lb', 1), inst('lb', 2)];
  const nodes = new Map([...apps, ...lbs].map((i, n) => [i.key, node(i, `10.0.0.${n}`)]));
  const byComponent = new Map([['app', apps], ['lb', lbs]]);
  const w1 = computeWiring({ dep: d, inst: lbs[0]!, byComponent, nodes });
  const w2 = computeWiring({ dep: d, inst: lbs[1]!, byComponent, nodes });
  assert.deepEqual(w1.requires['backends']!.map((e) => e.instance), ['app-1', 'app-2', 'app-3']);
  assert.deepEqual(w1.requires['backends']![0], { instance: 'app-1', host: '10.0.0.1', port: 8000 });
  assert.equal(w1.requires, w2.requires, 'one record for both requirers');
  assert.equal(w2.instance, 'lb-2');
  const h = wiringHash(w1);
  assert.equal(h, reference(w1.requires));
  assert.equal(wiringHash(w2), h);
  assert.equal(wiringEnv(d.spec.components['lb']!, w1, 'x').NUBIS_REQUIRES_BACKENDS, '10.0.0.1:8000,10.0.0.2:8000,10.0.0.0:8000');
  assert.throws(() => (w1.requires['backends'] as unknown[]).push({}), TypeError, 'shared: frozen');

  // a provider leaves running: a new list, a new hash
  apps[2]!.phase = 'stopping';
  const w3 = computeWiring({ dep: d, inst: lbs[0]!, byComponent, nodes });
  assert.notEqual(w3.requires, w1.requires);
  assert.deepEqual(w3.requires['backends']!.map((e) => e.instance), ['app-1', 'app-3']);
  assert.equal(wiringHash(w3), reference(w3.requires));
  assert.notEqual(wiringHash(w3), h);
  // and comes back: the same content, the same hash
  apps[2]!.phase = 'running';
  const w4 = computeWiring({ dep: d, inst: lbs[0]!, byComponent, nodes });
  assert.equal(wiringHash(w4), h);
  // a provider's node gets a new address (a new observed record): seen
  nodes.set(apps[0]!.key, node(apps[0]!, '10.9.9.9'));
  const w5 = computeWiring({ dep: d, inst: lbs[0]!, byComponent, nodes });
  assert.equal(w5.requires['backends']![2]!.host, '10.9.9.9');
  assert.equal(wiringHash(w5), reference(w5.requires));
  // not wanted any more: gone from the list
  apps[1]!.desired = false;
  assert.deepEqual(computeWiring({ dep: d, inst: lbs[0]!, byComponent, nodes }).requires['backends']!.map((e) => e.instance), ['app-2', 'app-3']);
  // a new deployment object (a re-apply) starts afresh and agrees
  const again = computeWiring({ dep: dep(), inst: lbs[0]!, byComponent, nodes });
  assert.deepEqual(again.requires, computeWiring({ dep: d, inst: lbs[0]!, byComponent, nodes }).requires);
});
