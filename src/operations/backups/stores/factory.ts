/**
 * Opens the long-term store a backup policy names: `{kind: dir|sftp|s3, …}` (the fields of a
 * policy's `where`) plus the secrets the caller read from the sealed credential store. A bad field
 * is REQUEST_INVALID naming it (`where.hostKey: expected …, found …`, details.path) and nothing
 * is opened. Secrets are only handed to the store; no message quotes them.
 */
import { NubisError } from '../../../errors/index.js';
import { createDirStore } from './dir.js';
import { createS3Store } from './s3.js';
import { createSftpStore } from './sftp.js';
import type { BackupStore } from './types.js';

/** A store as a policy names it (the `credential` name is resolved by the caller into `secrets`). */
export interface BackupStoreConfig {
  kind: 'dir' | 'sftp' | 's3';
  path?: string;
  host?: string;
  port?: number;
  user?: string;
  /** sftp: the pinned host key fingerprint, `SHA256:…`. */
  hostKey?: string;
  bucket?: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credential?: string;
}

/** The credential's values: sftp `privateKey` (+ `passphrase`) or `password`; s3 `accessKeyId` and `secretAccessKey` (+ `sessionToken`). */
export interface BackupStoreSecrets {
  privateKey?: string;
  passphrase?: string;
  password?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

const FIELDS: Record<BackupStoreConfig['kind'], { needs: string[]; may: string[] }> = {
  dir: { needs: ['path'], may: [] },
  sftp: { needs: ['host', 'user', 'path', 'hostKey'], may: ['port', 'credential'] },
  s3: { needs: ['bucket'], may: ['prefix', 'region', 'endpoint', 'forcePathStyle', 'credential'] },
};

function bad(path: string, expected: string, found: unknown): NubisError {
  const f = found === undefined ? 'nothing' : JSON.stringify(found);
  return new NubisError('REQUEST_INVALID', `${path}: expected ${expected}, found ${f}`, { details: { path, expected } });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one optional field with a type check. */
function field<T>(o: Record<string, unknown>, at: string, name: string, ok: (v: unknown) => v is T, expected: string): T | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (!ok(v)) throw bad(`${at}.${name}`, expected, v);
  return v;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && !/[\0\n\r]/.test(v);
const absolute = (v: unknown): v is string => nonEmpty(v) && v.startsWith('/');
const portNumber = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const fingerprint = (v: unknown): v is string => typeof v === 'string' && /^SHA256:[A-Za-z0-9+/]{43}$/.test(v);
const bucketName = (v: unknown): v is string => typeof v === 'string' && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) && !v.includes('..');
const keyPrefix = (v: unknown): v is string => typeof v === 'string' && v.length <= 256 && /^([A-Za-z0-9._-]+\/)*$/.test(v);
const url = (v: unknown): v is string => {
  if (typeof v !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
};
const bool = (v: unknown): v is boolean => typeof v === 'boolean';
const region = (v: unknown): v is string => typeof v === 'string' && /^[a-z0-9-]{2,40}$/.test(v);

function secret(s: BackupStoreSecrets, name: keyof BackupStoreSecrets, at: string): string | undefined {
  const v = (s as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  // Never echo a secret's value: only say what is wrong with it.
  if (typeof v !== 'string' || v === '') throw new NubisError('REQUEST_INVALID', `${at}.${name}: expected a non-empty string (the value is not shown)`, { details: { path: `${at}.${name}` } });
  return v;
}

/**
 * The store `config` names, opened with `secrets`. `at` is where the config sits in the caller's
 * document, for messages (`where`, `backups[0].where`). REQUEST_INVALID names the first bad field.
 */
export function openBackupStore(config: unknown, secrets: BackupStoreSecrets = {}, at = 'where'): BackupStore {
  if (!isObj(config)) throw bad(at, 'a store object {kind: dir|sftp|s3, …}', config);
  const kind = config['kind'];
  if (typeof kind !== 'string' || !Object.hasOwn(FIELDS, kind)) throw bad(`${at}.kind`, 'one of dir, sftp, s3', kind);
  const k = kind as BackupStoreConfig['kind'];
  const { needs, may } = FIELDS[k];
  for (const f of Object.keys(config)) {
    if (f !== 'kind' && !needs.includes(f) && !may.includes(f)) throw bad(`${at}.${f}`, `no such field on a ${k} store (it takes ${[...needs, ...may].join(', ')})`, config[f]);
  }
  for (const f of needs) if (config[f] === undefined) throw bad(`${at}.${f}`, `${f} (a ${k} store needs ${needs.join(', ')})`, undefined);
  const sat = `${at}.credential`;
  if (k === 'dir') return createDirStore({ path: field(config, at, 'path', absolute, 'an absolute directory path')! });
  if (k === 'sftp') {
    const privateKey = secret(secrets, 'privateKey', sat);
    const password = secret(secrets, 'password', sat);
    const passphrase = secret(secrets, 'passphrase', sat);
    if (privateKey === undefined && password === undefined) throw new NubisError('REQUEST_INVALID', `${sat}: an sftp store's credential needs privateKey or password`, { details: { path: sat } });
    const port = field(config, at, 'port', portNumber, 'a TCP port 1..65535');
    return createSftpStore({
      host: field(config, at, 'host', nonEmpty, 'a host name or address')!,
      ...(port !== undefined ? { port } : {}),
      user: field(config, at, 'user', nonEmpty, 'a user name')!,
      path: field(config, at, 'path', absolute, 'an absolute remote directory')!,
      hostKeySha256: field(config, at, 'hostKey', fingerprint, 'the host key fingerprint SHA256:<43 base64 characters> (ssh-keygen -l -E sha256 -f key.pub)')!,
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(passphrase !== undefined ? { passphrase } : {}),
    });
  }
  const accessKeyId = secret(secrets, 'accessKeyId', sat);
  const secretAccessKey = secret(secrets, 'secretAccessKey', sat);
  const sessionToken = secret(secrets, 'sessionToken', sat);
  if (accessKeyId === undefined || secretAccessKey === undefined) throw new NubisError('REQUEST_INVALID', `${sat}: an s3 store's credential needs accessKeyId and secretAccessKey`, { details: { path: sat } });
  const prefix = field(config, at, 'prefix', keyPrefix, 'a key prefix of /-terminated segments of letters, digits, . _ - (like "backups/" or "")');
  const reg = field(config, at, 'region', region, 'a region name like eu-west-1');
  const endpoint = field(config, at, 'endpoint', url, 'an http(s) URL');
  const forcePathStyle = field(config, at, 'forcePathStyle', bool, 'true or false');
  return createS3Store({
    bucket: field(config, at, 'bucket', bucketName, 'an S3 bucket name (3-63 lowercase letters, digits, . and -)')!,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(reg !== undefined ? { region: reg } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
    accessKeyId,
    secretAccessKey,
    ...(sessionToken !== undefined ? { sessionToken } : {}),
  });
}
