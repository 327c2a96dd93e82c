/** The live audit log: who did what, when, why and with what outcome; filter by deployment, kind, actor or text. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { useSession } from '../app';
import type { Event } from '../events';
import { Empty, Time } from '../ui';

export function EventRows({ events, limit = 200 }: { events: readonly Event[]; limit?: number }) {
  if (events.length === 0) return <Empty>No events yet.</Empty>;
  return (
    <div class="table-scroll">
      <table class="list events" aria-label="events">
        <thead><tr><th>When</th><th>Kind</th><th>Deployment</th><th>Target</th><th>Who</th><th>Outcome</th><th>Why</th></tr></thead>
        <tbody>
          {events.slice(0, limit).map((e) => (
            <tr key={e.id} data-kind={e.kind} data-target={e.target ?? ''} data-id={e.id}>
              <td><Time iso={e.ts} /></td>
              <td class="mono">{e.kind}</td>
              <td>{e.deployment ?? ''}</td>
              <td class="mono">{e.target ?? ''}</td>
              <td>{e.actor}</td>
              <td>{e.outcome ?? ''}</td>
              <td>{e.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function matches(e: Event, f: { deployment: string; kind: string; actor: string; text: string }): boolean {
  if (f.deployment && e.deployment !== f.deployment) return false;
  if (f.kind && !(f.kind.endsWith('*') ? e.kind.startsWith(f.kind.slice(0, -1)) : e.kind === f.kind || e.kind.startsWith(f.kind + '.'))) return false;
  if (f.actor && !e.actor.includes(f.actor)) return false;
  if (f.text && !JSON.stringify(e).toLowerCase().includes(f.text.toLowerCase())) return false;
  return true;
}

export function EventsPage() {
  const { bus } = useSession();
  const [events, setEvents] = useState<readonly Event[]>(() => [...bus.recent()]);
  const [paused, setPaused] = useState(false);
  const [f, setF] = useState({ deployment: '', kind: '', actor: '', text: '' });
  useEffect(() => bus.subscribe(() => { if (!paused) setEvents([...bus.recent()]); }), [bus, paused]);
  const shown = useMemo(() => events.filter((e) => matches(e, f)).reverse(), [events, f]);
  const field = (k: keyof typeof f, label: string, placeholder: string) => (
    <label>{label} <input name={k} value={f[k]} placeholder={placeholder} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} /></label>
  );
  return (
    <section>
      <div class="head">
        <h1>Events</h1>
        <button type="button" onClick={() => { setPaused(!paused); setEvents([...bus.recent()]); }} aria-pressed={paused}>{paused ? 'Resume' : 'Pause'}</button>
      </div>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="filter events">
        {field('deployment', 'Deployment', 'webapp')}
        {field('kind', 'Kind', 'instance.* or scale')}
        {field('actor', 'Who', 'user:admin')}
        {field('text', 'Text', 'anything')}
      </form>
      <p class="muted">{shown.length} of {events.length} events{paused ? ' (paused)' : ''}</p>
      <EventRows events={shown} />
    </section>
  );
}
