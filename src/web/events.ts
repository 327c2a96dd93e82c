/**
 * The live audit log: one Server-Sent Events stream (GET /v1/events/stream) for the whole
 * console, read with fetch so it carries the same credentials as every call (EventSource
 * cannot send a bearer header). It starts with the newest stored events, follows from the last
 * id it has, and on a dropped connection resumes from there, so nothing is missed or repeated.
 */
import { authHeaders, call, urlOf } from './api';
import type { EventList } from './api-types';

export type Event = EventList['events'][number];
type Listener = (e: Event) => void;

const KEEP = 2000;

export interface EventBus {
  /** The events seen so far, oldest first (at most the last 2000). */
  recent(): readonly Event[];
  /** Whether the stream is connected now. */
  connected(): boolean;
  subscribe(fn: Listener): () => void;
  onStatus(fn: (connected: boolean) => void): () => void;
  stop(): void;
}

/** Parses `id:`/`data:` frames out of the text received so far; returns the unparsed rest. */
export function parseFrames(buffer: string, emit: (data: string) => void): string {
  let at: number;
  while ((at = buffer.indexOf('\n\n')) >= 0) {
    const frame = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (data) emit(data);
  }
  return buffer;
}

export function startEventBus(): EventBus {
  const events: Event[] = [];
  const listeners = new Set<Listener>();
  const status = new Set<(c: boolean) => void>();
  let lastId: number | undefined;
  let live = false;
  let stopped = false;
  let ac = new AbortController();

  const setLive = (v: boolean): void => {
    if (v === live) return;
    live = v;
    for (const s of status) s(v);
  };
  const add = (e: Event): void => {
    if (lastId !== undefined && e.id <= lastId) return;
    lastId = e.id;
    events.push(e);
    if (events.length > KEEP) events.splice(0, events.length - KEEP);
    for (const l of listeners) l(e);
  };

  async function loop(): Promise<void> {
    while (!stopped) {
      try {
        if (lastId === undefined) {
          const first = await call('listEvents', { query: { limit: 300 }, signal: ac.signal });
          for (const e of first.events) add(e);
          lastId ??= 0;
        }
        const res = await fetch(urlOf('streamEvents', { query: { after: lastId } }), {
          headers: { accept: 'text/event-stream', ...authHeaders('GET') }, credentials: 'same-origin', signal: ac.signal,
        });
        if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
        setLive(true);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = parseFrames(buffer + decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n'), (d) => add(JSON.parse(d) as Event));
        }
      } catch {
        /* dropped or refused: try again */
      }
      setLive(false);
      if (stopped) return;
      await new Promise((r) => setTimeout(r, 2000));
      ac = new AbortController();
    }
  }
  void loop();

  return {
    recent: () => events,
    connected: () => live,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    onStatus(fn) {
      status.add(fn);
      return () => status.delete(fn);
    },
    stop() {
      stopped = true;
      ac.abort();
    },
  };
}
