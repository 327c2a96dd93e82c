/**
 * The registries (after Colosseum's cloud, specification and credential registries, seed 004
 * §2.1.1): per tenant, the registered clouds with their locations, hardware offers and images,
 * and the credentials the clouds' drivers receive.
 *
 * Contracts:
 * - Registering a cloud runs discovery through its driver's `discover()`; drivers without
 *   it have their entries completed by hand (`putEntry`). Discovery refreshes every
 *   `refreshIntervalMs` on the Clock. A refresh replaces the discovered entries of a cloud in
 *   one transaction; hand entries (`manual`) survive and win over a discovered entry with the
 *   same id. A failed discovery keeps the previous entries and records the error on the cloud.
 * - Credentials are sealed (./keys.ts) before they reach the store, and only field names are
 *   kept in the clear. No view, error message, event or log line carries a value: `secrets()`
 *   is the only way out, and it is for driver contexts alone.
 * - Reads used by the engine (`catalogue`, `cloudSpec`, `secrets`) are synchronous, from an
 *   in-memory snapshot reloaded after every change.
 * - Every failure is a NubisError: REQUEST_INVALID for bad input, NOT_FOUND for unknown names,
 *   CONFLICT for removing what is in use.
 */
import type { Clock } from '../clock/index.js';
import type { EventInput, EventLog } from '../events/index.js';
import type { Discovery, DriverFactory, HardwareOffer, Image, Location } from '../drivers/driver.js';
import { optionsSchemaOf, validateDriverOptions, type CloudHealth } from '../drivers/index.js';
import { NubisError, toNubisError } from '../errors/index.js';
import { NAME_PATTERN, PLATFORMS } from '../model/schema.js';
import type { CloudSpec, Platform } from '../model/types.js';
import type { CredentialRow, RegCloudRow, RegEntryKind, RegEntryRow, Store } from '../store/index.js';
import { accountedCloud, createCallAccounting, type CallAccounting } from './accounting.js';
import { credentialAad, open, seal, type SecretKey } from './keys.js';
import type {
  CatalogueCloud, CloudInput, CloudView, CredentialView, DiscoveryReport, EntrySource, ImageEntry, LocationEntry, OfferEntry, SlaReport,
} from './types.js';
import { DEFAULT_TENANT } from './types.js';

/** Option keys refused on a cloud: such values belong in a credential. */
const SECRET_OPTION = /pass(word)?|secret|token|credential|private.?key|api.?key|access.?key/i;
const DEFAULT_REFRESH_MS = 6 * 3_600_000;
const DISCOVERY_TIMEOUT_MS = 120_000;
/** How long provider call records are kept. */
const CALL_RETENTION_MS = 30 * 86_400_000;

export interface RegistryOptions {
  store: Store;
  clock: Clock;
  key: SecretKey;
  dataDir: string;
  factories: Partial<Record<Platform, DriverFactory>>;
  events?: EventLog;
  /** Discovery refresh interval; 0 turns scheduled refreshes off. Default 6 h. */
  refreshIntervalMs?: number;
  /** Deployments with nodes on a registered cloud, which therefore may not be removed. */
  inUse?: (tenant: string, cloud: string) => string[];
  /**
   * Told after a cloud entry or a credential changed (before discovery runs), so running
   * handles rebuild their drivers and clear a stop. Errors it throws are ignored.
   */
  onChange?: (change: RegistryChange) => void | Promise<void>;
  /** The health a cloud's calls share (see drivers/cloud-health.ts); discovery goes through it. */
  health?: (spec: CloudSpec, tenant: string) => CloudHealth;
}

/** What changed in the registries. */
export interface RegistryChange {
  tenant: string;
  kind: 'cloud' | 'credential';
  name: string;
  /** The cloud's spec before the change (a changed or removed cloud), when it existed. */
  before?: CloudSpec;
}

export interface Actor {
  actor: string;
  correlationId?: string;
  /** The tenant acting: its audit events are that tenant's to see. */
  tenant?: string;
}

export interface Registry {
  /** Loads the snapshot and starts the refresh schedule. */
  start(): Promise<void>;
  /** Stops the schedule and waits for a running refresh; flushes accounting. */
  stop(): Promise<void>;
  readonly key: SecretKey;
  readonly accounting: CallAccounting;

  listClouds(tenant: string): CloudView[];
  getCloud(tenant: string, name: string): CloudView;
  /** Registers or changes a cloud, then runs discovery when its driver has it. */
  putCloud(tenant: string, name: string, input: CloudInput, by: Actor): Promise<{ cloud: CloudView; created: boolean; discovery: DiscoveryReport }>;
  deleteCloud(tenant: string, name: string, by: Actor): Promise<void>;
  discover(tenant: string, name: string, by?: Actor): Promise<DiscoveryReport>;
  /** One refresh of every cloud with discovery, of every tenant. */
  refreshAll(): Promise<DiscoveryReport[]>;
  locations(tenant: string, cloud: string): LocationEntry[];
  offers(tenant: string, cloud: string): OfferEntry[];
  images(tenant: string, cloud: string): ImageEntry[];
  /** Adds or replaces a hand entry (kept across refreshes). */
  putEntry(tenant: string, cloud: string, kind: RegEntryKind, id: string, data: unknown, by: Actor): Promise<LocationEntry | OfferEntry | ImageEntry>;
  deleteEntry(tenant: string, cloud: string, kind: RegEntryKind, id: string, by: Actor): Promise<void>;

  listCredentials(tenant: string): CredentialView[];
  /** Seals and stores the fields (string values only). Resolves to the view (names only). */
  setCredential(tenant: string, name: string, fields: unknown, by: Actor): Promise<{ credential: CredentialView; created: boolean }>;
  deleteCredential(tenant: string, name: string, by: Actor): Promise<void>;
  /** The opened fields of a credential, for a DriverContext only. */
  secrets(tenant: string, name: string): Record<string, string>;

  /** Every registered cloud of the tenant with its entries, for selection. */
  catalogue(tenant: string): CatalogueCloud[];
  /** A registered cloud as the engine's cloud spec, or undefined. */
  cloudSpec(tenant: string, name: string): CloudSpec | undefined;
  /** The provider SLA of a cloud (registered, or a spec cloud by name) over the last `windowMs`. */
  sla(tenant: string, cloud: string, windowMs: number): Promise<SlaReport>;
}

interface TenantSnapshot {
  clouds: Map<string, { row: RegCloudRow; entries: RegEntryRow[] }>;
  creds: Map<string, CredentialRow>;
  /** Built on first use after each reload. */
  catalogue?: CatalogueCloud[];
}

const iso = (ms: number | null | undefined): string | undefined => (ms === null || ms === undefined ? undefined : new Date(Number(ms)).toISOString());
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (msg: string): NubisError => new NubisError('REQUEST_INVALID', msg);

function checkName(name: string, what: string): void {
  if (typeof name !== 'string' || !new RegExp(NAME_PATTERN).test(name)) {
    throw invalid(`${what}: expected a name matching ${NAME_PATTERN}, found ${JSON.stringify(name)}`);
  }
}

/** Finds secret-looking keys anywhere in the options; returns the path of the first. */
function secretPath(v: unknown, at: string): string | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = secretPath(v[i], `${at}[${i}]`);
      if (p) return p;
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (SECRET_OPTION.test(k)) return `${at}.${k}`;
      const p = secretPath(x, `${at}.${k}`);
      if (p) return p;
    }
  }
  return undefined;
}

const idOk = (id: unknown): id is string => typeof id === 'string' && id.length > 0 && id.length <= 200;
const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const nonNeg = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const strList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const optStr = (v: unknown): v is string | undefined => v === undefined || (typeof v === 'string' && v.length <= 200);

/** Validates one entry (from a driver or a person); returns the clean object or a reason. */
export function cleanEntry(kind: RegEntryKind, v: unknown): { ok: true; value: Location | HardwareOffer | Image } | { ok: false; why: string } {
  if (!isObj(v) || !idOk(v['id'])) return { ok: false, why: 'expected an object with a non-empty id' };
  const id = v['id'];
  if (kind === 'location') {
    for (const k of ['region', 'zone', 'geography'] as const) if (!optStr(v[k])) return { ok: false, why: `${k}: expected a string` };
    const l: Location = { id };
    if (v['region'] !== undefined) l.region = v['region'] as string;
    if (v['zone'] !== undefined) l.zone = v['zone'] as string;
    if (v['geography'] !== undefined) l.geography = v['geography'] as string;
    return { ok: true, value: l };
  }
  if (kind === 'offer') {
    if (!posInt(v['cores'])) return { ok: false, why: 'cores: expected an integer ≥ 1' };
    if (!posInt(v['memoryMiB'])) return { ok: false, why: 'memoryMiB: expected an integer ≥ 1' };
    if (v['diskGiB'] !== undefined && !nonNeg(v['diskGiB'])) return { ok: false, why: 'diskGiB: expected a number ≥ 0' };
    if (v['pricePerHour'] !== undefined && !nonNeg(v['pricePerHour'])) return { ok: false, why: 'pricePerHour: expected a number ≥ 0' };
    if (v['locations'] !== undefined && !strList(v['locations'])) return { ok: false, why: 'locations: expected a list of location ids' };
    const o: HardwareOffer = { id, cores: v['cores'], memoryMiB: v['memoryMiB'] };
    if (v['diskGiB'] !== undefined) o.diskGiB = v['diskGiB'] as number;
    if (v['pricePerHour'] !== undefined) o.pricePerHour = v['pricePerHour'] as number;
    if (v['locations'] !== undefined) o.locations = [...(v['locations'] as string[])];
    return { ok: true, value: o };
  }
  if (v['name'] !== undefined && !optStr(v['name'])) return { ok: false, why: 'name: expected a string' };
  for (const k of ['os', 'osVersion'] as const) if (!optStr(v[k])) return { ok: false, why: `${k}: expected a string` };
  if (v['locations'] !== undefined && !strList(v['locations'])) return { ok: false, why: 'locations: expected a list of location ids' };
  const img: Image = { id, name: (v['name'] as string | undefined) ?? id };
  if (v['os'] !== undefined) img.os = (v['os'] as string).toLowerCase();
  if (v['osVersion'] !== undefined) img.osVersion = (v['osVersion'] as string).toLowerCase();
  if (v['locations'] !== undefined) img.locations = [...(v['locations'] as string[])];
  return { ok: true, value: img };
}

export function createRegistry(opts: RegistryOptions): Registry {
  const { store, clock, key } = opts;
  const repo = store.registry;
  const accounting = createCallAccounting(repo, clock);
  const refreshMs = opts.refreshIntervalMs ?? DEFAULT_REFRESH_MS;
  const tenants = new Map<string, TenantSnapshot>();
  const discovering = new Map<string, Promise<DiscoveryReport>>();
  const abort = new AbortController();
  let loop: Promise<void> | undefined;

  const snap = (tenant: string): TenantSnapshot => {
    let t = tenants.get(tenant);
    if (!t) tenants.set(tenant, (t = { clouds: new Map(), creds: new Map() }));
    return t;
  };

  async function reload(tenant: string): Promise<void> {
    const [clouds, entries, creds] = await Promise.all([repo.clouds(tenant), repo.entries(tenant), repo.credentials(tenant)]);
    const t: TenantSnapshot = { clouds: new Map(), creds: new Map() };
    for (const c of clouds) t.clouds.set(c.name, { row: c, entries: [] });
    for (const e of entries) t.clouds.get(e.cloud)?.entries.push(e);
    for (const c of creds) t.creds.set(c.name, c);
    tenants.set(tenant, t);
  }

  const audit = async (e: Omit<EventInput, 'actor'>, by: Actor | undefined): Promise<void> => {
    if (!opts.events) return;
    await opts.events.append({
      actor: by?.actor ?? 'registry', ...(by?.correlationId ? { correlationId: by.correlationId } : {}), ...(by?.tenant ? { tenant: by.tenant } : {}), ...e, ts: clock.now(),
    });
  };

  function mustCloud(tenant: string, name: string): { row: RegCloudRow; entries: RegEntryRow[] } {
    const c = snap(tenant).clouds.get(name);
    if (!c) throw new NubisError('NOT_FOUND', `no registered cloud named ${JSON.stringify(name)}`);
    return c;
  }

  function specOf(tenant: string, name: string): CloudSpec | undefined {
    const c = snap(tenant).clouds.get(name);
    if (!c) return undefined;
    const spec: CloudSpec = { name, platform: c.row.platform as Platform, options: JSON.parse(c.row.options_json) as Record<string, unknown> };
    if (c.row.credential !== null) spec.credential = c.row.credential;
    return spec;
  }

  async function changed(c: RegistryChange): Promise<void> {
    try {
      await opts.onChange?.(c);
    } catch {
      // running handles catch up at their next sweep
    }
  }

  /** Platforms whose driver answered `discover` in this process. */
  const discoveryCapable = new Set<string>();

  function entriesOf<T>(c: { entries: RegEntryRow[] }, kind: RegEntryKind): T[] {
    return c.entries
      .filter((e) => e.kind === kind)
      .map((e) => ({ ...(JSON.parse(e.data_json) as object), source: e.source as EntrySource }) as T);
  }

  function view(tenant: string, c: { row: RegCloudRow; entries: RegEntryRow[] }): CloudView {
    const v: CloudView = {
      name: c.row.name,
      platform: c.row.platform as Platform,
      options: JSON.parse(c.row.options_json) as Record<string, unknown>,
      discovery: c.row.last_discovered_at !== null || discoveryCapable.has(c.row.platform),
      counts: {
        locations: c.entries.filter((e) => e.kind === 'location').length,
        offers: c.entries.filter((e) => e.kind === 'offer').length,
        images: c.entries.filter((e) => e.kind === 'image').length,
      },
    };
    if (c.row.credential !== null) v.credential = c.row.credential;
    const at = iso(c.row.last_discovered_at);
    if (at) v.lastDiscoveredAt = at;
    if (c.row.last_discovery_error !== null) v.lastDiscoveryError = c.row.last_discovery_error;
    return v;
  }

  function credView(tenant: string, row: CredentialRow): CredentialView {
    const usedBy = [...snap(tenant).clouds.values()].filter((c) => c.row.credential === row.name).map((c) => c.row.name);
    return { name: row.name, fields: JSON.parse(row.fields_json) as string[], usedBy, updatedAt: new Date(Number(row.updated_at)).toISOString() };
  }

  function secrets(tenant: string, name: string): Record<string, string> {
    const row = snap(tenant).creds.get(name);
    if (!row) throw new NubisError('NOT_FOUND', `no credential named ${JSON.stringify(name)}`);
    const text = open(key.bytes, row.sealed, credentialAad(tenant, name), row.key_id, `credential ${name}`);
    return JSON.parse(text) as Record<string, string>;
  }

  /** Runs one discovery, with a time limit on the clock; never throws (the report says). */
  async function runDiscovery(tenant: string, name: string, by: Actor | undefined): Promise<DiscoveryReport> {
    const c = mustCloud(tenant, name);
    const platform = c.row.platform as Platform;
    const counts = (): DiscoveryReport['counts'] => {
      const now = snap(tenant).clouds.get(name);
      return now ? view(tenant, now).counts : { locations: 0, offers: 0, images: 0 };
    };
    const factory = opts.factories[platform];
    if (!factory) return { cloud: name, supported: false, ok: false, error: `platform ${platform} has no driver in this build`, counts: counts() };
    const started = clock.now();
    let driver: ReturnType<DriverFactory> | undefined;
    let admission: ReturnType<CloudHealth['admit']> | undefined;
    const ac = new AbortController();
    const onStop = (): void => ac.abort();
    abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      const creds = c.row.credential !== null ? secrets(tenant, c.row.credential) : undefined;
      driver = factory({
        cloud: name, options: JSON.parse(c.row.options_json) as Record<string, unknown>, dataDir: opts.dataDir, clock,
        ...(creds ? { credentials: creds } : {}),
      });
      if (!driver.discover) {
        discoveryCapable.delete(platform);
        return { cloud: name, supported: false, ok: true, counts: counts() };
      }
      discoveryCapable.add(platform);
      // a cloud that backs off or was stopped is not asked (the error says why)
      const spec = specOf(tenant, name);
      admission = spec ? opts.health?.(spec, tenant).admit('discover') : undefined;
      const timer = new AbortController();
      const found: Discovery = await Promise.race([
        driver.discover(ac.signal),
        clock.sleep(DISCOVERY_TIMEOUT_MS, timer.signal).then(() => {
          ac.abort();
          throw new NubisError('CLOUD_TIMEOUT', `discovery on ${name} got no answer within ${DISCOVERY_TIMEOUT_MS} ms`);
        }),
      ]).finally(() => timer.abort());
      admission?.settle();
      accounting.record({ cloud: accountedCloud(tenant, name), op: 'discover', outcome: 'ok', latencyMs: clock.now() - started });
      const now = clock.now();
      const rows: RegEntryRow[] = [];
      for (const [kind, list] of [['location', found.locations], ['offer', found.offers], ['image', found.images]] as const) {
        for (const raw of Array.isArray(list) ? list : []) {
          const r = cleanEntry(kind, raw);
          if (r.ok) rows.push({ tenant, cloud: name, kind, id: r.value.id, data_json: JSON.stringify(r.value), source: 'discovered', updated_at: now });
        }
      }
      await repo.replaceDiscovered(tenant, name, rows);
      await repo.markDiscovery(tenant, name, now, null);
      await reload(tenant);
      const report: DiscoveryReport = { cloud: name, supported: true, ok: true, counts: counts() };
      await audit({ kind: 'cloud.discovered', target: name, outcome: 'ok', data: { ...report.counts } }, by);
      return report;
    } catch (e) {
      const err = toNubisError(e);
      admission?.settle(err);
      accounting.record({ cloud: accountedCloud(tenant, name), op: 'discover', outcome: 'error', errorCode: err.code, latencyMs: clock.now() - started });
      const msg = `${err.code}: ${err.message}`;
      await repo.markDiscovery(tenant, name, clock.now(), msg).catch(() => undefined);
      await reload(tenant).catch(() => undefined);
      await audit({ kind: 'cloud.discovered', target: name, outcome: 'error', reason: msg, data: { code: err.code } }, by).catch(() => undefined);
      return { cloud: name, supported: true, ok: false, error: msg, counts: counts() };
    } finally {
      abort.signal.removeEventListener('abort', onStop);
      await driver?.close().catch(() => undefined);
    }
  }

  function discover(tenant: string, name: string, by?: Actor): Promise<DiscoveryReport> {
    mustCloud(tenant, name);
    const k = `${tenant}\u0000${name}`;
    let p = discovering.get(k);
    if (!p) {
      p = runDiscovery(tenant, name, by).finally(() => discovering.delete(k));
      discovering.set(k, p);
    }
    return p;
  }

  async function refreshAll(): Promise<DiscoveryReport[]> {
    const out: DiscoveryReport[] = [];
    for (const c of await repo.clouds()) {
      if (!tenants.has(c.tenant)) await reload(c.tenant);
      const f = opts.factories[c.platform as Platform];
      if (!f) continue;
      const r = await discover(c.tenant, c.name, { actor: 'registry', tenant: c.tenant });
      if (r.supported) out.push(r);
    }
    return out;
  }

  const registry: Registry = {
    key,
    accounting,
    async start() {
      for (const c of await repo.clouds()) if (!tenants.has(c.tenant)) await reload(c.tenant);
      for (const c of await repo.credentials()) if (!tenants.has(c.tenant)) await reload(c.tenant);
      if (refreshMs > 0) {
        loop = (async () => {
          while (!abort.signal.aborted) {
            try {
              await clock.sleep(refreshMs, abort.signal);
            } catch {
              return;
            }
            await refreshAll().catch(() => undefined);
            await accounting.prune(CALL_RETENTION_MS).catch(() => undefined);
          }
        })();
      }
    },
    async stop() {
      abort.abort();
      await loop;
      await Promise.allSettled([...discovering.values()]);
      await accounting.flush();
    },

    listClouds: (tenant) => [...snap(tenant).clouds.values()].map((c) => view(tenant, c)).sort((a, b) => a.name.localeCompare(b.name)),
    getCloud: (tenant, name) => view(tenant, mustCloud(tenant, name)),

    async putCloud(tenant, name, input, by) {
      checkName(name, 'cloud name');
      if (!isObj(input)) throw invalid('$: expected an object with platform, options and credential');
      if (!(PLATFORMS as readonly string[]).includes(input.platform)) throw invalid(`$.platform: expected one of ${PLATFORMS.join(', ')}, found ${JSON.stringify(input.platform)}`);
      if (!opts.factories[input.platform]) throw invalid(`$.platform: ${input.platform} has no driver in this build`);
      const options = input.options ?? {};
      if (!isObj(options)) throw invalid('$.options: expected an object');
      const bad = secretPath(options, '$.options');
      if (bad) throw invalid(`${bad}: secrets do not go in cloud options; store them with \`nubis credentials set <name>\` and name that credential in $.credential`);
      try {
        validateDriverOptions(optionsSchemaOf(opts.factories[input.platform]), options, '$.options');
      } catch (e) {
        throw invalid(toNubisError(e).message);
      }
      if (input.credential !== undefined) {
        checkName(input.credential, '$.credential');
        if (!snap(tenant).creds.has(input.credential)) throw invalid(`$.credential: no credential named ${JSON.stringify(input.credential)}; create it first with \`nubis credentials set\``);
      }
      const before = snap(tenant).clouds.get(name);
      const beforeSpec = specOf(tenant, name);
      const now = clock.now();
      await repo.putCloud({
        tenant, name, platform: input.platform, options_json: JSON.stringify(options), credential: input.credential ?? null,
        last_discovered_at: before?.row.last_discovered_at ?? null, last_discovery_error: before?.row.last_discovery_error ?? null,
        created_at: before?.row.created_at ?? now, updated_at: now,
      });
      await reload(tenant);
      await audit({ kind: before ? 'cloud.changed' : 'cloud.registered', target: name, outcome: 'ok', data: { platform: input.platform } }, by);
      await changed({ tenant, kind: 'cloud', name, ...(beforeSpec ? { before: beforeSpec } : {}) });
      const discovery = await discover(tenant, name, by);
      return { cloud: view(tenant, mustCloud(tenant, name)), created: !before, discovery };
    },

    async deleteCloud(tenant, name, by) {
      mustCloud(tenant, name);
      const users = opts.inUse?.(tenant, name) ?? [];
      if (users.length > 0) throw new NubisError('CONFLICT', `cloud ${name} has nodes of ${users.join(', ')}; destroy or move them first`);
      const beforeSpec = specOf(tenant, name);
      await repo.deleteCloud(tenant, name);
      await reload(tenant);
      await audit({ kind: 'cloud.removed', target: name, outcome: 'ok' }, by);
      await changed({ tenant, kind: 'cloud', name, ...(beforeSpec ? { before: beforeSpec } : {}) });
    },

    discover,
    refreshAll,
    locations: (tenant, cloud) => entriesOf<LocationEntry>(mustCloud(tenant, cloud), 'location'),
    offers: (tenant, cloud) => entriesOf<OfferEntry>(mustCloud(tenant, cloud), 'offer'),
    images: (tenant, cloud) => entriesOf<ImageEntry>(mustCloud(tenant, cloud), 'image'),

    async putEntry(tenant, cloud, kind, id, data, by) {
      mustCloud(tenant, cloud);
      const body = isObj(data) ? { ...data, id } : data;
      const r = cleanEntry(kind, body);
      if (!r.ok) throw invalid(`$ (${kind} ${id}): ${r.why}`);
      await repo.putEntry({ tenant, cloud, kind, id, data_json: JSON.stringify(r.value), source: 'manual', updated_at: clock.now() });
      await reload(tenant);
      await audit({ kind: 'cloud.entry-set', target: `${cloud}/${kind}/${id}`, outcome: 'ok' }, by);
      return { ...r.value, source: 'manual' } as OfferEntry;
    },

    async deleteEntry(tenant, cloud, kind, id, by) {
      mustCloud(tenant, cloud);
      if (!(await repo.deleteEntry(tenant, cloud, kind, id))) throw new NubisError('NOT_FOUND', `cloud ${cloud} has no ${kind} ${JSON.stringify(id)}`);
      await reload(tenant);
      await audit({ kind: 'cloud.entry-removed', target: `${cloud}/${kind}/${id}`, outcome: 'ok' }, by);
    },

    listCredentials: (tenant) => [...snap(tenant).creds.values()].map((r) => credView(tenant, r)).sort((a, b) => a.name.localeCompare(b.name)),

    async setCredential(tenant, name, fields, by) {
      checkName(name, 'credential name');
      if (!isObj(fields) || Object.keys(fields).length === 0) throw invalid('$.fields: expected an object of at least one field name → string value');
      const clean: Record<string, string> = {};
      for (const [k, v] of Object.entries(fields)) {
        if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(k)) throw invalid(`$.fields: field names are letters, digits, _ . - (up to 64), found one of ${k.length} characters`);
        if (typeof v !== 'string') throw invalid(`$.fields.${k}: expected a string value`);
        if (v.length > 65_536) throw invalid(`$.fields.${k}: longer than 65536 characters`);
        clean[k] = v;
      }
      const before = snap(tenant).creds.get(name);
      const now = clock.now();
      await repo.putCredential({
        tenant, name, fields_json: JSON.stringify(Object.keys(clean).sort()),
        sealed: seal(key.bytes, JSON.stringify(clean), credentialAad(tenant, name)), key_id: key.id,
        created_at: before?.created_at ?? now, updated_at: now,
      });
      await reload(tenant);
      await audit({ kind: 'credential.set', target: name, outcome: 'ok', data: { fields: Object.keys(clean).sort() } }, by);
      await changed({ tenant, kind: 'credential', name });
      return { credential: credView(tenant, snap(tenant).creds.get(name)!), created: !before };
    },

    async deleteCredential(tenant, name, by) {
      if (!snap(tenant).creds.has(name)) throw new NubisError('NOT_FOUND', `no credential named ${JSON.stringify(name)}`);
      const users = [...snap(tenant).clouds.values()].filter((c) => c.row.credential === name).map((c) => c.row.name);
      if (users.length > 0) throw new NubisError('CONFLICT', `credential ${name} is used by cloud ${users.join(', ')}; change or remove those first`);
      await repo.deleteCredential(tenant, name);
      await reload(tenant);
      await audit({ kind: 'credential.removed', target: name, outcome: 'ok' }, by);
    },

    secrets,

    catalogue(tenant) {
      const t = snap(tenant);
      t.catalogue ??= [...t.clouds.values()].map((c) => ({
        name: c.row.name,
        platform: c.row.platform as Platform,
        locations: entriesOf<LocationEntry>(c, 'location'),
        offers: entriesOf<OfferEntry>(c, 'offer'),
        images: entriesOf<ImageEntry>(c, 'image'),
      }));
      return t.catalogue;
    },

    cloudSpec: specOf,

    async sla(tenant, cloud, windowMs) {
      // Calls are accounted by tenant and cloud name (accountedCloud): a tenant sees its own
      // clouds' calls only, registered or named in its specs.
      const report = { ...(await accounting.sla(accountedCloud(tenant, cloud), clock.now() - windowMs)), cloud };
      // spec clouds (inline options) are accounted under their name, too
      if (!snap(tenant).clouds.has(cloud) && report.total.calls === 0) {
        throw new NubisError('NOT_FOUND', `no registered cloud named ${JSON.stringify(cloud)}, and no calls to a cloud of that name since ${report.since}`);
      }
      return report;
    },
  };
  return registry;
}
