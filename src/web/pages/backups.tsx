/**
 * Backups of a deployment: its policies (schedule, store, retention, last good and verified
 * copy), its runs (backups, restores, drills) newest first, live as their events arrive; back
 * up now, drill a backup, and restore one (confirmed first: it replaces the instance's data).
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import { useSession } from '../app';
import { href, useRoute } from '../router';
import { can } from '../session';
import { Dialog, Empty, Failure, FormError, Pill, Time, useLoad, useThrottled } from '../ui';

function size(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function BackupsPage() {
  const { me, bus } = useSession();
  const { query } = useRoute();
  const deployments = useLoad((signal) => call('listDeployments', { signal }), []);
  const name = query.get('deployment') ?? deployments.data?.deployments[0]?.name;
  const policies = useLoad((signal) => (name ? call('listBackupPolicies', { params: { name }, signal }) : Promise.resolve(undefined)), [name]);
  const runs = useLoad((signal) => (name ? call('listBackups', { params: { name }, query: { limit: 100 }, signal }) : Promise.resolve(undefined)), [name]);
  const refresh = useThrottled(() => { runs.reload(); policies.reload(); }, 500);
  useEffect(() => bus.subscribe((e) => { if (e.deployment === name && /^(backup|restore|drill)\./.test(e.kind)) refresh(); }), [bus, name]);
  const [error, setError] = useState<unknown>(undefined);
  const [restoring, setRestoring] = useState<string | undefined>(undefined);
  const act = async (fn: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await fn();
      refresh();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <div class="head">
        <h1>Backups</h1>
        <label>Deployment <select value={name ?? ''} onChange={(e) => { location.hash = `${href('backups')}?deployment=${encodeURIComponent(e.currentTarget.value)}`; }}>
          {(deployments.data?.deployments ?? []).map((d) => <option value={d.name}>{d.name}</option>)}
        </select></label>
      </div>
      <Failure error={deployments.error ?? policies.error} />
      <FormError error={error} fields={[]} />
      {deployments.data && !name && <Empty>No deployments.</Empty>}
      {policies.data && policies.data.policies.length === 0 && <Empty>{name} has no backup policy.</Empty>}
      {policies.data && policies.data.policies.length > 0 && (
        <table class="list" aria-label="backup policies">
          <thead><tr><th>Policy</th><th>Component</th><th>What</th><th>Store</th><th>Schedule</th><th>Retention</th><th>Last good / verified</th><th></th></tr></thead>
          <tbody>{policies.data.policies.map((p) => (
            <tr data-policy={p.name}>
              <td>{p.name}</td><td>{p.component}</td><td>{p.what}</td><td class="mono small">{p.store}</td>
              <td>{p.schedule ? <>{p.schedule.cron} ({p.schedule.timeZone}) next <Time iso={p.schedule.next} /></> : 'on demand'}</td>
              <td>last {p.retention.last}, daily {p.retention.daily}, weekly {p.retention.weekly}, monthly {p.retention.monthly}</td>
              <td><Time iso={p.lastGood} /> / <Time iso={p.lastVerified} /></td>
              <td>{name && can(me, 'runBackup') && <div class="actions">
                <button type="button" onClick={() => void act(() => call('runBackup', { params: { name }, body: { policy: p.name, wait: false, reason: 'from the console' } }))}>Back up now</button>
                <button type="button" onClick={() => void act(() => call('drillBackup', { params: { name }, body: { policy: p.name, wait: false, reason: 'from the console' } }))}>Drill</button>
              </div>}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      <h2>Runs</h2>
      <Failure error={runs.error} />
      {runs.data && runs.data.runs.length === 0 && <Empty>No backup, restore or drill has run.</Empty>}
      {runs.data && runs.data.runs.length > 0 && (
        <table class="list" aria-label="backup runs">
          <thead><tr><th>Run</th><th>Kind</th><th>Instance</th><th>State</th><th>Size</th><th>Verified</th><th>Started</th><th>Why</th><th></th></tr></thead>
          <tbody>{runs.data.runs.map((r) => (
            <tr data-run={r.id}>
              <td class="mono small">{r.id}</td><td>{r.kind}</td><td>{r.instance}</td><td><Pill value={r.state} />{r.detail ? <div class="error small">{r.detail}</div> : null}</td>
              <td>{size(r.sizeBytes)}</td><td>{r.kind === 'backup' ? (r.verified ? 'yes' : 'no') : r.backup ?? ''}</td>
              <td><Time iso={r.startedAt} /></td><td>{r.trigger} · {r.actor}{r.reason ? ` · ${r.reason}` : ''}</td>
              <td>{r.kind === 'backup' && r.state === 'succeeded' && can(me, 'restoreBackup') && <button type="button" onClick={() => setRestoring(r.id)}>Restore…</button>}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {restoring && name && (
        <Dialog title={`Restore ${restoring}?`} onClose={() => setRestoring(undefined)}>
          <p>The instance's data is replaced by this backup's.</p>
          <div class="actions">
            <button type="button" onClick={() => setRestoring(undefined)}>Cancel</button>
            <button type="button" class="danger" onClick={() => { const id = restoring; setRestoring(undefined); void act(() => call('restoreBackup', { params: { name, id }, body: { wait: false, reason: 'from the console' } })); }}>Restore</button>
          </div>
        </Dialog>
      )}
    </section>
  );
}
