/**
 * What the control plane asks of a node's agent. The `local` driver's agent speaks this over
 * HTTP; the `sim` driver answers in memory. All calls are idempotent by `runId`: asking again
 * for a run the agent already has returns that run's state instead of starting it twice.
 */
import type { HandlerName } from '../model/types.js';

export interface InstanceFiles {
  /** Relative path inside the instance directory. */
  path: string;
  /** File content, base64. */
  base64: string;
  mode?: number;
}

export interface HealthProbe {
  kind: 'command' | 'tcp' | 'http';
  command?: string;
  /** Resolved port number for tcp/http. */
  port?: number;
  /** Address the instance serves on (its node's address); default 127.0.0.1. */
  host?: string;
  path?: string;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
}

export interface StepRequest {
  /** Unique per (instance, step, attempt); repeated requests with the same runId are de-duplicated. */
  runId: string;
  /** Instance name within the deployment, e.g. `app-2`. */
  instance: string;
  step: HandlerName;
  /** Shell command; absent means the step is a no-op that succeeds. */
  command?: string;
  timeoutMs: number;
  /** Full environment for the handler (wiring included). */
  env: Record<string, string>;
  /** Written to `$NUBIS_WIRING_FILE` before the handler runs. */
  wiring: unknown;
  /** Artefacts to place in the instance directory before the step (install only). */
  files?: InstanceFiles[];
  /** For `start`: the probe the agent runs from then on. */
  health?: HealthProbe;
}

/**
 * How a step ended. For `start`, the command is the instance's long-running process: the step
 * succeeds once it has been launched and is still alive after a short grace period (or has
 * exited 0, for start scripts that daemonise); the agent then supervises it and reports
 * `exited` in `status` if it dies.
 */
export interface StepResult {
  runId: string;
  state: 'running' | 'succeeded' | 'failed' | 'timed-out';
  exitCode?: number | null;
  signal?: string | null;
  /** Last part of combined stdout/stderr (at most 64 KiB). */
  output: string;
  startedAt: number;
  endedAt?: number;
}

export interface InstanceStatus {
  instance: string;
  /** The supervised start process. */
  process: 'none' | 'running' | 'exited';
  pid?: number;
  exitCode?: number | null;
  /** From the health probe: unknown until the first probe result. */
  health: 'unknown' | 'healthy' | 'unhealthy';
  /** Last probe failure message. */
  healthDetail?: string;
  lastStep?: { step: HandlerName; runId: string; state: StepResult['state'] };
}

export interface AgentStatus {
  node: string;
  startedAt: number;
  instances: InstanceStatus[];
}

export interface AgentClient {
  /** Runs a step and waits for it to end (or `timeoutMs` plus a margin). */
  runStep(req: StepRequest, signal: AbortSignal): Promise<StepResult>;
  /** Stops the instance's supervised process (kills its process tree) and forgets its probe. */
  stopInstance(instance: string, signal: AbortSignal): Promise<void>;
  status(signal: AbortSignal): Promise<AgentStatus>;
  /** Full log of a step's latest run, or of all steps in order when `step` is absent. */
  logs(instance: string, step: HandlerName | undefined, signal: AbortSignal): Promise<string>;
}
