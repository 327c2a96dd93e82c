/**
 * An HTTP stand-in for the Amazon EC2 Query API, for driver tests (EC2 cannot run here).
 *
 * Built from the published "Amazon EC2 API Reference" (API version 2016-11-15):
 * - "Making requests → Query requests": POST form-encoded `Action=…&Version=2016-11-15`, list
 *   parameters as `Name.N` and structures as `Name.N.Member`.
 * - Responses: XML `<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` with
 *   `requestId`; lists as `<xxxSet><item>…</item></xxxSet>`.
 * - "Error codes for the Amazon EC2 API": `<Response><Errors><Error><Code/><Message/></Error>
 *   </Errors><RequestID/></Response>`, HTTP 400 for client errors, 500/503 for server errors
 *   (InsufficientInstanceCapacity 500, RequestLimitExceeded and Unavailable 503).
 * - "Ensuring idempotency of mutating API requests": a repeated RunInstances with the same
 *   ClientToken returns the original instances; the same token with different parameters fails
 *   with IdempotentParameterMismatch.
 * - "Pagination": MaxResults / NextToken on DescribeInstances, DescribeInstanceTypes and
 *   DescribeImages; DescribeInstances with InstanceId.N fails with InvalidInstanceID.NotFound for an
 *   unknown id and InvalidInstanceID.Malformed for an id not of the form i-….
 * - Actions: RunInstances, DescribeInstances (filters tag:<key>, tag-key, instance-state-name,
 *   instance-id), TerminateInstances, RebootInstances, StartInstances, StopInstances,
 *   CreateImage, CreateSnapshot, DescribeSnapshots, DeleteSnapshot, DeregisterImage (images and
 *   snapshots: ./standin-ec2-images.ts, pending → available with eventual consistency), CreateSecurityGroup, AuthorizeSecurityGroupIngress,
 *   RevokeSecurityGroupIngress, DescribeSecurityGroups, DeleteSecurityGroup, ModifyInstanceAttribute
 *   (groups: ./standin-ec2-groups.ts, with eventual consistency and DependencyViolation),
 *   ImportKeyPair, DescribeKeyPairs, DescribeRegions, DescribeAvailabilityZones,
 *   DescribeInstanceTypes, DescribeImages; instance states pending → running, stopping →
 *   stopped, shutting-down → terminated (terminated instances stay visible, as on EC2 for a while).
 *
 * - "Eventual consistency in the Amazon EC2 API" (API Reference, "Making requests"): right after
 *   RunInstances, a DescribeInstances (or another call) naming the new instance id may fail with
 *   InvalidInstanceID.NotFound, and lists may not show it yet. Off by default; the option
 *   `notVisibleAfterRun` turns it on (for the first `calls` calls naming the id, or for `ms`
 *   after the launch; with `lists: true` also missing from filtered DescribeInstances).
 *
 * Simplifications, stated: the SigV4 signature is not verified (only that the request is signed
 * with the expected access key id; a wrong one gets AuthFailure 401); transitions take
 * `transitionMs` of wall time; one instance per reservation.
 *
 * Test controls: `fail(action, { code, status?, message?, count? })` injects errors, `pageSize`
 * caps every page, `requests` is the request log (action and parameters; never headers), and
 * `instances()` is the inventory.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createStandinImages, type Ec2Kit, type StandinImage, type StandinSnapshot } from './standin-ec2-images.js';
import { createStandinGroups, DEFAULT_GROUP, DEFAULT_VPC, type StandinGroup } from './standin-ec2-groups.js';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export interface StandinInstance {
  instanceId: string;
  imageId: string;
  instanceType: string;
  state: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
  since: number;
  launchTime: string;
  privateIp: string;
  publicIp: string;
  zone: string;
  reservationId: string;
  clientToken?: string;
  tags: Map<string, string>;
  userData?: string;
  keyName?: string;
  volumeTags: Map<string, string>;
  /** Security group ids (RunInstances SecurityGroupId.N, ModifyInstanceAttribute GroupId.N); the VPC's default group when none. */
  groups: string[];
  /** Calls naming this id that were still answered NotFound (see `notVisibleAfterRun`). */
  hiddenCalls: number;
}

export interface Ec2Failure {
  code: string;
  status?: number;
  message?: string;
  /** How many calls fail (default 1). */
  count?: number;
}

export interface Ec2StandinOptions {
  accessKeyId: string;
  region?: string;
  /** Caps every page of DescribeInstances/DescribeInstanceTypes/DescribeImages. */
  pageSize?: number;
  /** How long pending, stopping and shutting-down last. Default 30 ms. */
  transitionMs?: number;
  /**
   * Eventual consistency after RunInstances: a new instance is unknown (InvalidInstanceID.NotFound)
   * to the first `calls` calls that name its id, or for `ms` after its launch (whichever is given;
   * both: until both are spent). With `lists`, DescribeInstances without ids omits it meanwhile.
   */
  notVisibleAfterRun?: { calls?: number; ms?: number; lists?: boolean };
  /** Images made by CreateImage: pending for this long, then available. Default 90 ms. */
  imageMs?: number;
  /** Eventual consistency after CreateImage: the first N DescribeImages naming the new image answer InvalidAMIID.NotFound. */
  imageHiddenCalls?: number;
  /** Eventual consistency after CreateSecurityGroup: the first N calls naming the new group answer InvalidGroup.NotFound (./standin-ec2-groups.ts). */
  groupHiddenCalls?: number;
  /**
   * Addresses for new instances: `loopback` gives every instance 127.0.0.1 (for engine tests, which dial agents);
   * `loopback-public` keeps 127.0.0.1 as the private address (agents) and gives each its own public 127.0.1.N.
   */
  addresses?: 'documentation' | 'loopback' | 'loopback-public';
}

export interface Ec2Standin {
  url: string;
  requests: string[];
  instances(): StandinInstance[];
  /** How many requests of this action were received (failed ones included). */
  received(action: string): number;
  fail(action: string, f: Ec2Failure): void;
  keyPairs: Map<string, { id: string; fingerprint: string }>;
  /** Security groups by id, the VPC's `default` group included (./standin-ec2-groups.ts). */
  securityGroups: Map<string, StandinGroup>;
  /** Images made by CreateImage, and EBS snapshots (./standin-ec2-images.ts). */
  images: Map<string, StandinImage>;
  snapshots: Map<string, StandinSnapshot>;
  /** The next `n` images made end `failed`. */
  failImages(n?: number): void;
  /** Headers seen on the last request, for auth assertions (names → values). */
  lastHeaders(): Record<string, string>;
  close(): Promise<void>;
}

const SERVER_ERROR_STATUS: Record<string, number> = {
  InsufficientInstanceCapacity: 500, InternalError: 500, InternalFailure: 500,
  RequestLimitExceeded: 503, Unavailable: 503, ServiceUnavailable: 503, AuthFailure: 401,
};

class Ec2Error extends Error {
  constructor(readonly code: string, message: string, readonly status = SERVER_ERROR_STATUS[code] ?? 400) {
    super(message);
  }
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const el = (name: string, inner: string | number | boolean | undefined): string =>
  inner === undefined ? '' : `<${name}>${typeof inner === 'string' ? esc(inner) : String(inner)}</${name}>`;
const raw = (name: string, inner: string): string => `<${name}>${inner}</${name}>`;
const items = (name: string, parts: string[]): string => raw(name, parts.map((p) => raw('item', p)).join(''));

/** `Name.1`, `Name.2`, … values. */
function list(p: Map<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p.has(`${prefix}.${i}`); i++) out.push(p.get(`${prefix}.${i}`)!);
  return out;
}

/** Indices N for which some `prefix.N.*` key exists. */
function structs(p: Map<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; [...p.keys()].some((k) => k.startsWith(`${prefix}.${i}.`)); i++) out.push(`${prefix}.${i}`);
  return out;
}

function page<T>(all: T[], p: Map<string, string>, cap: number | undefined): { items: T[]; next?: string } {
  const start = p.has('NextToken') ? Number(Buffer.from(p.get('NextToken')!, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new Ec2Error('InvalidParameterValue', 'Invalid NextToken');
  let size = p.has('MaxResults') ? Number(p.get('MaxResults')) : all.length || 1;
  if (cap !== undefined) size = Math.min(size, cap);
  const slice = all.slice(start, start + size);
  const end = start + slice.length;
  return end < all.length ? { items: slice, next: Buffer.from(String(end)).toString('base64url') } : { items: slice };
}

const INSTANCE_TYPES: Array<[string, number, number, number?]> = [
  ['t3.micro', 2, 1024], ['t3.small', 2, 2048], ['t3.medium', 2, 4096], ['m5.large', 2, 8192],
  ['m5d.large', 2, 8192, 75], ['c5.xlarge', 4, 8192], ['r5.large', 2, 16384], ['x9.weird', 8, 65536],
];
const IMAGES: Array<[string, string, string, string, string]> = [
  ['ami-0a1b2c3d4e5f60001', 'al2023-ami-2023.4.20240611.0-kernel-6.1-x86_64', 'amazon', '2024-06-11T00:00:00.000Z', 'Linux/UNIX'],
  ['ami-0a1b2c3d4e5f60002', 'amzn2-ami-hvm-2.0.20240610.1-x86_64-gp2', 'amazon', '2024-06-10T00:00:00.000Z', 'Linux/UNIX'],
  ['ami-0a1b2c3d4e5f60003', 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240607', 'amazon', '2024-06-07T00:00:00.000Z', 'Linux/UNIX'],
  ['ami-0a1b2c3d4e5f60004', 'debian-12-amd64-20240601-1766', 'amazon', '2024-06-01T00:00:00.000Z', 'Linux/UNIX'],
  ['ami-0a1b2c3d4e5f60005', 'Windows_Server-2022-English-Full-Base-2024.06.12', 'amazon', '2024-06-12T00:00:00.000Z', 'Windows'],
  ['ami-0a1b2c3d4e5f60006', 'nubis-prepared-node-20-agent', 'self', '2024-05-01T00:00:00.000Z', 'Linux/UNIX'],
  ['ami-0a1b2c3d4e5f60007', 'someone-elses-image', '123456789012', '2024-05-01T00:00:00.000Z', 'Linux/UNIX'],
];

const globMatch = (pattern: string, s: string): boolean =>
  new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(s);

export async function startEc2Standin(opts: Ec2StandinOptions): Promise<Ec2Standin> {
  const region = opts.region ?? 'eu-north-1';
  const transitionMs = opts.transitionMs ?? 30;
  const instances = new Map<string, StandinInstance>();
  const byToken = new Map<string, { instanceId: string; params: string }>();
  const failures = new Map<string, Ec2Failure & { left: number }>();
  const requests: string[] = [];
  const keyPairs = new Map<string, { id: string; fingerprint: string }>();
  let headers: Record<string, string> = {};
  let ipSeq = 10;

  const hex = (n: number): string => randomBytes(n).toString('hex').slice(0, n);
  const settle = (i: StandinInstance): StandinInstance => {
    if (Date.now() - i.since < transitionMs) return i;
    const next = i.state === 'pending' ? 'running' : i.state === 'stopping' ? 'stopped' : i.state === 'shutting-down' ? 'terminated' : i.state;
    if (next !== i.state) {
      i.state = next;
      i.since = Date.now();
    }
    return i;
  };
  /** Whether eventual consistency still hides a new instance; `count` spends one of its hidden calls. */
  const hidden = (i: StandinInstance, count: boolean): boolean => {
    const o = opts.notVisibleAfterRun;
    if (!o) return false;
    const byCalls = o.calls !== undefined && i.hiddenCalls < o.calls;
    const byTime = o.ms !== undefined && Date.now() - Date.parse(i.launchTime) < o.ms;
    if (!byCalls && !byTime) return false;
    if (count) i.hiddenCalls++;
    return true;
  };
  const stateCode: Record<StandinInstance['state'], number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };
  const stateXml = (name: string, s: StandinInstance['state']): string => raw(name, el('code', stateCode[s]) + el('name', s));
  const tagSet = (t: Map<string, string>): string => items('tagSet', [...t].map(([k, v]) => el('key', k) + el('value', v)));
  const instanceXml = (i: StandinInstance): string =>
    el('instanceId', i.instanceId) + el('imageId', i.imageId) + stateXml('instanceState', i.state) +
    el('privateDnsName', `ip-${i.privateIp.replace(/\./g, '-')}.${region}.compute.internal`) +
    (i.keyName ? el('keyName', i.keyName) : '') + el('amiLaunchIndex', 0) + el('instanceType', i.instanceType) +
    el('launchTime', i.launchTime) + raw('placement', el('availabilityZone', i.zone) + el('tenancy', 'default')) +
    el('privateIpAddress', i.privateIp) + (i.state === 'running' || i.state === 'pending' ? el('ipAddress', i.publicIp) : '') +
    el('architecture', 'x86_64') + el('rootDeviceType', 'ebs') + el('rootDeviceName', '/dev/xvda') +
    items('blockDeviceMapping', devicesOf(i.instanceId).map(([dev, vol]) => el('deviceName', dev) + raw('ebs', el('volumeId', vol) + el('status', 'attached') + el('deleteOnTermination', dev === '/dev/xvda')))) +
    (i.clientToken ? el('clientToken', i.clientToken) : '') + tagSet(i.tags) + el('vpcId', DEFAULT_VPC) +
    items('groupSet', i.groups.map((g) => el('groupId', g) + el('groupName', groupKit.groups.get(g)?.name ?? '')));
  const reservationXml = (is: StandinInstance[]): string =>
    el('reservationId', is[0]!.reservationId) + el('ownerId', '111122223333') + items('groupSet', []) + items('instancesSet', is.map(instanceXml));

  /** Every instance has a root volume and one data volume, named after it. */
  const devicesOf = (id: string): [string, string][] => [['/dev/xvda', `vol-${id.slice(2)}0`], ['/dev/sdf', `vol-${id.slice(2)}1`]];
  const needInstance = (id: string): StandinInstance => {
    if (!/^i-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    const i = instances.get(id);
    if (!i || hidden(i, true)) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    return settle(i);
  };
  const stateChanges = (p: Map<string, string>, to: (i: StandinInstance) => StandinInstance['state'] | undefined): string => {
    const ids = list(p, 'InstanceId');
    const found = ids.map(needInstance);
    return items('instancesSet', found.map((i) => {
      const prev = i.state;
      const next = to(i);
      if (next && next !== i.state) {
        i.state = next;
        i.since = Date.now();
      }
      return el('instanceId', i.instanceId) + stateXml('currentState', i.state) + stateXml('previousState', prev);
    }));
  };

  const actions: Record<string, (p: Map<string, string>) => string> = {
    RunInstances(p) {
      const token = p.get('ClientToken');
      const canonical = JSON.stringify([...p].filter(([k]) => k !== 'ClientToken').sort());
      if (token) {
        const prior = byToken.get(token);
        if (prior) {
          if (prior.params !== canonical) throw new Ec2Error('IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.');
          const i = settle(instances.get(prior.instanceId)!);
          return reservationXml([i]);
        }
      }
      const imageId = p.get('ImageId');
      if (!imageId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ImageId');
      if (!IMAGES.some(([id]) => id === imageId) && !made.images.has(imageId)) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
      if (p.get('MinCount') !== '1' || p.get('MaxCount') !== '1') throw new Ec2Error('InvalidParameterValue', 'stand-in: only MinCount=MaxCount=1');
      const tags = new Map<string, string>();
      const volumeTags = new Map<string, string>();
      for (const s of structs(p, 'TagSpecification')) {
        const rt = p.get(`${s}.ResourceType`);
        const target = rt === 'instance' ? tags : rt === 'volume' ? volumeTags : undefined;
        if (!target) throw new Ec2Error('InvalidParameterValue', `stand-in: unsupported ResourceType ${rt}`);
        for (const t of structs(p, `${s}.Tag`)) target.set(p.get(`${t}.Key`) ?? '', p.get(`${t}.Value`) ?? '');
      }
      ipSeq++;
      const i: StandinInstance = {
        instanceId: `i-${hex(17)}`, imageId, instanceType: p.get('InstanceType') ?? 'm1.small', state: 'pending', since: Date.now(),
        launchTime: new Date().toISOString(),
        ...(opts.addresses === 'loopback'
          ? { privateIp: '127.0.0.1', publicIp: '127.0.0.1' }
          : opts.addresses === 'loopback-public'
          ? { privateIp: '127.0.0.1', publicIp: `127.0.1.${ipSeq % 250}` }
          : { privateIp: `172.31.${Math.floor(ipSeq / 250)}.${ipSeq % 250}`, publicIp: `198.51.100.${ipSeq % 250}` }),
        zone: p.get('Placement.AvailabilityZone') ?? `${region}a`, reservationId: `r-${hex(17)}`, tags, volumeTags, hiddenCalls: 0,
        groups: list(p, 'SecurityGroupId').length ? list(p, 'SecurityGroupId') : [DEFAULT_GROUP],
        ...(token ? { clientToken: token } : {}),
        ...(p.has('UserData') ? { userData: p.get('UserData')! } : {}),
        ...(p.has('KeyName') ? { keyName: p.get('KeyName')! } : {}),
      };
      for (const g of i.groups) groupKit.need(g);
      if (i.keyName && !keyPairs.has(i.keyName)) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${i.keyName}' does not exist`);
      instances.set(i.instanceId, i);
      if (token) byToken.set(token, { instanceId: i.instanceId, params: canonical });
      return reservationXml([i]);
    },
    DescribeInstances(p) {
      const ids = list(p, 'InstanceId');
      if (ids.length && p.has('MaxResults')) throw new Ec2Error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
      let all = ids.length ? ids.map(needInstance) : [...instances.values()].filter((i) => !(opts.notVisibleAfterRun?.lists && hidden(i, false))).map(settle);
      for (const f of structs(p, 'Filter')) {
        const name = p.get(`${f}.Name`) ?? '';
        const values = list(p, `${f}.Value`);
        if (name.startsWith('tag:')) all = all.filter((i) => values.includes(i.tags.get(name.slice(4)) ?? '\u0000'));
        else if (name === 'tag-key') all = all.filter((i) => values.some((v) => i.tags.has(v)));
        else if (name === 'instance-state-name') all = all.filter((i) => values.includes(i.state));
        else if (name === 'instance-id') all = all.filter((i) => values.includes(i.instanceId));
        else throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
      }
      const pg = page(all, p, opts.pageSize);
      return items('reservationSet', pg.items.map((i) => reservationXml([i]))) + (pg.next ? el('nextToken', pg.next) : '');
    },
    TerminateInstances: (p) => stateChanges(p, (i) => (i.state === 'terminated' ? undefined : 'shutting-down')),
    StopInstances: (p) => stateChanges(p, (i) => {
      if (i.state === 'terminated' || i.state === 'shutting-down') throw new Ec2Error('IncorrectInstanceState', `The instance '${i.instanceId}' is not in a state from which it can be stopped.`);
      return i.state === 'stopped' ? undefined : 'stopping';
    }),
    StartInstances: (p) => stateChanges(p, (i) => {
      if (i.state !== 'stopped' && i.state !== 'running' && i.state !== 'pending') throw new Ec2Error('IncorrectInstanceState', `The instance '${i.instanceId}' is not in a state from which it can be started.`);
      return i.state === 'stopped' ? 'pending' : undefined;
    }),
    RebootInstances(p) {
      for (const i of list(p, 'InstanceId').map(needInstance)) {
        if (i.state === 'terminated' || i.state === 'shutting-down') throw new Ec2Error('IncorrectInstanceState', `The instance '${i.instanceId}' is not in a state from which it can be rebooted.`);
      }
      return el('return', true);
    },
    ModifyInstanceAttribute(p) {
      const i = needInstance(p.get('InstanceId') ?? '');
      const ids = list(p, 'GroupId');
      if (!ids.length) throw new Ec2Error('InvalidParameterCombination', 'stand-in: only GroupId.N is modelled');
      for (const g of ids) groupKit.need(g);
      i.groups = ids;
      return el('return', true);
    },
    ImportKeyPair(p) {
      const name = p.get('KeyName') ?? '';
      if (keyPairs.has(name)) throw new Ec2Error('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
      const material = Buffer.from(p.get('PublicKeyMaterial') ?? '', 'base64').toString('utf8');
      if (!/^ssh-(rsa|ed25519) /.test(material)) throw new Ec2Error('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
      const k = { id: `key-${hex(17)}`, fingerprint: randomBytes(16).toString('hex').replace(/(..)(?!$)/g, '$1:') };
      keyPairs.set(name, k);
      return el('keyName', name) + el('keyFingerprint', k.fingerprint) + el('keyPairId', k.id);
    },
    DescribeKeyPairs(p) {
      const names = list(p, 'KeyName');
      for (const n of names) if (!keyPairs.has(n)) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${n}' does not exist`);
      const chosen = [...keyPairs].filter(([n]) => !names.length || names.includes(n));
      return items('keySet', chosen.map(([n, k]) => el('keyPairId', k.id) + el('keyName', n) + el('keyFingerprint', k.fingerprint)));
    },
    DescribeRegions() {
      return items('regionInfo', [region, 'us-east-1', 'ap-southeast-2'].map((r) =>
        el('regionName', r) + el('regionEndpoint', `ec2.${r}.amazonaws.com`) + el('optInStatus', 'opt-in-not-required')));
    },
    DescribeAvailabilityZones() {
      return items('availabilityZoneInfo', ['a', 'b', 'c'].map((z, n) =>
        el('zoneName', `${region}${z}`) + el('zoneState', z === 'c' ? 'impaired' : 'available') + el('regionName', region) + el('zoneId', `eun1-az${n + 1}`)));
    },
    DescribeInstanceTypes(p) {
      const pg = page(INSTANCE_TYPES, p, opts.pageSize);
      return items('instanceTypeSet', pg.items.map(([t, cpu, mem, disk]) =>
        el('instanceType', t) + raw('vCpuInfo', el('defaultVCpus', cpu)) + raw('memoryInfo', el('sizeInMiB', mem)) +
        (disk ? el('instanceStorageSupported', true) + raw('instanceStorageInfo', el('totalSizeInGB', disk)) : el('instanceStorageSupported', false)))) +
        (pg.next ? el('nextToken', pg.next) : '');
    },
    DescribeImages(p) {
      const owners = list(p, 'Owner');
      let all = IMAGES.filter(([, , owner]) => !owners.length || owners.includes(owner));
      for (const f of structs(p, 'Filter')) {
        const name = p.get(`${f}.Name`);
        const values = list(p, `${f}.Value`);
        if (name === 'name') all = all.filter(([, n]) => values.some((v) => globMatch(v, n)));
        else if (name !== 'state' && name !== 'architecture') throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
      }
      const pg = page(all, p, opts.pageSize);
      return items('imagesSet', pg.items.map(([id, name, owner, created, platform]) =>
        el('imageId', id) + el('imageLocation', `${owner}/${name}`) + el('imageState', 'available') + el('imageOwnerId', owner === 'self' ? '111122223333' : '137112412989') +
        el('creationDate', created) + el('isPublic', owner !== 'self') + el('architecture', 'x86_64') + el('imageType', 'machine') +
        el('name', name) + el('platformDetails', platform) + el('rootDeviceType', 'ebs'))) + (pg.next ? el('nextToken', pg.next) : '');
    },
  };

  const kit: Ec2Kit = {
    el, raw, items, list, structs, page, glob: globMatch, hex,
    error: (code, message) => new Ec2Error(code, message),
    instance: (id) => ({ id: needInstance(id).instanceId, devices: devicesOf(id) }),
  };
  const made = createStandinImages(
    kit,
    { ...(opts.imageMs !== undefined ? { imageMs: opts.imageMs } : {}), ...(opts.imageHiddenCalls !== undefined ? { imageHiddenCalls: opts.imageHiddenCalls } : {}), ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}) },
  );
  const groupKit = createStandinGroups(
    kit,
    { usersOf: (g) => [...instances.values()].map(settle).filter((i) => i.state !== 'terminated' && i.groups.includes(g)).map((i) => i.instanceId) },
    { ...(opts.groupHiddenCalls !== undefined ? { groupHiddenCalls: opts.groupHiddenCalls } : {}), ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}) },
  );
  Object.assign(actions, groupKit.actions);
  const catalogue = actions['DescribeImages']!;
  Object.assign(actions, made.actions, { DescribeImages: (p: Map<string, string>) => made.describeById(p) ?? catalogue(p) });

  const send = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': randomUUID() });
    res.end(body);
  };
  const sendError = (res: ServerResponse, e: Ec2Error): void =>
    send(res, e.status, `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el('Code', e.code)}${el('Message', e.message)}</Error></Errors>${el('RequestID', randomUUID())}</Response>`);

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const p = new Map(new URLSearchParams(body));
    const action = p.get('Action') ?? '';
    headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    // request log: the action and its parameters; never headers (they carry the signature and session token)
    requests.push(`${req.method} ${req.url} ${action} ${JSON.stringify(Object.fromEntries([...p].filter(([k]) => k !== 'Action' && k !== 'Version')))}`);
    try {
      const auth = req.headers['authorization'] ?? '';
      if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${opts.accessKeyId}/`)) throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials');
      if (p.get('Version') !== '2016-11-15') throw new Ec2Error('InvalidParameterValue', 'Version must be 2016-11-15');
      const f = failures.get(action);
      if (f && f.left > 0) {
        f.left--;
        throw new Ec2Error(f.code, f.message ?? `injected ${f.code}`, f.status ?? SERVER_ERROR_STATUS[f.code] ?? 400);
      }
      const run = actions[action];
      if (!run) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
      const inner = run(p);
      send(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}">${el('requestId', randomUUID())}${inner}</${action}Response>`);
    } catch (e) {
      sendError(res, e instanceof Ec2Error ? e : new Ec2Error('InternalError', String(e), 500));
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    instances: () => [...instances.values()].map(settle),
    received: (action) => requests.filter((l) => l.split(' ')[2] === action).length,
    fail(action, f) {
      failures.set(action, { ...f, left: f.count ?? 1 });
    },
    keyPairs,
    securityGroups: groupKit.groups,
    images: made.images,
    snapshots: made.snapshots,
    failImages: (n) => made.failImages(n),
    lastHeaders: () => headers,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
