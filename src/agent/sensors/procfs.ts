/**
 * Readers of Linux /proc (and cgroup v2) counters the sensors turn into samples. Each `parse*`
 * is pure (text in, numbers out) so it is tested on fixed text; each `read*` reads under a
 * `procRoot` (default `/proc`) so tests can point it at a fake tree.
 *
 * Failure meaning: a missing or unreadable file throws (the sensor reports it as the monitor's
 * `lastError`); a process that vanished between listing and reading is skipped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** /proc exposes CPU times in USER_HZ, which is 100 on every Linux architecture in use. */
export const USER_HZ = 100;

export interface CpuTimes {
  /** All jiffies since boot, summed over CPUs. */
  total: number;
  /** Idle plus iowait jiffies. */
  idle: number;
  /** Number of CPUs (`cpuN` lines). */
  cpus: number;
}

/** Parses /proc/stat's aggregate `cpu` line. */
export function parseProcStat(text: string): CpuTimes {
  let total = 0;
  let idle = 0;
  let cpus = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      for (let i = 0; i < Math.min(f.length, 8); i++) total += f[i] ?? 0;
      idle = (f[3] ?? 0) + (f[4] ?? 0);
      found = true;
    } else if (/^cpu\d+ /.test(line)) cpus++;
  }
  if (!found) throw new Error('no aggregate "cpu" line in stat');
  return { total, idle, cpus: Math.max(1, cpus) };
}

export interface MemInfo {
  totalBytes: number;
  availableBytes: number;
}

/** Parses /proc/meminfo (MemAvailable, or MemFree+Buffers+Cached on old kernels). */
export function parseMeminfo(text: string): MemInfo {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]));
  }
  const total = kb.get('MemTotal');
  if (total === undefined) throw new Error('no MemTotal in meminfo');
  const avail = kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  return { totalBytes: total * 1024, availableBytes: avail * 1024 };
}

export interface DiskCounters {
  device: string;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

/**
 * Parses /proc/diskstats. Sectors there are always 512 bytes. Loop, ram and zram devices are
 * left out (they are memory, not disks).
 */
export function parseDiskstats(text: string): DiskCounters[] {
  const out: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const device = f[2]!;
    if (/^(loop|ram|zram)\d/.test(device)) continue;
    out.push({
      device,
      reads: Number(f[3]),
      readBytes: Number(f[5]) * 512,
      writes: Number(f[7]),
      writeBytes: Number(f[9]) * 512,
    });
  }
  return out;
}

export interface NetCounters {
  iface: string;
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
}

/** Parses /proc/net/dev. */
export function parseNetDev(text: string): NetCounters[] {
  const out: NetCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const iface = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    out.push({ iface, rxBytes: f[0]!, rxPackets: f[1]!, txBytes: f[8]!, txPackets: f[9]! });
  }
  return out;
}

export interface MountEntry {
  device: string;
  path: string;
  fstype: string;
  options: string;
}

/** Decodes the octal escapes /proc/mounts uses for space, tab, newline and backslash. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/mounts (later lines shadow earlier ones at the same path). */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    out.push({ device: unescapeMount(f[0]!), path: unescapeMount(f[1]!), fstype: f[2]!, options: f[3]! });
  }
  return out;
}

/** File systems with no disk behind them; disk-free skips them. */
export const PSEUDO_FS = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'ramfs', 'cgroup', 'cgroup2', 'securityfs', 'pstore', 'debugfs',
  'tracefs', 'mqueue', 'hugetlbfs', 'configfs', 'fusectl', 'binfmt_misc', 'autofs', 'bpf', 'nsfs', 'rpc_pipefs',
  'selinuxfs', 'efivarfs', 'squashfs', 'nfsd', 'fuse.gvfsd-fuse', 'fuse.lxcfs', 'sunrpc',
]);

/** Network file systems: statfs on them can hang, so disk-free checks them only when asked by name. */
export const NETWORK_FS = /^(nfs|nfs4|cifs|smbfs|smb3|ceph|glusterfs|9p|fuse\.sshfs|afs|lustre)$/;

export interface ProcCpuMem {
  /** utime+stime+cutime+cstime in USER_HZ ticks (children that were waited for included). */
  ticks: number;
  rssBytes: number;
  readBytes?: number;
  writeBytes?: number;
}

/** Parses /proc/<pid>/stat; returns [ppid, cpu ticks] (comm may hold spaces and parentheses). */
export function parsePidStat(text: string): { ppid: number; ticks: number; state: string } {
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); utime..cstime are fields 14..17
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return { state: f[0] ?? '?', ppid: Number(f[1]), ticks: Number.isFinite(ticks) ? ticks : 0 };
}

/** VmRSS of /proc/<pid>/status, in bytes (0 for kernel threads and zombies). */
export function parseStatusRss(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** read_bytes / write_bytes of /proc/<pid>/io (what reached the block layer). */
export function parsePidIo(text: string): { readBytes: number; writeBytes: number } {
  const r = /^read_bytes:\s+(\d+)/m.exec(text);
  const w = /^write_bytes:\s+(\d+)/m.exec(text);
  return { readBytes: r ? Number(r[1]) : 0, writeBytes: w ? Number(w[1]) : 0 };
}

/** Reads a file under the proc root. */
export function readProc(procRoot: string, rel: string): string {
  return readFileSync(join(procRoot, rel), 'utf8');
}

/** Every live pid with its parent, from `<procRoot>/<pid>/stat`. */
export function listPids(procRoot: string): { pid: number; ppid: number }[] {
  const out: { pid: number; ppid: number }[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = parsePidStat(readProc(procRoot, `${name}/stat`));
      if (s.state !== 'Z' && s.state !== 'X') out.push({ pid: Number(name), ppid: s.ppid });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The root pid and all its live descendants. */
export function processTree(procRoot: string, root: number): number[] {
  const procs = listPids(procRoot);
  const set = new Set<number>();
  if (procs.some((p) => p.pid === root)) set.add(root);
  let grew = set.size > 0;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!set.has(p.pid) && set.has(p.ppid)) {
        set.add(p.pid);
        grew = true;
      }
    }
  }
  return [...set];
}

/** Sums CPU ticks, RSS and I/O bytes over a process tree; processes that vanish are skipped. */
export function readTreeUsage(procRoot: string, root: number): ProcCpuMem & { pids: number } {
  let ticks = 0;
  let rss = 0;
  let readBytes = 0;
  let writeBytes = 0;
  let pids = 0;
  for (const pid of processTree(procRoot, root)) {
    try {
      ticks += parsePidStat(readProc(procRoot, `${pid}/stat`)).ticks;
      rss += parseStatusRss(readProc(procRoot, `${pid}/status`));
      pids++;
    } catch {
      continue;
    }
    try {
      const io = parsePidIo(readProc(procRoot, `${pid}/io`));
      readBytes += io.readBytes;
      writeBytes += io.writeBytes;
    } catch {
      // io needs the same user or root; leave it out
    }
  }
  return { ticks, rssBytes: rss, readBytes, writeBytes, pids };
}

/** The cgroup v2 path of a process (`0::/path` line), or undefined on a v1-only system. */
export function cgroupV2Path(procRoot: string, pid: number | 'self'): string | undefined {
  try {
    const line = readProc(procRoot, `${pid}/cgroup`).split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3);
  } catch {
    return undefined;
  }
}

export interface CgroupUsage {
  /** CPU time in microseconds (cpu.stat usage_usec). */
  usageUsec: number;
  /** memory.current in bytes. */
  memoryBytes: number;
  readBytes: number;
  writeBytes: number;
}

/** Reads a cgroup v2 directory's counters; throws when cpu.stat or memory.current is missing. */
export function readCgroup(dir: string): CgroupUsage {
  const cpu = readFileSync(join(dir, 'cpu.stat'), 'utf8');
  const m = /^usage_usec (\d+)/m.exec(cpu);
  if (!m) throw new Error(`no usage_usec in ${dir}/cpu.stat`);
  const memoryBytes = Number(readFileSync(join(dir, 'memory.current'), 'utf8').trim());
  let readBytes = 0;
  let writeBytes = 0;
  try {
    for (const line of readFileSync(join(dir, 'io.stat'), 'utf8').split('\n')) {
      readBytes += Number(/rbytes=(\d+)/.exec(line)?.[1] ?? 0);
      writeBytes += Number(/wbytes=(\d+)/.exec(line)?.[1] ?? 0);
    }
  } catch {
    // io controller not enabled for this group
  }
  return { usageUsec: Number(m[1]), memoryBytes, readBytes, writeBytes };
}
