/** One instance: its phase, health, node and endpoints, and each lifecycle step's log (newest run first). */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import { useSession } from '../app';
import { href } from '../router';
import { Failure, Pill, Time, useLoad, useThrottled } from '../ui';

const STEPS = ['all', 'install', 'configure', 'start', 'health', 'stop', 'update'] as const;

export function InstancePage({ deployment, instance }: { deployment: string; instance: string }) {
  const { bus } = useSession();
  const [step, setStep] = useState<(typeof STEPS)[number]>('all');
  const view = useLoad((signal) => call('getDeployment', { params: { name: deployment }, signal }), [deployment]);
  const logs = useLoad(
    (signal) => call('logs', { params: { name: deployment, instance }, query: { step: step === 'all' ? undefined : step }, signal }),
    [deployment, instance, step],
  );
  const refresh = useThrottled(() => { view.reload(); logs.reload(); }, 500);
  useEffect(() => bus.subscribe((e) => {
    if (e.deployment === deployment && (e.target ?? '').endsWith(instance)) refresh();
  }), [bus, deployment, instance]);
  const i = view.data?.instances.find((x) => x.name === instance);
  return (
    <section>
      <p class="crumbs"><a href={href('deployments')}>Deployments</a> / <a href={href('deployments', deployment)}>{deployment}</a> / {instance}</p>
      <h1>{instance} {i && <Pill value={i.phase} />} {i && <Pill value={i.health} />}</h1>
      <Failure error={view.error} />
      {i && (
        <dl class="facts">
          <dt>Component</dt><dd>{i.component}</dd>
          <dt>Node</dt><dd>{i.node.key} <Pill value={i.node.state} /> {i.node.id ?? ''}</dd>
          <dt>Cloud</dt><dd>{i.node.cloud}</dd>
          <dt>Address</dt><dd>{i.node.address ?? '—'}</dd>
          <dt>Endpoints</dt><dd>{Object.entries(i.endpoints).map(([p, a]) => <span class="mono">{p}={a} </span>)}</dd>
          <dt>Created</dt><dd><Time iso={i.createdAt} /></dd>
          {i.lastError && <><dt>Last error</dt><dd class="error">{i.lastError}</dd></>}
        </dl>
      )}
      <h2>Lifecycle step logs</h2>
      <div class="tabs" role="tablist" aria-label="step">
        {STEPS.map((s) => <button type="button" role="tab" aria-selected={s === step} onClick={() => setStep(s)}>{s}</button>)}
      </div>
      <Failure error={logs.error} />
      {logs.data && logs.data.logs.length === 0 && <p class="muted">No {step === 'all' ? '' : step + ' '}step has run yet.</p>}
      {logs.data && [...logs.data.logs].reverse().map((l) => (
        <article class="log" data-step={l.step} data-state={l.state}>
          <h3>{l.step} <Pill value={l.state} /> <span class="muted">exit {l.exitCode ?? '—'} · <Time iso={l.startedAt} />{l.endedAt ? <> – <Time iso={l.endedAt} /></> : ' (running)'}</span></h3>
          <pre>{l.output || '(no output)'}</pre>
        </article>
      ))}
    </section>
  );
}
