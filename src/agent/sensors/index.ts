/**
 * Sensors in the agent (Visor's role): node and component-instance monitors, each on its own
 * interval, added, changed and removed at run time; and the agent's metric buffer, Graphite
 * listener and push endpoint. Metric names: ./README.md.
 */
export { createSensorHub, type MonitorStatus, type SensorHub, type SensorHubOptions } from './hub.js';
export { checkMonitorSpec, INSTANCE_KINDS, MONITOR_KINDS, type MonitorKind, type MonitorSpec } from './spec.js';
export { METRICS as SENSOR_METRICS } from './sensors.js';
export { createSampleBuffer, DEFAULT_BUFFER_SAMPLES, type SampleBuffer, type SampleRead } from './buffer.js';
export { startAgentMetrics, type AgentMetrics, type AgentMetricsOptions } from './agent-metrics.js';
export { createHttpAgentMetricsClient, type AgentMetricsClient } from './client.js';
export { parseHostPort, tcpLatency, type TcpLatencyResult } from './probes.js';
export {
  parseDiskstats, parseMeminfo, parseMounts, parseNetDev, parseProcStat, type CpuTimes, type DiskCounters, type MemInfo,
  type MountEntry, type NetCounters,
} from './procfs.js';
