/**
 * Where a tenant's channel may send: tenants other than the administrator's may not point a
 * webhook or a mail server at this host or its private networks (they could reach services
 * that trust the control plane), unless the server allows it (`--allow-local-tenants`). The
 * check is on the URL's or host's literal address or name; a public name that resolves to a
 * private address is not caught here.
 */
import net from 'node:net';

const PRIVATE_V4: [number, number][] = [
  [0x7f000000, 8], [0x0a000000, 8], [0xac100000, 12], [0xc0a80000, 16], [0xa9fe0000, 16], [0x64400000, 10], [0x00000000, 8],
];

function v4(ip: string): number {
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0) >>> 0;
}

/** Whether a host (name or literal address) is this machine or a private network. */
export function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)?.[1];
  const ip = mapped ?? h;
  if (net.isIPv4(ip)) {
    const n = v4(ip);
    return PRIVATE_V4.some(([base, bits]) => (n >>> (32 - bits)) === (base >>> (32 - bits)));
  }
  if (net.isIPv6(ip)) return ip === '::1' || ip === '::' || /^f[cd]/.test(ip) || /^fe[89ab]/.test(ip);
  return false;
}

/** The host a channel sends to. */
export function channelHost(c: { url?: string; host?: string }): string | undefined {
  if (c.host !== undefined) return c.host;
  if (c.url === undefined) return undefined;
  try {
    return new URL(c.url).hostname;
  } catch {
    return undefined;
  }
}
