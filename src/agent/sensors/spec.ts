/**
 * What a monitor is, and the check every monitor passes before it runs (over HTTP or in code).
 * Bad input is rejected whole: NubisError REQUEST_INVALID naming the field (`intervalMs: …`)
 * in the message and in `details.path`.
 */
import { NubisError } from '../../errors/index.js';
import { parseHostPort } from './probes.js';

export const MONITOR_KINDS = ['cpu', 'memory', 'disk-io', 'disk-free', 'network', 'tcp-latency', 'mount'] as const;
export type MonitorKind = (typeof MONITOR_KINDS)[number];

/** Kinds that can be measured per component instance (its process tree or cgroup). */
export const INSTANCE_KINDS: readonly MonitorKind[] = ['cpu', 'memory', 'disk-io'];

export interface MonitorSpec {
  /** Stable name; setting a monitor with a known id replaces it. */
  id: string;
  kind: MonitorKind;
  /** How often it measures (ms, 100 to 86,400,000). */
  intervalMs: number;
  /** Measure this component instance (its process tree) instead of the node: cpu, memory, disk-io. */
  instance?: string;
  /**
   * tcp-latency: `host:port` (required); mount: an absolute path (required); disk-io: a device
   * name; disk-free: a mount point; network: an interface name (optional filters).
   */
  target?: string;
  /** tcp-latency: connects per measurement, averaged (1–100, default 3). */
  tries?: number;
  /** tcp-latency and mount: per try / per read (default min(intervalMs, 5000)). */
  timeoutMs?: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DAY_MS = 86_400_000;

function invalid(path: string, message: string): NubisError {
  return new NubisError('REQUEST_INVALID', `${path}: ${message}`, { details: { path } });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a monitor spec; returns a clean copy. */
export function checkMonitorSpec(v: unknown): MonitorSpec {
  if (!isRecord(v)) throw invalid('$', 'must be a JSON object');
  for (const k of Object.keys(v)) {
    if (!['id', 'kind', 'intervalMs', 'instance', 'target', 'tries', 'timeoutMs'].includes(k)) {
      throw invalid(k, 'is not a monitor field (id, kind, intervalMs, instance, target, tries, timeoutMs)');
    }
  }
  const id = v['id'];
  if (typeof id !== 'string' || !ID_RE.test(id)) throw invalid('id', 'must be 1–128 letters, digits, ".", "_" or "-", not starting with "." or "-"');
  const kind = v['kind'];
  if (typeof kind !== 'string' || !(MONITOR_KINDS as readonly string[]).includes(kind)) throw invalid('kind', `must be one of ${MONITOR_KINDS.join(', ')}`);
  const intervalMs = v['intervalMs'];
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 100 || intervalMs > DAY_MS) {
    throw invalid('intervalMs', `must be a number of milliseconds from 100 to ${DAY_MS}`);
  }
  const spec: MonitorSpec = { id, kind: kind as MonitorKind, intervalMs: Math.floor(intervalMs) };
  const instance = v['instance'];
  if (instance !== undefined) {
    if (typeof instance !== 'string' || !ID_RE.test(instance)) throw invalid('instance', 'must be an instance name');
    if (!INSTANCE_KINDS.includes(spec.kind)) throw invalid('instance', `applies only to ${INSTANCE_KINDS.join(', ')} monitors`);
    spec.instance = instance;
  }
  const target = v['target'];
  if (target !== undefined) {
    if (typeof target !== 'string' || target === '' || target.length > 4096 || target.includes('\0')) throw invalid('target', 'must be a non-empty string');
    spec.target = target;
  }
  if (spec.kind === 'tcp-latency' && (spec.target === undefined || !parseHostPort(spec.target))) {
    throw invalid('target', 'must be host:port (or [v6addr]:port) for a tcp-latency monitor');
  }
  if ((spec.kind === 'mount' || spec.kind === 'disk-free') && spec.target !== undefined && !spec.target.startsWith('/')) {
    throw invalid('target', 'must be an absolute path');
  }
  if (spec.kind === 'mount' && spec.target === undefined) throw invalid('target', 'is required for a mount monitor (the mount point)');
  if (spec.instance !== undefined && spec.target !== undefined) throw invalid('target', 'cannot be combined with instance');
  const tries = v['tries'];
  if (tries !== undefined) {
    if (typeof tries !== 'number' || !Number.isInteger(tries) || tries < 1 || tries > 100) throw invalid('tries', 'must be an integer from 1 to 100');
    if (spec.kind !== 'tcp-latency') throw invalid('tries', 'applies only to tcp-latency monitors');
    spec.tries = tries;
  }
  const timeoutMs = v['timeoutMs'];
  if (timeoutMs !== undefined) {
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw invalid('timeoutMs', 'must be a number of milliseconds from 1 to 600000');
    }
    if (spec.kind !== 'tcp-latency' && spec.kind !== 'mount') throw invalid('timeoutMs', 'applies only to tcp-latency and mount monitors');
    spec.timeoutMs = Math.floor(timeoutMs);
  }
  return spec;
}
