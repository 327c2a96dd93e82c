/**
 * Workflows as ecflowview shows them: the suite tree with each node coloured by its state
 * (ecFlow's colours: unknown grey, queued light blue, submitted turquoise, active green,
 * complete yellow, aborted red, suspended orange), live as node states change; for the
 * selected node its details, `why` it waits, a task's output by try, and suspend, resume, requeue.
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import type { WorkflowTreeNode } from '../api-types';
import { useSession } from '../app';
import { href } from '../router';
import { can } from '../session';
import { Empty, Failure, FormError, Pill, Time, useLoad, useThrottled } from '../ui';

export function WorkflowsPage() {
  const { bus } = useSession();
  const list = useLoad((signal) => call('listWorkflows', { signal }), []);
  const refresh = useThrottled(list.reload, 1000);
  useEffect(() => bus.subscribe((e) => { if (e.kind.startsWith('workflow.')) refresh(); }), [bus]);
  return (
    <section>
      <h1>Workflows</h1>
      <Failure error={list.error} />
      {list.data && list.data.workflows.length === 0 && <Empty>No workflows loaded (nubis workflow import suite.def).</Empty>}
      {list.data && list.data.workflows.length > 0 && (
        <table class="list" aria-label="workflows">
          <thead><tr><th>Workflow</th><th>State</th><th>Status</th><th>Progress</th><th>Loaded</th></tr></thead>
          <tbody>{list.data.workflows.map((w) => (
            <tr data-workflow={w.name}>
              <td><a href={href('workflows', w.name)}>{w.name}</a></td>
              <td><Pill value={w.state} /></td>
              <td>{w.status}</td>
              <td>{w.progress.complete}/{w.progress.tasks} complete, {w.progress.running} running, {w.progress.aborted} aborted</td>
              <td><Time iso={w.loadedAt} /></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

function stateOf(n: WorkflowTreeNode): string {
  return n.suspended ? 'suspended' : n.state;
}

function Tree({ node, selected, onSelect, depth = 1 }: { node: WorkflowTreeNode; selected: string; onSelect: (p: string) => void; depth?: number }) {
  const [open, setOpen] = useState(depth < 4);
  const has = node.children.length > 0;
  return (
    <li role="treeitem" aria-expanded={has ? open : undefined} aria-selected={selected === node.path} aria-level={depth}>
      <span class="node">
        {has ? <button type="button" class="twisty" aria-label={open ? 'collapse' : 'expand'} onClick={() => setOpen(!open)}>{open ? '▾' : '▸'}</button> : <span class="twisty" />}
        <button type="button" class={`wf s-${stateOf(node)}`} data-path={node.path} data-state={stateOf(node)} onClick={() => onSelect(node.path)}>
          {node.name}
        </button>
        <span class="muted small">{node.kind}{node.tryNo ? ` · try ${node.tryNo}` : ''}{node.flags?.length ? ` · ${node.flags.join(', ')}` : ''}</span>
      </span>
      {has && open && <ul role="group">{node.children.map((c) => <Tree node={c} selected={selected} onSelect={onSelect} depth={depth + 1} />)}</ul>}
    </li>
  );
}

function find(n: WorkflowTreeNode, path: string): WorkflowTreeNode | undefined {
  if (n.path === path) return n;
  for (const c of n.children) {
    const f = find(c, path);
    if (f) return f;
  }
  return undefined;
}

const VERBS = ['suspend', 'resume', 'requeue'] as const;
const OPS = { suspend: 'workflowSuspend', resume: 'workflowResume', requeue: 'workflowRequeue' } as const;

function NodeDetail({ name, node, onChanged }: { name: string; node: WorkflowTreeNode; onChanged: () => void }) {
  const { me } = useSession();
  const why = useLoad((signal) => call('workflowWhy', { params: { name }, query: { path: node.path }, signal }), [name, node.path, node.state, node.suspended]);
  const [tryNo, setTryNo] = useState<number | undefined>(undefined);
  const output = useLoad(
    (signal) => (node.kind === 'task' && (node.tryNo ?? 0) > 0 ? call('workflowLogs', { params: { name }, query: { path: node.path, try: tryNo }, signal }) : Promise.resolve(undefined)),
    [name, node.path, node.tryNo, tryNo],
  );
  const [error, setError] = useState<unknown>(undefined);
  const command = async (verb: (typeof VERBS)[number]): Promise<void> => {
    setError(undefined);
    try {
      await call(OPS[verb], { params: { name }, body: { path: node.path } });
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <aside class="detail" aria-label="node">
      <h2>{node.path} <Pill value={stateOf(node)} /></h2>
      <p class="muted">{node.kind}{node.changedAt ? <> · changed <Time iso={node.changedAt} /></> : null}{node.reason ? ` · ${node.reason}` : ''}</p>
      {can(me, 'workflowSuspend') && (
        <div class="actions">
          {VERBS.map((v) => <button type="button" data-verb={v} onClick={() => void command(v)} disabled={(v === 'resume') !== node.suspended && v !== 'requeue'}>{v}</button>)}
        </div>
      )}
      <FormError error={error} fields={[]} />
      {node.events && Object.keys(node.events).length > 0 && <p>events: {Object.entries(node.events).map(([k, v]) => <span class={`flag ${v ? 'set' : ''}`}>{k} </span>)}</p>}
      {node.meters && Object.keys(node.meters).length > 0 && <p>meters: {Object.entries(node.meters).map(([k, v]) => `${k}=${v}`).join(', ')}</p>}
      {node.labels && Object.keys(node.labels).length > 0 && <p>labels: {Object.entries(node.labels).map(([k, v]) => `${k}: ${v}`).join('; ')}</p>}
      <h3>Why</h3>
      <Failure error={why.error} />
      {why.data && (why.data.why.length === 0 ? <p class="muted">Nothing holds it.</p> : (
        <ul class="why">{why.data.why.map((w) => <li><span class="mono">{w.path}</span> {w.kind}: {w.detail}</li>)}</ul>
      ))}
      {node.kind === 'task' && (
        <>
          <h3>Output</h3>
          {(node.tryNo ?? 0) === 0 ? <p class="muted">Not run yet.</p> : (
            <>
              <label>Try <select value={String(tryNo ?? node.tryNo)} onChange={(e) => setTryNo(Number(e.currentTarget.value))}>
                {Array.from({ length: node.tryNo ?? 0 }, (_, i) => i + 1).map((t) => <option value={String(t)}>{t}</option>)}
              </select></label>
              <Failure error={output.error} />
              {output.data && <pre class="output">{output.data.text || '(no output)'}</pre>}
            </>
          )}
        </>
      )}
    </aside>
  );
}

export function WorkflowPage({ name }: { name: string }) {
  const { bus } = useSession();
  const status = useLoad((signal) => call('getWorkflow', { params: { name }, signal }), [name]);
  const refresh = useThrottled(status.reload, 400);
  useEffect(() => bus.subscribe((e) => { if (e.kind.startsWith('workflow.')) refresh(); }), [bus]);
  const [selected, setSelected] = useState('');
  const tree = status.data?.tree;
  const node = tree ? find(tree, selected) ?? tree : undefined;
  return (
    <section>
      <p class="crumbs"><a href={href('workflows')}>Workflows</a> / {name}</p>
      <h1>{name} {status.data && <Pill value={status.data.state} />}</h1>
      <Failure error={status.error} />
      {status.data && <p class="muted">{status.data.progress.complete}/{status.data.progress.tasks} tasks complete · {status.data.progress.running} running · {status.data.progress.aborted} aborted</p>}
      <div class="split">
        {tree && <ul class="tree" role="tree" aria-label={`${name} tree`}><Tree node={tree} selected={node?.path ?? ''} onSelect={setSelected} /></ul>}
        {node && <NodeDetail name={name} node={node} onChanged={status.reload} />}
      </div>
      <p class="legend">{['unknown', 'queued', 'submitted', 'active', 'complete', 'aborted', 'suspended'].map((s) => <span class={`wf s-${s}`}>{s}</span>)}</p>
    </section>
  );
}
