/**
 * Versioned migrations. Written with the schema builder only (no dialect-specific SQL) so the
 * same schema runs on SQLite and PostgreSQL. Never edit a migration that has shipped; add one.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('meta').addColumn('key', 'text', (c) => c.primaryKey()).addColumn('value', 'text', (c) => c.notNull()).execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('deployments')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('spec_json', 'text', (c) => c.notNull())
        .addColumn('spec_text', 'text', (c) => c.notNull())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('counts_json', 'text', (c) => c.notNull())
        .addColumn('ordinals_json', 'text', (c) => c.notNull())
        .addColumn('correlation_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('artefacts')
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('content', sql`blob`, (c) => c.notNull())
        .addColumn('mode', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('artefacts_pk', ['deployment', 'path'])
        .execute();
      await db.schema
        .createTable('nodes')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('cloud', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('provider_id', 'text')
        .addColumn('observed_json', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('instances')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('component', 'text', (c) => c.notNull())
        .addColumn('ordinal', 'integer', (c) => c.notNull())
        .addColumn('desired', 'integer', (c) => c.notNull())
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('wiring_hash', 'text')
        .addColumn('run_seq', 'integer', (c) => c.notNull())
        .addColumn('inflight_run', 'text')
        .addColumn('restarts', 'integer', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('step_runs')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('step', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('output', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .execute();
      await db.schema.createIndex('step_runs_instance').on('step_runs').columns(['deployment', 'instance', 'step']).execute();
      await db.schema
        .createTable('events')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('deployment', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('correlation_id', 'text')
        .addColumn('target', 'text')
        .addColumn('outcome', 'text')
        .addColumn('data', 'text')
        .execute();
      await db.schema.createIndex('events_deployment').on('events').columns(['deployment', 'id']).execute();
    },
  },
  /** Metric definitions, scaling rules and schedules created at run time (src/metrics/service.ts). */
  '0002_metrics_rules': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('metric_objects')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('metric_objects_pk', ['kind', 'deployment', 'name'])
        .execute();
    },
  },
  /**
   * Registries (clouds, their locations, offers and images), encrypted credentials, provider
   * call accounting, and the placement selection chose for a node. Every registry row carries
   * its tenant.
   */
  '0003_registry': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('reg_clouds')
        .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('options_json', 'text', (c) => c.notNull())
        .addColumn('credential', 'text')
        .addColumn('last_discovered_at', 'bigint')
        .addColumn('last_discovery_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('reg_clouds_pk', ['tenant', 'name'])
        .execute();
      await db.schema
        .createTable('reg_entries')
        .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
        .addColumn('cloud', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('data_json', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('reg_entries_pk', ['tenant', 'cloud', 'kind', 'id'])
        .execute();
      await db.schema
        .createTable('credentials')
        .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('fields_json', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('credentials_pk', ['tenant', 'name'])
        .execute();
      await db.schema
        .createTable('driver_calls')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('cloud', 'text', (c) => c.notNull())
        .addColumn('op', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('driver_calls_cloud_ts').on('driver_calls').columns(['cloud', 'ts']).execute();
      await db.schema.alterTable('nodes').addColumn('placement_json', 'text').execute();
    },
  },
  '0004_token_tenants': {
    async up(db: Kysely<any>) {
      // Registries are per tenant; a token acts in one. Existing tokens (the bootstrap `admin`) are `default`.
      await db.schema.alterTable('tokens').addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default')).execute();
    },
  },
  /**
   * Deployments and events are per tenant (src/engine/tenancy.ts): a deployment's id is its
   * name in tenant `default` and `<tenant>.<name>` elsewhere, so keys stay one string; the
   * tenant column says whose it is. Events carry the tenant that may see them (`default` for
   * events of no deployment, such as a cloud sweep of a shared handle).
   */
  '0006_tenancy': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('deployments').addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default')).execute();
      await db.schema.alterTable('events').addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default')).execute();
      await db.schema.createIndex('events_tenant').on('events').columns(['tenant', 'id']).execute();
    },
  },
  '0009_metric_object_tenants': {
    async up(db: Kysely<any>) {
      // Metric definitions, rules, schedules and scrape targets are per tenant, and two tenants
      // may use one name: the tenant joins the key, so the table is rebuilt. Older rows are `default`'s.
      await db.schema
        .createTable('metric_objects_t')
        .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('metric_objects_tenant_pk', ['tenant', 'kind', 'deployment', 'name'])
        .execute();
      await sql`INSERT INTO metric_objects_t (tenant, kind, name, deployment, body_json, updated_at)
        SELECT 'default', kind, name, deployment, body_json, updated_at FROM metric_objects`.execute(db);
      await db.schema.dropTable('metric_objects').execute();
      await db.schema.alterTable('metric_objects_t').renameTo('metric_objects').execute();
    },
  },
  /**
   * Rolling updates (src/engine/rollout): each instance records the revision (lifecycle and
   * node template hashes) it was installed from; a deployment its rollout's progress. Both
   * empty for older rows: the next apply stamps instances with the revision they run.
   */
  '0013_rollout': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instances').addColumn('revision', 'text').execute();
      await db.schema.alterTable('deployments').addColumn('rollout_json', 'text').execute();
    },
  },
  /** Event retention deletes by age: an index on ts keeps that from scanning the log. */
  '0017_event_retention': {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('events_ts').on('events').column('ts').execute();
    },
  },
  /**
   * Workflows (src/workflows/controller): definitions with their uploaded script and include
   * files, every node's run-time state, and per-try task output. Keyed by the tenant-scoped
   * workflow id (like a deployment id), so tenants never share a row.
   */
  '0018_workflows': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('workflows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('def_json', 'text', (c) => c.notNull())
        .addColumn('source_text', 'text', (c) => c.notNull())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('workflow_files')
        .addColumn('workflow', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('workflow_files_pk', ['workflow', 'path'])
        .execute();
      await db.schema
        .createTable('workflow_nodes')
        .addColumn('workflow', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('state_json', 'text', (c) => c.notNull())
        .addColumn('sub_json', 'text')
        .addPrimaryKeyConstraint('workflow_nodes_pk', ['workflow', 'path'])
        .execute();
      await db.schema
        .createTable('workflow_logs')
        .addColumn('workflow', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('try_no', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('workflow_logs_pk', ['workflow', 'path', 'try_no', 'seq'])
        .execute();
    },
  },
  /**
   * Workflow jobs (src/workflows/jobs): the job dispatcher's state (live jobs and each node
   * agent's feed cursor), so a restarted control plane re-attaches to the jobs still running;
   * and which node ran each try of a task, for its output after the job is gone.
   */
  '0019_workflow_jobs': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('workflow_dispatch')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('state_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('workflow_tries')
        .addColumn('workflow', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('try_no', 'integer', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('workflow_tries_pk', ['workflow', 'path', 'try_no'])
        .execute();
    },
  },
  /**
   * Alerts (src/operations/alerts): run-time rules and channels (a channel's secret sealed),
   * the alerts themselves with a unique `open_key` while open (one open alert per rule and
   * subject), and the deliveries still to make, so a restarted server sends what it owes.
   */
  '0023_alerts': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('alert_objects')
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('sealed_secret', 'text')
        .addColumn('key_id', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('alert_objects_pk', ['tenant', 'kind', 'name'])
        .execute();
      await db.schema
        .createTable('alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text')
        .addColumn('rule', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('open_key', 'text', (c) => c.unique())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('opened_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('notified_at', 'bigint')
        .addColumn('resolved_at', 'bigint')
        .addColumn('acked_at', 'bigint')
        .addColumn('acked_by', 'text')
        .execute();
      await db.schema.createIndex('alerts_tenant').on('alerts').columns(['tenant', 'opened_at']).execute();
      await db.schema
        .createTable('alert_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('alert', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('payload_json', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('alert_deliveries_state').on('alert_deliveries').columns(['state', 'next_at']).execute();
    },
  },
  /** Recovery ladders (src/operations/recovery): limits and give-ups survive a control-plane restart. */
  '0022_recovery': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('recovery_states')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('component', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('state_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  /**
   * Custom operations (src/engine/operations): each run (who, why, which operation with which
   * values) and each instance's part of it (state, exit code, output), so `nubis run` and
   * `nubis logs --operation` answer after the run and after a restart.
   */
  '0025_operations': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('operation_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('component', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('params_json', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .execute();
      await db.schema.createIndex('operation_runs_deployment').on('operation_runs').columns(['deployment', 'created_at']).execute();
      await db.schema
        .createTable('operation_instance_runs')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('output', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('started_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .addPrimaryKeyConstraint('operation_instance_runs_pk', ['run_id', 'instance'])
        .execute();
    },
  },
  /**
   * First-boot contextualization and access delivery (issue 10, items 5 and 6): when each node's
   * cloud first said it runs and its agent first answered (nodes that ran before this migration
   * count as answered), and per deployment when it first became ready and when its generated
   * credentials were shown.
   */
  '0024_context': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('nodes').addColumn('running_at', 'bigint').execute();
      await db.schema.alterTable('nodes').addColumn('agent_up_at', 'bigint').execute();
      await db.updateTable('nodes').set({ running_at: sql`updated_at`, agent_up_at: sql`updated_at` }).where('status', '=', 'running').execute();
      await db.schema
        .createTable('deployment_access')
        .addColumn('deployment', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('ready_at', 'bigint')
        .addColumn('shown_at', 'bigint')
        .addColumn('shown_by', 'text')
        .execute();
    },
  },
  // [backups] entries below (helper h/backups; keep them under this line)
  /** Backups, restores and restore drills (issue 10, items 1 and 2): one row per run, written before it starts. */
  '0026_backups': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('backup_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('component', 'text', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('what', 'text', (c) => c.notNull())
        .addColumn('store_desc', 'text', (c) => c.notNull())
        .addColumn('store_key', 'text')
        .addColumn('size_bytes', 'bigint')
        .addColumn('sha256', 'text')
        .addColumn('source_json', 'text')
        .addColumn('backup_id', 'text')
        .addColumn('verified_at', 'bigint')
        .addColumn('detail', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .execute();
      await db.schema.createIndex('backup_runs_deployment').on('backup_runs').columns(['deployment', 'policy', 'started_at']).execute();
      await db.schema.createIndex('backup_runs_state').on('backup_runs').columns(['state']).execute();
    },
  },

  // [stores] entries below (helper h/stores; keep them under this line)

  // [replicas] entries below (helper h/replicas; keep them under this line)

  // [leaks] entries below (helper h/leaks; keep them under this line)

  // [images] entries below (helper h/images; keep them under this line)

  // [placement] entries below (helper h/placement; keep them under this line)

  // [users] entries below (helper h/users; keep them under this line)
  /**
   * Users and roles, browser sessions, and the service catalog (issue 12, items 1 and 2).
   * Tokens get a role in their tenant and, for personal ones, their user; tokens made before
   * could do everything in their tenant, so they are admin.
   */
  '0031_users': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('tokens').addColumn('role', 'text', (c) => c.notNull().defaultTo('admin')).execute();
      await db.schema.alterTable('tokens').addColumn('user_name', 'text').execute();
      await db.schema
        .createTable('users')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('password_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_roles')
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_roles_pk', ['user_name', 'tenant'])
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('seen_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_name').execute();
      await db.schema
        .createTable('catalog_templates')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('spec_text', 'text', (c) => c.notNull())
        .addColumn('parameters_json', 'text', (c) => c.notNull())
        .addColumn('tenants_json', 'text')
        .addColumn('published_by', 'text', (c) => c.notNull())
        .addColumn('published_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('catalog_orders')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('params_json', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('catalog_orders_tenant').on('catalog_orders').columns(['tenant', 'created_at']).execute();
    },
  },

  // [console] entries below (helper h/console; keep them under this line)
};
