// The main server of the postproc example: stands in for cloudsigmadb (the database and file
// shares the compute nodes use). It answers `GET /health` and, on `GET /`, how long it has run,
// so `nubis endpoints postproc` shows it up only while a cycle needs it.
import http from 'node:http';

const started = Date.now();
const port = Number(process.env.NUBIS_PORT_STORE ?? 7100);
const host = process.env.NUBIS_HOST ?? '127.0.0.1';
http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200).end('ok\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ role: 'main', upSeconds: Math.round((Date.now() - started) / 1000) })}\n`);
  })
  .listen(port, host);
