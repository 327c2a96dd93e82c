/**
 * The event stream (Server-Sent Events). It first replays stored events after the cursor
 * (`after`, or the Last-Event-ID header on reconnect, whichever is greater), then sends live
 * events as they are committed. Subscribing before the replay and skipping ids already sent
 * makes the hand-over gapless and duplicate-free. Each event is `id: <id>` plus one
 * `data: <json>` line; comments (`: heartbeat`) keep proxies from closing an idle stream.
 * Without a cursor the stream sends only live events.
 */
import type { EventLog, NubisEvent } from '../events/index.js';
import type { StreamSink } from './router.js';

export interface StreamOptions {
  deployment?: string;
  kind?: string;
  /** Replay stored events with id greater than this; undefined means live only. */
  after?: number;
  heartbeatMs: number;
  signal: AbortSignal;
  /** A client with more than this many bytes queued is disconnected. */
  maxBacklog?: number;
}

const PAGE = 1000;

/** Streams events into `sink`; resolves once the stream has ended (client gone, `signal` aborted, or too slow). */
export async function streamEvents(events: EventLog, sink: StreamSink, o: StreamOptions): Promise<void> {
  const maxBacklog = o.maxBacklog ?? 8 * 1024 * 1024;
  let lastId = o.after ?? 0;
  let replaying = true;
  let closed = false;
  const pending: NubisEvent[] = [];
  let ended = (): void => {};
  const endedP = new Promise<void>((resolve) => (ended = resolve));

  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
    sink.end();
    ended();
  };
  const send = (e: NubisEvent): void => {
    if (closed || e.id <= lastId) return;
    lastId = e.id;
    sink.write(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
    if (sink.backlog() > maxBacklog) close();
  };

  const filter: { deployment?: string; kind?: string } = {};
  if (o.deployment !== undefined) filter.deployment = o.deployment;
  if (o.kind !== undefined) filter.kind = o.kind;
  const unsubscribe = events.subscribe(filter, (e) => {
    if (replaying) pending.push(e);
    else send(e);
  });
  const heartbeat = setInterval(() => {
    if (!closed) sink.write(': heartbeat\n\n');
  }, o.heartbeatMs);
  o.signal.addEventListener('abort', close, { once: true });
  if (o.signal.aborted) return close();

  sink.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  sink.write(': connected\nretry: 2000\n\n');

  try {
    if (o.after !== undefined) {
      for (;;) {
        const page = await events.list({ ...filter, afterId: lastId, limit: PAGE });
        for (const e of page) send(e);
        if (page.length < PAGE || closed) break;
      }
    }
  } catch (e) {
    // The head is already sent; all we can do is say so in the stream and end it.
    sink.write(`: replay failed: ${e instanceof Error ? e.message.replace(/\n/g, ' ') : 'error'}\n\n`);
    close();
    throw e;
  }
  replaying = false;
  for (const e of pending.splice(0)) send(e);
  await endedP;
}
