/** Table shapes, as Kysely sees them. Timestamps are integer milliseconds since the epoch. */
import type { AlertObjectTable, AlertTable, AlertDeliveryTable } from './alerts-tables.js';
import type { Generated } from 'kysely';
import type { UserTable, UserRoleTable, SessionTable, CatalogTemplateTable, CatalogOrderTable } from './users-tables.js';

export interface MetaTable {
  key: string;
  value: string;
}

export interface TokenTable {
  id: string;
  name: string;
  /** sha256 hex of the token; the token itself is never stored. */
  hash: string;
  /** The tenant the token acts in (registries are per tenant); `default` for the first token. */
  tenant: string;
  created_at: number;
  /** admin | operator | viewer in its tenant (migration 0031; tokens made before are admin). */
  role: Generated<string>;
  /** The user a personal token belongs to (migration 0031); null for the administrator's tokens. */
  user_name: string | null;
}

export interface DeploymentTable {
  /** The deployment id: `<name>` in tenant `default`, `<tenant>.<name>` elsewhere (src/engine/tenancy.ts). */
  name: string;
  /** Whose deployment it is (migration 0006). */
  tenant: string;
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
  /** JSON: the rolling update's target revisions and progress (migration 0013); null before any. */
  rollout_json: string | null;
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
  /** JSON Placement chosen by requirement-based selection (migration 0003); null when the template names its cloud. */
  placement_json: string | null;
  /** Clock ms the cloud first said the node runs (migration 0024). */
  running_at?: number | null;
  /** Clock ms its agent first answered (migration 0024); null: still booting or contextualizing. */
  agent_up_at?: number | null;
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
  /** The revision (`<lifecycle hashes>/<node template hash>`) it was installed from (migration 0013); null: older, stamped on the next apply. */
  revision: string | null;
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

/** A run of a custom operation on some instances of a component (migration 0025). */
export interface OperationRunTable {
  /** `op-<random>`; unique across tenants. */
  id: string;
  /** The deployment id (tenant-scoped: `<tenant>.<name>` outside `default`). */
  deployment: string;
  component: string;
  operation: string;
  /** The checked values, as JSON. */
  params_json: string;
  /** Who asked (`user:<token>`, `workflow:<name>`, …) and why. */
  actor: string;
  reason: string;
  /** running | succeeded | failed | partial | interrupted */
  state: string;
  created_at: number;
  ended_at: number | null;
}

/** One instance's part of an operation run. */
export interface OperationInstanceRunTable {
  run_id: string;
  instance: string;
  /** pending | running | succeeded | failed | timed-out | skipped | interrupted */
  state: string;
  exit_code: number | null;
  output: string;
  /** Why it did not run or what went wrong besides the exit code. */
  detail: string | null;
  started_at: number | null;
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
  /** The tenant that may see the event (migration 0006). */
  tenant: Generated<string>;
}

/** A cloud registered for a tenant (see src/registry). */
export interface RegCloudTable {
  tenant: string;
  name: string;
  platform: string;
  /** JSON object: the driver's options (never secrets: those live in `credentials`). */
  options_json: string;
  /** Name of the tenant's credential the driver receives, if any. */
  credential: string | null;
  /** When discovery last succeeded (ms), null if never. */
  last_discovered_at: number | null;
  /** Last discovery failure (code: message), cleared by a successful one. */
  last_discovery_error: string | null;
  created_at: number;
  updated_at: number;
}

/** A location, hardware offer or image of a registered cloud. */
export interface RegEntryTable {
  tenant: string;
  cloud: string;
  /** location | offer | image */
  kind: string;
  id: string;
  /** JSON of the entry (src/registry/types.ts). */
  data_json: string;
  /** discovered | manual: manual entries survive discovery refreshes. */
  source: string;
  updated_at: number;
}

/** An encrypted credential: only the field names are in the clear. */
export interface CredentialTable {
  tenant: string;
  name: string;
  /** JSON array of the field names (never their values). */
  fields_json: string;
  /** base64 of nonce (12) ‖ tag (16) ‖ AES-256-GCM ciphertext of the JSON fields. */
  sealed: string;
  /** Fingerprint of the key that sealed it (first 16 hex of sha256 of the key). */
  key_id: string;
  created_at: number;
  updated_at: number;
}

/** One provider call attempt, for accounting (availability, latency percentiles). */
export interface DriverCallTable {
  id: Generated<number>;
  ts: number;
  cloud: string;
  op: string;
  /** ok | error */
  outcome: string;
  /** Error code when outcome is error. */
  code: string | null;
  latency_ms: number;
}

/** A metric definition, rule or schedule created at run time (migration 0002). */
export interface MetricObjectTable {
  /** The tenant that made it (migration 0009; 'default' for older rows). */
  tenant: string;
  /** metric | rule | schedule | scrape */
  kind: string;
  name: string;
  /** The deployment it belongs to; empty for a metric definition of no deployment. */
  deployment: string;
  body_json: string;
  updated_at: number;
}

/** A loaded workflow (migration 0018): its id is tenant-scoped like a deployment's. */
export interface WorkflowTable {
  id: string;
  tenant: string;
  /** The name its tenant knows it by. */
  name: string;
  /** The WfDefinition (src/workflows/model) as JSON. */
  def_json: string;
  /** The text it was loaded from (.def or YAML). */
  source_text: string;
  file: string;
  /** def | yaml */
  format: string;
  /** loaded | begun */
  status: string;
  /** Bumped on every load of the same name. */
  version: number;
  created_at: number;
  updated_at: number;
}

/** A script or include file uploaded with a workflow (path relative to its ECF_FILES/ECF_INCLUDE/ECF_HOME roots). */
export interface WorkflowFileTable {
  workflow: string;
  path: string;
  content: string;
}

/** One node's run-time state (WfNodeRuntime as JSON). */
export interface WorkflowNodeTable {
  workflow: string;
  path: string;
  state_json: string;
  /** A task's latest submission (WfSubmission as JSON: its variables), to start it again after a restart. */
  sub_json: string | null;
}

/** A chunk of the output of one try of a task. */
export interface WorkflowLogTable {
  workflow: string;
  path: string;
  try_no: number;
  seq: number;
  ts: number;
  text: string;
}

/** The job dispatcher's saved state (migration 0019); one row per dispatcher (`jobs`). */
export interface WorkflowDispatchTable {
  key: string;
  state_json: string;
  updated_at: number;
}

/** The node a try of a task was started on (migration 0019). */
export interface WorkflowTryTable {
  workflow: string;
  path: string;
  try_no: number;
  node: string;
  started_at: number;
}

/** Access delivery per deployment (migration 0024; ./access.ts). */
export interface DeploymentAccessTable {
  deployment: string;
  tenant: string;
  ready_at: number | null;
  shown_at: number | null;
  shown_by: string | null;
}

/** An instance's recovery ladder (migration 0022; src/operations/recovery). */
export interface RecoveryStateTable {
  /** The instance's resource key, `<deployment>/<instance>`. */
  key: string;
  tenant: string;
  deployment: string;
  instance: string;
  component: string;
  /** watching | recovering | gave-up */
  status: string;
  /** The ladder state (src/operations/recovery/ladder.ts) as JSON. */
  state_json: string;
  updated_at: number;
}

/** A backup, restore or restore drill of one instance under a backup policy (migration 0026). */
export interface BackupRunTable {
  /** `bk-…` backup, `rs-…` restore, `dr-…` drill; unique across tenants. */
  id: string;
  tenant: string;
  /** The deployment id (tenant-scoped). */
  deployment: string;
  policy: string;
  component: string;
  instance: string;
  /** backup | restore | drill */
  kind: string;
  /** running | succeeded | failed | pruned (a backup retention removed) */
  state: string;
  /** schedule | manual | destroy | recovery */
  trigger: string;
  /** snapshot | archive */
  what: string;
  /** The store, for people (no secrets), and the object's key in it. */
  store_desc: string;
  store_key: string | null;
  /** Size and SHA-256 recorded at the source (and checked in the store). */
  size_bytes: number | null;
  sha256: string | null;
  /** The cloud snapshot kept for recovery (a SnapshotRef as JSON), or a drill's scratch node. */
  source_json: string | null;
  /** restore, drill: the backup used. */
  backup_id: string | null;
  /** backup: when a restore drill of it passed (only then it counts as verified). */
  verified_at: number | null;
  detail: string | null;
  actor: string;
  reason: string;
  started_at: number;
  ended_at: number | null;
}

export interface Database {
  alert_objects: AlertObjectTable;
  alerts: AlertTable;
  alert_deliveries: AlertDeliveryTable;
  meta: MetaTable;
  tokens: TokenTable;
  deployments: DeploymentTable;
  artefacts: ArtefactTable;
  nodes: NodeTable;
  instances: InstanceTable;
  step_runs: StepRunTable;
  events: EventTable;
  metric_objects: MetricObjectTable;
  reg_clouds: RegCloudTable;
  reg_entries: RegEntryTable;
  credentials: CredentialTable;
  driver_calls: DriverCallTable;
  workflows: WorkflowTable;
  workflow_files: WorkflowFileTable;
  workflow_nodes: WorkflowNodeTable;
  workflow_logs: WorkflowLogTable;
  workflow_dispatch: WorkflowDispatchTable;
  workflow_tries: WorkflowTryTable;
  operation_runs: OperationRunTable;
  operation_instance_runs: OperationInstanceRunTable;
  deployment_access: DeploymentAccessTable;
  recovery_states: RecoveryStateTable;
  // [backups] entries below (helper h/backups; keep them under this line)
  backup_runs: BackupRunTable;

  // [stores] entries below (helper h/stores; keep them under this line)

  // [replicas] entries below (helper h/replicas; keep them under this line)

  // [leaks] entries below (helper h/leaks; keep them under this line)

  // [images] entries below (helper h/images; keep them under this line)

  // [placement] entries below (helper h/placement; keep them under this line)

  // [users] entries below (helper h/users; keep them under this line)
  users: UserTable;
  user_roles: UserRoleTable;
  sessions: SessionTable;
  catalog_templates: CatalogTemplateTable;
  catalog_orders: CatalogOrderTable;

  // [console] entries below (helper h/console; keep them under this line)
}
