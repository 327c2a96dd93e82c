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

/** What an agent runs: a lifecycle handler, or a custom operation (the step `operation`). */
export type StepName = HandlerName | 'operation';

export interface StepRequest {
  /** Unique per (instance, step, attempt); repeated requests with the same runId are de-duplicated. */
  runId: string;
  /** Instance name within the deployment, e.g. `app-2`. */
  instance: string;
  step: StepName;
  /** For step `operation`: the operation's name (in the log header and `NUBIS_OPERATION`). */
  operation?: string;
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
  /** Probes run since the start process was launched: how many passed and failed (recovery counts failures over a window). */
  probes?: { passed: number; failed: number };
  lastStep?: { step: StepName; runId: string; state: StepResult['state'] };
}

export interface AgentStatus {
  node: string;
  startedAt: number;
  instances: InstanceStatus[];
}

// --- workflow jobs ---------------------------------------------------------------------------

/**
 * One try of a workflow task run as a job on the node (see ./jobs.ts). `jobId` makes the call
 * idempotent: asking again for a job the agent has returns its state instead of starting it twice.
 */
export interface JobRequest {
  /** 1–200 characters of letters, digits and `._:/@-`; unique per try. */
  jobId: string;
  workflow: string;
  /** Absolute task path, `/suite/family/task`. */
  path: string;
  tryNo: number;
  /** The preprocessed job script; run by its `#!` line, else by /bin/sh. */
  script: string;
  /** The job's environment (ECF_NAME, ECF_PASS, ECF_TRYNO, …); the agent adds its own on top. */
  env: Record<string, string>;
  /** Kill the job's process group after this long; absent: no limit. */
  timeoutMs?: number;
}

export interface JobInfo {
  jobId: string;
  workflow: string;
  path: string;
  tryNo: number;
  state: 'running' | 'exited';
  /** The job's pid, also its process group id and ECF_RID. */
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  startedAt: number;
  endedAt?: number;
  /**
   * The latest event, meter and label call of each name (with its caller), in jobStatus only:
   * a restarted control plane applies them again, since it may have missed them.
   */
  latest?: { caller: JobCaller; command: JobChildCommand }[];
}

/** A child command as the job sent it (the same shape as the workflows' WfChildCommand). */
export type JobChildCommand =
  | { readonly verb: 'init'; readonly rid: string; readonly add?: Readonly<Record<string, string>> }
  | { readonly verb: 'complete'; readonly remove?: readonly string[] }
  | { readonly verb: 'abort'; readonly reason: string }
  | { readonly verb: 'event'; readonly name: string; readonly value: boolean }
  | { readonly verb: 'meter'; readonly name: string; readonly value: number }
  | { readonly verb: 'label'; readonly name: string; readonly value: string }
  | { readonly verb: 'wait'; readonly expression: string }
  | { readonly verb: 'queue'; readonly name: string; readonly action: 'active' | 'complete' | 'aborted' | 'no_of_aborted' | 'reset'; readonly step?: string; readonly path?: string };

/** Who sent a child command: the ECF_* variables of the calling process (a job may change them). */
export interface JobCaller {
  name: string;
  password: string;
  tryNo: number;
  rid?: string;
}

/** One entry of the agent's ordered feed of what its jobs did. `seq` grows by one per record. */
export type JobFeedRecord =
  | {
      seq: number;
      jobId: string;
      kind: 'child';
      caller: JobCaller;
      command: JobChildCommand;
      /** The job waits for an answer to this record (init, complete, abort, wait): POST it with answerJobs. */
      awaitsAnswer: boolean;
      at: number;
    }
  /** A line from the job that is not a valid child command; the job got a refusal already. */
  | { seq: number; jobId: string; kind: 'invalid'; detail: string; at: number }
  /** The job's process is gone; `detail` says why its exit status is unknown (both null; ./job-restore.ts). */
  | { seq: number; jobId: string; kind: 'exited'; exitCode: number | null; signal: string | null; detail?: string; at: number };

export interface JobFeed {
  /**
   * Changes when the agent starts afresh (its seq numbers start again then). An agent restarted on
   * the same sandbox keeps it, and its seqs go on (it re-adopts its running jobs).
   */
  epoch: string;
  records: JobFeedRecord[];
  /** The seq to ask after next time (the last record's, or `after` when none). */
  last: number;
  /** The oldest seq still kept; a caller whose `after` is older than `oldest - 1` missed records. */
  oldest: number;
}

/** The control plane's answer to a record that awaits one. */
export interface JobAnswer {
  seq: number;
  ok: boolean;
  /** Why it was refused (shown by the job's `nubis child` on stderr). */
  why?: string;
  /** What an accepted command answers (`--queue NAME active`: the step), printed by the job's `nubis child`. */
  value?: string;
}

export interface JobStatusList {
  epoch: string;
  /** The seq of the latest feed record. */
  last: number;
  jobs: JobInfo[];
  /** Child records still waiting for their answer (a restarted control plane answers them). */
  pending: JobFeedRecord[];
}

/** A tar of instance files streamed from the node (./archive.ts). */
export interface InstanceArchive {
  /**
   * The tar's bytes. Iterating fails at the end when the body was cut, tar failed on the node, or
   * the bytes differ from the agent's own count (BACKUP_VERIFY_FAILED).
   */
  bytes: AsyncIterable<Uint8Array>;
  /** Once `bytes` ended: the size and SHA-256 the agent recorded as it sent them. */
  source(): { sizeBytes: number; sha256: string } | undefined;
}

export interface AgentClient {
  /** Runs a step and waits for it to end (or `timeoutMs` plus a margin). */
  runStep(req: StepRequest, signal: AbortSignal): Promise<StepResult>;
  /** Stops the instance's supervised process (kills its process tree) and forgets its probe. */
  stopInstance(instance: string, signal: AbortSignal): Promise<void>;
  status(signal: AbortSignal): Promise<AgentStatus>;
  /** Full log of a step's latest run, or of all steps in order when `step` is absent. */
  logs(instance: string, step: StepName | undefined, signal: AbortSignal): Promise<string>;

  // Workflow jobs (optional: an agent without them cannot run jobs).
  /** Starts the job and returns at once (the job's state after the start). */
  runJob?(req: JobRequest, signal: AbortSignal): Promise<JobInfo>;
  /** Kills the job's process group; a job that already exited is left as it is. NOT_FOUND for an unknown job. */
  killJob?(jobId: string, signal: AbortSignal): Promise<void>;
  jobStatus?(signal: AbortSignal): Promise<JobStatusList>;
  /**
   * Records after `after`; waits up to `waitMs` when there are none, and answers as soon as one
   * comes. `answers` (to earlier records) are delivered first, in the same round trip.
   */
  jobFeed?(after: number, waitMs: number, signal: AbortSignal, answers?: readonly JobAnswer[]): Promise<JobFeed>;
  /** Answers records that await one; answers for unknown or already answered records are ignored. */
  answerJobs?(answers: readonly JobAnswer[], signal: AbortSignal): Promise<void>;
  /** The output of one try (by jobId, or by workflow, path and try number); '' when there is none. */
  jobLogs?(job: string | { workflow: string; path: string; tryNo: number }, signal: AbortSignal): Promise<string>;

  // Instance archives for backups (optional: an agent without them is backed up by snapshots only).
  /** A tar of `paths` (relative to the instance directory), streamed. */
  archive?(instance: string, paths: string[], signal: AbortSignal): Promise<InstanceArchive>;
  /** Extracts a tar into the instance directory; resolves with the size and SHA-256 the agent received. */
  extract?(instance: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<{ sizeBytes: number; sha256: string }>;
}
