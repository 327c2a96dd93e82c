/**
 * `nubis users add|list|rm|passwd|roles`: the installation administrator manages users and
 * their roles per tenant; `nubis login` / `nubis logout` keep a personal token for this CLI.
 * A password is never a flag (it would show in `ps`): it comes from NUBIS_PASSWORD or, with
 * --password-stdin, the first line of standard input.
 */
import fs from 'node:fs';
import os from 'node:os';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command, type Parsed } from '../command.js';
import type { CliContext } from '../context.js';
import { ApiClient } from '../client.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { table } from '../format.js';
import { storedLogin, writeLogin } from '../logins.js';

interface UserView {
  name: string;
  roles: { tenant: string; role: string }[];
  createdAt: string;
}

const ROLE_FORMS = 'admin, operator or viewer';

function password(ctx: CliContext, args: Parsed): string {
  if (args.values['password-stdin'] === true) {
    const line = fs.readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? '';
    if (line === '') throw usageError('--password-stdin: standard input has no password line');
    return line;
  }
  const p = ctx.io.env['NUBIS_PASSWORD'];
  if (p === undefined || p === '') throw usageError('no password: set NUBIS_PASSWORD or pass --password-stdin (never a flag: it would show in ps)');
  return p;
}

/** `--role acme=operator` (repeatable) → { acme: 'operator' }. */
function roles(args: Parsed): Record<string, string> {
  const raw = args.values['role'] as unknown;
  const list = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  const out: Record<string, string> = {};
  for (const r of list) {
    const m = /^([^=]+)=(.+)$/.exec(r);
    if (!m) throw usageError(`--role: expected <tenant>=<role> (${ROLE_FORMS}), found ${JSON.stringify(r)}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

function formatUsers(ctx: CliContext, users: UserView[]): string {
  if (users.length === 0) return 'no users';
  return table(ctx.style, ['USER', 'ROLES', 'CREATED'], users.map((u) => [u.name, u.roles.map((r) => `${r.tenant}=${r.role}`).join(' ') || ctx.style.dim('-'), u.createdAt]));
}

const usersUsage = 'nubis users add <user> --role <tenant>=<role>… | list | rm <user> | passwd <user> | roles <user> [--role <tenant>=<role>…] [--drop <tenant>…]';

export const usersCommand: Command = {
  name: 'users',
  summary: 'users and their roles per tenant: add, list, rm, passwd, roles (the installation administrator)',
  usage: usersUsage,
  help: [
    `--role <tenant>=<role>  give the user a role in a tenant (${ROLE_FORMS}); repeatable`,
    '--drop <tenant>  (roles) take the user\'s role in a tenant away; repeatable',
    '--password-stdin  read the password from the first line of standard input (else NUBIS_PASSWORD)',
    outputHelp,
  ],
  options: { role: { type: 'string', multiple: true }, drop: { type: 'string', multiple: true }, 'password-stdin': { type: 'boolean' }, ...outputOption },
  maxPositionals: 2,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, name] = args.positionals;
    const client = ctx.client();
    const show = (u: UserView): void => ctx.out(json ? JSON.stringify(u, null, 2) : formatUsers(ctx, [u]));
    switch (sub) {
      case 'list': {
        const { users } = await client.get<{ users: UserView[] }>('/v1/users');
        ctx.out(json ? JSON.stringify({ users }, null, 2) : formatUsers(ctx, users));
        return 0;
      }
      case 'add':
      case 'passwd': {
        const user = required(name, `<user>\nusage: ${usersUsage}`);
        const r = roles(args);
        if (sub === 'add') {
          const exists = await client.request<UserView>('GET', `/v1/users/${enc(user)}`).then(() => true, (e: unknown) => {
            if (e instanceof CliError && e.code === 'NOT_FOUND') return false;
            throw e;
          });
          if (exists) throw new CliError(EXIT.INVALID, 'CONFLICT', `user ${JSON.stringify(user)} exists; set its password with \`nubis users passwd\`, its roles with \`nubis users roles\``);
          if (Object.keys(r).length === 0) throw usageError(`users add: give the user at least one role, --role <tenant>=<role> (${ROLE_FORMS})`);
        }
        const { body } = await client.request<UserView>('PUT', `/v1/users/${enc(user)}`, { password: password(ctx, args), ...(Object.keys(r).length ? { roles: r } : {}) });
        show(body);
        return 0;
      }
      case 'rm': {
        const user = required(name, `<user>\nusage: ${usersUsage}`);
        await client.request('DELETE', `/v1/users/${enc(user)}`);
        ctx.out(json ? JSON.stringify({ removed: user }) : `user ${user} removed (its sessions and personal tokens too)`);
        return 0;
      }
      case 'roles': {
        const user = required(name, `<user>\nusage: ${usersUsage}`);
        let view = await client.get<UserView>(`/v1/users/${enc(user)}`);
        for (const [tenant, role] of Object.entries(roles(args))) view = (await client.request<UserView>('PUT', `/v1/users/${enc(user)}/roles/${enc(tenant)}`, { role })).body;
        const drops = (args.values['drop'] as unknown as string[] | undefined) ?? [];
        for (const tenant of drops) view = (await client.request<UserView>('DELETE', `/v1/users/${enc(user)}/roles/${enc(tenant)}`)).body;
        show(view);
        return 0;
      }
      default:
        throw usageError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${usersUsage}`);
    }
  },
};

interface Session {
  user: string;
  tenant: string;
  role: string;
  csrfToken: string;
}

/** One call with the session cookie (and its CSRF token on unsafe methods). */
async function withCookie(server: string, cookie: string, csrf: string, method: string, p: string, body?: unknown): Promise<Response> {
  return fetch(`${server}${p}`, {
    method,
    headers: { cookie, 'x-csrf-token': csrf, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function failOf(res: Response): Promise<CliError> {
  const j = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  const code = j.error?.code ?? `HTTP_${res.status}`;
  return new CliError(code === 'UNAUTHORIZED' || code === 'REQUEST_INVALID' ? EXIT.INVALID : EXIT.FAILURE, code, j.error?.message ?? `the server answered ${res.status}`);
}

export const loginCommand: Command = {
  name: 'login',
  summary: 'log in as a user: stores a personal token for this server (revoked by `nubis logout`)',
  usage: 'nubis login <user> [--tenant <tenant>] [--password-stdin]',
  help: [
    '--tenant <tenant>  the tenant to act in (default: the user\'s only one, else default, else the first)',
    '--password-stdin  read the password from the first line of standard input (else NUBIS_PASSWORD)',
    outputHelp,
  ],
  options: { tenant: { type: 'string' }, 'password-stdin': { type: 'boolean' }, ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    const user = required(args.positionals[0], '<user>');
    const server = ctx.serverUrl().replace(/\/+$/, '');
    const tenant = str(args, 'tenant');
    let res: Response;
    try {
      res = await fetch(`${server}/v1/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password: password(ctx, args), ...(tenant !== undefined ? { tenant } : {}) }),
      });
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(EXIT.UNREACHABLE, 'UNREACHABLE', `cannot reach the Nubis server at ${server}`);
    }
    if (!res.ok) throw await failOf(res);
    const session = (await res.json()) as Session;
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const name = `cli-${os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20)}-${Date.now().toString(36)}`.replace(/-+/g, '-');
    const minted = await withCookie(server, cookie, session.csrfToken, 'POST', '/v1/me/tokens', { name });
    if (!minted.ok) throw await failOf(minted);
    const token = ((await minted.json()) as { token: string }).token;
    // the session was only the way to the personal token
    await withCookie(server, cookie, session.csrfToken, 'POST', '/v1/logout');
    const old = storedLogin(ctx.io.env, server);
    const file = writeLogin(ctx.io.env, server, { user: session.user, tenant: session.tenant, role: session.role, name, token });
    if (old) await new ApiClient({ server, token: old.token }).request('DELETE', `/v1/me/tokens/${enc(old.name)}`).catch(() => undefined);
    if (json) ctx.out(JSON.stringify({ user: session.user, tenant: session.tenant, role: session.role, token: name, file }, null, 2));
    else ctx.out(`logged in to ${server} as ${session.user} (${session.role} of tenant ${session.tenant}); personal token ${name} stored in ${file}`);
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  summary: 'revoke the personal token `nubis login` stored for this server, and forget it',
  usage: 'nubis logout',
  help: [],
  options: {},
  maxPositionals: 0,
  async run(ctx) {
    const server = ctx.serverUrl().replace(/\/+$/, '');
    const login = storedLogin(ctx.io.env, server);
    if (!login) {
      ctx.out(`not logged in to ${server}`);
      return 0;
    }
    await new ApiClient({ server, token: login.token }).request('DELETE', `/v1/me/tokens/${enc(login.name)}`).catch((e: unknown) => {
      if (!(e instanceof CliError && (e.code === 'NOT_FOUND' || e.code === 'UNAUTHORIZED'))) throw e;
    });
    writeLogin(ctx.io.env, server, undefined);
    ctx.out(`logged out of ${server} (token ${login.name} revoked)`);
    return 0;
  },
};
