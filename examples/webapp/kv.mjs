// A tiny HTTP key-value store.
//   GET /kv/<key>   → 200 with the stored value, 404 when absent
//   PUT /kv/<key>   → stores the request body, 204
//   GET /health     → 200
// Data is kept in kv-data.json in the working directory (rewritten atomically on every PUT).
// Env: NUBIS_PORT_KV (port), NUBIS_HOST (bind address, default 127.0.0.1).
import { createServer } from 'node:http';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const port = Number(process.env.NUBIS_PORT_KV);
const host = process.env.NUBIS_HOST || '127.0.0.1';
const file = 'kv-data.json';
if (!Number.isInteger(port) || port <= 0) {
  console.error('kv: NUBIS_PORT_KV must be a port number');
  process.exit(2);
}

let data = {};
try {
  data = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  data = {};
}

function save() {
  writeFileSync(`${file}.tmp`, JSON.stringify(data));
  renameSync(`${file}.tmp`, file);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://kv');
  if (url.pathname === '/health') return res.end('ok\n');
  const m = /^\/kv\/(.+)$/.exec(url.pathname);
  if (!m) {
    res.writeHead(404).end('not found\n');
    return;
  }
  const key = decodeURIComponent(m[1]);
  if (req.method === 'GET') {
    if (!Object.hasOwn(data, key)) return res.writeHead(404).end();
    return res.writeHead(200, { 'content-type': 'text/plain' }).end(data[key]);
  }
  if (req.method === 'PUT') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      data[key] = Buffer.concat(chunks).toString('utf8');
      save();
      res.writeHead(204).end();
    });
    return;
  }
  res.writeHead(405, { allow: 'GET, PUT' }).end();
});
server.listen(port, host, () => console.log(`kv listening on ${host}:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
