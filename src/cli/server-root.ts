/**
 * The composition root of a Nubis server: store, event log, control plane, token, API.
 * Everything is wired here by hand; nothing is global. Used by `serve` and by `up`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../store/index.js';
import { createEventLog } from '../events/index.js';
import { createControlPlane } from '../engine/index.js';
import { createApiServer, ensureToken, tokenFile } from '../api/index.js';

export interface ServerHandle {
  url: string;
  port: number;
  dataDir: string;
  tokenFile: string;
  /** Set when this start created the token. */
  newToken?: string;
  /** Stops the API (ending event streams), then the engine (nodes keep running), then the store. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  dataDir: string;
  port: number;
  host: string;
  log?: (message: string) => void;
}

/** Starts a server; on failure, whatever was opened is closed again and the error rethrown. */
export async function startServer(o: StartServerOptions): Promise<ServerHandle> {
  const dataDir = path.resolve(o.dataDir);
  const store = await openStore({ path: path.join(dataDir, 'nubis.db') });
  const cleanups: (() => Promise<void>)[] = [() => store.close()];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const events = createEventLog(store);
    const newToken = await ensureToken(store, dataDir);
    const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
    const controlPlane = await createControlPlane({
      dataDir, store, events,
      ...(o.port !== 0 ? { controlUrl: `http://${hostForUrl}:${o.port}` } : {}),
    });
    const api = createApiServer({
      controlPlane, store,
      tokenHint: `the token is in ${tokenFile(dataDir)} on the server`,
      ...(o.log ? { log: o.log } : {}),
    });
    await controlPlane.start();
    cleanups.push(() => controlPlane.stop());
    const { port } = await api.listen(o.port, o.host);
    cleanups.push(() => api.close());
    // lets a user (or script) stop a background server: kill $(cat .nubis/serve.pid)
    const pidFile = path.join(dataDir, 'serve.pid');
    fs.writeFileSync(pidFile, `${process.pid}\n`);
    cleanups.push(async () => fs.rmSync(pidFile, { force: true }));
    const handle: ServerHandle = {
      url: `http://${hostForUrl}:${port}`,
      port,
      dataDir,
      tokenFile: tokenFile(dataDir),
      close: unwind,
    };
    if (newToken) handle.newToken = newToken;
    return handle;
  } catch (e) {
    await unwind();
    throw e;
  }
}
