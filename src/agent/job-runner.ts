/**
 * The agent's workflow-job runner as the agent's server uses it (./jobs.ts builds it): run and
 * kill jobs, read their feed, answer their waiting calls, re-adopt an earlier agent's jobs.
 */
import type { JobAnswer, JobFeed, JobInfo, JobRequest, JobStatusList } from './protocol.js';

export interface JobRunnerOptions {
  sandbox: string;
  nodeId: string;
  /** Between SIGTERM and SIGKILL when killing a job's process group. Default 2000. */
  killGraceMs?: number;
  /** Feed records kept. Default 20,000. */
  feedKeep?: number;
  /** What the shim runs outside an agent job: `[node, cli main]`. Default this install's CLI. */
  cli?: readonly string[];
  /** Threads that start job processes (./spawner.ts). Default SPAWN_THREADS. */
  spawnThreads?: number;
  log?: (line: string) => void;
}

export interface JobRunner {
  readonly epoch: string;
  /** Starts the job (or finds it by jobId) and returns once it was launched. */
  run(req: JobRequest): Promise<JobInfo>;
  /** Kills the job's process group; false when the job is unknown. */
  kill(jobId: string): Promise<boolean>;
  status(): JobStatusList;
  feed(after: number, waitMs: number, signal?: AbortSignal): Promise<JobFeed>;
  answer(answers: readonly JobAnswer[]): void;
  /** A try's output; undefined when there is none. */
  logs(job: string | { workflow: string; path: string; tryNo: number }): string | undefined;
  /**
   * Re-adopts the jobs an earlier agent of this sandbox saved: the ones still alive are read and
   * watched again, the ones that ended meanwhile get their `exited` record (./job-restore.ts).
   * Call once, before `reapOrphans` and before any `run`.
   */
  restore(): Promise<{ adopted: number; ended: number }>;
  /**
   * Kills what jobs of an earlier agent of this node left running (they cannot report to this
   * one; the control plane sees the new epoch and counts them lost). Resolves with their number.
   */
  reapOrphans(): Promise<number>;
  /** With `killJobs`, kills every running job; without, leaves them (and their saved state) to the next agent. Stops feed waits either way. */
  close(killJobs: boolean): Promise<void>;
}
