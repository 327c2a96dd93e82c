/**
 * Discovery of an ssh pool: each host is an offer (its cores, memory and disk, id = host name)
 * and its os-release an image, all in location `ssh-pool`. Hosts that do not answer are left
 * out; CLOUD_UNAVAILABLE when none answers.
 */
import { NubisError, toNubisError } from '../../errors/index.js';
import type { Discovery, HardwareOffer, Image } from '../driver.js';
import type { HostOps } from './host-ops.js';
import { abortedError, type SshHost } from './session.js';

export const POOL_LOCATION = 'ssh-pool';

/** The offer and image of one host, from its facts (./remote.ts `factsScript`). */
export function hostOffer(h: SshHost, f: ReadonlyMap<string, string>): { offer: HardwareOffer; image: Image } {
  const diskKiB = Number(f.get('diskKiB'));
  const offer: HardwareOffer = {
    id: h.name,
    cores: Number(f.get('cores')) || 1,
    memoryMiB: Math.floor(Number(f.get('memKiB')) / 1024) || 0,
    ...(diskKiB > 0 ? { diskGiB: Math.floor(diskKiB / 1024 / 1024) } : {}),
    locations: [POOL_LOCATION],
  };
  const os = (f.get('os_ID') ?? 'linux').toLowerCase();
  const version = f.get('os_VERSION_ID');
  const imageId = version ? `${os}-${version}` : os;
  const image: Image = {
    id: imageId,
    name: f.get('os_PRETTY_NAME') ?? imageId,
    os,
    ...(version ? { osVersion: version } : {}),
    locations: [POOL_LOCATION],
  };
  return { offer, image };
}

export async function discoverPool(pool: readonly SshHost[], hosts: HostOps, cloud: string, signal: AbortSignal): Promise<Discovery> {
  if (signal.aborted) throw abortedError();
  const offers: HardwareOffer[] = [];
  const images = new Map<string, Image>();
  const errors: string[] = [];
  await Promise.all(
    pool.map(async (h) => {
      try {
        const { offer, image } = hostOffer(h, await hosts.facts(h, signal));
        offers.push(offer);
        images.set(image.id, image);
      } catch (e) {
        if (signal.aborted) throw abortedError();
        errors.push(toNubisError(e).message);
      }
    }),
  );
  if (offers.length === 0) throw new NubisError('CLOUD_UNAVAILABLE', `no host of ssh pool ${cloud} answered: ${errors.join('; ')}`);
  offers.sort((a, b) => a.id.localeCompare(b.id));
  return { locations: [{ id: POOL_LOCATION }], offers, images: [...images.values()] };
}
