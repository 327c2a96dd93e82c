/**
 * The control plane's side of instance archives (./archive.ts). `archive` yields the tar as it
 * arrives and, at its end, checks it against the agent's trailers: a body that was cut (no
 * trailers), a tar that failed (its exit code and message) or bytes that differ from what the
 * agent counted fail the iteration, so a short copy can never pass as a backup.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { NubisError } from '../errors/index.js';
import { agentRequest, type AgentTransport } from './request.js';
import type { InstanceArchive } from './protocol.js';

function fail(base: URL, res: IncomingMessage): Promise<never> {
  return new Promise((_, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      let msg = `agent at ${base.origin} answered ${res.statusCode}`;
      let code = res.statusCode === 404 ? 'NOT_FOUND' : res.statusCode === 400 ? 'REQUEST_INVALID' : 'AGENT_UNREACHABLE';
      try {
        const e = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string; message?: string } }).error;
        if (e?.message) msg = `agent: ${e.message}`;
        if (e?.code === 'REQUEST_INVALID' || e?.code === 'NOT_FOUND' || e?.code === 'UNAUTHORIZED') code = e.code;
      } catch {
        // not JSON: the status decides
      }
      reject(new NubisError(code as 'AGENT_UNREACHABLE', msg));
    });
    res.on('error', (e) => reject(new NubisError('AGENT_UNREACHABLE', `agent at ${base.origin}: ${e.message}`)));
  });
}

function open(base: URL, tls: AgentTransport, token: string, method: string, path: string, signal: AbortSignal, body?: AsyncIterable<Uint8Array>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body) headers['content-type'] = 'application/x-tar';
    const req = agentRequest(new URL(path, base), tls, { method, headers, agent: false, signal }, resolve);
    req.on('error', (e) => reject(signal.aborted ? new NubisError('ABORTED', 'the agent call was aborted') : new NubisError('AGENT_UNREACHABLE', `agent at ${base.origin}: ${e.message}`)));
    if (!body) return void req.end();
    void (async () => {
      try {
        for await (const c of body) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        req.end();
      } catch (e) {
        req.destroy(e as Error);
        reject(e);
      }
    })();
  });
}

/** A tar of `paths` of the instance, streamed from its node's agent. */
export async function fetchArchive(base: URL, tls: AgentTransport, token: string, instance: string, paths: string[], signal: AbortSignal): Promise<InstanceArchive> {
  const q = paths.map((p) => `path=${encodeURIComponent(p)}`).join('&');
  const res = await open(base, tls, token, 'GET', `/v1/instances/${encodeURIComponent(instance)}/archive?${q}`, signal);
  if (res.statusCode !== 200) await fail(base, res);
  let source: { sizeBytes: number; sha256: string } | undefined;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    const h = createHash('sha256');
    let size = 0;
    try {
      for await (const c of res as AsyncIterable<Buffer>) {
        h.update(c);
        size += c.length;
        yield c;
      }
    } catch (e) {
      throw signal.aborted ? new NubisError('ABORTED', 'the archive read was aborted') : new NubisError('AGENT_UNREACHABLE', `the archive from ${base.origin} was cut after ${size} bytes: ${(e as Error).message}`);
    }
    const t = res.trailers;
    if (t['x-nubis-sha256'] === undefined) throw new NubisError('AGENT_UNREACHABLE', `the archive from ${base.origin} ended after ${size} bytes without the agent's digest (cut short)`);
    const exit = Number(t['x-nubis-exit']);
    if (exit !== 0) throw new NubisError('REQUEST_INVALID', `tar on the node failed (exit ${exit}): ${decodeURIComponent(t['x-nubis-error'] ?? '')}`);
    source = { sizeBytes: Number(t['x-nubis-size']), sha256: t['x-nubis-sha256'] };
    const got = h.digest('hex');
    if (source.sizeBytes !== size || source.sha256 !== got) {
      throw new NubisError('BACKUP_VERIFY_FAILED', `the archive arrived as ${size} bytes (sha256 ${got}); the node sent ${source.sizeBytes} (sha256 ${source.sha256})`);
    }
  }
  return { bytes: bytes(), source: () => source };
}

/** Streams a tar to the instance's directory on its node; resolves with what the agent received. */
export async function pushArchive(base: URL, tls: AgentTransport, token: string, instance: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<{ sizeBytes: number; sha256: string }> {
  const res = await open(base, tls, token, 'PUT', `/v1/instances/${encodeURIComponent(instance)}/archive`, signal, body);
  if (res.statusCode !== 200) await fail(base, res);
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { sizeBytes: number; sha256: string };
}
