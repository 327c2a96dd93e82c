/**
 * agent — runs on every node: lifecycle handlers with per-step logs and timeouts, start-process
 * supervision and health probes, served over HTTP (program: ./main.ts). Other modules import
 * this door only.
 */
import { fileURLToPath } from 'node:url';

export type * from './protocol.js';
export { agentAnswers, agentRequest, createHttpAgentClient, type AgentTransport } from './client.js';
export {
  agentClientOptions, agentServerOptions, CONTROL_PLANE_NAME, generateKeyPair, issueCertificate, loadAgentCa,
  type AgentCa, type AgentServerTls, type AgentTlsClient, type NodeCertificate,
} from './tls/index.js';
export { AgentBootstrap, BOOTSTRAP_PREFIX, TLS_FILES } from './bootstrap.js';
export { startAgent, type AgentOptions, type RunningAgent } from './server.js';
export { OUTPUT_TAIL_BYTES, RUN_TAG_ENV } from './runner.js';
export { createJobRunner, JOB_ID_ENV, type JobRunner, type JobRunnerOptions } from './jobs.js';
export { shimText } from './job-shim.js';
export { openJobState, SEQ_BLOCK, type JobStateStore, type SavedJob } from './job-state.js';
export { childAwaitsAnswer, parseChildArgs, type ParsedChild } from './child-args.js';
export { cagePids, cgroup2Writable, isNodeCage, killCage } from './cgroup.js';
export { recordedProcesses } from './tracker.js';
export {
  findProcessesByEnv, findProcessGroup, findSession, isAlive, listProcesses, readEnviron, terminate, type ProcInfo,
} from './proc.js';
export {
  checkMonitorSpec, createHttpAgentMetricsClient, createSampleBuffer, createSensorHub, INSTANCE_KINDS, MONITOR_KINDS,
  SENSOR_METRICS, startAgentMetrics,
  type AgentMetricsClient, type MonitorKind, type MonitorSpec, type MonitorStatus, type SampleBuffer, type SampleRead,
  type SensorHub, type SensorHubOptions,
} from './sensors/index.js';

/** Absolute path of the compiled agent program, for drivers that spawn it on this machine. */
export function agentProgramPath(): string {
  return fileURLToPath(new URL('./main.js', import.meta.url));
}
