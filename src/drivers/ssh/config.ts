/**
 * The ssh driver's resolved options: `readSshOptions` validates `ctx.options` once, fills the
 * defaults and freezes the result; `readPrivateKey` finds the login key. See ./index.ts for what
 * each option does and ./options.ts for the schema `plan` checks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NubisError } from '../../errors/index.js';
import type { DriverContext } from '../driver.js';
import type { SshHost } from './session.js';

export interface SshDriverOptions {
  hosts: SshHost[];
  /** Host name → attributes for custom placement ranks (option `hosts[].attributes`). */
  hostAttributes: Readonly<Record<string, Readonly<Record<string, string | number>>>>;
  knownHostsPath: string;
  agentPort: number;
  graphitePort: number;
  remoteRoot: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  uploadTimeoutMs: number;
  readyTimeoutMs: number;
  killGraceMs: number;
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;

export function invalid(message: string): NubisError {
  return new NubisError('SPEC_INVALID', `ssh driver: ${message}`);
}

function intOption(o: Record<string, unknown>, name: string, def: number, min: number, max: number): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`option ${name} must be an integer from ${min} to ${max}`);
  return v;
}

/** Validates `ctx.options`; throws SPEC_INVALID naming the bad option. */
export function readSshOptions(ctx: DriverContext): SshDriverOptions {
  const o = ctx.options;
  if (o['password'] !== undefined) throw invalid('password authentication is not supported: give a private key (credentials.privateKey or privateKeyPath)');
  const raw = o['hosts'];
  if (!Array.isArray(raw) || raw.length === 0) throw invalid('option hosts must be a non-empty list of { address, port?, user?, name? }');
  const hosts: SshHost[] = raw.map((h: unknown, i) => {
    if (typeof h !== 'object' || h === null) throw invalid(`hosts[${i}] must be an object`);
    const { address, port = 22, user = 'root', name } = h as Record<string, unknown>;
    if (typeof address !== 'string' || !/^[A-Za-z0-9.:-]+$/.test(address)) throw invalid(`hosts[${i}].address must be a host name or IP address`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`hosts[${i}].port must be a port number`);
    if (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(user)) throw invalid(`hosts[${i}].user must be a user name`);
    if (name !== undefined && (typeof name !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(name))) throw invalid(`hosts[${i}].name must be 1-64 of [A-Za-z0-9._:-]`);
    return { address, port, user, name: (name as string | undefined) ?? (port === 22 ? address : `${address}:${port}`) };
  });
  const hostAttributes: Record<string, Record<string, string | number>> = {};
  raw.forEach((h: Record<string, unknown>, i) => {
    const a = h['attributes'];
    if (a === undefined) return;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || Object.values(a).some((v) => typeof v !== 'string' && typeof v !== 'number')) throw invalid(`hosts[${i}].attributes must be an object of string or number values`);
    hostAttributes[hosts[i]!.name] = { ...(a as Record<string, string | number>) };
  });
  const names = new Set(hosts.map((h) => h.name));
  if (names.size !== hosts.length) throw invalid('host names must be unique');
  const remoteRoot = o['remoteRoot'] ?? '/opt/nubis';
  if (typeof remoteRoot !== 'string' || !SAFE_PATH.test(remoteRoot) || remoteRoot.split('/').includes('..')) {
    throw invalid('option remoteRoot must be an absolute path of [A-Za-z0-9._/-], not / and without ..');
  }
  const knownHostsPath = o['knownHostsPath'] ?? join(ctx.dataDir, 'ssh', 'known_hosts');
  if (typeof knownHostsPath !== 'string' || knownHostsPath === '') throw invalid('option knownHostsPath must be a path');
  return Object.freeze({
    hosts,
    hostAttributes,
    knownHostsPath,
    remoteRoot,
    agentPort: intOption(o, 'agentPort', 7430, 1, 65535),
    graphitePort: intOption(o, 'graphitePort', 2003, 0, 65535),
    connectTimeoutMs: intOption(o, 'connectTimeoutMs', 5000, 100, 120_000),
    commandTimeoutMs: intOption(o, 'commandTimeoutMs', 20_000, 100, 600_000),
    uploadTimeoutMs: intOption(o, 'uploadTimeoutMs', 300_000, 1000, 3_600_000),
    readyTimeoutMs: intOption(o, 'readyTimeoutMs', 20_000, 100, 600_000),
    killGraceMs: intOption(o, 'killGraceMs', 2000, 0, 60_000),
  });
}

/** The login key: the credential's `privateKey`, else the file `privateKeyPath`. Throws SPEC_INVALID. */
export function readPrivateKey(ctx: DriverContext): string {
  const fromCredentials = ctx.credentials?.['privateKey'];
  if (fromCredentials) return fromCredentials;
  const path = ctx.options['privateKeyPath'];
  if (typeof path !== 'string' || path === '') throw invalid('no private key: set credentials.privateKey or option privateKeyPath');
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw invalid(`cannot read privateKeyPath ${path}: ${(e as Error).message}`);
  }
}

/** An agent's URL on a host (IPv6 addresses bracketed). */
export const agentUrl = (h: SshHost, agentPort: number): string => `https://${h.address.includes(':') ? `[${h.address}]` : h.address}:${agentPort}`;
