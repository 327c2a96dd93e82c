/**
 * Password hashes: scrypt (node:crypto) with a random 16-byte salt per user and its cost
 * parameters stored beside the hash, so the parameters can be raised later and old hashes
 * still verify (a login with weaker stored parameters re-hashes). Verification compares in
 * constant time. The password itself is never stored, logged or returned.
 */
import crypto from 'node:crypto';
import { NubisError } from '../errors/index.js';

export interface ScryptParams {
  /** CPU/memory cost (a power of two). */
  N: number;
  r: number;
  p: number;
  keyLength: number;
}

/** 2^15 × 8 × 128 bytes = 32 MiB and some 50–100 ms a hash on one core. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1, keyLength: 32 };

export interface PasswordHash extends ScryptParams {
  alg: 'scrypt';
  salt: string;
  hash: string;
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password.normalize('NFC'), salt, p.keyLength, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 }, (e, key) => (e ? reject(e) : resolve(key)));
  });
}

/** REQUEST_INVALID when the password is too short or too long (the message never repeats it). */
export function checkPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new NubisError('REQUEST_INVALID', `$.password: expected at least ${MIN_PASSWORD_LENGTH} characters, found ${password.length}`, { details: { problems: [`$.password: expected at least ${MIN_PASSWORD_LENGTH} characters`] } });
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new NubisError('REQUEST_INVALID', `$.password: expected at most ${MAX_PASSWORD_LENGTH} characters, found ${password.length}`);
  }
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<PasswordHash> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, params);
  return { alg: 'scrypt', ...params, salt: salt.toString('base64'), hash: key.toString('base64') };
}

/** Reads a stored hash; undefined when it is not one this code wrote (such a user cannot log in). */
export function parsePasswordHash(json: string): PasswordHash | undefined {
  try {
    const v = JSON.parse(json) as Partial<PasswordHash>;
    if (v.alg !== 'scrypt' || typeof v.salt !== 'string' || typeof v.hash !== 'string') return undefined;
    for (const k of ['N', 'r', 'p', 'keyLength'] as const) if (!Number.isInteger(v[k]) || (v[k] as number) < 1) return undefined;
    return v as PasswordHash;
  } catch {
    return undefined;
  }
}

/** Whether the password matches; a missing hash still costs one scrypt, so timing does not tell unknown users apart. */
export async function verifyPassword(password: string, stored: PasswordHash | undefined): Promise<boolean> {
  const h = stored ?? { ...DEFAULT_SCRYPT, alg: 'scrypt' as const, salt: 'AAAAAAAAAAAAAAAAAAAAAA==', hash: '' };
  const key = await scrypt(password, Buffer.from(h.salt, 'base64'), h);
  const want = Buffer.from(h.hash, 'base64');
  return stored !== undefined && want.length === key.length && crypto.timingSafeEqual(key, want);
}

/** Whether a stored hash uses weaker parameters than `params` (re-hash at the next login). */
export function needsRehash(stored: PasswordHash, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  return stored.N < params.N || stored.r < params.r || stored.p < params.p || stored.keyLength < params.keyLength;
}
