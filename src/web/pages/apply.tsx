/**
 * Apply a spec: paste (or load) the YAML, add the artefact files it names, see the plan —
 * its actions, which counts win, the rollout, and for an existing deployment the diff of the
 * spec text — and only then confirm. Errors are the server's, next to the field they are about.
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import type { PlanResult, SpecInput } from '../api-types';
import { lineDiff } from '../diff';
import { go, href, useRoute } from '../router';
import { FieldError, FormError, Pill } from '../ui';

async function base64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const FIELDS = ['spec', 'file', 'artefacts'];

export function ApplyPage() {
  const { query } = useRoute();
  const existing = query.get('deployment') ?? undefined;
  const [text, setText] = useState('');
  const [file, setFile] = useState('spec.yaml');
  const [before, setBefore] = useState<string | undefined>(undefined);
  const [files, setFiles] = useState<File[]>([]);
  const [plan, setPlan] = useState<{ input: SpecInput; result: PlanResult } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!existing) return;
    call('getDeploymentSpec', { params: { name: existing } }).then((s) => {
      setText(s.text);
      setBefore(s.text);
      setFile(s.file);
    }, setError);
  }, [existing]);

  const input = async (): Promise<SpecInput> => {
    const artefacts: Record<string, string> = {};
    for (const f of files) artefacts[f.name] = await base64(f);
    return { spec: text, file, ...(files.length ? { artefacts } : {}) };
  };
  const doPlan = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setPlan(undefined);
    try {
      const i = await input();
      setPlan({ input: i, result: await call('plan', { body: i }) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const doApply = async (): Promise<void> => {
    if (!plan) return;
    setBusy(true);
    setError(undefined);
    try {
      const v = await call('apply', { body: plan.input });
      go('deployments', v.name);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const loadFile = async (f: File | undefined): Promise<void> => {
    if (!f) return;
    setText(await f.text());
    setFile(f.name);
    setPlan(undefined);
  };
  return (
    <section>
      <p class="crumbs"><a href={href('deployments')}>Deployments</a> / {existing ? <><a href={href('deployments', existing)}>{existing}</a> / new version</> : 'apply'}</p>
      <h1>{existing ? `Apply a new version of ${existing}` : 'Apply a spec'}</h1>
      <form onSubmit={doPlan} aria-label="spec">
        <label>Spec file <input type="file" name="specfile" accept=".yaml,.yml,text/yaml" onChange={(e) => void loadFile(e.currentTarget.files?.[0])} /></label>
        <label>Spec (YAML)
          <textarea name="spec" rows={18} spellcheck={false} value={text} onInput={(e) => { setText(e.currentTarget.value); setPlan(undefined); }} aria-describedby="err-spec" aria-invalid={error !== undefined} />
        </label>
        <FieldError error={error} field="spec" id="err-spec" />
        <label>File name (for error locations) <input name="file" value={file} onInput={(e) => setFile(e.currentTarget.value)} aria-describedby="err-file" /></label>
        <FieldError error={error} field="file" id="err-file" />
        <label>Artefact files <input type="file" name="artefacts" multiple onChange={(e) => { setFiles([...(e.currentTarget.files ?? [])]); setPlan(undefined); }} aria-describedby="err-artefacts" /></label>
        <span class="muted">{files.map((f) => f.name).join(', ')}</span>
        <FieldError error={error} field="artefacts" id="err-artefacts" />
        <FormError error={error} fields={FIELDS} />
        <div class="actions"><button type="submit" disabled={busy || text.trim() === ''}>Plan</button></div>
      </form>
      {plan && <PlanView plan={plan.result} before={before} after={plan.input.spec} busy={busy} onApply={() => void doApply()} />}
    </section>
  );
}

function PlanView({ plan, before, after, busy, onApply }: { plan: PlanResult; before?: string | undefined; after: string; busy: boolean; onApply: () => void }) {
  const diff = before === undefined ? undefined : lineDiff(before, after);
  const changed = diff?.some((l) => l.op !== ' ') ?? true;
  return (
    <section class="plan" aria-label="plan">
      <h2>Plan for {plan.deployment}{plan.create ? ' (new)' : ''}</h2>
      <p data-summary>+{plan.summary.add} to add · ~{plan.summary.change} to change · −{plan.summary.remove} to remove</p>
      {diff && (
        <>
          <h3>Spec changes</h3>
          {changed ? (
            <pre class="diff" aria-label="spec diff">{diff.filter((l, k) => l.op !== ' ' || diff.slice(Math.max(0, k - 2), k + 3).some((n) => n.op !== ' ')).map((l) => (
              <div class={`d${l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'same'}`}>{l.op} {l.text}</div>
            ))}</pre>
          ) : <p class="muted">The spec text is unchanged.</p>}
        </>
      )}
      {plan.counts && plan.counts.length > 0 && (
        <ul>{plan.counts.map((c) => <li>{c.component}: {c.count} ({c.wins} wins: {c.reason})</li>)}</ul>
      )}
      <table class="list" aria-label="actions">
        <thead><tr><th>Action</th><th>Target</th><th>Cloud</th><th>Why</th></tr></thead>
        <tbody>{plan.actions.map((a) => <tr><td><Pill value={a.kind} /></td><td>{a.target}</td><td>{a.cloud ?? ''}</td><td>{a.reason}</td></tr>)}</tbody>
      </table>
      {plan.rollout && plan.rollout.length > 0 && (
        <ul class="rollout">{plan.rollout.map((r) => <li>batch {r.batch}/{r.batches}: {r.action} {r.instance} — {r.reason}</li>)}</ul>
      )}
      <div class="actions"><button type="button" class="primary" disabled={busy} onClick={onApply}>Apply this plan</button></div>
    </section>
  );
}
