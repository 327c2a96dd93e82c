/**
 * A node template's own cloud-config (`nodeTemplates.<t>.cloudInit`), checked when a spec is
 * planned or applied: so a typo in `write_files` is an error with its line and column, not a
 * first boot that silently skips the user's part while the node waits for an agent.
 *
 * What is checked (cloud-init's own schema is much larger; the rest is left to it): the first
 * line is `#cloud-config` (cloud-init ignores a part without it), the YAML parses, the top is a
 * mapping, and the keys most specs use have the type cloud-init expects: `packages`,
 * `runcmd`, `bootcmd`, `write_files` (each with an absolute `path`, outside the directories
 * the Nubis part owns), `users`, `ssh_authorized_keys`, the boolean and string settings.
 * Unknown keys pass: cloud-init has many modules and warns itself.
 *
 * The user-data size limit of each platform is here too, so `plan` refuses a spec whose part
 * cannot fit beside the Nubis part, and drivers check the exact figure before a create.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

/** A problem in a cloud-config text, relative to that text (1-based line and column). */
export interface CloudConfigProblem {
  line: number;
  col: number;
  /** Path inside the cloud-config, such as `write_files[0].path`; `` for the whole document. */
  path: string;
  expected: string;
  found: string;
}

/** Directories the Nubis part writes; the user's write_files may not touch them. */
export const NUBIS_OWNED_PATHS = ['/var/lib/nubis', '/etc/nubis'] as const;

/** How each platform limits user data (raw bytes, or the base64 text the API carries). */
export const USER_DATA_LIMITS = {
  ec2: { bytes: 16_384, measured: 'raw', source: 'EC2 API Reference, RunInstances UserData: "limited to 16 KB" (before base64)' },
  openstack: { bytes: 65_535, measured: 'base64', source: 'Nova API, create server user_data: "restricted to 65535 bytes" base64-encoded' },
  cloudsigma: {
    bytes: 65_536,
    measured: 'base64',
    source: 'CloudSigma server meta cloudinit-user-data (base64 field); CloudSigma publishes no figure we found, so Nubis keeps it to 64 KiB like OpenStack',
  },
} as const satisfies Record<string, { bytes: number; measured: 'raw' | 'base64'; source: string }>;
export type UserDataPlatform = keyof typeof USER_DATA_LIMITS;

/** Room kept for the Nubis part (script, CA certificate, tokens, MIME headers) when the user's part is checked at plan time. */
export const NUBIS_PART_RESERVE_BYTES = 4_096;

/** The size `platform` measures for raw user data of `rawBytes` bytes. */
export function measuredSize(platform: UserDataPlatform, rawBytes: number): number {
  return USER_DATA_LIMITS[platform].measured === 'raw' ? rawBytes : 4 * Math.ceil(rawBytes / 3);
}

/** Whether user data of `rawBytes` fits `platform`; the message says by how much it does not. */
export function userDataFits(platform: UserDataPlatform, rawBytes: number): { ok: boolean; size: number; limit: number; message: string } {
  const l = USER_DATA_LIMITS[platform];
  const size = measuredSize(platform, rawBytes);
  const what = l.measured === 'raw' ? `${size} bytes` : `${size} bytes base64 (${rawBytes} raw)`;
  return { ok: size <= l.bytes, size, limit: l.bytes, message: `user data of ${what}; ${platform} allows ${l.bytes} (${l.source})` };
}

const BOOLEAN_KEYS = ['package_update', 'package_upgrade', 'package_reboot_if_required', 'ssh_pwauth', 'disable_root', 'manage_etc_hosts', 'preserve_hostname'];
const STRING_KEYS = ['hostname', 'fqdn', 'timezone', 'locale', 'final_message'];
const MAPPING_KEYS = ['apt', 'ntp', 'chpasswd', 'growpart', 'phone_home', 'power_state'];
const WRITE_FILE_KEYS = ['path', 'content', 'source', 'owner', 'permissions', 'encoding', 'append', 'defer'];
const ENCODINGS = ['b64', 'base64', 'gz', 'gzip', 'gz+base64', 'gzip+base64', 'gz+b64', 'gzip+b64', 'text/plain'];

function describe(n: unknown): string {
  if (n === null || n === undefined) return 'nothing';
  if (isMap(n)) return 'a mapping';
  if (isSeq(n)) return 'a sequence';
  if (isScalar(n)) {
    const v = n.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
    return `${typeof v} ${String(v)}`;
  }
  return 'something else';
}

/** Checks a cloud-config text; returns every problem, in source order (empty: fine). */
export function checkCloudConfig(text: string): CloudConfigProblem[] {
  const out: CloudConfigProblem[] = [];
  const firstLine = text.split('\n', 1)[0]?.trimEnd() ?? '';
  if (firstLine !== '#cloud-config') {
    out.push({ line: 1, col: 1, path: '', expected: 'a cloud-config document whose first line is #cloud-config', found: firstLine === '' ? 'an empty first line' : JSON.stringify(firstLine.slice(0, 40)) });
    return out;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, logLevel: 'error' });
  const at = (n: unknown): { line: number; col: number } => lc.linePos((n as Node | null)?.range?.[0] ?? 0);
  const add = (n: unknown, path: string, expected: string, found = describe(n)): void => {
    out.push({ ...at(n), path, expected, found });
  };
  for (const e of doc.errors) {
    const p = e.linePos?.[0];
    out.push({ line: p?.line ?? 1, col: p?.col ?? 1, path: '', expected: 'valid YAML', found: `invalid YAML (${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')})` });
  }
  if (out.length > 0) return out;
  const top = doc.contents;
  if (top === null) return out; // only the header: nothing to do
  if (!isMap(top)) {
    add(top, '', 'a mapping of cloud-init modules (packages, runcmd, write_files, …)');
    return out;
  }
  for (const pair of top.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const v = pair.value;
    if (BOOLEAN_KEYS.includes(key) && !(isScalar(v) && typeof v.value === 'boolean')) add(v ?? pair.key, key, 'true or false');
    else if (STRING_KEYS.includes(key) && !(isScalar(v) && typeof v.value === 'string')) add(v ?? pair.key, key, 'a string');
    else if (MAPPING_KEYS.includes(key) && !isMap(v)) add(v ?? pair.key, key, 'a mapping');
    else if (key === 'packages') checkList(v ?? pair.key, key, add, (x) => (isScalar(x) && typeof x.value === 'string') || (isSeq(x) && x.items.every((y) => isScalar(y))), 'a package name, or [name, version]');
    else if (key === 'runcmd' || key === 'bootcmd') checkList(v ?? pair.key, key, add, (x) => (isScalar(x) && typeof x.value === 'string') || (isSeq(x) && x.items.every((y) => isScalar(y))), 'a shell command string, or a list of argv strings');
    else if (key === 'ssh_authorized_keys') checkList(v ?? pair.key, key, add, (x) => isScalar(x) && typeof x.value === 'string', 'a public key string');
    else if (key === 'users' || key === 'mounts') checkList(v ?? pair.key, key, add, () => true, '');
    else if (key === 'write_files') checkWriteFiles(v ?? pair.key, add);
  }
  return out;
}

type Add = (n: unknown, path: string, expected: string, found?: string) => void;

function checkList(v: unknown, path: string, add: Add, item: (x: unknown) => boolean, itemExpected: string): void {
  if (!isSeq(v)) return add(v, path, 'a sequence');
  v.items.forEach((x, i) => {
    if (!item(x)) add(x, `${path}[${i}]`, itemExpected);
  });
}

function checkWriteFiles(v: unknown, add: Add): void {
  if (!isSeq(v)) return add(v, 'write_files', 'a sequence of files ({ path, content, permissions, … })');
  v.items.forEach((f, i) => {
    const base = `write_files[${i}]`;
    if (!isMap(f)) return add(f, base, 'a mapping with path and content');
    let hasPath = false;
    for (const p of f.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      const val = p.value;
      if (!WRITE_FILE_KEYS.includes(k)) {
        add(p.key, `${base}.${k}`, `one of ${WRITE_FILE_KEYS.join(', ')}`, `key ${JSON.stringify(k)}`);
        continue;
      }
      if (k === 'path') {
        hasPath = true;
        const s = isScalar(val) && typeof val.value === 'string' ? val.value : undefined;
        if (s === undefined || !s.startsWith('/')) add(val ?? p.key, `${base}.path`, 'an absolute file path');
        else if (NUBIS_OWNED_PATHS.some((d) => s === d || s.startsWith(`${d}/`))) add(val, `${base}.path`, `a path outside ${NUBIS_OWNED_PATHS.join(' and ')} (the Nubis part writes there)`, JSON.stringify(s));
      } else if (k === 'permissions') {
        const s = isScalar(val) ? val.value : undefined;
        if (typeof s !== 'string' || !/^0?[0-7]{3,4}$/.test(s)) add(val ?? p.key, `${base}.permissions`, 'an octal mode as a quoted string, such as "0644"');
      } else if (k === 'encoding') {
        const s = isScalar(val) ? val.value : undefined;
        if (typeof s !== 'string' || !ENCODINGS.includes(s)) add(val ?? p.key, `${base}.encoding`, `one of ${ENCODINGS.join(', ')}`);
      } else if ((k === 'append' || k === 'defer') && !(isScalar(val) && typeof val.value === 'boolean')) add(val ?? p.key, `${base}.${k}`, 'true or false');
      else if ((k === 'content' || k === 'owner') && !(isScalar(val) && typeof val.value === 'string')) add(val ?? p.key, `${base}.${k}`, 'a string');
    }
    if (!hasPath) add(f, `${base}.path`, 'a path (every file needs one)', 'none');
  });
}
