// An application server.
//   GET /        → {"instance": "<NUBIS_INSTANCE>", "count": n}, where n is a counter kept in kv
//                  (read, incremented, written back under key "counter"; 502 if kv is unreachable)
//   GET /health  → 200 "ok"
// Env: NUBIS_PORT_HTTP (port), NUBIS_HOST (bind address, default 127.0.0.1), NUBIS_INSTANCE,
//      NUBIS_REQUIRES_KV=host:port[,host:port…] (the first address is used).
import { createServer, request } from 'node:http';

const port = Number(process.env.NUBIS_PORT_HTTP);
const host = process.env.NUBIS_HOST || '127.0.0.1';
const instance = process.env.NUBIS_INSTANCE || 'app';
const [kvHost, kvPort] = (process.env.NUBIS_REQUIRES_KV || '').split(',')[0].split(':');
if (!Number.isInteger(port) || port <= 0) {
  console.error('app: NUBIS_PORT_HTTP must be a port number');
  process.exit(2);
}

function kv(method, key, body) {
  return new Promise((resolve, reject) => {
    if (!kvHost || !kvPort) return reject(new Error('NUBIS_REQUIRES_KV is not set'));
    const req = request({ host: kvHost, port: Number(kvPort), method, path: `/kv/${encodeURIComponent(key)}`, timeout: 2000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('kv timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://app');
  if (url.pathname === '/health') return res.end('ok\n');
  if (url.pathname !== '/') return res.writeHead(404).end('not found\n');
  try {
    const got = await kv('GET', 'counter');
    const count = (got.status === 200 ? Number(got.body) || 0 : 0) + 1;
    await kv('PUT', 'counter', String(count));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance, count }) + '\n');
  } catch (e) {
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ instance, error: e.message }) + '\n');
  }
});
server.listen(port, host, () => console.log(`${instance} listening on ${host}:${port}, kv at ${kvHost}:${kvPort}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
