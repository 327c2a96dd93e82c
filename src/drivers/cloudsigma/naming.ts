/**
 * Names that tie a CloudSigma server or drive to its owner before its tags are written.
 *
 * CloudSigma writes tags (server meta and tag resources) in a PUT separate from the clone that
 * makes the server, so a create that fails between the two leaves a resource without tags. Its
 * NAME, given in the clone call itself, says whose it is:
 *
 *   nubis-<first 8 chars of the owner>-<tenant>.<node key>.<attempt>
 *
 * each field escaped so that only `A-Z a-z 0-9 -` remain literal (every other byte of its UTF-8
 * is `_` and two hex digits, so `/` is `_2f`; in the owner field `-` is escaped too), which
 * makes the name parse back unambiguously.
 * The tenant field is empty when the create carried no tenant tag. The deployment is the key's
 * part before its first `/` (keys are `<deployment>/<component>-<ordinal>`).
 *
 * Limit: only 8 characters of the owner (the installation id) are in the name; the full id is
 * taken from the owner the caller asks about. Two installations whose ids share their first
 * 8 characters cannot tell each other's untagged leftovers apart.
 */
import { TAG_ATTEMPT, TAG_DEPLOYMENT, TAG_KEY, TAG_OWNER, TAG_TENANT } from '../driver.js';

export interface NubisName {
  /** The first 8 characters of the owner tag. */
  ownerPrefix: string;
  tenant?: string;
  key: string;
  attempt: string;
}

const OWNER_CHARS = 8;
const NAME = /^nubis-([A-Za-z0-9_]+)-([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/** Escapes every byte outside `literal` as `_xx`; the owner field escapes `-` too, so the name's first `-` after it ends it. */
function escapeField(s: string, literal = /[A-Za-z0-9-]/): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += literal.test(c) ? c : `_${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function unescapeField(s: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '_') {
      bytes.push(s.charCodeAt(i));
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The first 8 characters of an owner id, escaped as a name field. */
export function ownerPrefix(owner: string): string {
  return escapeField(owner.slice(0, OWNER_CHARS), /[A-Za-z0-9]/);
}

/** The name a create gives its clone (and, with `cloneKind: drive`, the drive it clones). */
export function nubisName(tags: Record<string, string>, key: string, attempt: string): string {
  const tenant = tags[TAG_TENANT] ?? '';
  return `nubis-${ownerPrefix(tags[TAG_OWNER] ?? '')}-${escapeField(tenant)}.${escapeField(key)}.${escapeField(attempt)}`;
}

/** The parts of a name `nubisName` made; undefined for any other name. */
export function parseNubisName(name: string): NubisName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const tenant = unescapeField(m[2]!);
  const key = unescapeField(m[3]!);
  const attempt = unescapeField(m[4]!);
  if (tenant === undefined || key === undefined || attempt === undefined || key === '') return undefined;
  return { ownerPrefix: m[1]!, ...(tenant ? { tenant } : {}), key, attempt };
}

/**
 * The tags a named but untagged resource would carry. `owner` is the full owner id when the
 * caller knows one whose prefix matches; otherwise the 8-character prefix stands in for it.
 */
export function tagsFromName(n: NubisName, owner: string | undefined): Record<string, string> {
  const slash = n.key.indexOf('/');
  return {
    [TAG_OWNER]: owner !== undefined && ownerPrefix(owner) === n.ownerPrefix ? owner : n.ownerPrefix,
    ...(n.tenant ? { [TAG_TENANT]: n.tenant } : {}),
    ...(slash > 0 ? { [TAG_DEPLOYMENT]: n.key.slice(0, slash) } : {}),
    [TAG_KEY]: n.key,
    [TAG_ATTEMPT]: n.attempt,
  };
}
