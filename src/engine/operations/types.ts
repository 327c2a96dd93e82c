/** What a custom operation run is asked for and what it shows (API, CLI, callers of runOperation). */
import type { ParamValue } from '../../model/index.js';

/** How to run an operation. Everything is optional: all running instances, defaults, all at once. */
export interface RunOperationRequest {
  /** Instance names (`app-2`) of the component; absent: every instance (those not running are skipped). */
  instances?: string[];
  /** Parameter values by name; a string is read as its parameter's type (`"7"` for an integer). */
  params?: Record<string, ParamValue>;
  /** Most instances running it at once. Default: all of them. */
  parallel?: number;
  /** Why, for the audit log. Default: `operation <name> requested`. */
  reason?: string;
  /** false: answer once the run has started (state `running`); default true: once every instance has ended. */
  wait?: boolean;
}

export type OperationRunState = 'running' | 'succeeded' | 'failed' | 'partial' | 'interrupted';
export type OperationInstanceState = 'pending' | 'running' | 'succeeded' | 'failed' | 'timed-out' | 'skipped' | 'interrupted';

export interface OperationInstanceView {
  instance: string;
  state: OperationInstanceState;
  exitCode: number | null;
  /** Combined stdout and stderr (its last 64 KiB), secrets shown as ***. */
  output: string;
  /** Why it was skipped, or what failed besides the exit code (an unreachable agent). */
  detail?: string;
  startedAt?: string;
  endedAt?: string;
}

export interface OperationRunView {
  /** `op-<hex>`: give it to `nubis logs <instance> --operation`. */
  id: string;
  deployment: string;
  component: string;
  operation: string;
  /** The values the handler got (defaults filled in). */
  params: Record<string, ParamValue>;
  actor: string;
  reason: string;
  /** succeeded: every instance did; failed: none did; partial: some did. */
  state: OperationRunState;
  createdAt: string;
  endedAt?: string;
  instances: OperationInstanceView[];
}
