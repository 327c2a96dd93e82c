/**
 * Host-key pinning in an OpenSSH-format known_hosts file, trust on first use.
 *
 * Lines are `<host> <key-type> <base64-key> <SHA256 fingerprint>`, where `<host>` is the address
 * for port 22 and `[address]:port` otherwise (as OpenSSH writes them, so `ssh -o
 * UserKnownHostsFile=…` reads the same file). Comma-separated host lists are understood; hashed
 * names (`|1|…`) and markers (`@revoked`, `@cert-authority`) are not and such lines are ignored.
 *
 * Contract: `check` returns `pinned` when the offered key is recorded for the host, `new` when
 * the host has no recorded key (the caller then `pin`s it), and `changed` when keys of the same
 * type are recorded for the host but none equals the offered one. A key of a type the host has
 * no pin for counts as `changed` too when the host has pins of other types: the connection
 * restricts its host-key algorithms to the pinned types (`pinnedTypes`), so this only happens
 * when the server no longer has the pinned key.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** `SHA256:<base64 without padding>` of a raw public key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyType(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const len = key.readUInt32BE(0);
  return len > 0 && len < 64 && key.length >= 4 + len ? key.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

export function hostSpec(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

interface Pin {
  type: string;
  key: string;
}

export type PinCheck = { result: 'pinned' } | { result: 'new' } | { result: 'changed'; pinned: string[] };

export interface KnownHosts {
  readonly path: string;
  check(address: string, port: number, key: Buffer): PinCheck;
  /** Records the key for the host (appends a line; the file is created 0600). */
  pin(address: string, port: number, key: Buffer): void;
  /** Key types pinned for the host, for restricting the negotiated host-key algorithms. */
  pinnedTypes(address: string, port: number): string[];
}

export function openKnownHosts(path: string): KnownHosts {
  const pins = (address: string, port: number): Pin[] => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const want = hostSpec(address, port);
    const out: Pin[] = [];
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (t === '' || t.startsWith('#') || t.startsWith('@') || t.startsWith('|')) continue;
      const [hosts, type, key] = t.split(/\s+/);
      if (!hosts || !type || !key) continue;
      if (hosts.split(',').includes(want)) out.push({ type, key });
    }
    return out;
  };
  return {
    path,
    check(address, port, key) {
      const found = pins(address, port);
      if (found.length === 0) return { result: 'new' };
      const b64 = key.toString('base64');
      if (found.some((p) => p.key === b64)) return { result: 'pinned' };
      return { result: 'changed', pinned: found.map((p) => fingerprint(Buffer.from(p.key, 'base64'))) };
    },
    pin(address, port, key) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      appendFileSync(path, `${hostSpec(address, port)} ${keyType(key)} ${key.toString('base64')} ${fingerprint(key)}\n`, { mode: 0o600 });
    },
    pinnedTypes(address, port) {
      return [...new Set(pins(address, port).map((p) => p.type))];
    },
  };
}
