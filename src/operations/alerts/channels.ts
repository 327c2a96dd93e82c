/**
 * The channels an alert is sent through: a webhook (JSON POST signed with HMAC-SHA256 over
 * the timestamp and the body), SMTP mail (nodemailer) and the event log.
 *
 * Failure meaning: a send throws `DeliveryError`; `retryable` says whether another attempt
 * may succeed (a 5xx or 429 answer, a timeout, a refused connection, an SMTP 4xx) or not (a
 * 4xx answer, a redirect, an SMTP 5xx, a channel without its secret). Messages never carry
 * the secret.
 */
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import type { AlertChannelSpec } from '../../model/index.js';

/** The header with the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'nubis-signature';
/** The delivery's id, the same on every attempt: receivers drop repeats by it. */
export const DELIVERY_HEADER = 'nubis-delivery';

export class DeliveryError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface OutgoingMessage {
  deliveryId: string;
  subject: string;
  text: string;
  payload: Record<string, unknown>;
}

export interface ChannelTarget {
  spec: AlertChannelSpec;
  /** The webhook signing key or the SMTP password, opened for this send only. */
  secret?: string;
}

/** The signature header value for a body at a time (seconds since the epoch). */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = crypto.createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * Checks a signature header as a receiver should: the MAC over `<t>.<body>` (compared in
 * constant time) and a timestamp within `toleranceMs` of `now` (a replayed old message fails).
 */
export function verifyWebhook(secret: string, body: string, header: string, nowMs: number, toleranceMs = 300_000): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowMs - t * 1000) > toleranceMs) return false;
  const want = Buffer.from(crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(m[2]!);
  return want.length === got.length && crypto.timingSafeEqual(want, got);
}

/** POSTs the payload once. */
export async function sendWebhook(target: ChannelTarget, msg: OutgoingMessage, nowMs: number, signal: AbortSignal): Promise<void> {
  const { spec, secret } = target;
  if (!spec.url) throw new DeliveryError(`channel ${spec.name}: no url`, false);
  if (!secret) throw new DeliveryError(`channel ${spec.name}: no signing key (its credential has no field "secret")`, false);
  const body = JSON.stringify(msg.payload);
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  let res: Response;
  try {
    res = await fetch(spec.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeout]),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'nubis-alerts/1',
        [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(nowMs / 1000)),
        [DELIVERY_HEADER]: msg.deliveryId,
      },
      body,
    });
  } catch (e) {
    if (signal.aborted) throw e;
    const why = timeout.aborted ? `no answer within ${spec.timeoutMs} ms` : (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new DeliveryError(`POST ${hostOf(spec.url)}: ${why}`, true);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return;
  const retryable = res.status >= 500 || res.status === 429 || res.status === 408 || res.status === 425;
  throw new DeliveryError(`POST ${hostOf(spec.url)}: HTTP ${res.status}`, retryable);
}

/** The URL without its path, query and user info (they may carry tokens): for messages only. */
function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the webhook';
  }
}

/** Sends the message as one mail. */
export async function sendMail(target: ChannelTarget, msg: OutgoingMessage, signal: AbortSignal): Promise<void> {
  const { spec, secret } = target;
  if (!spec.host || !spec.from || !spec.to?.length) throw new DeliveryError(`channel ${spec.name}: host, from and to are needed`, false);
  if (spec.user && !secret) throw new DeliveryError(`channel ${spec.name}: no password (its credential has no field "password")`, false);
  const transport = nodemailer.createTransport({
    host: spec.host,
    port: spec.port ?? 25,
    secure: spec.tls === 'tls',
    ignoreTLS: spec.tls === 'none',
    connectionTimeout: spec.timeoutMs,
    greetingTimeout: spec.timeoutMs,
    socketTimeout: spec.timeoutMs,
    ...(spec.user ? { auth: { user: spec.user, pass: secret ?? '' } } : {}),
  });
  const onAbort = (): void => transport.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await transport.sendMail({
      from: spec.from,
      to: spec.to,
      subject: msg.subject,
      text: msg.text,
      headers: { 'X-Nubis-Delivery': msg.deliveryId },
    });
  } catch (e) {
    const err = e as { responseCode?: number; code?: string; message?: string };
    const code = err.responseCode;
    // SMTP 4xx: try again later; 5xx: refused for good; no reply code: the connection failed
    const retryable = code === undefined ? err.code !== 'EAUTH' : code < 500;
    throw new DeliveryError(`SMTP ${spec.host}:${spec.port ?? 25}: ${code !== undefined ? `${code} ` : ''}${(err.message ?? String(e)).split('\n')[0]}`, retryable);
  } finally {
    signal.removeEventListener('abort', onAbort);
    transport.close();
  }
}
