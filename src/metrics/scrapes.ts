/**
 * Scrape targets: one Prometheus-exposition scraper per target, each on its own interval;
 * samples carry the target's labels, then deployment (when the target belongs to one) and
 * instance (host:port). A target that cannot start is a `scrape.failed` event, never a throw.
 */
import type { Clock } from '../clock/index.js';
import type { Caller } from '../engine/index.js';
import type { ScrapeTargetSpec } from '../model/index.js';
import type { ScrapeTargetDoc } from '../model/index.js';
import { normaliseScrape, scrapeProblems } from '../model/index.js';
import { catalogKey, invalid, iso, tenantOfCaller, type CatalogKind, type CatalogObject, type ObjectCatalog, type ObjectSource } from './catalog.js';
import { createScraper, type Scraper, type ScrapeStatus } from './ingest/scraper.js';
import type { SelfMetrics } from './self-metrics.js';
import type { Sample } from './types.js';

export interface ScrapeTargetView {
  name: string;
  deployment?: string;
  source: ObjectSource;
  url: string;
  intervalMs: number;
  labels: Record<string, string>;
  /** The last scrape, once there has been one. */
  status?: { up: boolean; lastScrape?: string; lastDurationMs?: number; lastError?: string; samples: number; malformed: number };
}

export interface ScrapeTargetsOptions {
  clock: Clock;
  catalog: ObjectCatalog;
  ingest: (samples: Sample[], source: string, tenant: string) => void;
  self: SelfMetrics;
}

export interface ScrapeTargets {
  /** Starts, restarts and stops scrapers to match the targets in force (none when `running` is false). */
  sync(running: boolean): void;
  stop(): Promise<void>;
  list(tenant: string, deployment?: string): ScrapeTargetView[];
  get(tenant: string, name: string, deployment?: string): ScrapeTargetView;
  put(name: string, body: ScrapeTargetDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: ScrapeTargetView }>;
  remove(name: string, deployment: string | undefined, caller: Caller): Promise<void>;
}

class Targets implements ScrapeTargets {
  private readonly kind: CatalogKind<ScrapeTargetSpec>;
  private readonly scrapers = new Map<string, { sig: string; scraper: Scraper }>();
  private running = false;

  constructor(private readonly o: ScrapeTargetsOptions) {
    this.kind = o.catalog.kind('scrape', 'scrape', 'scrape target', normaliseScrape);
  }

  load(): Promise<string[]> {
    return this.kind.load();
  }

  sync(running: boolean): void {
    this.running = running;
    const ids = this.o.catalog.o.ids;
    const want = running ? this.kind.all() : [];
    const live = new Set<string>();
    for (const t of want) {
      const k = catalogKey(t.tenant, t.deployment, t.name);
      live.add(k);
      const labels = { ...t.spec.labels, ...(t.deployment ? { deployment: ids.name(t.deployment) } : {}) };
      const sig = JSON.stringify([t.spec.url, t.spec.intervalMs, labels]);
      const old = this.scrapers.get(k);
      if (old?.sig === sig) continue;
      if (old) void old.scraper.stop();
      try {
        const scraper = createScraper({
          targets: [{ url: t.spec.url, labels }],
          intervalMs: t.spec.intervalMs,
          clock: this.o.clock,
          onSamples: (samples) => {
            this.o.ingest(samples, 'scrape', t.tenant);
            const st = scraper.status()[0];
            if (st && st.malformed > 0) this.o.self.inc('nubis_ingest_malformed_total', { source: 'scrape' }, st.malformed);
          },
        });
        this.scrapers.set(k, { sig, scraper });
        scraper.start();
      } catch (e) {
        this.scrapers.delete(k);
        this.o.catalog.append('scrape.failed', 'metrics', t.deployment || undefined, t.name, 'error', `scrape target ${t.name}: ${e instanceof Error ? e.message : String(e)}`, { name: t.name }, t.tenant);
      }
    }
    for (const [k, v] of [...this.scrapers]) {
      if (live.has(k)) continue;
      this.scrapers.delete(k);
      void v.scraper.stop();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    const running = [...this.scrapers.values()].map((v) => v.scraper.stop());
    this.scrapers.clear();
    await Promise.all(running);
  }

  private view(t: CatalogObject<ScrapeTargetSpec>): ScrapeTargetView {
    const st: ScrapeStatus | undefined = this.scrapers.get(catalogKey(t.tenant, t.deployment, t.name))?.scraper.status()[0];
    return {
      name: t.name,
      ...(t.deployment ? { deployment: this.o.catalog.o.ids.name(t.deployment) } : {}),
      source: t.source,
      url: t.spec.url,
      intervalMs: t.spec.intervalMs,
      labels: t.spec.labels,
      ...(st?.lastScrapeMs !== undefined
        ? { status: { up: st.up, lastScrape: iso(st.lastScrapeMs)!, ...(st.lastDurationMs !== undefined ? { lastDurationMs: st.lastDurationMs } : {}), ...(st.lastError !== undefined ? { lastError: st.lastError } : {}), samples: st.samples, malformed: st.malformed } }
        : {}),
    };
  }

  list(tenant: string, deployment?: string): ScrapeTargetView[] {
    return this.kind.list(tenant, deployment).map((t) => this.view(t));
  }

  get(tenant: string, name: string, deployment?: string): ScrapeTargetView {
    return this.view(this.kind.lookup(tenant, name, deployment));
  }

  async put(name: string, body: ScrapeTargetDoc & { deployment?: string }, caller: Caller): Promise<{ created: boolean; view: ScrapeTargetView }> {
    const tenant = tenantOfCaller(caller);
    const { deployment: named = '', ...doc } = body;
    const deployment = named ? this.o.catalog.mustDeployment(named, tenant).id : '';
    const problems = scrapeProblems(doc as Record<string, unknown>, []);
    if (problems.length) throw invalid(problems);
    const { created, obj } = await this.kind.put(tenant, deployment, name, doc);
    this.sync(this.running);
    this.o.catalog.append('scrape.defined', caller.actor, deployment || undefined, name, 'ok', `scrape target ${name} ${created ? 'added' : 'changed'}: ${doc.url}`, { name, url: doc.url }, tenant);
    return { created, view: this.view(obj) };
  }

  async remove(name: string, deployment: string | undefined, caller: Caller): Promise<void> {
    await this.kind.remove(name, deployment, caller);
    this.sync(this.running);
  }
}

/** Scrape targets over the catalog; `load()` reads the persisted ones. */
export function createScrapeTargets(o: ScrapeTargetsOptions): ScrapeTargets & { load(): Promise<string[]> } {
  return new Targets(o);
}
