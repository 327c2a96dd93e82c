/** Alerts: open (or all) alerts with what broke, what it means, what to do and the runbook; ack; the rules and channels in force. */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import { useSession } from '../app';
import { can } from '../session';
import { Empty, Failure, FormError, Pill, Time, useLoad, useThrottled } from '../ui';

export function AlertsPage() {
  const { me, bus } = useSession();
  const [state, setState] = useState<'open' | 'all'>('open');
  const alerts = useLoad((signal) => call('listAlerts', { query: { state }, signal }), [state]);
  const rules = useLoad((signal) => call('listAlertRules', { signal }), []);
  const channels = useLoad((signal) => call('listAlertChannels', { signal }), []);
  const refresh = useThrottled(alerts.reload, 1000);
  useEffect(() => bus.subscribe((e) => { if (e.kind.startsWith('alert.')) refresh(); }), [bus]);
  const [error, setError] = useState<unknown>(undefined);
  const ack = async (id: string): Promise<void> => {
    try {
      await call('ackAlert', { params: { id } });
      alerts.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <div class="head">
        <h1>Alerts</h1>
        <label>Show <select value={state} onChange={(e) => setState(e.currentTarget.value as 'open' | 'all')}><option value="open">open</option><option value="all">all</option></select></label>
      </div>
      <Failure error={alerts.error} />
      <FormError error={error} fields={[]} />
      {alerts.data && alerts.data.alerts.length === 0 && <Empty>No {state === 'open' ? 'open ' : ''}alerts.</Empty>}
      {alerts.data?.alerts.map((a) => (
        <article class={`alert sev-${a.severity}`} data-alert={a.id}>
          <h2>{a.title} <Pill value={a.state} /> <span class="muted">{a.severity} · ×{a.count} · opened <Time iso={a.openedAt} /></span></h2>
          <p>{a.what}</p>
          <p><b>What it means:</b> {a.explanation.meaning}</p>
          <p><b>What to do:</b> {a.explanation.whatToDo} <a href={a.explanation.runbookUrl} rel="noreferrer">runbook</a></p>
          {a.state === 'open' && can(me, 'ackAlert') && <button type="button" onClick={() => void ack(a.id)}>Acknowledge</button>}
          {a.ackedBy && <p class="muted">acknowledged by {a.ackedBy} <Time iso={a.ackedAt} /></p>}
        </article>
      ))}
      <h2>Rules</h2>
      <Failure error={rules.error} />
      {rules.data && (
        <table class="list" aria-label="alert rules">
          <thead><tr><th>Rule</th><th>Source</th><th>Deployment</th><th>Definition</th></tr></thead>
          <tbody>{rules.data.rules.map((r) => <tr><td>{r.name}</td><td>{r.source}</td><td>{r.deployment ?? ''}</td><td class="mono small">{JSON.stringify(r.rule)}</td></tr>)}</tbody>
        </table>
      )}
      <h2>Channels</h2>
      <Failure error={channels.error} />
      {channels.data && channels.data.channels.length === 0 && <Empty>No channels: alerts go to the event log only.</Empty>}
      {channels.data && channels.data.channels.length > 0 && (
        <table class="list" aria-label="alert channels">
          <thead><tr><th>Channel</th><th>Kind</th><th>Default</th><th>Where</th><th>Secret</th></tr></thead>
          <tbody>{channels.data.channels.map((c) => <tr><td>{c.name}</td><td>{c.kind}</td><td>{c.default ? 'yes' : ''}</td><td>{c.url ?? c.host ?? ''}{c.to ? ` → ${c.to.join(', ')}` : ''}</td><td>{c.secret}</td></tr>)}</tbody>
        </table>
      )}
    </section>
  );
}
