/**
 * Requirement-based selection: node requirements (cores ≥, memory ≥, disk ≥, OS family and
 * version, allowed clouds and locations, maximum price) resolved to ranked (cloud, location,
 * offer, image) candidates across the registered clouds. Pure: no I/O, no clock.
 *
 * No fit: the closest offers are those missing the fewest requirements, then by the smallest
 * relative shortfall, then the cheapest.
 *
 * Ranking: cheapest first (an offer without a price after every priced one), then the
 * smallest that fits (cores, then memory), then cloud, location and offer id, so the order
 * is total and stable. With `spread`, the choice goes to the cloud (or location) holding the
 * fewest of the component's nodes so far, cheapest within it.
 *
 * OS matching is hierarchy-aware: `linux` matches an `ubuntu` image, `ubuntu` matches
 * `ubuntu 22.04`, and a version matches on whole dotted parts (`22` matches `22.04.3`, not
 * `2`). Without an `os` requirement no image is chosen: the driver uses its default.
 */
import { NubisError } from '../errors/index.js';
import type { NodeRequirements } from '../model/types.js';
import type { CatalogueCloud, ImageEntry, LocationEntry, OfferEntry, Placement } from './types.js';

/** Each OS name's parent; anything not listed is a family of its own under nothing. */
export const OS_PARENTS: Readonly<Record<string, string>> = {
  ubuntu: 'linux', debian: 'linux', centos: 'linux', rhel: 'linux', fedora: 'linux', alpine: 'linux',
  rocky: 'linux', almalinux: 'linux', opensuse: 'linux', sles: 'linux', 'amazon-linux': 'linux', arch: 'linux',
  freebsd: 'bsd', openbsd: 'bsd', 'windows-server': 'windows',
};

/** True when `os` is `family` or lies under it in the hierarchy. */
export function osWithin(os: string, family: string): boolean {
  let cur: string | undefined = os.toLowerCase();
  const want = family.toLowerCase();
  for (let depth = 0; cur !== undefined && depth < 10; depth++) {
    if (cur === want) return true;
    cur = OS_PARENTS[cur];
  }
  return false;
}

/** `22` matches `22.04` and `22.04.3`; `22.04` does not match `22.10`. */
export function versionWithin(version: string, wanted: string): boolean {
  const v = version.toLowerCase().split('.');
  const w = wanted.toLowerCase().split('.');
  return w.length <= v.length && w.every((p, i) => p === v[i]);
}

export function imageMatches(img: ImageEntry, os: string | undefined, osVersion: string | undefined): boolean {
  if (os === undefined && osVersion === undefined) return true;
  if (!img.os) return false;
  if (os !== undefined && !osWithin(img.os, os)) return false;
  if (osVersion !== undefined && (!img.osVersion || !versionWithin(img.osVersion, osVersion))) return false;
  return true;
}

function compareVersions(a: string | undefined, b: string | undefined): number {
  const pa = (a ?? '').split('.');
  const pb = (b ?? '').split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

export interface Candidate {
  cloud: string;
  location?: LocationEntry;
  offer: OfferEntry;
  image?: ImageEntry;
}

export function placementOf(c: Candidate): Placement {
  const p: Placement = { cloud: c.cloud, offer: c.offer.id };
  if (c.location) p.location = c.location.id;
  if (c.image) p.image = c.image.id;
  return p;
}

const price = (o: OfferEntry): number => o.pricePerHour ?? Infinity;

function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    price(a.offer) - price(b.offer) ||
    a.offer.cores - b.offer.cores ||
    a.offer.memoryMiB - b.offer.memoryMiB ||
    a.cloud.localeCompare(b.cloud) ||
    (a.location?.id ?? '').localeCompare(b.location?.id ?? '') ||
    a.offer.id.localeCompare(b.offer.id)
  );
}

const availableIn = (locations: string[] | undefined, loc: LocationEntry | undefined): boolean =>
  loc === undefined || locations === undefined || locations.length === 0 || locations.includes(loc.id);

/** A location is allowed when the requirement names its id, region, zone or geography. */
function locationAllowed(loc: LocationEntry | undefined, allowed: string[] | undefined): boolean {
  if (!allowed) return true;
  if (!loc) return false;
  return allowed.some((a) => a === loc.id || a === loc.region || a === loc.zone || (loc.geography !== undefined && a.toLowerCase() === loc.geography.toLowerCase()));
}

/** Why an offer misses, one phrase per requirement (empty when it fits on hardware and price). */
function offerMisses(o: OfferEntry, r: NodeRequirements): string[] {
  const m: string[] = [];
  if (r.cores !== undefined && o.cores < r.cores) m.push(`cores ${o.cores} < ${r.cores}`);
  if (r.memoryMiB !== undefined && o.memoryMiB < r.memoryMiB) m.push(`memory ${o.memoryMiB} < ${r.memoryMiB} MiB`);
  if (r.diskGiB !== undefined && (o.diskGiB ?? 0) < r.diskGiB) m.push(o.diskGiB === undefined ? `disk unknown (needs ${r.diskGiB} GiB)` : `disk ${o.diskGiB} < ${r.diskGiB} GiB`);
  if (r.maxPrice !== undefined) {
    if (o.pricePerHour === undefined) m.push(`price unknown (max ${r.maxPrice}/h)`);
    else if (o.pricePerHour > r.maxPrice) m.push(`price ${o.pricePerHour} > ${r.maxPrice}/h`);
  }
  return m;
}

/** How far an offer falls short, as the sum of relative shortfalls (0 when it fits on hardware and price). */
function shortfall(o: OfferEntry, r: NodeRequirements): number {
  const gap = (want: number | undefined, have: number | undefined): number => (want === undefined || want <= 0 ? 0 : Math.max(0, (want - (have ?? 0)) / want));
  let g = gap(r.cores, o.cores) + gap(r.memoryMiB, o.memoryMiB) + gap(r.diskGiB, o.diskGiB);
  if (r.maxPrice !== undefined && r.maxPrice > 0) g += o.pricePerHour === undefined ? 1 : Math.max(0, (o.pricePerHour - r.maxPrice) / r.maxPrice);
  return g;
}

/** The best image for a tuple: the highest matching version, then the id. */
function bestImage(images: ImageEntry[], loc: LocationEntry | undefined, r: NodeRequirements): ImageEntry | undefined {
  const fit = images.filter((i) => availableIn(i.locations, loc) && imageMatches(i, r.os, r.osVersion));
  fit.sort((a, b) => compareVersions(b.osVersion, a.osVersion) || a.id.localeCompare(b.id));
  return fit[0];
}

/** Every candidate that satisfies all requirements, best first. */
export function rankCandidates(catalogue: readonly CatalogueCloud[], r: NodeRequirements): Candidate[] {
  const out: Candidate[] = [];
  const wantsImage = r.os !== undefined || r.osVersion !== undefined;
  for (const c of catalogue) {
    if (r.clouds && !r.clouds.includes(c.name)) continue;
    const locs: (LocationEntry | undefined)[] = c.locations.length > 0 ? c.locations : [undefined];
    for (const o of c.offers) {
      if (offerMisses(o, r).length > 0) continue;
      for (const loc of locs) {
        if (!availableIn(o.locations, loc) || !locationAllowed(loc, r.locations)) continue;
        const image = wantsImage ? bestImage(c.images, loc, r) : undefined;
        if (wantsImage && !image) continue;
        out.push({ cloud: c.name, offer: o, ...(loc ? { location: loc } : {}), ...(image ? { image } : {}) });
      }
    }
  }
  return out.sort(compareCandidates);
}

export type Spread = 'clouds' | 'locations';

export interface Choice {
  candidate: Candidate;
  placement: Placement;
  /** How many candidates there were. */
  candidates: number;
  /** For `plan`: e.g. `cheapest fit: aws/eu-north-1a t3.small 2c/2048MiB $0.0208/h (3 candidates)`. */
  reason: string;
}

/** `aws/eu-north-1a t3.small 2c/2048MiB $0.0208/h` */
export function describeCandidate(c: Candidate): string {
  const where = c.location ? `${c.cloud}/${c.location.id}` : c.cloud;
  const p = c.offer.pricePerHour === undefined ? 'price unknown' : `$${c.offer.pricePerHour}/h`;
  const img = c.image ? ` ${c.image.os ?? ''}${c.image.osVersion ? ' ' + c.image.osVersion : ''}`.trimEnd() : '';
  return `${where} ${c.offer.id} ${c.offer.cores}c/${c.offer.memoryMiB}MiB ${p}${img}`;
}

function describeRequirements(r: NodeRequirements): string {
  const parts: string[] = [];
  if (r.cores !== undefined) parts.push(`cores ≥ ${r.cores}`);
  if (r.memoryMiB !== undefined) parts.push(`memory ≥ ${r.memoryMiB} MiB`);
  if (r.diskGiB !== undefined) parts.push(`disk ≥ ${r.diskGiB} GiB`);
  if (r.os !== undefined || r.osVersion !== undefined) parts.push(`os ${[r.os, r.osVersion].filter(Boolean).join(' ')}`);
  if (r.clouds) parts.push(`clouds ${r.clouds.join('|')}`);
  if (r.locations) parts.push(`locations ${r.locations.join('|')}`);
  if (r.maxPrice !== undefined) parts.push(`price ≤ ${r.maxPrice}/h`);
  return parts.length ? parts.join(', ') : 'no requirements';
}

/**
 * The no-fit error: PLACEMENT_NO_FIT naming the (at most 3) closest offers — fewest missed
 * requirements, then cheapest — and what each misses. `details.closest` has them as data.
 */
export function noFitError(catalogue: readonly CatalogueCloud[], r: NodeRequirements, what: string): NubisError {
  if (catalogue.length === 0) {
    return new NubisError('PLACEMENT_NO_FIT', `${what}: no clouds are registered to choose from; register one with \`nubis clouds add -f <cloud.yaml>\` or name a cloud in the node template`);
  }
  const scored: { offer: string; misses: string[]; gap: number; price: number }[] = [];
  for (const c of catalogue) {
    const locs: (LocationEntry | undefined)[] = c.locations.length > 0 ? c.locations : [undefined];
    for (const o of c.offers) {
      const misses = offerMisses(o, r);
      if (r.clouds && !r.clouds.includes(c.name)) misses.push(`cloud ${c.name} not in ${r.clouds.join('|')}`);
      const usable = locs.filter((l) => availableIn(o.locations, l));
      const allowedLocs = usable.filter((l) => locationAllowed(l, r.locations));
      if (allowedLocs.length === 0) misses.push(`location not in ${(r.locations ?? []).join('|')}`);
      else if ((r.os !== undefined || r.osVersion !== undefined) && !allowedLocs.some((l) => bestImage(c.images, l, r))) {
        misses.push(`no image with os ${[r.os, r.osVersion].filter(Boolean).join(' ')}`);
      }
      scored.push({ offer: `${c.name}/${o.id} ${o.cores}c/${o.memoryMiB}MiB${o.pricePerHour === undefined ? '' : ` $${o.pricePerHour}/h`}`, misses, gap: shortfall(o, r), price: price(o) });
    }
  }
  if (scored.length === 0) {
    return new NubisError('PLACEMENT_NO_FIT', `${what}: the registered clouds (${catalogue.map((c) => c.name).join(', ')}) have no hardware offers yet; run discovery or enter offers by hand`);
  }
  scored.sort((a, b) => a.misses.length - b.misses.length || a.gap - b.gap || a.price - b.price || a.offer.localeCompare(b.offer));
  const closest = scored.slice(0, 3).map((s) => ({ offer: s.offer, misses: s.misses }));
  const list = closest.map((c) => `${c.offer} (misses ${c.misses.join(', ') || 'nothing alone; the combination of location and image does not exist'})`).join('; ');
  return new NubisError('PLACEMENT_NO_FIT', `${what}: no registered offer satisfies ${describeRequirements(r)}; closest: ${list}`, {
    details: { requirements: r, closest },
  });
}

/**
 * Chooses one candidate. `existing` lists where the component's nodes already are (for
 * spread). Throws PLACEMENT_NO_FIT (see noFitError) when nothing fits; `what` prefixes it.
 */
export function choosePlacement(
  catalogue: readonly CatalogueCloud[],
  r: NodeRequirements,
  opts: { spread?: Spread; existing?: readonly Placement[]; what?: string } = {},
): Choice {
  const ranked = rankCandidates(catalogue, r);
  if (ranked.length === 0) throw noFitError(catalogue, r, opts.what ?? 'node requirements');
  const n = ranked.length;
  const plural = `${n} candidate${n === 1 ? '' : 's'}`;
  if (!opts.spread) {
    const c = ranked[0]!;
    return { candidate: c, placement: placementOf(c), candidates: n, reason: `cheapest fit: ${describeCandidate(c)} (${plural})` };
  }
  const group = (p: { cloud: string; location?: string }): string => (opts.spread === 'clouds' ? p.cloud : `${p.cloud}/${p.location ?? ''}`);
  const counts = new Map<string, number>();
  for (const c of ranked) counts.set(group({ cloud: c.cloud, ...(c.location ? { location: c.location.id } : {}) }), 0);
  for (const p of opts.existing ?? []) {
    const g = group(p);
    if (counts.has(g)) counts.set(g, counts.get(g)! + 1);
  }
  const least = Math.min(...counts.values());
  const c = ranked.find((x) => counts.get(group({ cloud: x.cloud, ...(x.location ? { location: x.location.id } : {}) })) === least)!;
  const spreadText = [...counts].map(([g, k]) => `${g}: ${k}`).join(', ');
  return {
    candidate: c,
    placement: placementOf(c),
    candidates: n,
    reason: `spread over ${opts.spread}, cheapest in the emptiest: ${describeCandidate(c)} (${plural}; nodes so far ${spreadText})`,
  };
}
