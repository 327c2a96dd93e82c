/**
 * X.509 v3 certificates with ECDSA P-256 / SHA-256, built with ./der.ts and signed by Node's
 * crypto (Node parses and verifies certificates but cannot make them). Three roles:
 *
 * - `ca`: the installation CA (basicConstraints CA, path length 0, keyCertSign + cRLSign);
 * - `server`: a node agent (serverAuth only, so it can never act as the control plane);
 * - `client`: the control plane towards agents (clientAuth only).
 *
 * Every certificate carries subject and authority key identifiers; leaves carry the addresses
 * they answer on as subjectAltName (IP or DNS).
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString, boolean, explicit, implicitPrimitive, integer, octetString, oid, sequence, set, time, utf8String,
} from './der.js';

export type CertRole = 'ca' | 'server' | 'client';

export interface CertRequest {
  /** Subject common name: the node identity, or the CA's / control plane's name. */
  commonName: string;
  role: CertRole;
  /** The key the certificate is for. */
  publicKey: KeyObject;
  /** Who signs: the CA (or, for `ca`, the CA's own key). */
  issuer: { commonName: string; privateKey: KeyObject; publicKey: KeyObject };
  /** Addresses (IPs or DNS names) a server answers on. */
  addresses?: string[];
  /** Default now minus 1 h (clock skew between hosts). */
  notBefore?: Date;
  validDays: number;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** A fresh ECDSA P-256 key pair. */
export function generateKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** The key identifier of a public key: 20 bytes of SHA-256 over its SubjectPublicKeyInfo. */
export function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 20);
}

const name = (cn: string): Buffer => sequence(set(sequence(oid(OID.commonName), utf8String(cn))));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** KeyUsage bits, as a BIT STRING whose unused trailing bits are counted. */
function keyUsage(bits: number[]): Buffer {
  let v = 0;
  for (const b of bits) v |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && (v & (1 << unused)) === 0) unused++;
  return Buffer.from([0x03, 0x02, unused, v]);
}

function altNames(addresses: string[]): Buffer {
  return sequence(
    ...addresses.map((a) => {
      const family = isIP(a);
      if (family === 4) return implicitPrimitive(7, Buffer.from(a.split('.').map(Number)));
      if (family === 6) return implicitPrimitive(7, ipv6Bytes(a));
      return implicitPrimitive(2, Buffer.from(a, 'ascii'));
    }),
  );
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function extensions(r: CertRequest): Buffer[] {
  const out = [extension(OID.subjectKeyId, false, octetString(keyId(r.publicKey)))];
  out.push(extension(OID.authorityKeyId, false, sequence(implicitPrimitive(0, keyId(r.issuer.publicKey)))));
  if (r.role === 'ca') {
    out.push(extension(OID.basicConstraints, true, sequence(boolean(true), integer(0))));
    out.push(extension(OID.keyUsage, true, keyUsage([5, 6])));
    return out;
  }
  out.push(extension(OID.basicConstraints, true, sequence()));
  out.push(extension(OID.keyUsage, true, keyUsage([0])));
  out.push(extension(OID.extKeyUsage, false, sequence(oid(r.role === 'server' ? OID.serverAuth : OID.clientAuth))));
  if (r.addresses && r.addresses.length > 0) out.push(extension(OID.subjectAltName, false, altNames(r.addresses)));
  return out;
}

/** Builds and signs a certificate; returns it as PEM. */
export function issueCertificate(r: CertRequest): string {
  const notBefore = r.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = new Date(notBefore.getTime() + r.validDays * 86_400_000);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    algorithm,
    name(r.issuer.commonName),
    sequence(time(notBefore), time(notAfter)),
    name(r.commonName),
    r.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions(r))),
  );
  const signature = sign('sha256', tbs, { key: r.issuer.privateKey, dsaEncoding: 'der' });
  const der = sequence(tbs, algorithm, bitString(signature));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The public key a PEM private key belongs to. */
export const publicKeyOf = (privateKey: KeyObject): KeyObject => createPublicKey(privateKey);
