/**
 * `nubis clouds …`, `nubis credentials …` and `nubis keys rotate`: the registries from the
 * command line. Nothing here ever prints a secret: credentials are shown as names and field
 * names, as the API returns them; `credentials set` reads values from a file (never from
 * arguments, which other users may see in the process list).
 */
import fs from 'node:fs';
import path from 'node:path';
import { outputHelp, outputOption, required, str, wantsJson, enc, type Command } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { table } from '../format.js';
import type { CloudView, CredentialView, DiscoveryReport, ImageEntry, LocationEntry, OfferEntry, SlaReport } from '../../registry/index.js';
import { isNubisError } from '../../errors/index.js';
// the registry, the store and the YAML parser are imported where used: most subcommands only call the API

async function readDoc(file: string, cwd: string): Promise<unknown> {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.INVALID, 'USAGE', `cannot read ${abs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const { parse } = await import('yaml');
  try {
    return parse(text) as unknown;
  } catch (e) {
    // the YAML error message may quote the text; for credential files, that text is secret
    void e;
    throw new CliError(EXIT.INVALID, 'USAGE', `${abs} is not valid YAML or JSON`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function discoveryLine(d: DiscoveryReport): string {
  if (!d.supported) return `discovery: not supported by this platform; add offers, images and locations by hand (offers:, images:, locations: in the cloud file)`;
  if (!d.ok) return `discovery failed: ${d.error ?? 'unknown error'} (entries kept from before)`;
  return `discovered ${d.counts.locations} locations, ${d.counts.offers} offers, ${d.counts.images} images`;
}

async function cloudsAdd(ctx: CliContext, file: string, json: boolean): Promise<number> {
  const doc = await readDoc(file, ctx.io.cwd);
  if (!isObj(doc)) throw usageError(`${file}: expected a mapping with name, platform, options, credential (and optionally offers, images, locations)`);
  const name = doc['name'];
  if (typeof name !== 'string') throw usageError(`${file}: name: expected the cloud's name`);
  const { name: _n, offers, images, locations, ...cloud } = doc;
  const client = ctx.client();
  const { status, body } = await client.request<{ cloud: CloudView; discovery: DiscoveryReport }>('PUT', `/v1/clouds/${enc(name)}`, cloud);
  const hand: { kind: string; list: unknown }[] = [
    { kind: 'locations', list: locations },
    { kind: 'offers', list: offers },
    { kind: 'images', list: images },
  ];
  let entries = 0;
  for (const h of hand) {
    if (h.list === undefined) continue;
    if (!Array.isArray(h.list)) throw usageError(`${file}: ${h.kind}: expected a list of entries with an id`);
    for (const e of h.list) {
      if (!isObj(e) || typeof e['id'] !== 'string') throw usageError(`${file}: ${h.kind}: every entry needs an id`);
      const { id, ...rest } = e;
      await client.request('PUT', `/v1/clouds/${enc(name)}/${h.kind}/${enc(id as string)}`, rest);
      entries++;
    }
  }
  const after = entries > 0 ? await client.get<CloudView>(`/v1/clouds/${enc(name)}`) : body.cloud;
  const failed = body.discovery.supported && !body.discovery.ok;
  if (json) ctx.out(JSON.stringify({ cloud: after, discovery: body.discovery }, null, 2));
  else {
    ctx.out(`cloud ${name} ${status === 201 ? 'registered' : 'updated'} (${after.platform})`);
    if (!failed) ctx.out(discoveryLine(body.discovery));
    if (entries > 0) ctx.out(`${entries} entries set by hand; now ${after.counts.locations} locations, ${after.counts.offers} offers, ${after.counts.images} images`);
  }
  // the entry is kept (so the credential can be fixed and discovery run again), but this is a failure
  if (failed) {
    throw new CliError(EXIT.FAILURE, 'DISCOVERY_FAILED', `cloud ${name}: discovery failed: ${body.discovery.error ?? 'unknown error'}`, [
      `the entry is kept: fix the credential (\`nubis credentials set …\`) or the options and run \`nubis clouds discover ${name}\`, or remove it with \`nubis clouds rm ${name}\``,
    ]);
  }
  return 0;
}

function formatSla(r: SlaReport): string[] {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  const rows = [...r.ops, r.total].map((o) => [o.op, String(o.calls), String(o.errors), pct(o.availability), `${o.p50Ms}`, `${o.p95Ms}`, `${o.p99Ms}`]);
  const lines = [`cloud ${r.cloud}, ${r.since} → ${r.until}`, ''];
  lines.push(table({ bold: (s) => s, dim: (s) => s, green: (s) => s, yellow: (s) => s, red: (s) => s }, ['OP', 'CALLS', 'ERRORS', 'AVAILABILITY', 'P50 MS', 'P95 MS', 'P99 MS'], rows));
  lines.push('');
  lines.push(r.codes.length ? `error codes: ${r.codes.map((c) => `${c.code} ×${c.count}`).join(', ')}` : 'error codes: none');
  return lines;
}

export const cloudsCommand: Command = {
  name: 'clouds',
  summary: 'registered clouds: list, add, rm, discover, offers, images, locations, sla',
  usage: 'nubis clouds list | add -f <cloud.yaml> | rm <cloud> | discover <cloud> | offers|images|locations <cloud> | sla <cloud> [--since 24h]',
  help: [
    '-f, --file <cloud.yaml>  for add: name, platform, options, credential; optional offers, images, locations entered by hand',
    '--since <30m|24h|7d>  for sla: the window (default 24h)',
    outputHelp,
  ],
  options: { file: { type: 'string', short: 'f' }, since: { type: 'string' }, ...outputOption },
  maxPositionals: 2,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, name] = args.positionals;
    const client = ctx.client();
    const need = (): string => required(name, `<cloud>\nusage: ${cloudsCommand.usage}`);
    switch (sub) {
      case undefined:
      case 'list': {
        const body = await client.get<{ clouds: CloudView[] }>('/v1/clouds');
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else if (body.clouds.length === 0) ctx.out('no clouds registered (add one with `nubis clouds add -f <cloud.yaml>`)');
        else {
          ctx.out(table(ctx.style, ['CLOUD', 'PLATFORM', 'CREDENTIAL', 'LOCATIONS', 'OFFERS', 'IMAGES', 'DISCOVERED'],
            body.clouds.map((c) => [
              c.name, c.platform, c.credential ?? '-', String(c.counts.locations), String(c.counts.offers), String(c.counts.images),
              c.lastDiscoveryError ? ctx.style.red(`failed: ${c.lastDiscoveryError}`) : (c.lastDiscoveredAt ?? (c.discovery ? 'never' : 'by hand')),
            ])));
        }
        return 0;
      }
      case 'add':
        return cloudsAdd(ctx, required(str(args, 'file'), '-f <cloud.yaml>'), json);
      case 'rm': {
        await client.request('DELETE', `/v1/clouds/${enc(need())}`);
        ctx.out(json ? JSON.stringify({ removed: name }) : `cloud ${name} removed`);
        return 0;
      }
      case 'discover': {
        const { body } = await client.request<DiscoveryReport>('POST', `/v1/clouds/${enc(need())}/discover`);
        ctx.out(json ? JSON.stringify(body, null, 2) : discoveryLine(body));
        return body.ok || !body.supported ? 0 : EXIT.FAILURE;
      }
      case 'offers': {
        const body = await client.get<{ offers: OfferEntry[] }>(`/v1/clouds/${enc(need())}/offers`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(table(ctx.style, ['OFFER', 'CORES', 'MEMORY MIB', 'DISK GIB', 'PRICE/H', 'LOCATIONS', 'SOURCE'],
          [...body.offers].sort((a, b) => (a.pricePerHour ?? Infinity) - (b.pricePerHour ?? Infinity) || a.id.localeCompare(b.id)).map((o) => [
            o.id, String(o.cores), String(o.memoryMiB), o.diskGiB === undefined ? '-' : String(o.diskGiB),
            o.pricePerHour === undefined ? '-' : String(o.pricePerHour), o.locations?.join(',') ?? 'all', o.source,
          ])));
        return 0;
      }
      case 'images': {
        const body = await client.get<{ images: ImageEntry[] }>(`/v1/clouds/${enc(need())}/images`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(table(ctx.style, ['IMAGE', 'NAME', 'OS', 'VERSION', 'LOCATIONS', 'SOURCE'],
          body.images.map((i) => [i.id, i.name, i.os ?? '-', i.osVersion ?? '-', i.locations?.join(',') ?? 'all', i.source])));
        return 0;
      }
      case 'locations': {
        const body = await client.get<{ locations: LocationEntry[] }>(`/v1/clouds/${enc(need())}/locations`);
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else ctx.out(table(ctx.style, ['LOCATION', 'REGION', 'ZONE', 'GEOGRAPHY', 'SOURCE'],
          body.locations.map((l) => [l.id, l.region ?? '-', l.zone ?? '-', l.geography ?? '-', l.source])));
        return 0;
      }
      case 'sla': {
        const since = str(args, 'since') ?? '24h';
        const { parseSince } = await import('../../registry/index.js');
        try {
          parseSince(since);
        } catch {
          throw usageError(`--since: expected a duration such as 30m, 24h or 7d, found ${JSON.stringify(since)}`);
        }
        const body = await client.get<SlaReport>(`/v1/clouds/${enc(need())}/sla?since=${enc(since)}`);
        ctx.out(json ? JSON.stringify(body, null, 2) : formatSla(body).join('\n'));
        return 0;
      }
      default:
        throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${cloudsCommand.usage}`);
    }
  },
};

export const credentialsCommand: Command = {
  name: 'credentials',
  summary: 'stored cloud credentials (sealed; only names are ever shown): set, list, rm',
  usage: 'nubis credentials set <name> --from-file <fields.json> | list | rm <name>',
  help: [
    '--from-file <file>  JSON or YAML: { "field": "secret value", … } (or { "fields": { … } }); values are never printed',
    outputHelp,
  ],
  options: { 'from-file': { type: 'string' }, ...outputOption },
  maxPositionals: 2,
  async run(ctx, args) {
    const json = wantsJson(args);
    const [sub, name] = args.positionals;
    const client = ctx.client();
    switch (sub) {
      case undefined:
      case 'list': {
        const body = await client.get<{ credentials: CredentialView[] }>('/v1/credentials');
        if (json) ctx.out(JSON.stringify(body, null, 2));
        else if (body.credentials.length === 0) ctx.out('no credentials stored');
        else ctx.out(table(ctx.style, ['CREDENTIAL', 'FIELDS', 'USED BY', 'UPDATED'],
          body.credentials.map((c) => [c.name, c.fields.join(', '), c.usedBy.join(', ') || '-', c.updatedAt])));
        return 0;
      }
      case 'set': {
        const n = required(name, `<name>\nusage: ${credentialsCommand.usage}`);
        const doc = await readDoc(required(str(args, 'from-file'), '--from-file <fields.json>'), ctx.io.cwd);
        const fields = isObj(doc) && isObj(doc['fields']) && Object.keys(doc).length === 1 ? doc['fields'] : doc;
        if (!isObj(fields)) throw usageError('--from-file: expected a mapping of field name → value');
        const { status, body } = await client.request<CredentialView>('PUT', `/v1/credentials/${enc(n)}`, { fields });
        ctx.out(json ? JSON.stringify(body, null, 2) : `credential ${n} ${status === 201 ? 'stored' : 'updated'} (fields: ${body.fields.join(', ')})`);
        return 0;
      }
      case 'rm': {
        const n = required(name, `<name>\nusage: ${credentialsCommand.usage}`);
        await client.request('DELETE', `/v1/credentials/${enc(n)}`);
        ctx.out(json ? JSON.stringify({ removed: n }) : `credential ${n} removed`);
        return 0;
      }
      default:
        throw usageError(`unknown subcommand ${JSON.stringify(sub)}\nusage: ${credentialsCommand.usage}`);
    }
  },
};

/** True when the pid file names a live process. */
function serverRunning(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'serve.pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'the credential key: rotate (re-seals every credential; run with the server stopped)',
  usage: 'nubis keys rotate [--data <dir>]',
  help: ['works on the data directory directly; stop `nubis serve` first', outputHelp],
  options: { ...outputOption },
  maxPositionals: 1,
  async run(ctx, args) {
    const json = wantsJson(args);
    if (args.positionals[0] !== 'rotate') throw usageError(`expected \`rotate\`\nusage: ${keysCommand.usage}`);
    const dataDir = ctx.dataDir();
    const pid = serverRunning(dataDir);
    if (pid !== undefined) throw new CliError(EXIT.FAILURE, 'CONFLICT', `a server (pid ${pid}) is running on ${dataDir}; stop it first, rotate, then start it again`);
    const dbFile = path.join(dataDir, 'nubis.db');
    if (!fs.existsSync(dbFile)) throw new CliError(EXIT.INVALID, 'NOT_FOUND', `no Nubis data in ${dataDir} (no nubis.db)`);
    const [{ openStore }, { rotateKey, settleKeyFiles, KEY_ENV }] = await Promise.all([import('../../store/index.js'), import('../../registry/index.js')]);
    const store = await openStore({ path: dbFile });
    try {
      await settleKeyFiles(dataDir, store);
      const r = await rotateKey(dataDir, store, ctx.io.env);
      if (json) ctx.out(JSON.stringify(r, null, 2));
      else {
        ctx.out(`key rotated: ${r.count} credential${r.count === 1 ? '' : 's'} re-sealed (key ${r.oldKeyId} → ${r.newKeyId})`);
        ctx.out(`key file: ${r.keyFile} (mode 0600; back it up separately from the database)`);
        if (r.fromEnv) ctx.out(`${KEY_ENV} held the old key: set ${KEY_ENV} to the content of ${r.keyFile}, or unset it, before starting the server`);
      }
      return 0;
    } catch (e) {
      if (isNubisError(e)) throw new CliError(EXIT.FAILURE, e.code, `${e.message}; nothing was changed`);
      throw e;
    } finally {
      await store.close();
    }
  },
};
