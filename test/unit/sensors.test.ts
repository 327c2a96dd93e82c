/**
 * Sensors: on this machine's real /proc (node values sane, a busy child process seen in instance
 * scope, TCP latency against a local listener, mount checks), on a fake /proc with a virtual
 * clock (monitors added, changed and removed at run time change exactly what is emitted), and
 * through the agent's HTTP routes (monitors, pulled samples with a cursor, Graphite, push).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  createHttpAgentMetricsClient, createSampleBuffer, createSensorHub, startAgent, type MonitorSpec, type SensorHub,
} from '../../src/agent/index.js';
import { parseHostPort, SENSOR_METRICS } from '../../src/agent/sensors/index.js';
import { ROOT } from '../helpers/processes.js';
import { createVirtualClock } from '../../src/clock/index.js';
import { NubisError } from '../../src/errors/index.js';
import type { Sample } from '../../src/metrics/index.js';
import { tempDir, waitFor } from './agent-test-helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A hub on the real /proc collecting everything it emits. */
function realHub(instancePid: (i: string) => number | undefined = () => undefined): { hub: SensorHub; samples: Sample[] } {
  const samples: Sample[] = [];
  const hub = createSensorHub({ nodeId: 'n1', labels: { cloud: 'local' }, onSamples: (s) => samples.push(...s), instancePid });
  cleanups.push(() => hub.close());
  return { hub, samples };
}

const named = (samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('sensors on this machine', () => {
  test('node cpu, memory, network, disk-io and disk-free values are sane', async () => {
    const { hub, samples } = realHub();
    for (const kind of ['cpu', 'memory', 'network', 'disk-io', 'disk-free'] as const) hub.set({ id: kind, kind, intervalMs: 150 });
    await waitFor('rates from every sensor', () =>
      named(samples, 'node.cpu.percent').length > 0 && named(samples, 'node.net.rx_bytes_per_s').length > 0 && named(samples, 'node.disk.read_bytes_per_s').length > 0 &&
      named(samples, 'node.memory.percent').length > 0 && named(samples, 'node.fs.size_bytes', { mountpoint: '/' }).length > 0);

    const cpu = named(samples, 'node.cpu.percent');
    assert.ok(cpu.every((s) => s.v >= 0 && s.v <= 100), JSON.stringify(cpu));
    assert.deepEqual(cpu[0]!.labels, { cloud: 'local', node: 'n1' });

    const total = named(samples, 'node.memory.total_bytes')[0]!.v;
    assert.ok(total > 64 * 1024 * 1024);
    const used = named(samples, 'node.memory.bytes')[0]!.v;
    assert.ok(used > 0 && used < total);
    const pct = named(samples, 'node.memory.percent')[0]!.v;
    assert.ok(Math.abs(pct - (used / total) * 100) < 1e-9);

    assert.ok(named(samples, 'node.net.rx_bytes_total', { interface: 'lo' }).length > 0, 'loopback is listed');
    for (const n of ['node.net.rx_bytes_per_s', 'node.net.tx_bits_per_s', 'node.net.rx_packets_per_s', 'node.net.tx_packets_per_s']) {
      assert.ok(named(samples, n).every((s) => s.v >= 0 && typeof s.labels['interface'] === 'string'), n);
    }
    const rx = named(samples, 'node.net.rx_bytes_per_s', { interface: 'lo' })[0]!;
    const rxBits = named(samples, 'node.net.rx_bits_per_s', { interface: 'lo' })[0]!;
    assert.equal(rxBits.v, rx.v * 8);

    const disks = named(samples, 'node.disk.write_bytes_per_s');
    assert.ok(disks.every((s) => s.v >= 0 && !/^(loop|ram)/.test(s.labels['device']!)), JSON.stringify(disks.slice(0, 3)));

    const root = named(samples, 'node.fs.size_bytes', { mountpoint: '/' })[0];
    assert.ok(root && root.v > 0, 'the root file system is reported');
    const free = named(samples, 'node.fs.avail_bytes', { mountpoint: '/' })[0]!;
    assert.ok(free.v >= 0 && free.v <= root.v);
    assert.ok(!samples.some((s) => s.name.startsWith('node.fs.') && ['proc', 'sysfs', 'cgroup', 'devpts'].includes(s.labels['fstype']!)), 'pseudo file systems are skipped');
    for (const m of hub.list()) assert.equal(m.lastError, undefined, `${m.spec.id}: ${m.lastError}`);
  });

  test('a busy child process shows CPU in instance scope (its whole process tree); a stopped instance reports running 0', async () => {
    // the busy loop is a grandchild: sh → node
    const child: ChildProcess = spawn('/bin/sh', ['-c', `"${process.execPath}" -e "const a=[];for(;;){a.length<1e5&&a.push({})}"; true`], { stdio: 'ignore' });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    let pid: number | undefined = child.pid;
    const { hub, samples } = realHub((i) => (i === 'app-1' ? pid : undefined));
    hub.set({ id: 'app-cpu', kind: 'cpu', intervalMs: 200, instance: 'app-1' });
    hub.set({ id: 'app-mem', kind: 'memory', intervalMs: 200, instance: 'app-1' });
    // CPU > 0, not a fixed share: the machine may be busy with other work
    const cores = await waitFor('the busy instance uses CPU', () => named(samples, 'instance.cpu.cores', { instance: 'app-1' }).find((s) => s.v > 0), 20_000);
    assert.deepEqual(cores.labels, { cloud: 'local', node: 'n1', instance: 'app-1' });
    const pct = named(samples, 'instance.cpu.percent').find((s) => s.t === cores.t)!;
    assert.ok(pct.v > 0 && pct.v <= 100);
    const mem = await waitFor('memory', () => named(samples, 'instance.memory.bytes').find((s) => s.v > 5 * 1024 * 1024));
    assert.ok(mem.v < 4 * 1024 ** 3);
    assert.match(hub.list().find((m) => m.spec.id === 'app-cpu')!.info ?? '', /process-tree|cgroup/);

    pid = undefined;
    child.kill('SIGKILL');
    const n = samples.length;
    await waitFor('running 0 after the instance stops', () => samples.slice(n).find((s) => s.name === 'instance.running' && s.v === 0));
  });

  test('tcp-latency averages N tries against a local listener; a closed port is down', async () => {
    const accepted: number[] = [];
    const server: Server = createServer((s) => {
      accepted.push(1);
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const { hub, samples } = realHub();
    hub.set({ id: 'lat', kind: 'tcp-latency', intervalMs: 10_000, target: `127.0.0.1:${port}`, tries: 4 });
    hub.set({ id: 'down', kind: 'tcp-latency', intervalMs: 10_000, target: `127.0.0.1:${closed}`, tries: 2, timeoutMs: 1000 });
    const ms = await waitFor('latency', () => named(samples, 'tcp.connect_ms', { target: `127.0.0.1:${port}` })[0]);
    assert.ok(ms.v > 0 && ms.v < 1000, String(ms.v));
    assert.equal(accepted.length, 4, 'one connection per try');
    assert.equal(named(samples, 'tcp.up', { target: `127.0.0.1:${port}` })[0]!.v, 1);
    const down = await waitFor('down', () => named(samples, 'tcp.up', { target: `127.0.0.1:${closed}` })[0]);
    assert.equal(down.v, 0);
    assert.equal(named(samples, 'tcp.connect_failures', { target: `127.0.0.1:${closed}` })[0]!.v, 2);
    assert.equal(named(samples, 'tcp.connect_ms', { target: `127.0.0.1:${closed}` }).length, 0);
    assert.match(hub.list().find((m) => m.spec.id === 'down')!.info ?? '', /ECONNREFUSED/);
  });

  test('mount check: / is mounted and readable; a plain directory is not a mount; a read past its timeout is not readable', async () => {
    const dir = tempDir('notamount');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { hub, samples } = realHub();
    hub.set({ id: 'root', kind: 'mount', intervalMs: 10_000, target: '/' });
    hub.set({ id: 'plain', kind: 'mount', intervalMs: 10_000, target: dir });
    hub.set({ id: 'slow', kind: 'mount', intervalMs: 10_000, target: '/', timeoutMs: 1 });
    await waitFor('three checks', () => hub.list().every((m) => m.runs >= 1));
    const ok = named(samples, 'mount.ok', { path: '/' });
    assert.ok(ok.some((s) => s.v === 1), 'root ok');
    assert.equal(named(samples, 'mount.ok', { path: dir })[0]!.v, 0);
    assert.equal(named(samples, 'mount.mounted', { path: dir })[0]!.v, 0);
    assert.ok(ok.some((s) => s.v === 0), 'a 1 ms timeout fails the read');
    assert.match(hub.list().find((m) => m.spec.id === 'slow')!.info ?? '', /did not finish within 1 ms/);
    assert.match(hub.list().find((m) => m.spec.id === 'plain')!.info ?? '', /not a mount point/);
  });
});

/** A fake /proc whose counters the test sets. */
function fakeProc(): { root: string; setStat(busy: number, idle: number): void } {
  const root = tempDir('fakeproc');
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'net'));
  writeFileSync(join(root, 'meminfo'), 'MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n');
  writeFileSync(join(root, 'mounts'), '/dev/vda / ext4 rw 0 0\nproc /proc proc rw 0 0\n');
  writeFileSync(join(root, 'net/dev'), 'Inter-|   Receive |  Transmit\n face |bytes packets\n    lo: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n');
  writeFileSync(join(root, 'diskstats'), '   7 0 loop0 1 0 8 0 1 0 8 0 0 0 0\n 254 0 vda 10 0 80 0 5 0 40 0 0 0 0\n');
  const setStat = (busy: number, idle: number): void =>
    writeFileSync(join(root, 'stat'), `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 ${busy} 0 0 ${idle} 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\nintr 0\n`);
  setStat(0, 0);
  return { root, setStat };
}

describe('monitors at run time (fake /proc, virtual clock)', () => {
  test('each monitor keeps its own interval; set, change and remove take effect without restarting others', async () => {
    const proc = fakeProc();
    const clock = createVirtualClock(1_000_000);
    const batches: Sample[][] = [];
    const hub = createSensorHub({ nodeId: 'n1', labels: {}, clock, procRoot: proc.root, onSamples: (s) => batches.push(s) });
    cleanups.push(() => hub.close());
    const times = (name: string): number[] => batches.flat().filter((s) => s.name === name).map((s) => s.t - 1_000_000);

    hub.set({ id: 'mem', kind: 'memory', intervalMs: 1000 });
    hub.set({ id: 'cpu', kind: 'cpu', intervalMs: 3000 });
    await waitFor('first memory reading at once', () => times('node.memory.bytes').length === 1);
    const mem = batches[0]!;
    assert.deepEqual(mem.find((s) => s.name === 'node.memory.bytes'), { name: 'node.memory.bytes', labels: { node: 'n1' }, t: 1_000_000, v: 750 * 1024 });
    assert.equal(mem.find((s) => s.name === 'node.memory.percent')!.v, 75);

    proc.setStat(30, 70); // 30 % busy over the first 3 s
    for (let i = 0; i < 3; i++) await clock.advance(1000);
    await waitFor('cpu after one interval', () => times('node.cpu.percent').length === 1);
    assert.deepEqual(times('node.memory.bytes'), [0, 1000, 2000, 3000]);
    assert.deepEqual(times('node.cpu.percent'), [3000]);
    assert.equal(batches.flat().find((s) => s.name === 'node.cpu.percent')!.v, 30);

    // change the memory interval: only that monitor restarts
    hub.set({ id: 'mem', kind: 'memory', intervalMs: 5000 });
    proc.setStat(130, 70); // everything busy over the next 3 s
    for (let i = 0; i < 6; i++) await clock.advance(1000);
    await waitFor('cpu second reading', () => times('node.cpu.percent').length === 2);
    assert.deepEqual(times('node.memory.bytes'), [0, 1000, 2000, 3000, 3000, 8000]);
    assert.deepEqual(times('node.cpu.percent'), [3000, 6000, 9000].slice(0, times('node.cpu.percent').length));
    assert.equal(batches.flat().filter((s) => s.name === 'node.cpu.percent')[1]!.v, 100);

    // setting the same spec again changes nothing
    hub.set({ id: 'mem', kind: 'memory', intervalMs: 5000 });
    // remove cpu: no more cpu samples; memory goes on
    hub.remove('cpu');
    const before = times('node.cpu.percent').length;
    for (let i = 0; i < 10; i++) await clock.advance(1000);
    assert.equal(times('node.cpu.percent').length, before);
    assert.deepEqual(times('node.memory.bytes'), [0, 1000, 2000, 3000, 3000, 8000, 13000, 18000]);
    assert.deepEqual(hub.list().map((m) => m.spec.id), ['mem']);

    // add a new kind at run time
    hub.set({ id: 'net', kind: 'network', intervalMs: 2000, target: 'lo' });
    await waitFor('network counters', () => times('node.net.rx_bytes_total').length === 1);
    assert.deepEqual(batches.flat().find((s) => s.name === 'node.net.tx_packets_total')!.labels, { node: 'n1', interface: 'lo' });
    assert.equal(hub.remove('nope'), false);
  });

  test('an invalid monitor is REQUEST_INVALID naming the field, and nothing changes', () => {
    const hub = createSensorHub({ nodeId: 'n1', labels: {}, onSamples: () => {}, clock: createVirtualClock() });
    cleanups.push(() => hub.close());
    const bad: [unknown, string][] = [
      [{ id: 'x', kind: 'gpu', intervalMs: 1000 }, 'kind'],
      [{ id: '', kind: 'cpu', intervalMs: 1000 }, 'id'],
      [{ id: 'x', kind: 'cpu', intervalMs: 5 }, 'intervalMs'],
      [{ id: 'x', kind: 'tcp-latency', intervalMs: 1000 }, 'target'],
      [{ id: 'x', kind: 'tcp-latency', intervalMs: 1000, target: 'nohostport' }, 'target'],
      [{ id: 'x', kind: 'tcp-latency', intervalMs: 1000, target: 'h:1', tries: 0 }, 'tries'],
      [{ id: 'x', kind: 'mount', intervalMs: 1000 }, 'target'],
      [{ id: 'x', kind: 'mount', intervalMs: 1000, target: 'relative' }, 'target'],
      [{ id: 'x', kind: 'network', intervalMs: 1000, instance: 'app-1' }, 'instance'],
      [{ id: 'x', kind: 'cpu', intervalMs: 1000, bogus: 1 }, 'bogus'],
    ];
    for (const [spec, path] of bad) {
      assert.throws(() => hub.set(spec as MonitorSpec), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID' && (e.details as { path: string }).path === path, JSON.stringify(spec));
    }
    assert.deepEqual(hub.list(), []);
    assert.deepEqual(parseHostPort('[::1]:80'), { host: '::1', port: 80 });
  });
});

test('the README table names every metric the sensors emit', () => {
  const readme = readFileSync(join(ROOT, 'src/agent/sensors/README.md'), 'utf8');
  for (const name of Object.keys(SENSOR_METRICS)) assert.ok(readme.includes(`| \`${name}\` |`), name);
});

describe('sample buffer', () => {
  test('reads after a cursor; overflow drops the oldest and says how many a reader missed', () => {
    const b = createSampleBuffer(5);
    const s = (v: number): Sample => ({ name: 'm', labels: {}, t: v, v });
    b.append([s(1), s(2), s(3)]);
    let r = b.read(0, 2);
    assert.deepEqual(r.samples.map((x) => x.v), [1, 2]);
    assert.equal(r.more, true);
    r = b.read(r.cursor, 10);
    assert.deepEqual(r.samples.map((x) => x.v), [3]);
    assert.equal(r.cursor, 3);
    b.append([s(4), s(5), s(6), s(7), s(8), s(9)]);
    r = b.read(3, 10);
    assert.equal(r.dropped, 1);
    assert.deepEqual(r.samples.map((x) => x.v), [5, 6, 7, 8, 9]);
    assert.equal(r.cursor, 9);
    r = b.read(50, 10);
    assert.equal(r.reset, true);
    assert.equal(r.samples.length, 5);
  });
});

describe('agent monitoring routes', () => {
  test('monitors over HTTP, pulled samples with a cursor, Graphite and push into the same buffer, kept across a restart', async () => {
    const dir = tempDir('agent-metrics');
    const token = randomBytes(8).toString('hex');
    const nodeId = `n-${randomBytes(4).toString('hex')}`;
    let agent = await startAgent({ sandbox: dir, nodeId, token, graphitePort: 0 });
    cleanups.push(async () => {
      await agent.close({ killProcesses: true });
      rmSync(dir, { recursive: true, force: true });
    });
    let client = createHttpAgentMetricsClient(agent.url, token);
    assert.ok(agent.graphitePort !== undefined && agent.graphitePort > 0);

    const spec = await client.setMonitor({ id: 'mem', kind: 'memory', intervalMs: 200 });
    assert.deepEqual(spec, { id: 'mem', kind: 'memory', intervalMs: 200 });
    await client.setMonitor({ id: 'lat', kind: 'tcp-latency', intervalMs: 60_000, target: `127.0.0.1:${new URL(agent.url).port}`, tries: 2 });
    assert.deepEqual((await client.monitors()).map((m) => m.spec.id), ['lat', 'mem']);

    // Graphite into the agent
    await new Promise<void>((resolve, reject) => {
      const s = connect(agent.graphitePort!, '127.0.0.1', () => s.end('app.queue.length 17 1718000000\ngarbage\n'));
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    // push over HTTP
    const pushed = await fetch(`${agent.url}/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ samples: [{ name: 'jobs.done', v: 3 }] }),
    });
    assert.equal(pushed.status, 200);
    const badPush = await fetch(`${agent.url}/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ samples: [{ name: 'x', v: 'no' }] }),
    });
    assert.equal(badPush.status, 400);
    assert.equal(((await badPush.json()) as { error: { code: string } }).error.code, 'REQUEST_INVALID');

    let cursor = 0;
    const seen: Sample[] = [];
    await waitFor('memory, latency, graphite and pushed samples', async () => {
      const r = await client.metrics(cursor);
      cursor = r.cursor;
      seen.push(...r.samples);
      return ['node.memory.bytes', 'tcp.connect_ms', 'app.queue.length', 'jobs.done'].every((n) => seen.some((s) => s.name === n));
    });
    assert.ok(seen.every((s) => s.labels['node'] === nodeId), 'every sample carries the node');
    assert.deepEqual(seen.find((s) => s.name === 'app.queue.length'), { name: 'app.queue.length', labels: { node: nodeId }, t: 1718000000000, v: 17 });
    const again = await client.metrics(cursor, { limit: 100_000 });
    assert.ok(again.samples.every((s) => !seen.includes(s)) && again.dropped === 0);

    // remove and the 404 after; bad specs are REQUEST_INVALID
    assert.equal(await client.removeMonitor('lat'), true);
    assert.equal(await client.removeMonitor('lat'), false);
    await assert.rejects(client.setMonitor({ id: 'x', kind: 'mount', intervalMs: 1000 }), (e: unknown) => e instanceof NubisError && e.code === 'REQUEST_INVALID');
    const mismatch = await fetch(`${agent.url}/v1/monitors/a`, {
      method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ id: 'b', kind: 'cpu', intervalMs: 1000 }),
    });
    assert.equal(mismatch.status, 400);
    const noAuth = await fetch(`${agent.url}/v1/monitors`);
    assert.equal(noAuth.status, 401);
    const stats = (await (await fetch(`${agent.url}/v1/metrics/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as { graphite: { accepted: number; malformed: number } };
    assert.equal(stats.graphite.accepted, 1);
    assert.equal(stats.graphite.malformed, 1);

    // a restarted agent keeps its monitors
    await agent.close();
    agent = await startAgent({ sandbox: dir, nodeId, token });
    client = createHttpAgentMetricsClient(agent.url, token);
    assert.deepEqual((await client.monitors()).map((m) => m.spec), [{ id: 'mem', kind: 'memory', intervalMs: 200 }]);
    const fresh = await client.metrics(cursor);
    assert.equal(fresh.reset, true, 'an old cursor on a new agent says reset');
  });

  test('an instance started by the agent is measured in instance scope', async () => {
    const dir = tempDir('agent-inst');
    const token = randomBytes(8).toString('hex');
    const agent = await startAgent({ sandbox: dir, nodeId: `n-${randomBytes(4).toString('hex')}`, token, stopGraceMs: 300 });
    cleanups.push(async () => {
      await agent.close({ killProcesses: true });
      rmSync(dir, { recursive: true, force: true });
    });
    const { createHttpAgentClient } = await import('../../src/agent/index.js');
    const life = createHttpAgentClient(agent.url, token);
    const r = await life.runStep({
      runId: `busy-${randomBytes(3).toString('hex')}`, instance: 'busy-1', step: 'start', timeoutMs: 10_000, env: {}, wiring: {},
      command: `exec "${process.execPath}" -e "for(;;){}"`,
    }, new AbortController().signal);
    assert.equal(r.state, 'succeeded', r.output);
    const client = createHttpAgentMetricsClient(agent.url, token);
    await client.setMonitor({ id: 'busy-cpu', kind: 'cpu', intervalMs: 200, instance: 'busy-1' });
    let cursor = 0;
    await waitFor('instance cpu from the agent', async () => {
      const got = await client.metrics(cursor);
      cursor = got.cursor;
      return got.samples.some((s) => s.name === 'instance.cpu.cores' && s.labels['instance'] === 'busy-1' && s.v > 0);
    }, 20_000);
    await life.stopInstance('busy-1', new AbortController().signal);
  });
});
