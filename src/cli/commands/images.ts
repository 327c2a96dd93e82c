/**
 * `nubis images …`: the image marketplace. `endorse` builds the entry's metadata, signs its
 * canonical form locally with the endorser's ed25519 private key (a PEM file given with
 * --key; it never leaves this machine) and sends the metadata and the signature; the server
 * verifies the signature against the endorser's registered public key. `keys` and `policy` are
 * the administrator's (`--tenant` acts in another tenant).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { enc, outputHelp, outputOption, required, str, wantsJson, type Command } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { table } from '../format.js';
import { signImageMetadata, type EndorserView, type ImageEntryView, type ImageMetadata, type ImagePolicyView } from '../../controls/index.js';

const USAGE = 'nubis images list | show <id> | endorse <id> --image <name> --os <os> [--os-version <v>] (--file <image> | --sha256 <hex> [--size <bytes>]) --endorser <name> --key <private.pem> [--expires <90d|ISO time>] | revoke <id> | keys list|add <name> --public-key <pem file>|rm <name> | policy show|set <endorsed|open> [--cloud <c>]|rm [--cloud <c>]';

function readFile(ctx: CliContext, file: string, what: string): Buffer {
  const abs = path.resolve(ctx.io.cwd, file);
  try {
    return fs.readFileSync(abs);
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `cannot read ${what} ${abs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** `90d`, `12h` or an ISO time, from now. */
function expiresAt(v: string | undefined, now: number): string {
  if (v === undefined) return new Date(now + 365 * 86_400_000).toISOString();
  const m = /^(\d{1,5})([dh])$/.exec(v);
  if (m) return new Date(now + Number(m[1]) * (m[2] === 'd' ? 86_400_000 : 3_600_000)).toISOString();
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw usageError(`--expires: expected a duration such as 90d or an ISO time, found ${JSON.stringify(v)}`);
  return new Date(t).toISOString();
}

async function fileDigest(ctx: CliContext, file: string): Promise<{ sha256: string; size: number }> {
  const abs = path.resolve(ctx.io.cwd, file);
  const h = crypto.createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of fs.createReadStream(abs)) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `cannot read image file ${abs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return { sha256: h.digest('hex'), size };
}

async function endorse(ctx: CliContext, id: string, args: Parameters<Command['run']>[1]): Promise<ImageEntryView> {
  const file = str(args, 'file');
  const digest = file !== undefined ? await fileDigest(ctx, file) : undefined;
  const sha256 = digest?.sha256 ?? str(args, 'sha256');
  if (sha256 === undefined) throw usageError(`missing --file <image> or --sha256 <hex>\nusage: ${USAGE}`);
  const size = digest?.size ?? (str(args, 'size') !== undefined ? Number(str(args, 'size')) : undefined);
  const now = Date.now();
  const osVersion = str(args, 'os-version');
  const metadata: ImageMetadata = {
    id, image: required(str(args, 'image'), '--image <name>'), os: required(str(args, 'os'), '--os <os>'), ...(osVersion !== undefined ? { osVersion } : {}),
    ...(size !== undefined ? { sizeBytes: size } : {}), sha256, endorser: required(str(args, 'endorser'), '--endorser <name>'),
    created: new Date(now).toISOString(), expires: expiresAt(str(args, 'expires'), now),
  };
  const key = readFile(ctx, required(str(args, 'key'), '--key <private key PEM file>'), 'private key').toString('utf8');
  let signature: string;
  try {
    signature = signImageMetadata(metadata, key);
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `--key: ${e instanceof Error ? e.message : String(e)}`);
  }
  return (await ctx.client().request<ImageEntryView>('POST', '/v1/images', { metadata, signature })).body;
}

const tenantQs = (args: Parameters<Command['run']>[1]): string => (str(args, 'tenant') !== undefined ? `?tenant=${enc(str(args, 'tenant')!)}` : '');

function entryRows(ctx: CliContext, entries: ImageEntryView[]): string {
  return table(ctx.style, ['ID', 'IMAGE', 'OS', 'SHA256', 'ENDORSER', 'EXPIRES', 'STATUS'], entries.map((e) => [
    e.id, e.metadata.image, [e.metadata.os, e.metadata.osVersion].filter(Boolean).join(' '), `${e.metadata.sha256.slice(0, 12)}…`, e.metadata.endorser, e.metadata.expires,
    e.status === 'valid' ? ctx.style.green(e.status) : ctx.style.red(e.status),
  ]));
}

async function keys(ctx: CliContext, args: Parameters<Command['run']>[1], json: boolean): Promise<number> {
  const [, sub, name] = args.positionals;
  const client = ctx.client();
  const qs = tenantQs(args);
  if (sub === undefined || sub === 'list') {
    const body = await client.get<{ endorsers: EndorserView[] }>(`/v1/image-endorsers${qs}`);
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else if (body.endorsers.length === 0) ctx.out('no endorser keys (the administrator adds one with `nubis images keys add <name> --public-key <pem>`)');
    else ctx.out(table(ctx.style, ['ENDORSER', 'FINGERPRINT', 'ADDED', 'BY'], body.endorsers.map((e) => [e.name, e.fingerprint, e.createdAt, e.createdBy])));
    return 0;
  }
  const n = required(name, `<endorser>\nusage: ${USAGE}`);
  if (sub === 'add') {
    const pem = readFile(ctx, required(str(args, 'public-key'), '--public-key <pem file>'), 'public key').toString('utf8');
    const { body } = await client.request<EndorserView>('PUT', `/v1/image-endorsers/${enc(n)}${qs}`, { publicKey: pem });
    ctx.out(json ? JSON.stringify(body, null, 2) : `endorser ${body.name} registered (fingerprint ${body.fingerprint})`);
    return 0;
  }
  if (sub === 'rm') {
    await client.request('DELETE', `/v1/image-endorsers/${enc(n)}${qs}`);
    ctx.out(json ? JSON.stringify({ removed: n }) : `endorser ${n} removed`);
    return 0;
  }
  throw usageError(`unknown subcommand keys ${JSON.stringify(sub)}\nusage: ${USAGE}`);
}

async function policy(ctx: CliContext, args: Parameters<Command['run']>[1], json: boolean): Promise<number> {
  const [, sub, mode] = args.positionals;
  const client = ctx.client();
  const qs = tenantQs(args);
  const cloud = str(args, 'cloud');
  if (sub === undefined || sub === 'show') {
    const body = await client.get<{ policies: ImagePolicyView[] }>(`/v1/image-policies${qs}`);
    if (json) ctx.out(JSON.stringify(body, null, 2));
    else if (body.policies.length === 0) ctx.out('no image policy: every image may run (open)');
    else ctx.out(table(ctx.style, ['CLOUD', 'MODE', 'UPDATED', 'BY'], body.policies.map((p) => [p.cloud === '*' ? '* (every cloud)' : p.cloud, p.mode, p.updatedAt, p.updatedBy])));
    return 0;
  }
  if (sub === 'set') {
    const { body } = await client.request<ImagePolicyView>('PUT', `/v1/image-policies${qs}`, { mode: required(mode, `<endorsed|open>\nusage: ${USAGE}`), ...(cloud ? { cloud } : {}) });
    ctx.out(json ? JSON.stringify(body, null, 2) : `image policy ${body.mode} set for ${body.cloud === '*' ? 'every cloud' : `cloud ${body.cloud}`}`);
    return 0;
  }
  if (sub === 'rm') {
    const sep = qs ? '&' : '?';
    await client.request('DELETE', `/v1/image-policies${qs}${cloud ? `${sep}cloud=${enc(cloud)}` : ''}`);
    ctx.out(json ? JSON.stringify({ removed: cloud ?? '*' }) : 'image policy removed');
    return 0;
  }
  throw usageError(`unknown subcommand policy ${JSON.stringify(sub)}\nusage: ${USAGE}`);
}

export const imagesCommand: Command = {
  name: 'images',
  summary: 'the image marketplace: list, show, endorse (signed locally), revoke; endorser keys and image policies',
  usage: USAGE,
  help: [
    '--image <name>  endorse: the image\'s id or name in the clouds',
    '--os <os>, --os-version <v>  endorse: the OS family and version',
    '--file <image>  endorse: compute the SHA-256 and size from this file; or give --sha256 <hex> [--size <bytes>]',
    '--endorser <name>, --key <private.pem>  endorse: who signs, and the ed25519 private key (PKCS#8 PEM, e.g. `openssl genpkey -algorithm ed25519`)',
    '--expires <90d|ISO time>  endorse: when the endorsement ends (default 365d)',
    '--public-key <pem file>  keys add: the endorser\'s ed25519 public key (`openssl pkey -pubout`)',
    '--cloud <c>  policy set|rm: one cloud (default: every cloud of the tenant)',
    '--tenant <t>  keys, policy: administrator only, act in this tenant',
    outputHelp,
  ],
  options: {
    image: { type: 'string' }, os: { type: 'string' }, 'os-version': { type: 'string' }, file: { type: 'string', short: 'f' }, sha256: { type: 'string' }, size: { type: 'string' },
    endorser: { type: 'string' }, key: { type: 'string' }, expires: { type: 'string' }, 'public-key': { type: 'string' }, cloud: { type: 'string' }, tenant: { type: 'string' }, ...outputOption,
  },
  maxPositionals: 3,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, id] = args.positionals;
    const client = ctx.client();
    switch (sub) {
      case undefined:
      case 'list': {
        const body = await client.get<{ entries: ImageEntryView[] }>(`/v1/images${tenantQs(args)}`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(body.entries.length === 0 ? 'no image entries (endorse one with `nubis images endorse …`)' : entryRows(ctx, body.entries));
        return 0;
      }
      case 'show': {
        const body = await client.get<ImageEntryView>(`/v1/images/${enc(required(id, '<id>'))}`);
        ctx.out(json ? JSON.stringify(body, null, 2) : entryRows(ctx, [body]));
        return 0;
      }
      case 'endorse': {
        const entry = await endorse(ctx, required(id, `<id>\nusage: ${USAGE}`), args);
        ctx.out(json ? JSON.stringify(entry, null, 2) : `image ${entry.metadata.image} endorsed as ${entry.id} by ${entry.metadata.endorser} until ${entry.metadata.expires} (sha256 ${entry.metadata.sha256})`);
        return 0;
      }
      case 'revoke': {
        const { body } = await client.request<ImageEntryView>('POST', `/v1/images/${enc(required(id, '<id>'))}/revoke`);
        ctx.out(json ? JSON.stringify(body, null, 2) : `entry ${body.id} revoked`);
        return 0;
      }
      case 'keys':
        return keys(ctx, args, json);
      case 'policy':
        return policy(ctx, args, json);
      default:
        throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${USAGE}`);
    }
  },
};
