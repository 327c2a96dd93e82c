/**
 * The sensor hub: the set of monitors running on one agent. Each monitor has its own loop on
 * the hub's clock — it measures at once, then every `intervalMs` (on a fixed grid; a round that
 * overruns skips the missed ticks instead of bunching up). Monitors are added, changed and
 * removed at run time; changing one restarts only that monitor's loop (and its rate baseline),
 * setting an identical spec again changes nothing.
 *
 * Failure meaning: `set` throws REQUEST_INVALID for an invalid spec and leaves the running set
 * untouched. A reading that fails (file missing, target refusing) is recorded as the monitor's
 * `lastError` and the loop goes on; an exception thrown by `onSamples` is ignored likewise.
 */
import { createRealClock, type Clock } from '../../clock/index.js';
import type { Labels, Sample } from '../../metrics/types.js';
import { parseMounts, readProc } from './procfs.js';
import { createSensor, type SensorContext, type SensorWithInfo } from './sensors.js';
import { checkMonitorSpec, type MonitorSpec } from './spec.js';

export interface SensorHubOptions {
  nodeId: string;
  /** Added to every sample, with `node: nodeId`. */
  labels: Labels;
  /** Receives each monitor's samples of one reading at once. */
  onSamples(samples: Sample[]): void;
  /** Schedules readings and stamps samples. Default the real clock. */
  clock?: Clock;
  /** Default /proc. */
  procRoot?: string;
  /** Where cgroup v2 is mounted. Default: the `cgroup2` mount in <procRoot>/mounts (none: process trees only). */
  cgroupRoot?: string;
  /**
   * The pid of an instance's supervised start process while it runs (the agent's runner knows);
   * without it every instance counts as not running.
   */
  instancePid?(instance: string): number | undefined;
}

export interface MonitorStatus {
  spec: MonitorSpec;
  /** Clock time of the last reading. */
  lastRunMs?: number;
  /** Samples the last reading yielded. */
  lastSamples: number;
  /** Why the last reading failed; cleared by the next good one. */
  lastError?: string;
  /** Detail of the last reading: a failed probe's reason, or how an instance is measured. */
  info?: string;
  runs: number;
}

export interface SensorHub {
  /** Adds or replaces a monitor (validated; REQUEST_INVALID when not). Returns the clean spec. */
  set(monitor: MonitorSpec): MonitorSpec;
  /** Stops and forgets a monitor; false when there was none with that id. */
  remove(id: string): boolean;
  list(): MonitorStatus[];
  /** Stops every monitor and waits for readings in flight. */
  close(): Promise<void>;
}

interface Running {
  spec: MonitorSpec;
  key: string;
  sensor: SensorWithInfo;
  abort: AbortController;
  loop: Promise<void>;
  status: MonitorStatus;
}

export function createSensorHub(opts: SensorHubOptions): SensorHub {
  const clock = opts.clock ?? createRealClock();
  const ctx: SensorContext = {
    procRoot: opts.procRoot ?? '/proc',
    cgroupRoot: opts.cgroupRoot ?? findCgroup2(opts.procRoot ?? '/proc'),
    labels: { ...opts.labels, node: opts.nodeId },
    instancePid: (i) => opts.instancePid?.(i),
  };
  const monitors = new Map<string, Running>();
  let closed = false;

  const read = async (m: Running): Promise<void> => {
    const t = clock.now();
    try {
      const samples = await m.sensor.collect(t);
      if (m.abort.signal.aborted) return;
      m.status.lastRunMs = t;
      m.status.lastSamples = samples.length;
      m.status.runs++;
      delete m.status.lastError;
      const info = m.sensor.info();
      if (info === undefined) delete m.status.info;
      else m.status.info = info;
      if (samples.length > 0) {
        try {
          opts.onSamples(samples);
        } catch {
          // the consumer's problem
        }
      }
    } catch (e) {
      m.status.lastRunMs = t;
      m.status.lastSamples = 0;
      m.status.runs++;
      m.status.lastError = (e as Error)?.message ?? String(e);
    }
  };

  const loop = async (m: Running): Promise<void> => {
    const signal = m.abort.signal;
    const every = m.spec.intervalMs;
    let next = clock.now();
    while (!signal.aborted) {
      await read(m);
      next += every;
      const now = clock.now();
      if (next <= now) next += Math.ceil((now - next + 1) / every) * every; // overran: skip missed ticks
      try {
        await clock.sleep(next - now, signal);
      } catch {
        return;
      }
    }
  };

  const stop = async (m: Running): Promise<void> => {
    m.abort.abort();
    await m.loop;
  };

  return {
    set(monitor) {
      if (closed) throw new Error('the sensor hub is closed');
      const spec = checkMonitorSpec(monitor);
      const key = JSON.stringify(spec, Object.keys(spec).sort());
      const old = monitors.get(spec.id);
      if (old && old.key === key) return spec;
      const sensor = createSensor(ctx, spec);
      if (old) void stop(old);
      const m: Running = {
        spec,
        key,
        sensor,
        abort: new AbortController(),
        loop: Promise.resolve(),
        status: { spec, lastSamples: 0, runs: 0 },
      };
      monitors.set(spec.id, m);
      m.loop = loop(m);
      return spec;
    },
    remove(id) {
      const m = monitors.get(id);
      if (!m) return false;
      monitors.delete(id);
      void stop(m);
      return true;
    },
    list() {
      return [...monitors.values()]
        .map((m) => ({ ...m.status, spec: { ...m.spec } }))
        .sort((a, b) => a.spec.id.localeCompare(b.spec.id));
    },
    async close() {
      closed = true;
      const all = [...monitors.values()];
      monitors.clear();
      await Promise.all(all.map(stop));
    },
  };
}

/** Mount point of the cgroup v2 hierarchy (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid systems). */
function findCgroup2(procRoot: string): string | undefined {
  try {
    return parseMounts(readProc(procRoot, 'mounts')).find((m) => m.fstype === 'cgroup2')?.path;
  } catch {
    return undefined;
  }
}
