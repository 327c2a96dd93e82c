/**
 * One sensor per monitor kind. A sensor is stateful: rates (CPU %, bytes per second) are the
 * difference between this reading and the previous one, so the first reading of a rate sensor
 * yields only its gauges. Counters that went backwards (a device re-appeared, a process tree
 * restarted) skip one value instead of emitting a negative rate.
 *
 * Time for rates is the real monotonic time between readings (the counters move in real time),
 * while sample timestamps come from the hub's clock. CPU shares need no time at all: they are
 * ticks of the measured thing over ticks of the whole node, as `top` computes them.
 *
 * The metric names are listed in ./README.md and in METRICS below.
 */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Labels, Sample } from '../../metrics/types.js';
import {
  NETWORK_FS, PSEUDO_FS, USER_HZ, cgroupV2Path, parseDiskstats, parseMeminfo, parseMounts, parseNetDev, parseProcStat,
  readCgroup, readProc, readTreeUsage, type CpuTimes,
} from './procfs.js';
import { parseHostPort, readDirInChild, tcpLatency } from './probes.js';
import type { MonitorSpec } from './spec.js';

/** Every metric the sensors emit: name → [monitor kind, labels besides node/instance, meaning]. */
export const METRICS: Record<string, readonly [MonitorSpec['kind'], string, string]> = {
  'node.cpu.percent': ['cpu', '', 'busy share of all cores, 0–100'],
  'instance.cpu.percent': ['cpu', 'instance', "the instance's share of all the node's cores, 0–100"],
  'instance.cpu.cores': ['cpu', 'instance', 'cores the instance keeps busy (1.5 = one and a half)'],
  'node.memory.bytes': ['memory', '', 'memory in use (total − available)'],
  'node.memory.percent': ['memory', '', 'memory in use over total, 0–100'],
  'node.memory.total_bytes': ['memory', '', 'physical memory'],
  'node.memory.available_bytes': ['memory', '', 'MemAvailable'],
  'instance.memory.bytes': ['memory', 'instance', 'resident memory of the process tree (or cgroup memory.current)'],
  'instance.memory.percent': ['memory', 'instance', "instance.memory.bytes over the node's total, 0–100"],
  'node.disk.read_bytes_per_s': ['disk-io', 'device', 'bytes read per second'],
  'node.disk.write_bytes_per_s': ['disk-io', 'device', 'bytes written per second'],
  'node.disk.reads_per_s': ['disk-io', 'device', 'completed reads per second'],
  'node.disk.writes_per_s': ['disk-io', 'device', 'completed writes per second'],
  'instance.disk.read_bytes_per_s': ['disk-io', 'instance', 'bytes the process tree read from storage per second'],
  'instance.disk.write_bytes_per_s': ['disk-io', 'instance', 'bytes the process tree wrote to storage per second'],
  'node.fs.free_bytes': ['disk-free', 'mountpoint, fstype', 'free bytes (root included)'],
  'node.fs.avail_bytes': ['disk-free', 'mountpoint, fstype', 'bytes available to unprivileged users'],
  'node.fs.size_bytes': ['disk-free', 'mountpoint, fstype', 'size of the file system'],
  'node.fs.used_percent': ['disk-free', 'mountpoint, fstype', '(size − free) over size, 0–100'],
  'node.net.rx_bytes_per_s': ['network', 'interface', 'bytes received per second'],
  'node.net.tx_bytes_per_s': ['network', 'interface', 'bytes sent per second'],
  'node.net.rx_packets_per_s': ['network', 'interface', 'packets received per second'],
  'node.net.tx_packets_per_s': ['network', 'interface', 'packets sent per second'],
  'node.net.rx_bits_per_s': ['network', 'interface', 'download bandwidth in use'],
  'node.net.tx_bits_per_s': ['network', 'interface', 'upload bandwidth in use'],
  'node.net.rx_bytes_total': ['network', 'interface', 'bytes received since boot (counter)'],
  'node.net.tx_bytes_total': ['network', 'interface', 'bytes sent since boot (counter)'],
  'node.net.rx_packets_total': ['network', 'interface', 'packets received since boot (counter)'],
  'node.net.tx_packets_total': ['network', 'interface', 'packets sent since boot (counter)'],
  'tcp.connect_ms': ['tcp-latency', 'target', 'mean TCP connect time over the successful tries'],
  'tcp.connect_failures': ['tcp-latency', 'target', 'tries that failed in this round'],
  'tcp.up': ['tcp-latency', 'target', '1 when at least one try connected, else 0'],
  'mount.ok': ['mount', 'path', '1 when mounted and readable within the timeout, else 0'],
  'mount.mounted': ['mount', 'path', '1 when the path is a mount point in /proc/mounts'],
  'mount.readable': ['mount', 'path', '1 when a directory entry was read within the timeout'],
  'mount.check_ms': ['mount', 'path', 'how long the read took'],
  'instance.running': ['cpu', 'instance', "1 when the instance's start process runs, else 0 (every instance-scope monitor)"],
};

export interface SensorContext {
  procRoot: string;
  /** Mount point of the cgroup v2 hierarchy; undefined: measure process trees only. */
  cgroupRoot: string | undefined;
  /** Node labels (node id included). */
  labels: Labels;
  /** The supervised start process of an instance, if it runs. */
  instancePid(instance: string): number | undefined;
}

export interface Sensor {
  /** Takes a reading; returns the samples it yields (none for rates on the first reading). */
  collect(t: number): Promise<Sample[]>;
}

type Emit = (name: string, v: number, extra?: Labels) => void;

function emitter(t: number, base: Labels, out: Sample[]): Emit {
  return (name, v, extra) => {
    if (Number.isFinite(v)) out.push({ name, labels: extra ? { ...base, ...extra } : base, t, v });
  };
}

/** Per-key rate keeper: `rate(key, counter)` returns the per-second rate, undefined the first time. */
function rates(): { begin(): number | undefined; rate(key: string, value: number): number | undefined; end(): void } {
  let prevAt: number | undefined;
  let dt = 0;
  let prev = new Map<string, number>();
  let next = new Map<string, number>();
  return {
    begin() {
      const now = performance.now();
      dt = prevAt === undefined ? 0 : (now - prevAt) / 1000;
      prevAt = now;
      next = new Map();
      return dt;
    },
    rate(key, value) {
      next.set(key, value);
      const p = prev.get(key);
      if (p === undefined || dt <= 0 || value < p) return undefined;
      return (value - p) / dt;
    },
    end() {
      prev = next;
    },
  };
}

/** Reads an instance's usage from its own cgroup v2 when it has one, else from its process tree. */
interface InstanceUsage {
  source: 'cgroup' | 'process-tree';
  ticks: number;
  rssBytes: number;
  readBytes: number;
  writeBytes: number;
}

function readInstanceUsage(ctx: SensorContext, pid: number, agentCgroup: string | undefined): InstanceUsage {
  const cg = cgroupV2Path(ctx.procRoot, pid);
  // only a cgroup of its own counts: sharing the agent's (or the root) would measure the whole node
  if (ctx.cgroupRoot !== undefined && cg !== undefined && cg !== agentCgroup && cg !== '/' && cg !== '') {
    try {
      const u = readCgroup(join(ctx.cgroupRoot, cg));
      return { source: 'cgroup', ticks: (u.usageUsec / 1e6) * USER_HZ, rssBytes: u.memoryBytes, readBytes: u.readBytes, writeBytes: u.writeBytes };
    } catch {
      // no controller files there (v1 or not delegated): fall back to the process tree
    }
  }
  const u = readTreeUsage(ctx.procRoot, pid);
  return { source: 'process-tree', ticks: u.ticks, rssBytes: u.rssBytes, readBytes: u.readBytes ?? 0, writeBytes: u.writeBytes ?? 0 };
}

function nodeCpuSensor(ctx: SensorContext): Sensor {
  let prev: CpuTimes | undefined;
  return {
    async collect(t) {
      const cur = parseProcStat(readProc(ctx.procRoot, 'stat'));
      const out: Sample[] = [];
      if (prev && cur.total > prev.total) {
        const busy = cur.total - cur.idle - (prev.total - prev.idle);
        emitter(t, ctx.labels, out)('node.cpu.percent', Math.max(0, Math.min(100, (busy / (cur.total - prev.total)) * 100)));
      }
      prev = cur;
      return out;
    },
  };
}

function instanceSensor(ctx: SensorContext, spec: MonitorSpec, instance: string): Sensor & { source(): string | undefined } {
  const labels = { ...ctx.labels, instance };
  const agentCgroup = cgroupV2Path(ctx.procRoot, 'self');
  let prev: { pid: number; ticks: number; nodeTotal: number; cpus: number } | undefined;
  const io = rates();
  let source: string | undefined;
  return {
    source: () => source,
    async collect(t) {
      const out: Sample[] = [];
      const emit = emitter(t, labels, out);
      const pid = ctx.instancePid(instance);
      emit('instance.running', pid === undefined ? 0 : 1);
      if (pid === undefined) {
        prev = undefined;
        return out;
      }
      const u = readInstanceUsage(ctx, pid, agentCgroup);
      source = u.source;
      if (spec.kind === 'cpu') {
        const node = parseProcStat(readProc(ctx.procRoot, 'stat'));
        if (prev && prev.pid === pid && node.total > prev.nodeTotal && u.ticks >= prev.ticks) {
          const share = (u.ticks - prev.ticks) / (node.total - prev.nodeTotal);
          emit('instance.cpu.percent', Math.min(100, share * 100));
          emit('instance.cpu.cores', share * node.cpus);
        }
        prev = { pid, ticks: u.ticks, nodeTotal: node.total, cpus: node.cpus };
      } else if (spec.kind === 'memory') {
        const mem = parseMeminfo(readProc(ctx.procRoot, 'meminfo'));
        emit('instance.memory.bytes', u.rssBytes);
        emit('instance.memory.percent', (u.rssBytes / mem.totalBytes) * 100);
      } else if (spec.kind === 'disk-io') {
        io.begin();
        const r = io.rate(`${pid}/r`, u.readBytes);
        const w = io.rate(`${pid}/w`, u.writeBytes);
        io.end();
        if (r !== undefined) emit('instance.disk.read_bytes_per_s', r);
        if (w !== undefined) emit('instance.disk.write_bytes_per_s', w);
      }
      return out;
    },
  };
}

function memorySensor(ctx: SensorContext): Sensor {
  return {
    async collect(t) {
      const m = parseMeminfo(readProc(ctx.procRoot, 'meminfo'));
      const out: Sample[] = [];
      const emit = emitter(t, ctx.labels, out);
      const used = m.totalBytes - m.availableBytes;
      emit('node.memory.bytes', used);
      emit('node.memory.percent', (used / m.totalBytes) * 100);
      emit('node.memory.total_bytes', m.totalBytes);
      emit('node.memory.available_bytes', m.availableBytes);
      return out;
    },
  };
}

function diskIoSensor(ctx: SensorContext, device: string | undefined): Sensor {
  const r = rates();
  return {
    async collect(t) {
      const out: Sample[] = [];
      const emit = emitter(t, ctx.labels, out);
      r.begin();
      for (const d of parseDiskstats(readProc(ctx.procRoot, 'diskstats'))) {
        if (device !== undefined && d.device !== device) continue;
        const l = { device: d.device };
        const rb = r.rate(`${d.device}/rb`, d.readBytes);
        const wb = r.rate(`${d.device}/wb`, d.writeBytes);
        const ro = r.rate(`${d.device}/r`, d.reads);
        const wo = r.rate(`${d.device}/w`, d.writes);
        if (rb !== undefined) emit('node.disk.read_bytes_per_s', rb, l);
        if (wb !== undefined) emit('node.disk.write_bytes_per_s', wb, l);
        if (ro !== undefined) emit('node.disk.reads_per_s', ro, l);
        if (wo !== undefined) emit('node.disk.writes_per_s', wo, l);
      }
      r.end();
      return out;
    },
  };
}

function diskFreeSensor(ctx: SensorContext, path: string | undefined): Sensor {
  return {
    async collect(t) {
      const out: Sample[] = [];
      const emit = emitter(t, ctx.labels, out);
      const mounts = parseMounts(readProc(ctx.procRoot, 'mounts'));
      // one entry per mount point (the last mount wins); one per block device (the shortest path)
      const byPath = new Map<string, { path: string; fstype: string; device: string }>();
      for (const m of mounts) byPath.set(m.path, m);
      const chosen = new Map<string, { path: string; fstype: string }>();
      for (const m of byPath.values()) {
        if (path !== undefined) {
          if (m.path === path) chosen.set(m.path, m);
          continue;
        }
        if (PSEUDO_FS.has(m.fstype) || NETWORK_FS.test(m.fstype)) continue;
        const key = m.device.startsWith('/dev/') ? m.device : m.path;
        const had = chosen.get(key);
        if (!had || m.path.length < had.path.length) chosen.set(key, m);
      }
      if (path !== undefined && chosen.size === 0) throw new Error(`${path} is not a mount point`);
      for (const m of chosen.values()) {
        let s;
        try {
          s = await statfs(m.path);
        } catch {
          continue; // unreadable by us, or gone
        }
        if (s.blocks === 0) continue;
        const l = { mountpoint: m.path, fstype: m.fstype };
        emit('node.fs.free_bytes', s.bfree * s.bsize, l);
        emit('node.fs.avail_bytes', s.bavail * s.bsize, l);
        emit('node.fs.size_bytes', s.blocks * s.bsize, l);
        emit('node.fs.used_percent', ((s.blocks - s.bfree) / s.blocks) * 100, l);
      }
      return out;
    },
  };
}

function networkSensor(ctx: SensorContext, iface: string | undefined): Sensor {
  const r = rates();
  return {
    async collect(t) {
      const out: Sample[] = [];
      const emit = emitter(t, ctx.labels, out);
      r.begin();
      for (const n of parseNetDev(readProc(ctx.procRoot, 'net/dev'))) {
        if (iface !== undefined && n.iface !== iface) continue;
        const l = { interface: n.iface };
        emit('node.net.rx_bytes_total', n.rxBytes, l);
        emit('node.net.tx_bytes_total', n.txBytes, l);
        emit('node.net.rx_packets_total', n.rxPackets, l);
        emit('node.net.tx_packets_total', n.txPackets, l);
        const rb = r.rate(`${n.iface}/rb`, n.rxBytes);
        const tb = r.rate(`${n.iface}/tb`, n.txBytes);
        const rp = r.rate(`${n.iface}/rp`, n.rxPackets);
        const tp = r.rate(`${n.iface}/tp`, n.txPackets);
        if (rb !== undefined) {
          emit('node.net.rx_bytes_per_s', rb, l);
          emit('node.net.rx_bits_per_s', rb * 8, l);
        }
        if (tb !== undefined) {
          emit('node.net.tx_bytes_per_s', tb, l);
          emit('node.net.tx_bits_per_s', tb * 8, l);
        }
        if (rp !== undefined) emit('node.net.rx_packets_per_s', rp, l);
        if (tp !== undefined) emit('node.net.tx_packets_per_s', tp, l);
      }
      r.end();
      return out;
    },
  };
}

function tcpSensor(ctx: SensorContext, spec: MonitorSpec): Sensor & { detail(): string | undefined } {
  const target = parseHostPort(spec.target ?? '');
  if (!target) throw new Error(`bad target ${spec.target}`); // validated before
  const timeoutMs = spec.timeoutMs ?? Math.min(spec.intervalMs, 5000);
  let detail: string | undefined;
  return {
    detail: () => detail,
    async collect(t) {
      const r = await tcpLatency(target, spec.tries ?? 3, timeoutMs);
      detail = r.lastError;
      const out: Sample[] = [];
      const emit = emitter(t, ctx.labels, out);
      const l = { target: spec.target! };
      if (r.avgMs !== undefined) emit('tcp.connect_ms', r.avgMs, l);
      emit('tcp.connect_failures', r.failed, l);
      emit('tcp.up', r.ok > 0 ? 1 : 0, l);
      return out;
    },
  };
}

function mountSensor(ctx: SensorContext, spec: MonitorSpec): Sensor & { detail(): string | undefined } {
  const path = spec.target!;
  const timeoutMs = spec.timeoutMs ?? Math.min(spec.intervalMs, 5000);
  const hung: { child?: import('node:child_process').ChildProcess } = {};
  let detail: string | undefined;
  return {
    detail: () => detail,
    async collect(t) {
      const entry = parseMounts(readProc(ctx.procRoot, 'mounts')).filter((m) => m.path === path).pop();
      const out: Sample[] = [];
      const emit = emitter(t, ctx.labels, out);
      const l = { path };
      let readable = false;
      let ms = 0;
      if (entry) {
        const r = await readDirInChild(path, timeoutMs, hung);
        readable = r.readable;
        ms = r.ms;
        detail = r.error;
      } else detail = `${path} is not a mount point`;
      emit('mount.mounted', entry ? 1 : 0, l);
      emit('mount.readable', readable ? 1 : 0, l);
      emit('mount.ok', entry && readable ? 1 : 0, l);
      if (entry) emit('mount.check_ms', ms, l);
      return out;
    },
  };
}

/** What a sensor can say about its last reading beyond samples (shown in the monitor list). */
export interface SensorWithInfo extends Sensor {
  /** Why the last check failed (tcp, mount), or how an instance was measured. */
  info(): string | undefined;
}

/** Builds the sensor for a validated monitor spec. */
export function createSensor(ctx: SensorContext, spec: MonitorSpec): SensorWithInfo {
  const plain = (s: Sensor): SensorWithInfo => ({ collect: (t) => s.collect(t), info: () => undefined });
  if (spec.instance !== undefined) {
    const s = instanceSensor(ctx, spec, spec.instance);
    return { collect: (t) => s.collect(t), info: () => (s.source() ? `measured by ${s.source()}` : undefined) };
  }
  switch (spec.kind) {
    case 'cpu':
      return plain(nodeCpuSensor(ctx));
    case 'memory':
      return plain(memorySensor(ctx));
    case 'disk-io':
      return plain(diskIoSensor(ctx, spec.target));
    case 'disk-free':
      return plain(diskFreeSensor(ctx, spec.target));
    case 'network':
      return plain(networkSensor(ctx, spec.target));
    case 'tcp-latency': {
      const s = tcpSensor(ctx, spec);
      return { collect: (t) => s.collect(t), info: s.detail };
    }
    case 'mount': {
      const s = mountSensor(ctx, spec);
      return { collect: (t) => s.collect(t), info: s.detail };
    }
  }
}
