/**
 * One deployment: its topology with live phases (refetched as its events arrive on the
 * stream), components with scale, instances, cloud notes, rollout and refusals, its latest
 * events; apply a new version and destroy (confirmed by typing the name).
 */
import { useEffect, useState } from 'preact/hooks';
import { call, messageOf } from '../api';
import type { DeploymentView } from '../api-types';
import { useSession } from '../app';
import type { Event as AuditEvent } from '../events';
import { href } from '../router';
import { can } from '../session';
import { Topology } from '../topology';
import { Dialog, Failure, FieldError, FormError, Pill, Time, useLoad, useThrottled } from '../ui';
import { EventRows } from './events';

export function DeploymentPage({ name }: { name: string }) {
  const { me, bus } = useSession();
  const view = useLoad((signal) => call('getDeployment', { params: { name }, signal }), [name]);
  const spec = useLoad((signal) => call('getDeploymentSpec', { params: { name }, signal }), [name]);
  const [events, setEvents] = useState<AuditEvent[]>(() => bus.recent().filter((e) => e.deployment === name).slice(-30));
  const refresh = useThrottled(view.reload, 300);
  const refreshSpec = useThrottled(spec.reload, 300);
  useEffect(() => bus.subscribe((e) => {
    if (e.deployment !== name) return;
    setEvents((l) => [...l, e].slice(-30));
    refresh();
    if (e.kind === 'deployment.applied') refreshSpec();
  }), [bus, name]);
  // a state can settle without an event of its own (applying → ready): look again while it moves
  const moving = view.data !== undefined && (view.data.state === 'applying' || view.data.state === 'destroying');
  useEffect(() => {
    if (!moving) return;
    const timer = setInterval(refresh, 2000);
    return () => clearInterval(timer);
  }, [moving]);
  const [destroying, setDestroying] = useState(false);
  const gone = view.error !== undefined && (view.error as { status?: number }).status === 404;
  const v = view.data;
  return (
    <section>
      <div class="head">
        <h1>{name} {v && <Pill value={v.state} />}</h1>
        <div class="actions">
          {can(me, 'apply') && v && <a class="button" href={`${href('apply')}?deployment=${encodeURIComponent(name)}`}>Apply a new version</a>}
          {can(me, 'destroy') && v && v.state !== 'destroying' && <button type="button" class="danger" onClick={() => setDestroying(true)}>Destroy…</button>}
        </div>
      </div>
      {gone ? <p data-gone="true">This deployment does not exist (any more). <a href={href('deployments')}>All deployments</a></p> : <Failure error={view.error} />}
      {v && (
        <>
          <p class="muted">version {v.version} · updated <Time iso={v.updatedAt} />{v.rollout ? ` · rollout: ${v.rollout.line}` : ''}</p>
          {(v.clouds ?? []).map((c) => <p class="warn">cloud {c.cloud}: {c.health} — {c.reason}</p>)}
          {(v.scaling ?? []).map((s) => <p class="warn">{s.by} wanted {s.component} at {s.wanted}: {s.reason}</p>)}
          {spec.data ? <Topology deployment={name} view={v} topology={spec.data.topology} /> : <Failure error={spec.error} />}
          <Components name={name} view={v} allowScale={can(me, 'scale') && v.state !== 'destroying'} />
          <Instances name={name} view={v} />
        </>
      )}
      <h2>Latest events</h2>
      <EventRows events={[...events].reverse()} />
      {destroying && v && <DestroyDialog name={name} onClose={() => setDestroying(false)} onDone={() => { setDestroying(false); view.reload(); }} />}
    </section>
  );
}

function Components({ name, view, allowScale }: { name: string; view: DeploymentView; allowScale: boolean }) {
  return (
    <>
      <h2>Components</h2>
      <table class="list" aria-label="components">
        <thead><tr><th>Component</th><th>Running / desired</th><th>Bounds</th>{allowScale && <th>Scale</th>}</tr></thead>
        <tbody>
          {view.components.map((c) => (
            <tr data-component={c.name}>
              <td>{c.name}</td>
              <td>{c.running} / {c.desired}</td>
              <td>{c.min}–{c.max}</td>
              {allowScale && <td><ScaleForm name={name} component={c.name} desired={c.desired} /></td>}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ScaleForm({ name, component, desired }: { name: string; component: string; desired: number }) {
  const [count, setCount] = useState(String(desired));
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => setCount(String(desired)), [desired]);
  const id = `scale-${component}`;
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // the text goes as typed when it is not a whole number, so the server's message says what is wrong with it
      const n = /^\s*\d+\s*$/.test(count) ? Number(count) : (count as unknown as number);
      await call('scale', { params: { name }, body: { component, count: n } });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-label={`scale ${component}`}>
      <label class="sr" for={id}>instances of {component}</label>
      <input id={id} name="count" inputMode="numeric" size={4} value={count} onInput={(e) => setCount(e.currentTarget.value)} aria-describedby={`${id}-err`} aria-invalid={error !== undefined} />
      <button type="submit" disabled={busy}>Scale</button>
      {/* every refusal of a scale is about its count (bounds, type), so it stands next to it */}
      {error !== undefined && <span class="field-error" id={`${id}-err`} role="alert" data-field="count">{messageOf(error)}</span>}
    </form>
  );
}

function Instances({ name, view }: { name: string; view: DeploymentView }) {
  return (
    <>
      <h2>Instances</h2>
      <table class="list" aria-label="instances">
        <thead><tr><th>Instance</th><th>Phase</th><th>Health</th><th>Node</th><th>Cloud</th><th>Endpoints</th></tr></thead>
        <tbody>
          {view.instances.map((i) => (
            <tr data-instance={i.name}>
              <td><a href={href('deployments', name, 'instances', i.name)}>{i.name}</a>{i.desired ? '' : ' (leaving)'}</td>
              <td><Pill value={i.phase} /></td>
              <td><Pill value={i.health} /></td>
              <td>{i.node.key.split('/').pop()} <Pill value={i.node.state} />{i.node.step ? ` ${i.node.step}` : ''}</td>
              <td>{i.node.cloud}</td>
              <td>{Object.entries(i.endpoints).map(([p, a]) => <span class="mono">{p}={a} </span>)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.instances.some((i) => i.lastError) && (
        <ul class="errors">{view.instances.filter((i) => i.lastError).map((i) => <li><b>{i.name}</b>: {i.lastError}</li>)}</ul>
      )}
    </>
  );
}

function DestroyDialog({ name, onClose, onDone }: { name: string; onClose: () => void; onDone: () => void }) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    try {
      await call('destroy', { params: { name } });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog title={`Destroy ${name}?`} onClose={onClose}>
      <form onSubmit={submit}>
        <p>Every instance is stopped and every node of {name} deleted in its cloud. This cannot be undone.</p>
        <label>Type <b>{name}</b> to confirm <input name="confirm" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoFocus aria-describedby="err-confirm" /></label>
        <FieldError error={error} field="name" id="err-confirm" />
        <FormError error={error} fields={['name']} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="danger" disabled={typed !== name}>Destroy {name}</button>
        </div>
      </form>
    </Dialog>
  );
}
