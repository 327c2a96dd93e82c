/**
 * Secret env values of a spec (`DB_PASSWORD: { secret: "…" }`): sealed before anything is
 * stored, opened only when a handler's environment is built, and cut out of the spec text.
 *
 * Sealing is AES-256-GCM under a key derived from the installation key (the one that seals
 * credentials), with associated data binding the value to its deployment, component and
 * variable. The nonce is derived from the value and its place (HMAC-SHA256), so applying the
 * same spec again gives the same sealed text and changes nothing; only equality of two sealed
 * values can be told from the store, never a value.
 *
 * Failure meaning: CREDENTIAL_KEY_MISMATCH (sealed under another key than the server holds),
 * CREDENTIAL_TAMPERED (the sealed value was changed or moved). Messages name the variable only.
 */
import crypto from 'node:crypto';
import { isMap, isScalar, parseDocument, type Node } from 'yaml';
import { NubisError } from '../errors/index.js';
import type { AppSpec, ComponentSpec, SecretEnvValue } from './types.js';

/** The installation key as sealing needs it: its bytes and its id (recorded beside each value). */
export interface SealingKey {
  bytes: Buffer;
  id: string;
}

/** What a redacted secret reads as in stored spec text. */
export const REDACTED = '***';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const subkey = (key: Buffer, use: string): Buffer => crypto.createHmac('sha256', key).update(`nubis-spec-secret:${use}`).digest();
const aadOf = (deployment: string, component: string, name: string): string => `nubis-spec-secret:v1:${deployment}:${component}:${name}`;

function sealValue(key: SealingKey, plaintext: string, aad: string): string {
  const nonce = crypto.createHmac('sha256', subkey(key.bytes, 'nonce')).update(aad).update('\0').update(plaintext, 'utf8').digest().subarray(0, NONCE_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', subkey(key.bytes, 'enc'), nonce, { authTagLength: TAG_BYTES });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return Buffer.concat([nonce, c.getAuthTag(), ct]).toString('base64');
}

function openValue(key: SealingKey, v: { sealed: string; key: string }, aad: string, what: string): string {
  if (v.key !== key.id) {
    throw new NubisError('CREDENTIAL_KEY_MISMATCH', `${what} was sealed with key ${v.key}, but this server holds key ${key.id}: start it with the key the spec was applied under`);
  }
  const raw = Buffer.from(v.sealed, 'base64');
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', subkey(key.bytes, 'enc'), raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    return Buffer.concat([d.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), d.final()]).toString('utf8');
  } catch {
    throw new NubisError('CREDENTIAL_TAMPERED', `${what} failed its integrity check (changed in the store, or moved from another place); apply the spec again`);
  }
}

/** Whether any component has a secret value. */
export function hasSecrets(spec: AppSpec): boolean {
  return Object.values(spec.components).some((c) => Object.keys(c.secretEnv ?? {}).length > 0);
}

/**
 * The spec with every secret value sealed (values sealed already are kept), and the plain
 * texts that were sealed, so the caller can cut them out of what it stores or shows.
 */
export function sealSpecSecrets(spec: AppSpec, deployment: string, key: SealingKey): { spec: AppSpec; plain: string[] } {
  const plain: string[] = [];
  const components: AppSpec['components'] = {};
  for (const [name, c] of Object.entries(spec.components)) {
    if (!c.secretEnv) {
      components[name] = c;
      continue;
    }
    const secretEnv: Record<string, SecretEnvValue> = {};
    for (const [v, value] of Object.entries(c.secretEnv)) {
      if (!('secret' in value)) {
        secretEnv[v] = value;
        continue;
      }
      plain.push(value.secret);
      secretEnv[v] = { sealed: sealValue(key, value.secret, aadOf(deployment, name, v)), key: key.id };
    }
    components[name] = { ...c, secretEnv };
  }
  return { spec: { ...spec, components }, plain };
}

/** The opened secret values of a component, for the handler environment only. */
export function openSecretEnv(comp: ComponentSpec, deployment: string, key: SealingKey): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [v, value] of Object.entries(comp.secretEnv ?? {})) {
    out[v] = 'secret' in value ? value.secret : openValue(key, value, aadOf(deployment, comp.name, v), `secret ${v} of component ${comp.name}`);
  }
  return out;
}

/**
 * The spec text with the value of every `components.*.env.*.secret` replaced by "***" in
 * place (comments and layout kept), then any other occurrence of a sealed plain text too.
 */
export function redactSpecText(text: string, plain: readonly string[]): string {
  if (plain.length === 0) return text;
  const cuts: [number, number][] = [];
  const doc = parseDocument(text, { uniqueKeys: false, logLevel: 'silent' });
  const entries = (n: unknown): [unknown, unknown][] => (isMap(n) ? n.items.map((p) => [isScalar(p.key) ? p.key.value : p.key, p.value]) : []);
  for (const [k, comps] of entries(doc.contents)) {
    if (k !== 'components') continue;
    for (const [, comp] of entries(comps)) {
      for (const [ek, env] of entries(comp)) {
        if (ek !== 'env') continue;
        for (const [, value] of entries(env)) {
          for (const [sk, secret] of entries(value)) {
            const range = (secret as Node | null)?.range;
            if (sk === 'secret' && isScalar(secret) && range) cuts.push([range[0], range[1]]);
          }
        }
      }
    }
  }
  let out = text;
  for (const [a, b] of cuts.sort((x, y) => y[0] - x[0])) {
    // a block scalar's range takes in its line breaks: keep them
    const breaks = /\n*$/.exec(out.slice(a, b))![0];
    out = `${out.slice(0, a)}"${REDACTED}"${breaks}${out.slice(b)}`;
  }
  return maskSecrets(out, plain);
}

/**
 * The text with every occurrence of a secret value replaced by "***" (a handler that prints
 * its environment does not put the value into step logs and events). Values shorter than 3
 * characters are left alone: masking them would garble the text and hide next to nothing.
 */
export function maskSecrets(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) if (v.length >= 3) out = out.split(v).join(REDACTED);
  return out;
}
