/**
 * The CLI's stored logins: `nubis login` keeps a personal token per server in
 * `$NUBIS_CONFIG`, else `$XDG_CONFIG_HOME/nubis/logins.json`, else `~/.config/nubis/logins.json`
 * (mode 0600, written atomically). The token is the user's personal token (never the password).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface StoredLogin {
  user: string;
  tenant: string;
  role: string;
  /** The personal token's name (to revoke it at logout). */
  name: string;
  token: string;
}

export function loginsFile(env: NodeJS.ProcessEnv): string {
  if (env['NUBIS_CONFIG']) return env['NUBIS_CONFIG'];
  const base = env['XDG_CONFIG_HOME'] || path.join(env['HOME'] || os.homedir(), '.config');
  return path.join(base, 'nubis', 'logins.json');
}

/** The server URL as a key: no trailing slash. */
const keyOf = (server: string): string => server.replace(/\/+$/, '');

export function readLogins(env: NodeJS.ProcessEnv): Record<string, StoredLogin> {
  try {
    const v = JSON.parse(fs.readFileSync(loginsFile(env), 'utf8')) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, StoredLogin>) : {};
  } catch {
    return {};
  }
}

export function storedLogin(env: NodeJS.ProcessEnv, server: string): StoredLogin | undefined {
  return readLogins(env)[keyOf(server)];
}

/** Stores (or with `undefined` forgets) the login for a server. */
export function writeLogin(env: NodeJS.ProcessEnv, server: string, login: StoredLogin | undefined): string {
  const file = loginsFile(env);
  const all = readLogins(env);
  if (login) all[keyOf(server)] = login;
  else delete all[keyOf(server)];
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return file;
}
