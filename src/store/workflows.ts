/**
 * Repository of loaded workflows (src/workflows/controller): each definition as loaded (its
 * model as JSON and the text it came from), the script and include files uploaded with it, and
 * every node's run-time state, so a control plane restarted after a SIGKILL resumes each
 * workflow where the last committed step left it (migration 0018). Writes are `WriteOp`s, so
 * a step's node changes commit in the store's group transaction together with its events.
 * Workflow ids are tenant-scoped like deployment ids (`<name>` in `default`, `<tenant>.<name>`
 * elsewhere: ./deployment-ids.ts).
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, WorkflowTable, WorkflowFileTable, WorkflowNodeTable, WorkflowLogTable } from './schema.js';

export type WorkflowRow = Selectable<WorkflowTable>;
export type WorkflowFileRow = Selectable<WorkflowFileTable>;
export type WorkflowNodeRow = Selectable<WorkflowNodeTable>;
export type WorkflowLogRow = Selectable<WorkflowLogTable>;

type Op = (trx: Transaction<Database>) => Promise<unknown>;

export interface WorkflowRepo {
  /** Inserts or replaces a workflow with its files (the old files and node states are dropped). */
  put(row: WorkflowRow, files: readonly { path: string; content: string }[]): Op;
  /** Updates the definition row only (status, begun, version). */
  update(row: WorkflowRow): Op;
  /** Inserts or replaces node run-time states of one workflow. */
  putNodes(workflow: string, nodes: readonly { path: string; state_json: string; sub_json?: string }[]): Op;
  /** Drops a workflow, its files, node states and logs. */
  remove(id: string): Op;
  /** Appends to the output of one try of a task. */
  appendLog(row: WorkflowLogRow): Op;
  list(): Promise<WorkflowRow[]>;
  get(id: string): Promise<WorkflowRow | undefined>;
  files(id: string): Promise<WorkflowFileRow[]>;
  nodes(id: string): Promise<WorkflowNodeRow[]>;
  /** Output of a task's try, in the order written. */
  logs(id: string, path: string, tryNo: number): Promise<WorkflowLogRow[]>;
  /** Saves the job dispatcher's state. */
  putDispatch(key: string, stateJson: string, at: number): Op;
  dispatch(key: string): Promise<string | undefined>;
  /** Records the node a try was started on. */
  putTry(workflow: string, path: string, tryNo: number, node: string, at: number): Op;
  /** The node a try was started on. */
  tryNode(workflow: string, path: string, tryNo: number): Promise<string | undefined>;
  /** The tries of a task that have output. */
  logTries(id: string, path: string): Promise<number[]>;
}

export function createWorkflowRepo(db: Kysely<Database>): WorkflowRepo {
  return {
    put: (row, files) => async (trx) => {
      await trx.deleteFrom('workflow_files').where('workflow', '=', row.id).execute();
      await trx.deleteFrom('workflow_nodes').where('workflow', '=', row.id).execute();
      await trx.deleteFrom('workflow_logs').where('workflow', '=', row.id).execute();
      await trx.deleteFrom('workflow_tries').where('workflow', '=', row.id).execute();
      await trx.insertInto('workflows').values(row).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute();
      for (const f of files) await trx.insertInto('workflow_files').values({ workflow: row.id, path: f.path, content: f.content }).execute();
    },
    update: (row) => (trx) => trx.updateTable('workflows').set(row).where('id', '=', row.id).execute(),
    putNodes: (workflow, nodes) => async (trx) => {
      // many rows a statement (a begin changes every node); a change without a new submission keeps the stored one
      const withSub = nodes.filter((n) => n.sub_json !== undefined);
      const without = nodes.filter((n) => n.sub_json === undefined);
      for (let i = 0; i < withSub.length; i += 200) {
        const rows = withSub.slice(i, i + 200).map((n) => ({ workflow, path: n.path, state_json: n.state_json, sub_json: n.sub_json ?? null }));
        await trx.insertInto('workflow_nodes').values(rows)
          .onConflict((oc) => oc.columns(['workflow', 'path']).doUpdateSet((eb) => ({ state_json: eb.ref('excluded.state_json'), sub_json: eb.ref('excluded.sub_json') }))).execute();
      }
      for (let i = 0; i < without.length; i += 200) {
        const rows = without.slice(i, i + 200).map((n) => ({ workflow, path: n.path, state_json: n.state_json, sub_json: null }));
        await trx.insertInto('workflow_nodes').values(rows)
          .onConflict((oc) => oc.columns(['workflow', 'path']).doUpdateSet((eb) => ({ state_json: eb.ref('excluded.state_json') }))).execute();
      }
    },
    remove: (id) => async (trx) => {
      await trx.deleteFrom('workflow_files').where('workflow', '=', id).execute();
      await trx.deleteFrom('workflow_nodes').where('workflow', '=', id).execute();
      await trx.deleteFrom('workflow_logs').where('workflow', '=', id).execute();
      await trx.deleteFrom('workflow_tries').where('workflow', '=', id).execute();
      await trx.deleteFrom('workflows').where('id', '=', id).execute();
    },
    putDispatch: (key, stateJson, at) => (trx) =>
      trx.insertInto('workflow_dispatch').values({ key, state_json: stateJson, updated_at: at })
        .onConflict((oc) => oc.column('key').doUpdateSet({ state_json: stateJson, updated_at: at })).execute(),
    async dispatch(key) {
      return (await db.selectFrom('workflow_dispatch').select('state_json').where('key', '=', key).executeTakeFirst())?.state_json;
    },
    putTry: (workflow, path, tryNo, node, at) => (trx) =>
      trx.insertInto('workflow_tries').values({ workflow, path, try_no: tryNo, node, started_at: at })
        .onConflict((oc) => oc.columns(['workflow', 'path', 'try_no']).doUpdateSet({ node, started_at: at })).execute(),
    async tryNode(workflow, path, tryNo) {
      return (await db.selectFrom('workflow_tries').select('node').where('workflow', '=', workflow).where('path', '=', path).where('try_no', '=', tryNo).executeTakeFirst())?.node;
    },
    // a repeated chunk (the same try's action run again after a restart) is kept once
    appendLog: (row) => (trx) => trx.insertInto('workflow_logs').values(row).onConflict((oc) => oc.doNothing()).execute(),
    list: () => db.selectFrom('workflows').selectAll().orderBy('id').execute(),
    get: (id) => db.selectFrom('workflows').selectAll().where('id', '=', id).executeTakeFirst(),
    files: (id) => db.selectFrom('workflow_files').selectAll().where('workflow', '=', id).orderBy('path').execute(),
    nodes: (id) => db.selectFrom('workflow_nodes').selectAll().where('workflow', '=', id).execute(),
    logs: (id, path, tryNo) =>
      db.selectFrom('workflow_logs').selectAll().where('workflow', '=', id).where('path', '=', path).where('try_no', '=', tryNo).orderBy('seq').execute(),
    async logTries(id, path) {
      const rows = await db.selectFrom('workflow_logs').select('try_no').distinct().where('workflow', '=', id).where('path', '=', path).orderBy('try_no').execute();
      return rows.map((r) => r.try_no);
    },
  };
}
