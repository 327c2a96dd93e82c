// A round-robin HTTP reverse proxy.
// Backends come from the wiring file $NUBIS_WIRING_FILE:
//   { "requires": { "backends": [{ "instance": "app-1", "host": "127.0.0.1", "port": 21011 }, …] }, "provides": {…} }
// (falling back to NUBIS_REQUIRES_BACKENDS=host:port,… when the file has no list; an empty list
// means no backends). On SIGHUP the
// file is read again without restarting. Writes its pid to lb.pid in the working directory.
// No backends → 503; a backend that fails → the next one is tried, then 502.
// Each proxied response carries `x-backend: <instance>`.
// Env: NUBIS_PORT_HTTP (port), NUBIS_HOST (bind address, default 127.0.0.1), NUBIS_WIRING_FILE.
import { createServer, request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';

const port = Number(process.env.NUBIS_PORT_HTTP);
const host = process.env.NUBIS_HOST || '127.0.0.1';
if (!Number.isInteger(port) || port <= 0) {
  console.error('lb: NUBIS_PORT_HTTP must be a port number');
  process.exit(2);
}

let backends = [];
let next = 0;

function load() {
  let list = [];
  // an empty list in the wiring file is news too (every backend left or is unreachable): the
  // start-time environment is only a fallback when the file has no list at all
  let fromFile = false;
  try {
    const wiring = JSON.parse(readFileSync(process.env.NUBIS_WIRING_FILE || 'wiring.json', 'utf8'));
    const b = wiring && wiring.requires && wiring.requires.backends;
    if (Array.isArray(b)) {
      fromFile = true;
      list = b.filter((x) => x && x.host && Number(x.port) > 0).map((x) => ({ instance: String(x.instance ?? `${x.host}:${x.port}`), host: x.host, port: Number(x.port) }));
    }
  } catch (e) {
    console.error(`lb: cannot read the wiring file: ${e.message}`);
  }
  if (!fromFile && process.env.NUBIS_REQUIRES_BACKENDS) {
    list = process.env.NUBIS_REQUIRES_BACKENDS.split(',').filter(Boolean).map((a) => {
      const [h, p] = a.split(':');
      return { instance: a, host: h, port: Number(p) };
    });
  }
  backends = list;
  console.log(`lb: ${backends.length} backend(s): ${backends.map((b) => b.instance).join(', ')}`);
}

function proxy(req, res, body, tries) {
  if (backends.length === 0) return res.writeHead(503, { 'content-type': 'text/plain' }).end('no backends\n');
  if (tries >= backends.length) return res.writeHead(502, { 'content-type': 'text/plain' }).end('all backends failed\n');
  const b = backends[next++ % backends.length];
  const headers = { ...req.headers, host: `${b.host}:${b.port}` };
  const up = request({ host: b.host, port: b.port, method: req.method, path: req.url, headers, timeout: 5000 }, (r) => {
    res.writeHead(r.statusCode, { ...r.headers, 'x-backend': b.instance });
    r.pipe(res);
  });
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('error', () => {
    if (!res.headersSent) proxy(req, res, body, tries + 1);
    else res.destroy();
  });
  up.end(body);
}

load();
process.on('SIGHUP', load); // before lb.pid exists, so an early `kill -HUP` cannot kill us
writeFileSync('lb.pid', `${process.pid}\n`);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => proxy(req, res, Buffer.concat(chunks), 0));
});
server.listen(port, host, () => console.log(`lb listening on ${host}:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
