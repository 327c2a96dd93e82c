/**
 * Streams an image's bytes from Glance (`GET /v2/images/{id}/file`), authenticated through the
 * Keystone session, without reading the whole file into memory. A 401 re-authenticates once;
 * other failures are classified as every OpenStack answer is (./session.ts); a Glance that
 * cannot be reached is CLOUD_UNAVAILABLE. The stream ends (rejects ABORTED) when `signal` aborts.
 * `onRequest` sees the call once Glance has answered its headers.
 */
import { NubisError } from '../../errors/index.js';
import { classifyAnswer, providerMessage, type OpenStackSession, type RequestRecord } from './session.js';

export async function downloadImage(session: OpenStackSession, imageId: string, signal: AbortSignal, onRequest?: (r: RequestRecord) => void): Promise<AsyncIterable<Uint8Array>> {
  const path = `/v2/images/${encodeURIComponent(imageId)}/file`;
  const what = `openstack image download ${imageId}`;
  const base = await session.endpoint('image', signal);
  let res: Response | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const token = await session.currentToken(signal);
    const t0 = Date.now();
    try {
      res = await fetch(base + path, { headers: { 'x-auth-token': token, accept: 'application/octet-stream' }, signal });
    } catch (e) {
      if (signal.aborted) throw new NubisError('ABORTED', `${what} aborted`, { cause: e });
      throw new NubisError('CLOUD_UNAVAILABLE', `${what}: ${new URL(base).host} unreachable (${session.redact(e instanceof Error ? e.message : String(e))})`);
    }
    try {
      onRequest?.({ service: 'image', method: 'GET', path, status: res.status, headers: { accept: 'application/octet-stream' }, latencyMs: Date.now() - t0 });
    } catch {
      // a hook's failure is not the cloud's
    }
    if (res.status !== 401 || attempt === 2) break;
    await res.body?.cancel();
    session.invalidate();
  }
  const answer = res!;
  if (answer.status === 204) return (async function* () {})();
  if (answer.status !== 200 || !answer.body) {
    const text = await answer.text().catch(() => '');
    let body: unknown = { text };
    try {
      body = JSON.parse(text);
    } catch {
      // Glance answers some errors as HTML
    }
    const m = providerMessage(body);
    throw classifyAnswer(answer.status, what, m === undefined ? undefined : session.redact(m).slice(0, 300), answer.headers);
  }
  const stream = answer.body;
  return (async function* () {
    try {
      for await (const chunk of stream) yield chunk;
    } catch (e) {
      if (signal.aborted) throw new NubisError('ABORTED', `${what} aborted`, { cause: e });
      throw new NubisError('CLOUD_UNAVAILABLE', `${what}: the download broke off (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
  })();
}
