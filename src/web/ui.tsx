/** Small shared pieces: loading state, errors next to fields, confirmation dialogs, state pills. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, messageOf } from './api';

/** Loads `fn` now and whenever `deps` change; `reload` runs it again. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fn(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (error: unknown) => !ac.signal.aborted && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => ac.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Calls `fn` at most once per `ms` while events keep coming (trailing call guaranteed). */
export function useThrottled(fn: () => void, ms: number): () => void {
  const timer = useRef<number | undefined>(undefined);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  };
}

export function Failure({ error }: { error: unknown }) {
  if (error === undefined) return null;
  return <p class="error" role="alert">{messageOf(error)}</p>;
}

/** The server's message for this field, shown next to it (aria-describedby points here). */
export function FieldError({ error, field, id }: { error: unknown; field: string | string[]; id: string }) {
  const fields = Array.isArray(field) ? field : [field];
  if (!(error instanceof ApiError) || error.field === undefined || !fields.includes(error.field)) return null;
  return <span class="field-error" id={id} role="alert" data-field={error.field}>{error.message}</span>;
}

/** An error not about one of `fields` (shown for the form as a whole). */
export function FormError({ error, fields }: { error: unknown; fields: string[] }) {
  if (error === undefined) return null;
  if (error instanceof ApiError && error.field !== undefined && fields.includes(error.field)) return null;
  return <p class="error" role="alert">{messageOf(error)}</p>;
}

export function Pill({ value, title }: { value: string; title?: string }) {
  return <span class={`pill s-${value}`} title={title ?? value}>{value}</span>;
}

/** A modal dialog (native <dialog>: focus is trapped, Escape closes it). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const close = (): void => onClose();
    d?.addEventListener('close', close);
    return () => d?.removeEventListener('close', close);
  }, []);
  return (
    <dialog ref={ref} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </dialog>
  );
}

export function Time({ iso }: { iso?: string | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  const d = new Date(iso);
  return <time dateTime={iso} title={d.toISOString()}>{d.toLocaleTimeString()}</time>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted empty">{children}</p>;
}
