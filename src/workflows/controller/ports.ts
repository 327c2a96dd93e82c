/**
 * What the workflows controller needs of the other workflow units and of the control plane,
 * as small ports: each real unit plugs in with one line in ./wiring.ts. A port that is absent
 * makes the controller refuse what needs it with a clear reason (a job task aborts with "no job
 * runner in this control plane"); nothing pretends to have run.
 */
import type { WfAction, WfDefinition, WfPool } from '../model/types.js';
import type { WfChildCommand, WfChildIdentity, WfChildResult, WfSubmission, WorkflowRuntime, RuntimeHooks } from '../model/runtime.js';
import type { Clock } from '../../clock/index.js';
import type { Expr } from '../model/types.js';

/** Builds a runtime (the scheduler's `createRuntime`). */
export type RuntimeFactory = (def: WfDefinition, opts: {
  clock: Clock;
  hooks: RuntimeHooks;
  serverVariables?: Record<string, string>;
  password?: () => string;
  parseExpression?: (text: string) => Expr;
}) => WorkflowRuntime;

/** Reads, checks and prints definitions (the def unit). Every throw names file:line:col. */
export interface DefPort {
  parseDef(text: string, file: string): WfDefinition;
  parseYaml(text: string, file: string): WfDefinition;
  check(def: WfDefinition): void;
  print(def: WfDefinition): string;
  /** Parses a `--wait` expression. */
  parseExpression?(text: string): Expr;
}

/** The files uploaded with a workflow, by relative path. */
export type WorkflowFiles = ReadonlyMap<string, string>;

/** Finds a task's script among the uploaded files and preprocesses it (the script unit). */
export interface ScriptPort {
  /**
   * The job text of one try; throws NubisError (WORKFLOW_INVALID, JOB_CREATION_FAILED) naming the
   * file and variable. A promise when a command makes the script (ECF_SCRIPT_CMD, ECF_FETCH).
   */
  jobText(sub: WfSubmission, files: WorkflowFiles): string | Promise<string>;
}

/** Runs an engine action task (the actions unit's `runAction` over the control plane). */
export interface ActionPort {
  run(action: WfAction, ctx: {
    tenant: string;
    workflow: string;
    path: string;
    pools: readonly WfPool[];
    /** The task's variables (NUBIS_ACTION_TIMEOUT, …). */
    variables: Readonly<Record<string, string>>;
    signal: AbortSignal;
    /** Progress worth showing (a ready-by plan): the task's `nubis_action` label. */
    progress?: (text: string) => void;
  }): Promise<{ detail?: string }>;
}

/** A node of a pool that can take jobs: a running instance of the pool's component. */
export interface PoolMember {
  /** The instance key (`<deployment id>/<component>-<n>`), which the jobs unit resolves to its node's agent. */
  readonly id: string;
  /** The agent's CPU load, when known (least-loaded dispatch breaks ties on it). */
  readonly load?: number;
}

/** Where a pool's nodes come from (the engine's instances of the pool's component). */
export interface PoolPort {
  /** The pool's nodes that can take jobs now. */
  members(tenant: string, pool: WfPool): PoolMember[];
  /** Calls `fn` when the pool's deployment changes (instances come and go); returns an unsubscribe. */
  watch(tenant: string, pool: WfPool, fn: () => void): () => void;
  /** The pool component's wanted node count (for a pool that grows and shrinks with its queue). */
  size?(tenant: string, pool: WfPool): Promise<number>;
  /** Scales the pool's component, as the workflow (`workflow:<name>`), with the decision's reason. */
  scale?(tenant: string, workflow: string, pool: WfPool, count: number, reason: string): Promise<void>;
}

/** One job to start on a node. */
export interface JobStart {
  readonly tenant: string;
  /** Workflow id (tenant-scoped). */
  readonly workflowId: string;
  readonly sub: WfSubmission;
  /** The preprocessed script. */
  readonly script: string;
  readonly pool: WfPool;
  readonly node: string;
  /** Relays a child command of the job (its shim talks to the node's agent, the agent to this). */
  readonly child: (identity: WfChildIdentity, command: WfChildCommand) => Promise<WfChildResult>;
  /** The job's process is gone without reporting. */
  readonly lost: (detail: string) => void;
  /** The job ended (reported or lost): its slot is free. */
  readonly ended: () => void;
}

/** Runs script jobs on pool nodes through their agents (the jobs unit). */
export interface JobPort {
  /**
   * Starts one try; resolves once the agent took it, rejects when it could not be started.
   * Starting a try again (same password) re-attaches to it when its agent still runs it.
   */
  start(job: JobStart): Promise<void>;
  kill(workflowId: string, path: string, tryNo: number): void;
  /** A try's output, kept by the agent of the node it ran on; undefined when unknown. */
  logs(tenant: string, workflowId: string, path: string, tryNo: number, node: string | undefined): Promise<string | undefined>;
  /**
   * After a control-plane restart (every workflow's runtime restored): re-attaches to the jobs
   * still running. Resolves with the node of each, by `tryKey(workflowId, path, tryNo)`; the
   * ones that are gone were reported lost.
   */
  resume?(): Promise<Map<string, string>>;
  /** Stops watching jobs (they keep running on their nodes; `resume` re-attaches). */
  close?(): Promise<void>;
}

/** The key of one try in `JobPort.resume`'s answer. */
export const tryKey = (workflowId: string, path: string, tryNo: number): string => `${workflowId}\n${path}#${tryNo}`;

export interface WorkflowPorts {
  runtime?: RuntimeFactory;
  defs?: DefPort;
  script?: ScriptPort;
  actions?: ActionPort;
  pools?: PoolPort;
  jobs?: JobPort;
}
