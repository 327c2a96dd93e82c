/** Table shapes, as Kysely sees them. Timestamps are integer milliseconds since the epoch. */
import type { Generated } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

export interface TokenTable {
  id: string;
  name: string;
  /** sha256 hex of the token; the token itself is never stored. */
  hash: string;
  created_at: number;
}

export interface DeploymentTable {
  name: string;
  /** Normalised AppSpec as JSON. */
  spec_json: string;
  /** The YAML as the user sent it. */
  spec_text: string;
  file: string;
  version: number;
  /** active | destroying */
  status: string;
  /** JSON: component → count set by `scale`, overriding the spec until the next apply. */
  counts_json: string;
  /** JSON: component → next ordinal to hand out (ordinals are never reused). */
  ordinals_json: string;
  /** Correlation id of the request that last changed the desired state; carried by the actions it causes. */
  correlation_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface ArtefactTable {
  deployment: string;
  path: string;
  content: Buffer;
  mode: number;
}

export interface NodeTable {
  /** `<deployment>/<instance>` */
  key: string;
  deployment: string;
  cloud: string;
  /** pending | creating | provisioning | running | deleting | failed */
  status: string;
  /** Idempotency token for the create; fixed once the intent is persisted. */
  token: string;
  provider_id: string | null;
  /** JSON CloudNode as last observed. */
  observed_json: string | null;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface InstanceTable {
  key: string;
  deployment: string;
  component: string;
  ordinal: number;
  /** 1 while the instance is wanted; 0 once scale-in or destroy chose it for removal. */
  desired: number;
  /** pending | installed | configured | started | running | stopping | stopped | failed */
  phase: string;
  /** Hash of the wiring last delivered to the handlers. */
  wiring_hash: string | null;
  /** Counter for step run ids; bumped and persisted before each step is sent to the agent. */
  run_seq: number;
  /** runId of the step sent and not yet recorded as finished: re-asked after a restart. */
  inflight_run: string | null;
  restarts: number;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface StepRunTable {
  id: Generated<number>;
  deployment: string;
  instance: string;
  step: string;
  run_id: string;
  state: string;
  exit_code: number | null;
  output: string;
  started_at: number;
  ended_at: number | null;
}

export interface EventTable {
  id: Generated<number>;
  ts: number;
  deployment: string | null;
  kind: string;
  actor: string;
  reason: string | null;
  correlation_id: string | null;
  target: string | null;
  outcome: string | null;
  data: string | null;
}

export interface Database {
  meta: MetaTable;
  tokens: TokenTable;
  deployments: DeploymentTable;
  artefacts: ArtefactTable;
  nodes: NodeTable;
  instances: InstanceTable;
  step_runs: StepRunTable;
  events: EventTable;
}
