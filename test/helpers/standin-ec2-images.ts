/**
 * The EC2 stand-in's images and EBS snapshots (test/helpers/standin-ec2.ts), from the "Amazon
 * EC2 API Reference" (2016-11-15): CreateImage, DescribeImages by ImageId.N, DeregisterImage,
 * CreateSnapshot, DescribeSnapshots, DeleteSnapshot.
 * - CreateImage: Name unique per region (InvalidAMIName.Duplicate), 3–128 characters; EC2 makes
 *   one EBS snapshot per device of the instance not mapped to NoDevice, with the description
 *   "Created by CreateImage(<instance>) for <ami>"; TagSpecification ResourceType image and
 *   snapshot tag them. The image is `pending`, then `available` after `imageMs` (its snapshots
 *   `pending` → `completed`); one the test made fail (`failImages`) ends `failed` with a
 *   stateReason, its snapshots `error`.
 * - Eventual consistency: the first `imageHiddenCalls` DescribeImages naming a new image id
 *   answer InvalidAMIID.NotFound.
 * - DeregisterImage of an unknown image: InvalidAMIID.NotFound; it leaves the snapshots (as EC2
 *   does). DeleteSnapshot of a snapshot a registered image uses: InvalidSnapshot.InUse; of an
 *   unknown one: InvalidSnapshot.NotFound.
 * - DescribeSnapshots: Owner.N, SnapshotId.N, Filter.N (description with * wildcards, status,
 *   tag:<key>), MaxResults/NextToken pagination.
 */

export interface StandinImage {
  name: string;
  source: string;
  state: 'pending' | 'available' | 'failed';
  created: number;
  fails: boolean;
  tags: Map<string, string>;
  /** Device name → snapshot id. */
  devices: Map<string, string>;
  hiddenCalls: number;
}

export interface StandinSnapshot {
  volumeId: string;
  description: string;
  state: 'pending' | 'completed' | 'error';
  created: number;
  tags: Map<string, string>;
  imageId?: string;
}

/** The stand-in's XML and parameter helpers, lent to this module. */
export interface Ec2Kit {
  el(name: string, inner: string | number | boolean | undefined): string;
  raw(name: string, inner: string): string;
  items(name: string, parts: string[]): string;
  list(p: Map<string, string>, prefix: string): string[];
  structs(p: Map<string, string>, prefix: string): string[];
  page<T>(all: T[], p: Map<string, string>, cap: number | undefined): { items: T[]; next?: string };
  error(code: string, message: string): Error;
  glob(pattern: string, s: string): boolean;
  hex(n: number): string;
  /** The instance (throws its NotFound/Malformed) and its devices, root first. */
  instance(id: string): { id: string; devices: [string, string][] };
}

export interface ImageOptions {
  imageMs?: number;
  imageHiddenCalls?: number;
  pageSize?: number;
}

export function createStandinImages(kit: Ec2Kit, opts: ImageOptions) {
  const { el, raw, items, list, structs } = kit;
  const images = new Map<string, StandinImage>();
  const snapshots = new Map<string, StandinSnapshot>();
  let toFail = 0;
  const imageMs = opts.imageMs ?? 90;

  const settle = (id: string, img: StandinImage): StandinImage => {
    if (img.state === 'pending' && Date.now() - img.created >= imageMs) {
      img.state = img.fails ? 'failed' : 'available';
      for (const sid of img.devices.values()) {
        const sn = snapshots.get(sid);
        if (sn) sn.state = img.fails ? 'error' : 'completed';
      }
    }
    void id;
    return img;
  };
  const tagsOf = (p: Map<string, string>, type: string): Map<string, string> => {
    const out = new Map<string, string>();
    for (const s of structs(p, 'TagSpecification')) {
      if (p.get(`${s}.ResourceType`) !== type) continue;
      for (const t of structs(p, `${s}.Tag`)) out.set(p.get(`${t}.Key`) ?? '', p.get(`${t}.Value`) ?? '');
    }
    return out;
  };
  const tagSet = (t: Map<string, string>): string => items('tagSet', [...t].map(([k, v]) => el('key', k) + el('value', v)));

  const actions: Record<string, (p: Map<string, string>) => string> = {
    CreateImage(p) {
      const inst = kit.instance(p.get('InstanceId') ?? '');
      const name = p.get('Name') ?? '';
      if (name.length < 3 || name.length > 128) throw kit.error('InvalidParameterValue', `Invalid image name ${JSON.stringify(name)}: 3 to 128 characters`);
      if ([...images.values()].some((i) => i.name === name)) throw kit.error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by an AMI`);
      const none = new Set(structs(p, 'BlockDeviceMapping').filter((s) => p.has(`${s}.NoDevice`)).map((s) => p.get(`${s}.DeviceName`)));
      const id = `ami-${kit.hex(17)}`;
      const snapTags = tagsOf(p, 'snapshot');
      const devices = new Map<string, string>();
      for (const [dev, vol] of inst.devices) {
        if (none.has(dev)) continue;
        const sid = `snap-${kit.hex(17)}`;
        snapshots.set(sid, { volumeId: vol, description: `Created by CreateImage(${inst.id}) for ${id}`, state: 'pending', created: Date.now(), tags: new Map(snapTags), imageId: id });
        devices.set(dev, sid);
      }
      const fails = toFail > 0;
      if (fails) toFail--;
      images.set(id, { name, source: inst.id, state: 'pending', created: Date.now(), fails, tags: tagsOf(p, 'image'), devices, hiddenCalls: 0 });
      return el('imageId', id);
    },
    DeregisterImage(p) {
      const id = p.get('ImageId') ?? '';
      if (!images.delete(id)) throw kit.error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
      return el('return', true);
    },
    CreateSnapshot(p) {
      const volumeId = p.get('VolumeId') ?? '';
      if (!/^vol-[0-9a-f]+$/.test(volumeId)) throw kit.error('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
      const id = `snap-${kit.hex(17)}`;
      const description = p.get('Description') ?? '';
      snapshots.set(id, { volumeId, description, state: 'pending', created: Date.now(), tags: tagsOf(p, 'snapshot') });
      return el('snapshotId', id) + el('volumeId', volumeId) + el('status', 'pending') + el('startTime', new Date().toISOString()) +
        el('progress', '') + el('ownerId', '111122223333') + el('volumeSize', 8) + el('description', description);
    },
    DescribeSnapshots(p) {
      const owners = list(p, 'Owner');
      if (owners.some((o) => o !== 'self' && o !== '111122223333')) return items('snapshotSet', []);
      const ids = list(p, 'SnapshotId');
      for (const id of ids) if (!snapshots.has(id)) throw kit.error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
      let all = [...snapshots].filter(([id]) => !ids.length || ids.includes(id));
      for (const [, sn] of all) if (sn.imageId && images.has(sn.imageId)) settle(sn.imageId, images.get(sn.imageId)!);
      for (const f of structs(p, 'Filter')) {
        const name = p.get(`${f}.Name`) ?? '';
        const values = list(p, `${f}.Value`);
        if (name === 'description') all = all.filter(([, s]) => values.some((v) => kit.glob(v, s.description)));
        else if (name === 'status') all = all.filter(([, s]) => values.includes(s.state));
        else if (name.startsWith('tag:')) all = all.filter(([, s]) => values.includes(s.tags.get(name.slice(4)) ?? '\u0000'));
        else throw kit.error('InvalidParameterValue', `The filter '${name}' is invalid`);
      }
      const pg = kit.page(all, p, opts.pageSize);
      return items('snapshotSet', pg.items.map(([id, s]) =>
        el('snapshotId', id) + el('volumeId', s.volumeId) + el('status', s.state) + el('startTime', new Date(s.created).toISOString()) +
        el('progress', s.state === 'completed' ? '100%' : '0%') + el('ownerId', '111122223333') + el('volumeSize', 8) +
        el('description', s.description) + el('encrypted', false) + tagSet(s.tags))) + (pg.next ? el('nextToken', pg.next) : '');
    },
    DeleteSnapshot(p) {
      const id = p.get('SnapshotId') ?? '';
      const sn = snapshots.get(id);
      if (!sn) throw kit.error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
      const user = [...images].find(([, i]) => [...i.devices.values()].includes(id));
      if (user) throw kit.error('InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${user[0]}`);
      snapshots.delete(id);
      return el('return', true);
    },
  };

  return {
    images,
    snapshots,
    actions,
    /** The next `n` images made end `failed`. */
    failImages(n = 1) {
      toFail += n;
    },
    /** DescribeImages for ImageId.N (made images only), or undefined to let the catalogue answer. */
    describeById(p: Map<string, string>): string | undefined {
      const ids = list(p, 'ImageId');
      if (!ids.length) return undefined;
      const found = ids.map((id) => {
        const img = images.get(id);
        if (!img || img.hiddenCalls++ < (opts.imageHiddenCalls ?? 0)) throw kit.error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
        return [id, settle(id, img)] as const;
      });
      return items('imagesSet', found.map(([id, i]) =>
        el('imageId', id) + el('imageLocation', `111122223333/${i.name}`) + el('imageState', i.state) + el('imageOwnerId', '111122223333') +
        el('creationDate', new Date(i.created).toISOString()) + el('isPublic', false) + el('architecture', 'x86_64') + el('imageType', 'machine') +
        el('name', i.name) + el('rootDeviceType', 'ebs') + el('rootDeviceName', '/dev/xvda') +
        (i.state === 'failed' ? raw('stateReason', el('code', 'Server.InternalError') + el('message', 'Server.InternalError: image creation failed')) : '') +
        items('blockDeviceMapping', [...i.devices].map(([dev, sid]) => el('deviceName', dev) + raw('ebs', el('snapshotId', sid) + el('volumeSize', 8) + el('deleteOnTermination', true) + el('volumeType', 'gp3')))) +
        tagSet(i.tags)));
    },
  };
}
