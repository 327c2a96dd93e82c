/** Requirement-based selection: ranking, the OS hierarchy, spread, maximum price, and the no-fit error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NubisError } from '../../src/errors/index.js';
import {
  choosePlacement, osWithin, rankCandidates, versionWithin, type CatalogueCloud,
} from '../../src/registry/index.js';

const d = 'discovered' as const;
const CATALOGUE: CatalogueCloud[] = [
  {
    name: 'aws',
    platform: 'ec2',
    locations: [
      { id: 'eu-north-1a', region: 'eu-north-1', zone: 'eu-north-1a', geography: 'SE', source: d },
      { id: 'us-east-1a', region: 'us-east-1', zone: 'us-east-1a', geography: 'US', source: d },
    ],
    offers: [
      { id: 't3.micro', cores: 2, memoryMiB: 1024, diskGiB: 8, pricePerHour: 0.0104, source: d },
      { id: 't3.small', cores: 2, memoryMiB: 2048, diskGiB: 8, pricePerHour: 0.0208, source: d },
      { id: 'm5.large', cores: 2, memoryMiB: 8192, diskGiB: 8, pricePerHour: 0.096, source: d },
      { id: 'c5.xlarge', cores: 4, memoryMiB: 8192, diskGiB: 8, pricePerHour: 0.17, locations: ['us-east-1a'], source: d },
    ],
    images: [
      { id: 'ami-u2204', name: 'ubuntu-22.04', os: 'ubuntu', osVersion: '22.04', source: d },
      { id: 'ami-u2004', name: 'ubuntu-20.04', os: 'ubuntu', osVersion: '20.04', source: d },
      { id: 'ami-deb12', name: 'debian-12', os: 'debian', osVersion: '12', source: d },
      { id: 'ami-win', name: 'windows-2022', os: 'windows-server', osVersion: '2022', source: d },
    ],
  },
  {
    name: 'sigma',
    platform: 'cloudsigma',
    locations: [{ id: 'zrh', geography: 'CH', source: d }],
    offers: [
      { id: 'custom-2-2048', cores: 2, memoryMiB: 2048, diskGiB: 20, pricePerHour: 0.03, source: 'manual' },
      { id: 'custom-4-4096', cores: 4, memoryMiB: 4096, diskGiB: 20, pricePerHour: 0.05, source: 'manual' },
    ],
    images: [{ id: 'drive-u2204', name: 'Ubuntu 22.04', os: 'ubuntu', osVersion: '22.04.3', source: 'manual' }],
  },
  {
    name: 'gcp',
    platform: 'sim',
    locations: [],
    offers: [{ id: 'e2-small', cores: 2, memoryMiB: 2048, source: d }],
    images: [],
  },
];

const noFit = (e: unknown): NubisError => {
  assert.ok(e instanceof NubisError);
  assert.equal(e.code, 'PLACEMENT_NO_FIT');
  return e;
};

test('the cheapest fit comes first, with a reason naming it and the number of candidates', () => {
  const ranked = rankCandidates(CATALOGUE, { cores: 2, memoryMiB: 2048 });
  // t3.small ×2 locations, m5.large ×2, c5.xlarge ×1 (us only), sigma ×2 offers, gcp ×1 (no price: last)
  assert.equal(ranked.length, 8);
  assert.deepEqual(ranked.slice(0, 3).map((c) => `${c.cloud}/${c.location?.id}/${c.offer.id}`), [
    'aws/eu-north-1a/t3.small', 'aws/us-east-1a/t3.small', 'sigma/zrh/custom-2-2048',
  ]);
  assert.equal(ranked.at(-1)!.cloud, 'gcp');
  const c = choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048 });
  assert.equal(c.reason, 'cheapest fit: aws/eu-north-1a t3.small 2c/2048MiB $0.0208/h (8 candidates)');
  assert.deepEqual(c.placement, { cloud: 'aws', offer: 't3.small', location: 'eu-north-1a' });
});

test('the OS hierarchy: linux matches ubuntu and debian, ubuntu 22 matches 22.04.3, windows is not linux', () => {
  assert.ok(osWithin('ubuntu', 'linux'));
  assert.ok(osWithin('ubuntu', 'ubuntu'));
  assert.ok(!osWithin('linux', 'ubuntu'));
  assert.ok(!osWithin('windows-server', 'linux'));
  assert.ok(versionWithin('22.04.3', '22'));
  assert.ok(versionWithin('22.04', '22.04'));
  assert.ok(!versionWithin('22.10', '22.04'));
  assert.ok(!versionWithin('2', '22'));

  const linux = choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048, os: 'linux' });
  assert.equal(linux.placement.image, 'ami-u2204', 'the highest linux version wins');
  assert.match(linux.reason, /t3\.small 2c\/2048MiB \$0\.0208\/h ubuntu 22\.04/);
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, os: 'ubuntu', osVersion: '20' }).placement.image, 'ami-u2004');
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, os: 'debian' }).placement.image, 'ami-deb12');
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, os: 'windows' }).placement.image, 'ami-win');
  // gcp has no images: it drops out once an OS is required
  assert.ok(rankCandidates(CATALOGUE, { os: 'linux' }).every((c) => c.cloud !== 'gcp'));
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048, os: 'ubuntu', osVersion: '22.04', clouds: ['sigma'] }).placement.image, 'drive-u2204');
});

test('allowed clouds and locations (by id, region, zone or geography) narrow the choice', () => {
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048, clouds: ['sigma', 'gcp'] }).placement.cloud, 'sigma');
  assert.deepEqual(choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048, locations: ['CH'] }).placement, { cloud: 'sigma', offer: 'custom-2-2048', location: 'zrh' });
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048, locations: ['us-east-1'] }).placement.location, 'us-east-1a');
  assert.equal(choosePlacement(CATALOGUE, { cores: 4, locations: ['eu-north-1a', 'zrh'] }).placement.cloud, 'sigma', 'c5.xlarge is only in us-east-1a');
});

test('maximum price: offers above it or without a price are out', () => {
  assert.equal(choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 1024, maxPrice: 0.02 }).placement.offer, 't3.micro');
  assert.ok(rankCandidates(CATALOGUE, { cores: 2, maxPrice: 1 }).every((c) => c.offer.pricePerHour !== undefined));
  assert.throws(() => choosePlacement(CATALOGUE, { cores: 2, memoryMiB: 2048, maxPrice: 0.02 }, { what: 'web/app' }), (e) => {
    const err = noFit(e);
    assert.match(err.message, /^web\/app: no registered offer satisfies cores ≥ 2, memory ≥ 2048 MiB, price ≤ 0\.02\/h; closest: /);
    assert.match(err.message, /aws\/t3\.small 2c\/2048MiB \$0\.0208\/h \(misses price 0\.0208 > 0\.02\/h\)/);
    return true;
  });
});

test('spread: successive nodes go to the cloud (or location) with the fewest so far, cheapest within it', () => {
  const r = { cores: 2, memoryMiB: 2048, os: 'linux' };
  const picks: string[] = [];
  const existing: { cloud: string; location?: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const c = choosePlacement(CATALOGUE, r, { spread: 'clouds', existing });
    existing.push(c.placement);
    picks.push(`${c.placement.cloud}/${c.placement.offer}`);
  }
  assert.deepEqual(picks, ['aws/t3.small', 'sigma/custom-2-2048', 'aws/t3.small', 'sigma/custom-2-2048']);
  const byLoc: string[] = [];
  const ex2: { cloud: string; location?: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const c = choosePlacement(CATALOGUE, r, { spread: 'locations', existing: ex2 });
    ex2.push(c.placement);
    byLoc.push(`${c.placement.cloud}/${c.placement.location}`);
  }
  assert.deepEqual(byLoc, ['aws/eu-north-1a', 'aws/us-east-1a', 'sigma/zrh']);
  assert.match(choosePlacement(CATALOGUE, r, { spread: 'clouds', existing: [{ cloud: 'aws' }] }).reason, /^spread over clouds, cheapest in the emptiest: sigma\/zrh custom-2-2048/);
});

test('nothing fits: the error names the closest offers and what each misses', () => {
  assert.throws(() => choosePlacement(CATALOGUE, { cores: 8, memoryMiB: 16384, os: 'linux' }), (e) => {
    const err = noFit(e);
    const closest = (err.details as { closest: { offer: string; misses: string[] }[] }).closest;
    assert.equal(closest.length, 3);
    for (const c of closest) assert.ok(c.misses.length > 0, c.offer);
    assert.match(err.message, /closest: .*c5\.xlarge.*cores 4 < 8.*memory 8192 < 16384 MiB/);
    return true;
  });
  assert.throws(() => choosePlacement(CATALOGUE, { os: 'plan9' }), (e) => /no image with os plan9/.test(noFit(e).message));
  assert.throws(() => choosePlacement([], { cores: 1 }), (e) => /no clouds are registered/.test(noFit(e).message));
  assert.throws(() => choosePlacement([{ name: 'x', platform: 'sim', locations: [], offers: [], images: [] }], { cores: 1 }), (e) => /no hardware offers yet/.test(noFit(e).message));
});
