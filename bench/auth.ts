/**
 * `node dist/bench/auth.js [--quick]`: what authentication and the role check cost per
 * request on a real server (loopback HTTP, SQLite): `GET /v1/me` with the bootstrap bearer
 * token, a personal token (its user's role is read too), a browser session cookie, and with
 * no credentials (401, the floor: routing and the error answer); and the latency of a login
 * (one scrypt, N=2^15 r=8 p=1). Prints a Markdown table of medians over rounds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../src/cli/server-root.js';

const quick = process.argv.includes('--quick');
const N = quick ? 500 : 3000;
const ROUNDS = quick ? 1 : 3;
const PASSWORD = 'bench-password-0001';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function rate(url: string, headers: Record<string, string>, expect: number): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    // 8 requests in flight, like a console's parallel fetches
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next++ < N) {
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status !== expect) throw new Error(`${url}: ${res.status}`);
      }
    }));
    rounds.push(N / ((performance.now() - t0) / 1000));
  }
  return median(rounds);
}

async function main(): Promise<void> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'nubis-bench-auth-'));
  const server = await startServer({ dataDir: data, port: 0, host: '127.0.0.1' });
  try {
    const base = server.url;
    const admin = server.newToken ?? fs.readFileSync(server.tokenFile, 'utf8').trim();
    const put = await fetch(`${base}/v1/users/bench`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD, roles: { acme: 'operator' } }) });
    if (put.status !== 201) throw new Error(`user: ${put.status}`);
    const logins: number[] = [];
    let cookie = '';
    let csrf = '';
    for (let i = 0; i < (quick ? 3 : 9); i++) {
      const t0 = performance.now();
      const res = await fetch(`${base}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'bench', password: PASSWORD }) });
      logins.push(performance.now() - t0);
      cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
      csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
    }
    const tokRes = await fetch(`${base}/v1/me/tokens`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) });
    const personal = ((await tokRes.json()) as { token: string }).token;
    const me = `${base}/v1/me`;
    const rows: [string, string][] = [
      ['no credentials (401: the floor)', `${(await rate(me, {}, 401)).toFixed(0)} req/s`],
      ['bootstrap bearer token', `${(await rate(me, { authorization: `Bearer ${admin}` }, 200)).toFixed(0)} req/s`],
      ['personal token (role capped by its user\'s)', `${(await rate(me, { authorization: `Bearer ${personal}` }, 200)).toFixed(0)} req/s`],
      ['session cookie', `${(await rate(me, { cookie }, 200)).toFixed(0)} req/s`],
      ['login (one scrypt N=2^15, r=8, p=1)', `${median(logins).toFixed(0)} ms`],
    ];
    console.log(`| GET /v1/me, ${N} requests × ${ROUNDS} rounds, 8 in flight (${os.cpus().length} CPUs) | median |`);
    console.log('|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    await server.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
}

await main();
