/** Every deployment of the tenant: filter, 50 a page (so 500 render at once), live counts. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { call } from '../api';
import { useSession } from '../app';
import { href } from '../router';
import { can } from '../session';
import { Empty, Failure, Pill, useLoad, useThrottled } from '../ui';

const PAGE = 50;

export function DeploymentsPage() {
  const { me, bus } = useSession();
  const list = useLoad(() => call('listDeployments'), []);
  const refresh = useThrottled(list.reload, 1000);
  useEffect(() => bus.subscribe((e) => {
    if (e.deployment !== undefined && /^(deployment|instance)\./.test(e.kind)) refresh();
  }), [bus]);
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(0);
  const shown = useMemo(() => {
    const all = list.data?.deployments ?? [];
    const f = filter.trim().toLowerCase();
    return f ? all.filter((d) => d.name.toLowerCase().includes(f) || d.state.includes(f)) : all;
  }, [list.data, filter]);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const at = Math.min(page, pages - 1);
  const rows = shown.slice(at * PAGE, at * PAGE + PAGE);
  return (
    <section>
      <div class="head">
        <h1>Deployments</h1>
        {can(me, 'apply') && <a class="button" href={href('apply')}>Apply a spec</a>}
      </div>
      <div class="toolbar">
        <label>Filter <input type="search" value={filter} onInput={(e) => { setFilter(e.currentTarget.value); setPage(0); }} placeholder="name or state" /></label>
        <span class="muted" data-count={shown.length}>{shown.length} deployment{shown.length === 1 ? '' : 's'}</span>
      </div>
      <Failure error={list.error} />
      {list.data && shown.length === 0 && <Empty>No deployments{filter ? ' match' : ' yet'}.</Empty>}
      {rows.length > 0 && (
        <table class="list" aria-label="deployments">
          <thead><tr><th>Name</th><th>State</th><th>Version</th><th>Instances</th></tr></thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.name} data-deployment={d.name}>
                <td><a href={href('deployments', d.name)}>{d.name}</a></td>
                <td><Pill value={d.state} /></td>
                <td>{d.version}</td>
                <td>{d.instances.running} / {d.instances.desired}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pages > 1 && (
        <nav class="pager" aria-label="pages">
          <button type="button" disabled={at === 0} onClick={() => setPage(at - 1)}>Previous</button>
          <span>page {at + 1} of {pages}</span>
          <button type="button" disabled={at >= pages - 1} onClick={() => setPage(at + 1)}>Next</button>
        </nav>
      )}
    </section>
  );
}
