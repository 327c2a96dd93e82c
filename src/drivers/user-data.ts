/**
 * A cloud VM's user data: the Nubis part (./cloud-agent.ts, a shell script that starts the
 * agent) and the node template's own cloud-config (`cloudInit`), as cloud-init reads them.
 *
 * Why a multipart MIME archive and not one merged cloud-config: cloud-init takes each part as
 * it is (RFC 2046 multipart/mixed, one `text/cloud-config` and one `text/x-shellscript`), so
 * the user's document reaches the VM byte for byte — its own `runcmd`, `write_files` and
 * `packages` keep cloud-init's own meaning, with no list-merging rules (`merge_how`) for anyone
 * to get wrong — and the Nubis script runs in the scripts-user stage, after the user's
 * packages are installed. Without a user part the script is sent alone (smaller, and what
 * images without multipart support still run).
 *
 * Both are deterministic (the boundary is a hash of the parts), so a repeated create sends the
 * same bytes (EC2 refuses a repeated ClientToken with other parameters).
 *
 * Failure meaning: user data over the platform's limit (../model USER_DATA_LIMITS) is
 * SPEC_INVALID (not retryable) naming the size, the limit and the template; nothing is sent.
 */
import { createHash } from 'node:crypto';
import { NubisError } from '../errors/index.js';
import { userDataFits, type UserDataPlatform } from '../model/index.js';

/** One part of a user-data archive. */
export interface UserDataPart {
  /** MIME type, such as text/cloud-config or text/x-shellscript. */
  type: string;
  filename?: string;
  body: string;
}

/** The user data for a node: the Nubis script alone, or both parts as multipart/mixed. */
export function composeUserData(nubisScript: string, user?: { text: string; file?: string }): string {
  if (!user) return nubisScript;
  const parts: UserDataPart[] = [
    { type: 'text/cloud-config', filename: user.file?.split('/').pop() ?? 'user-cloud-config.yaml', body: user.text },
    { type: 'text/x-shellscript', filename: 'nubis-agent.sh', body: nubisScript },
  ];
  const boundary = `==nubis-${createHash('sha256').update(parts.map((p) => p.body).join('\0')).digest('hex').slice(0, 24)}==`;
  const lines = ['Content-Type: multipart/mixed; boundary="' + boundary + '"', 'MIME-Version: 1.0', ''];
  for (const p of parts) {
    lines.push(
      `--${boundary}`,
      `Content-Type: ${p.type}; charset="utf-8"`,
      'MIME-Version: 1.0',
      `Content-Transfer-Encoding: ${/^[\x00-\x7f]*$/.test(p.body) ? '7bit' : '8bit'}`,
      `Content-Disposition: attachment; filename="${(p.filename ?? 'part').replace(/["\\\r\n]/g, '_')}"`,
      '',
      p.body.endsWith('\n') ? p.body.slice(0, -1) : p.body,
    );
  }
  lines.push(`--${boundary}--`, '');
  return lines.join('\n');
}

/** The parts of user data as cloud-init would see them (a single document is one part). */
export function userDataParts(text: string): UserDataPart[] {
  const m = /^Content-Type: multipart\/mixed; boundary="([^"]+)"/m.exec(text.split('\n\n', 1)[0] ?? '');
  if (!m) return [{ type: text.startsWith('#cloud-config') ? 'text/cloud-config' : 'text/x-shellscript', body: text }];
  const out: UserDataPart[] = [];
  for (const chunk of text.split(`--${m[1]}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const sep = chunk.indexOf('\n\n');
    const head = chunk.slice(0, sep);
    const type = /^Content-Type: ([^;\n]+)/m.exec(head)?.[1] ?? 'text/plain';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    out.push({ type, ...(filename !== undefined ? { filename } : {}), body: `${chunk.slice(sep + 2).replace(/\n$/, '')}\n` });
  }
  return out;
}

/** Throws SPEC_INVALID when `userData` does not fit `platform` (see the module comment). */
export function assertUserDataFits(platform: UserDataPlatform, userData: string, key: string): void {
  const fit = userDataFits(platform, Buffer.byteLength(userData, 'utf8'));
  if (!fit.ok) {
    throw new NubisError('SPEC_INVALID', `${platform} create ${key}: ${fit.message}; shorten the node template's cloudInit by ${fit.size - fit.limit} bytes or more`, {
      details: { size: fit.size, limit: fit.limit },
    });
  }
}
