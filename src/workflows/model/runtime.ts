/**
 * The contract between the workflow parts. The scheduler (../scheduler/) implements
 * `WorkflowRuntime`; the workflows controller (../controller/) gives it `RuntimeHooks`, persists
 * what it reports and hands submissions to pools (../pools/) or engine actions; the job protocol
 * (../jobs/) turns child commands from running jobs into `child(...)` calls.
 */
import type { WfAction, WfDefinition, WfState } from './types.js';

/** A node's run-time state: what survives a control-plane restart (JSON-serialisable). */
export interface WfNodeRuntime {
  readonly path: string;
  state: WfState;
  suspended: boolean;
  /** Try number of the latest submission (ECF_TRYNO); 0 before the first. */
  tryNo: number;
  /** One-time password of the current try; a child command with another one is a zombie. */
  password?: string;
  /** Remote id reported by `--init` (the job's pid). */
  rid?: string;
  events: Record<string, boolean>;
  meters: Record<string, number>;
  labels: Record<string, string>;
  /** Variables added at run time (`--init --add`, `alter`). */
  variables: Record<string, string>;
  /** Index into the repeat's values. */
  repeatIndex?: number;
  /** Why the node was completed or aborted: `by_rule`, `forced`, an abort reason. */
  reason?: string;
  /** Clock ms of the last state change. */
  changedAt: number;
  /** Time attributes already fired in the current cycle (keys chosen by the scheduler). */
  fired?: string[];
  /** ecFlow's flags as `node<flag>NAME` sees them: `late`, `zombie` (`archived` is never set: no autoarchive). */
  flags?: string[];
  /** Each `queue`'s next step index and the state of every step. */
  queues?: Record<string, { index: number; states: WfQueueStepState[] }>;
  /** Removed by its autocancel: no longer part of the workflow (kept so a restart removes it again). */
  removed?: boolean;
}

export type WfQueueStepState = 'queued' | 'active' | 'complete' | 'aborted';

/** What the scheduler asks to run: one try of one task. */
export interface WfSubmission {
  readonly workflow: string;
  /** Absolute task path, `/suite/family/task`. */
  readonly path: string;
  readonly tryNo: number;
  readonly password: string;
  /** Every variable visible to the task (own, generated, inherited, server), for %VAR% and the job env. */
  readonly variables: Readonly<Record<string, string>>;
  /** An engine action, or absent for a script job. */
  readonly action?: WfAction;
}

/** A child command, as ecflow_client's: `--init=rid`, `--event=name [set|clear]`, … */
export type WfChildCommand =
  | { readonly verb: 'init'; readonly rid: string; readonly add?: Readonly<Record<string, string>> }
  | { readonly verb: 'complete'; readonly remove?: readonly string[] }
  | { readonly verb: 'abort'; readonly reason: string }
  | { readonly verb: 'event'; readonly name: string; readonly value: boolean }
  | { readonly verb: 'meter'; readonly name: string; readonly value: number }
  | { readonly verb: 'label'; readonly name: string; readonly value: string }
  /** Resolves when the expression is true (the caller holds the job until then). */
  | { readonly verb: 'wait'; readonly expression: string }
  /**
   * ecflow_client's `--queue NAME ACTION [STEP] [PATH]`: `active` hands out the next step (its
   * value, or `<NULL>` past the last), `complete`/`aborted` mark STEP, `no_of_aborted` counts the
   * aborted steps, `reset` goes back to the first queued or aborted step. The queue is looked
   * for on the task and up its ancestors, or on PATH.
   */
  | { readonly verb: 'queue'; readonly name: string; readonly action: 'active' | 'complete' | 'aborted' | 'no_of_aborted' | 'reset'; readonly step?: string; readonly path?: string };

export interface WfChildIdentity {
  readonly workflow: string;
  readonly path: string;
  readonly password: string;
  readonly tryNo: number;
  readonly rid?: string;
}

export type WfChildResult =
  /** `value`: what the command answers (a `--queue active` step, a `no_of_aborted` count). */
  | { readonly ok: true; readonly value?: string }
  /** Refused: a wrong password, a stale try, or a task that is no longer active. Recorded. */
  | { readonly ok: false; readonly zombie: true; readonly why: string }
  /** Refused for another reason (unknown event or meter, a value out of range, a bad expression). */
  | { readonly ok: false; readonly zombie: false; readonly why: string };

/** One dependency a node still waits for, as `why` lists them. */
export interface WfWhy {
  readonly path: string;
  /** e.g. `trigger`, `complete`, `time`, `date`, `day`, `cron`, `limit`, `parent`, `suspended`, `state`. */
  readonly kind: string;
  /** Human-readable: `/s/f/a is active, needs complete`, `limit /s:lim has 0 of 8 tokens free`. */
  readonly detail: string;
}

/** What the runtime tells its owner. Called synchronously, in order. */
export interface RuntimeHooks {
  /** Run this try (a job on a pool, or an engine action). The answer comes back as child commands. */
  submit(sub: WfSubmission): void;
  /** Stop a running try (kill). The runtime has already set the node's state. */
  kill(workflow: string, path: string, tryNo: number): void;
  /** Nodes whose run-time state changed in this step (persist them; emit events). */
  changed(workflow: string, nodes: readonly WfNodeRuntime[]): void;
  /** A refused child command (audit it). */
  zombie(workflow: string, identity: WfChildIdentity, command: WfChildCommand, why: string): void;
}

/** User commands, as ecflow_client's `--suspend`, `--requeue`, … */
export type WfUserCommand =
  | { readonly verb: 'begin'; readonly path?: string }
  | { readonly verb: 'suspend'; readonly path: string }
  | { readonly verb: 'resume'; readonly path: string }
  /** `mode`: `all` (default) or `aborted` only. */
  | { readonly verb: 'requeue'; readonly path: string; readonly mode: 'all' | 'aborted' }
  | { readonly verb: 'force'; readonly path: string; readonly state: 'complete' | 'aborted' | 'queued' }
  /** Runs the task now, ignoring its dependencies. */
  | { readonly verb: 'run'; readonly path: string }
  | { readonly verb: 'kill'; readonly path: string }
  | { readonly verb: 'alter'; readonly path: string; readonly variable: string; readonly value: string };

/**
 * One loaded workflow being run. Every method is synchronous and event-driven: a child command
 * or a user command evaluates the dependents it can free at once (no polling tick); time
 * attributes wake on the Clock the runtime was built with.
 */
export interface WorkflowRuntime {
  readonly definition: WfDefinition;
  user(command: WfUserCommand): WfChildResult;
  child(identity: WfChildIdentity, command: WfChildCommand): WfChildResult | Promise<WfChildResult>;
  /** A try's process is gone without reporting (the agent saw it exit): abort it, retry per ECF_TRIES. */
  lost(path: string, tryNo: number, detail: string): void;
  /** A submission could not be started (no pool, dispatch failed): abort the try with `detail`. */
  failedToStart(path: string, tryNo: number, detail: string): void;
  node(path: string): WfNodeRuntime | undefined;
  nodes(): Iterable<WfNodeRuntime>;
  why(path: string): WfWhy[];
  /** Loads run-time states saved from an earlier run (after a restart), then resumes scheduling. */
  restore(nodes: readonly WfNodeRuntime[]): void;
  /** Stops the runtime's clock waits. */
  close(): void;
}
