/**
 * LISTEN on a PostgreSQL channel over a connection of its own (a pooled connection cannot
 * hold a LISTEN). A dropped connection is opened again after `retryMs`; wake-ups sent while it
 * was down are lost, which is why listeners also poll (../events/feed.ts).
 */
import pg from 'pg';

export interface Listening {
  close(): Promise<void>;
}

/** Calls `wake` on every notification of `channel`, and once after each reconnect. */
export async function listenChannel(url: string, channel: string, wake: () => void, retryMs = 1000): Promise<Listening> {
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const open = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    c.on('notification', () => wake());
    c.on('end', () => {
      if (closed || client !== c) return;
      client = undefined;
      timer = setTimeout(() => void open().catch(() => {}), retryMs);
    });
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
    } catch (e) {
      await c.end().catch(() => {});
      if (closed) return;
      timer = setTimeout(() => void open().catch(() => {}), retryMs);
      throw e;
    }
    client = c;
    wake();
  };
  await open().catch(() => {});
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => {});
    },
  };
}
