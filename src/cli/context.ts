/**
 * What every command gets: where to print, the environment, and how to reach the server.
 * Resolution order: --server, NUBIS_SERVER, http://127.0.0.1:7420; --token, NUBIS_TOKEN,
 * the personal token `nubis login` stored for that server (./logins.ts), then `<data>/token`
 * where data is --data, NUBIS_DATA or `.nubis` in the current directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiClient } from './client.js';
import { storedLogin } from './logins.js';
import { createStyle, colourWanted, type Style } from './format.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7420';
export const DEFAULT_PORT = 7420;

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdoutIsTTY: boolean;
  stdinIsTTY: boolean;
}

export interface GlobalFlags {
  server?: string | undefined;
  token?: string | undefined;
  data?: string | undefined;
}

export class CliContext {
  readonly style: Style;
  constructor(readonly io: CliIO, readonly flags: GlobalFlags) {
    this.style = createStyle(colourWanted(io.env, io.stdoutIsTTY));
  }

  out(text: string): void {
    this.io.out(text.endsWith('\n') ? text : text + '\n');
  }
  err(text: string): void {
    this.io.err(text.endsWith('\n') ? text : text + '\n');
  }

  /** The data directory (absolute). */
  dataDir(): string {
    return path.resolve(this.io.cwd, this.flags.data ?? this.io.env['NUBIS_DATA'] ?? '.nubis');
  }

  serverUrl(): string {
    return this.flags.server ?? this.io.env['NUBIS_SERVER'] ?? DEFAULT_SERVER;
  }

  /** The token from flags, environment or the data directory; undefined when none is found. */
  token(): string | undefined {
    const t = this.flags.token ?? this.io.env['NUBIS_TOKEN'];
    if (t) return t;
    const login = storedLogin(this.io.env, this.serverUrl());
    if (login) return login.token;
    try {
      return fs.readFileSync(path.join(this.dataDir(), 'token'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  client(server = this.serverUrl()): ApiClient {
    const token = this.token();
    return new ApiClient({
      server,
      ...(token ? { token } : {}),
      tokenHint: `no token found: pass --token, set NUBIS_TOKEN, or point --data / NUBIS_DATA at the server's data directory (looked in ${path.join(this.dataDir(), 'token')})`,
    });
  }
}
