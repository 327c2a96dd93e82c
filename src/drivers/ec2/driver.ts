/**
 * The `ec2` driver: the Driver interface over the EC2 API with the AWS SDK v3.
 *
 * Options (ctx.options): `region` (required), `endpoint` (an EC2-compatible URL; default the
 * region's AWS endpoint), `imageId` and `instanceType` (defaults when the request's placement
 * names none), `keyName`, `securityGroupIds`, `subnetId`, `pageSize` (DescribeInstances
 * MaxResults, 5–1000 on AWS), `agentAddress` (`private` (default) or `public`: which address the
 * control plane reaches agents on), `agentPath` (the agent program on the image), `prices`
 * (instance type → USD/hour, over the built-in table), `imageOwners` (default self, amazon),
 * `imageNamePatterns`, `architecture` (default x86_64), `maxImages` (default 100),
 * `visibilityGraceMs` (default 60 000: see "Eventual consistency" below), `agentPort` (default
 * 7430, where the control plane dials agents; the user data starts the agent on 7430, so change
 * it only when something forwards that port to the VM, such as a NAT rule or a test).
 * Credentials (ctx.credentials): `accessKeyId`, `secretAccessKey`, optional `sessionToken`,
 * optional `agentSecret` (see ./bootstrap.ts). They are handed to the SDK only; never logged,
 * never put in errors (SDK errors are not kept as causes).
 *
 * Failure meaning: EC2 error codes are classified by `classifyEc2Error` (../explain.ts); an
 * endpoint that cannot be reached is CLOUD_UNAVAILABLE, a timed-out call CLOUD_TIMEOUT (both
 * retryable); the SDK's own retries are off (maxAttempts 1) so the runtime wrapper is the one
 * place that retries. Idempotency: RunInstances carries ClientToken = the request's
 * idempotencyToken (hashed when longer than EC2's 64 ASCII characters), so a repeated create
 * returns the first instance; an instance in `shutting-down` or `terminated` counts as gone
 * (get → undefined, list skips it), and a repeated create whose first instance is already
 * terminated fails with CLOUD_CONFLICT (the token is spent; create with a new one).
 *
 * No leak on partial failure: RunInstances with TagSpecifications is atomic — EC2 applies the
 * tags of the instance and its volumes in the launch itself and fails the launch when a tag
 * cannot be applied — so there is no window in which an untagged instance exists, and nothing
 * is made before RunInstances. A RunInstances whose answer is lost left a tagged instance that
 * `list` finds and that a repeated create (same ClientToken) returns.
 *
 * Eventual consistency (EC2 API Reference, "Eventual consistency in the Amazon EC2 API"): for
 * `visibilityGraceMs` after this driver launched an instance, InvalidInstanceID.NotFound for it
 * means "not yet visible": `get` returns the node as launched, `provisioning`, and `list` adds
 * it while no describe has returned it yet (lists lag the same way); `delete`,
 * `reboot`, `start` and `stop` fail with a retryable CLOUD_NOT_FOUND (details.notYetVisible)
 * instead of reading it as gone. After the window (or for instances launched before a restart)
 * NotFound is gone. See ./visibility.ts.
 *
 * Snapshots: CreateImage, DescribeImages, DeregisterImage + DeleteSnapshot (./snapshots.ts);
 * their bytes cannot be read (no EBS direct APIs in this build). Firewalls from channels: one
 * security group per component, changed by authorize/revoke diffs (./firewall.ts).
 */
import { createHash } from 'node:crypto';
import {
  AuthorizeSecurityGroupIngressCommand, CreateImageCommand, CreateSecurityGroupCommand, CreateSnapshotCommand,
  DescribeAvailabilityZonesCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand, DescribeRegionsCommand, EC2Client, ImportKeyPairCommand, RebootInstancesCommand,
  RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
  type Filter, type Instance, type Tag,
} from '@aws-sdk/client-ec2';
import { loadAgentCa, type AgentCa, type AgentClient } from '../../agent/index.js';
import { NubisError } from '../../errors/index.js';
import type { CloudNode, CreateNodeRequest, Discovery, Driver, DriverContext, HardwareOffer, Image, Location, NodeStatus } from '../driver.js';
import { classifyEc2Error } from '../explain.js';
import { AGENT_PORT, GRAPHITE_PORT, agentSecrets, agentToken, agentUserData, cloudAgentClient, loadAgentSecret } from '../cloud-agent.js';
import { assertUserDataFits, composeUserData } from '../user-data.js';
import { EC2_APPROX_PRICES_USD } from './prices.js';
import { RecentLaunches } from './visibility.js';
import { ec2SnapshotCalls } from './snapshots.js';
import { ec2FirewallCalls } from './firewall.js';

export interface Ec2Options {
  region: string;
  endpoint?: string;
  imageId?: string;
  instanceType?: string;
  keyName?: string;
  securityGroupIds?: string[];
  subnetId?: string;
  pageSize?: number;
  agentAddress: 'private' | 'public';
  agentPath?: string;
  prices: Record<string, number>;
  imageOwners: string[];
  imageNamePatterns: string[];
  architecture: string;
  maxImages: number;
  visibilityGraceMs: number;
  agentPort: number;
  /** The agent's Graphite listener on the VM (127.0.0.1), 0 for none. */
  graphitePort: number;
}

/** An ingress rule for `createSecurityGroup`. */
export interface IngressRule {
  protocol: 'tcp' | 'udp' | 'icmp' | '-1';
  fromPort: number;
  toPort: number;
  cidr: string;
  description?: string;
}

export interface KeyPairInfo {
  keyName: string;
  keyPairId?: string;
  fingerprint?: string;
}

/** The ec2 driver plus the EC2 operations the Driver interface has no place for. */
export interface Ec2Driver extends Driver {
  start(id: string, signal: AbortSignal): Promise<void>;
  stop(id: string, signal: AbortSignal): Promise<void>;
  /** CreateImage from an instance; returns the new AMI id. `noReboot` defaults to true. */
  createImage(id: string, name: string, signal: AbortSignal, opts?: { noReboot?: boolean; tags?: Record<string, string> }): Promise<string>;
  /** CreateSnapshot of an EBS volume; returns the snapshot id. */
  createSnapshot(volumeId: string, description: string, signal: AbortSignal, tags?: Record<string, string>): Promise<string>;
  /** CreateSecurityGroup then AuthorizeSecurityGroupIngress for each rule; returns the group id. */
  createSecurityGroup(
    req: { name: string; description: string; vpcId?: string; ingress?: IngressRule[]; tags?: Record<string, string> },
    signal: AbortSignal,
  ): Promise<string>;
  /** ImportKeyPair of an OpenSSH public key. */
  importKeyPair(name: string, publicKey: string, signal: AbortSignal): Promise<KeyPairInfo>;
  /** DescribeKeyPairs, all or the named ones. */
  describeKeyPairs(signal: AbortSignal, names?: string[]): Promise<KeyPairInfo[]>;
}

const DEFAULT_IMAGE_PATTERNS = ['al2023-ami-2023*', 'amzn2-ami-hvm-*', 'ubuntu/images/*', 'debian-*', 'RHEL-*', 'Windows_Server-*'];

function optString(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new NubisError('SPEC_INVALID', `ec2 option ${name}: expected a non-empty string`);
  return v;
}

function optStrings(o: Record<string, unknown>, name: string): string[] | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new NubisError('SPEC_INVALID', `ec2 option ${name}: expected a list of strings`);
  return v as string[];
}

/** Validates the cloud options; throws SPEC_INVALID naming the option. */
export function parseEc2Options(o: Record<string, unknown>): Ec2Options {
  const region = optString(o, 'region');
  if (!region) throw new NubisError('SPEC_INVALID', 'ec2 option region: required (such as eu-north-1)');
  const pageSize = o['pageSize'];
  if (pageSize !== undefined && (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1)) {
    throw new NubisError('SPEC_INVALID', 'ec2 option pageSize: expected a positive integer');
  }
  const agentAddress = o['agentAddress'] ?? 'private';
  if (agentAddress !== 'private' && agentAddress !== 'public') throw new NubisError('SPEC_INVALID', 'ec2 option agentAddress: expected private or public');
  const prices = o['prices'] ?? {};
  if (typeof prices !== 'object' || prices === null || !Object.values(prices).every((p) => typeof p === 'number')) {
    throw new NubisError('SPEC_INVALID', 'ec2 option prices: expected instance type → price per hour');
  }
  const visibilityGraceMs = o['visibilityGraceMs'] ?? 60_000;
  if (typeof visibilityGraceMs !== 'number' || !Number.isFinite(visibilityGraceMs) || visibilityGraceMs < 0) {
    throw new NubisError('SPEC_INVALID', 'ec2 option visibilityGraceMs: expected a number of milliseconds ≥ 0');
  }
  const agentPort = o['agentPort'] ?? AGENT_PORT;
  if (typeof agentPort !== 'number' || !Number.isInteger(agentPort) || agentPort < 1 || agentPort > 65535) {
    throw new NubisError('SPEC_INVALID', 'ec2 option agentPort: expected a TCP port (1–65535)');
  }
  const graphitePort = o['graphitePort'] ?? GRAPHITE_PORT;
  if (typeof graphitePort !== 'number' || !Number.isInteger(graphitePort) || graphitePort < 0 || graphitePort > 65535) {
    throw new NubisError('SPEC_INVALID', 'ec2 option graphitePort: expected a TCP port (0 for none)');
  }
  const maxImages = o['maxImages'] ?? 100;
  if (typeof maxImages !== 'number' || maxImages < 1) throw new NubisError('SPEC_INVALID', 'ec2 option maxImages: expected a positive number');
  const out: Ec2Options = {
    region,
    agentAddress,
    prices: prices as Record<string, number>,
    imageOwners: optStrings(o, 'imageOwners') ?? ['self', 'amazon'],
    imageNamePatterns: optStrings(o, 'imageNamePatterns') ?? DEFAULT_IMAGE_PATTERNS,
    architecture: optString(o, 'architecture') ?? 'x86_64',
    maxImages,
    visibilityGraceMs,
    agentPort,
    graphitePort,
  };
  const set = <K extends keyof Ec2Options>(k: K, v: Ec2Options[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('endpoint', optString(o, 'endpoint'));
  set('imageId', optString(o, 'imageId'));
  set('instanceType', optString(o, 'instanceType'));
  set('keyName', optString(o, 'keyName'));
  set('securityGroupIds', optStrings(o, 'securityGroupIds'));
  set('subnetId', optString(o, 'subnetId'));
  set('agentPath', optString(o, 'agentPath'));
  if (pageSize !== undefined) out.pageSize = pageSize as number;
  return out;
}

/** EC2 accepts ClientToken of up to 64 ASCII characters; longer or odd tokens are hashed. */
export function ec2ClientToken(idempotencyToken: string): string {
  if (/^[\x21-\x7e]{1,64}$/.test(idempotencyToken)) return idempotencyToken;
  return `nubis-${createHash('sha256').update(idempotencyToken).digest('hex').slice(0, 58)}`;
}

/** EC2 instance state → node status; undefined means gone (shutting-down, terminated). */
export function ec2Status(state: string | undefined): NodeStatus | undefined {
  switch (state) {
    case 'pending': return 'provisioning';
    case 'running': return 'running';
    case 'stopping':
    case 'stopped': return 'stopped';
    case 'shutting-down':
    case 'terminated': return undefined;
    default: return 'error';
  }
}

/** OS family and version from an AMI name (lower case), e.g. `ubuntu`/`22.04`, `amazon-linux`/`2023`. */
export function parseImageOs(name: string, platformDetails?: string): { os?: string; osVersion?: string } {
  const rules: Array<[RegExp, string]> = [
    [/^al(20\d\d)-ami/i, 'amazon-linux'],
    [/^amzn2-ami/i, 'amazon-linux'],
    [/ubuntu[^/]*?-(\d\d\.\d\d)-/i, 'ubuntu'],
    [/^debian-(\d+)/i, 'debian'],
    [/^RHEL-(\d+(?:\.\d+)?)/i, 'rhel'],
    [/^Rocky-(\d+(?:\.\d+)?)/i, 'rocky'],
    [/^CentOS[- ](?:Linux[- ]|Stream[- ])?(\d+)/i, 'centos'],
    [/^suse-sles-(\d+(?:-sp\d+)?)/i, 'sles'],
    [/^Windows_Server-(\d{4})/i, 'windows'],
  ];
  for (const [re, os] of rules) {
    const m = re.exec(name);
    if (!m) continue;
    if (os === 'amazon-linux' && /^amzn2/i.test(name)) return { os, osVersion: '2' };
    return m[1] ? { os, osVersion: m[1].toLowerCase() } : { os };
  }
  if (platformDetails && /windows/i.test(platformDetails)) return { os: 'windows' };
  if (platformDetails && /linux/i.test(platformDetails)) return { os: 'linux' };
  return {};
}

const REGION_GEOGRAPHY: Readonly<Record<string, string>> = {
  'us-east-1': 'US', 'us-east-2': 'US', 'us-west-1': 'US', 'us-west-2': 'US', 'ca-central-1': 'CA',
  'eu-west-1': 'IE', 'eu-west-2': 'GB', 'eu-west-3': 'FR', 'eu-central-1': 'DE', 'eu-central-2': 'CH',
  'eu-north-1': 'SE', 'eu-south-1': 'IT', 'eu-south-2': 'ES', 'ap-northeast-1': 'JP', 'ap-northeast-2': 'KR',
  'ap-northeast-3': 'JP', 'ap-southeast-1': 'SG', 'ap-southeast-2': 'AU', 'ap-south-1': 'IN', 'sa-east-1': 'BR',
  'af-south-1': 'ZA', 'me-south-1': 'BH',
};

const tagList = (tags: Record<string, string>): Tag[] => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
const tagMap = (tags: Tag[] | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
};

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/** Creates the ec2 driver for a cloud. Throws SPEC_INVALID for bad options or missing credentials. */
export function createEc2Driver(ctx: DriverContext): Ec2Driver {
  const opts = parseEc2Options(ctx.options);
  const creds = ctx.credentials ?? {};
  const accessKeyId = creds['accessKeyId'];
  const secretAccessKey = creds['secretAccessKey'];
  if (!accessKeyId || !secretAccessKey) {
    throw new NubisError('SPEC_INVALID', `ec2 cloud ${ctx.cloud}: credentials accessKeyId and secretAccessKey are required`);
  }
  const sessionToken = creds['sessionToken'];
  const client = new EC2Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    credentials: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  const secret = loadAgentSecret('ec2', ctx.cloud, ctx.dataDir, ctx.credentials);
  // agents speak mutual TLS with certificates of the installation CA (made on first use)
  let agentCa: AgentCa | undefined;
  const ca = (): AgentCa => (agentCa ??= loadAgentCa(ctx.dataDir));
  const prices = { ...EC2_APPROX_PRICES_USD, ...opts.prices };

  /** Maps anything the SDK throws to a NubisError with no secret and no SDK cause. */
  function mapError(e: unknown, what: string, signal: AbortSignal): NubisError {
    if (e instanceof NubisError) return e;
    const err = e as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    if (signal.aborted || err?.name === 'AbortError') return new NubisError('ABORTED', `ec2 ${what} aborted`);
    if (err?.$metadata !== undefined && typeof err.name === 'string' && err.name !== 'Error') {
      return classifyEc2Error(err.name, err.$metadata.httpStatusCode, `ec2 ${what}: ${err.message ?? 'failed'}`);
    }
    const net = err?.code ?? err?.name ?? 'error';
    if (net === 'TimeoutError' || net === 'ETIMEDOUT') return new NubisError('CLOUD_TIMEOUT', `ec2 ${what}: no answer from the endpoint in time`);
    return new NubisError('CLOUD_UNAVAILABLE', `ec2 ${what}: endpoint ${opts.endpoint ?? opts.region} unreachable (${net})`, {
      details: { endpoint: opts.endpoint ?? opts.region },
    });
  }

  async function call<T>(what: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    if (signal.aborted) throw new NubisError('ABORTED', `ec2 ${what} aborted`);
    try {
      return await run();
    } catch (e) {
      throw mapError(e, what, signal);
    }
  }

  function toNode(i: Instance, extraTags: Record<string, string> = {}): CloudNode | undefined {
    const status = ec2Status(i.State?.Name);
    if (status === undefined || !i.InstanceId) return undefined;
    const tags = { ...extraTags, ...tagMap(i.Tags) };
    const node: CloudNode = { id: i.InstanceId, tags, status, createdAt: i.LaunchTime ? new Date(i.LaunchTime).getTime() : ctx.clock.now() };
    const address = i.PublicIpAddress ?? i.PrivateIpAddress;
    if (address) node.address = address;
    const agentIp = opts.agentAddress === 'public' ? i.PublicIpAddress ?? i.PrivateIpAddress : i.PrivateIpAddress ?? i.PublicIpAddress;
    const token = agentToken(secret, tags);
    if (agentIp && token) node.agent = { url: `https://${agentIp}:${opts.agentPort}`, token };
    if (opts.graphitePort > 0 && token) node.graphite = { host: '127.0.0.1', port: opts.graphitePort };
    return node;
  }

  async function describe(filters: Filter[], ids: string[] | undefined, signal: AbortSignal): Promise<Instance[]> {
    const out: Instance[] = [];
    let next: string | undefined;
    do {
      const page = await client.send(
        new DescribeInstancesCommand({
          ...(filters.length ? { Filters: filters } : {}),
          ...(ids ? { InstanceIds: ids } : opts.pageSize ? { MaxResults: opts.pageSize } : {}),
          ...(next ? { NextToken: next } : {}),
        }),
        { abortSignal: signal },
      );
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      next = page.NextToken || undefined;
    } while (next);
    return out;
  }

  const providerCode = (e: NubisError): string | undefined => (e.details as { providerCode?: string } | undefined)?.providerCode;
  const isGoneError = (e: NubisError): boolean => providerCode(e) === 'InvalidInstanceID.NotFound' || providerCode(e) === 'InvalidInstanceID.Malformed';
  const recent = new RecentLaunches(opts.visibilityGraceMs);

  /** A NotFound for an instance launched within the grace window: retryable, never "gone". */
  function notYetVisible(e: unknown, id: string, what: string): NubisError | undefined {
    if (!(e instanceof NubisError) || providerCode(e) !== 'InvalidInstanceID.NotFound' || !recent.notYetVisible(id, ctx.clock.now())) return undefined;
    return new NubisError('CLOUD_NOT_FOUND', `ec2 ${what} ${id}: the instance was launched moments ago and is not visible yet (EC2 eventual consistency); retry`, {
      retryable: true,
      details: { providerCode: 'InvalidInstanceID.NotFound', notYetVisible: true, instanceId: id },
    });
  }

  async function instanceAction(what: string, id: string, signal: AbortSignal, send: () => Promise<unknown>): Promise<void> {
    try {
      await call(`${what} ${id}`, signal, send);
    } catch (e) {
      throw notYetVisible(e, id, what) ?? e;
    }
  }

  const driver: Ec2Driver = {
    platform: 'ec2',
    ...ec2SnapshotCalls({ client, call, now: () => ctx.clock.now(), visibilityGraceMs: opts.visibilityGraceMs }),
    ...ec2FirewallCalls({ client, call, now: () => ctx.clock.now(), visibilityGraceMs: opts.visibilityGraceMs }),

    async create(req: CreateNodeRequest, signal: AbortSignal): Promise<CloudNode> {
      const imageId = req.placement?.image ?? opts.imageId;
      const instanceType = req.placement?.offer ?? opts.instanceType;
      if (!imageId || !instanceType) {
        throw new NubisError('SPEC_INVALID', `ec2 cloud ${ctx.cloud}: no image or instance type for ${req.key} (set imageId and instanceType, or let selection choose)`);
      }
      const zone = req.placement?.location;
      const secrets = agentSecrets(secret, req.tags);
      const script = secrets ? agentUserData({ secrets, ca: ca(), graphitePort: opts.graphitePort, ...(opts.agentPath ? { agentPath: opts.agentPath } : {}) }) : undefined;
      const userData = script ? composeUserData(script, req.cloudInit) : undefined;
      if (userData) assertUserDataFits('ec2', userData, req.key);
      const tags = tagList(req.tags);
      const res = await call(`create ${req.key}`, signal, () =>
        client.send(
          new RunInstancesCommand({
            ImageId: imageId,
            InstanceType: instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            ClientToken: ec2ClientToken(req.idempotencyToken),
            TagSpecifications: [
              { ResourceType: 'instance', Tags: tags },
              { ResourceType: 'volume', Tags: tags },
            ],
            ...(userData ? { UserData: Buffer.from(userData, 'utf8').toString('base64') } : {}),
            ...(opts.keyName ? { KeyName: opts.keyName } : {}),
            ...(opts.securityGroupIds ? { SecurityGroupIds: opts.securityGroupIds } : {}),
            ...(opts.subnetId ? { SubnetId: opts.subnetId } : {}),
            ...(zone && zone.startsWith(opts.region) && zone !== opts.region ? { Placement: { AvailabilityZone: zone } } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      const inst = res.Instances?.[0];
      if (!inst?.InstanceId) throw new NubisError('CLOUD_INTERNAL', `ec2 create ${req.key}: RunInstances returned no instance`);
      const node = toNode(inst, req.tags);
      if (node) recent.remember(node, ctx.clock.now());
      if (!node) {
        throw new NubisError('CLOUD_CONFLICT', `ec2 create ${req.key}: the instance ${inst.InstanceId} made with this idempotency token is already ${inst.State?.Name}; create with a new token`, {
          details: { instanceId: inst.InstanceId },
        });
      }
      return node;
    },

    async get(id, signal) {
      try {
        const found = await call(`get ${id}`, signal, () => describe([], [id], signal));
        const i = found.find((x) => x.InstanceId === id);
        if (i) recent.seen(id);
        return i ? toNode(i) : recent.notYetVisible(id, ctx.clock.now());
      } catch (e) {
        if (e instanceof NubisError && isGoneError(e)) return recent.notYetVisible(id, ctx.clock.now());
        throw e;
      }
    },

    async list(tags, signal) {
      const filters: Filter[] = Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] }));
      filters.push({ Name: 'instance-state-name', Values: LIVE_STATES });
      const found = await call('list', signal, () => describe(filters, undefined, signal));
      const nodes: CloudNode[] = [];
      const matches = (n: CloudNode): boolean => Object.entries(tags).every(([k, v]) => n.tags[k] === v);
      for (const i of found) {
        if (i.InstanceId) recent.seen(i.InstanceId);
        const n = toNode(i);
        if (n && matches(n)) nodes.push(n);
      }
      const listed = new Set(found.map((i) => i.InstanceId));
      for (const n of recent.neverSeen(ctx.clock.now())) if (!listed.has(n.id) && matches(n)) nodes.push(n);
      return nodes;
    },

    async delete(id, signal) {
      try {
        await instanceAction('delete', id, signal, () => client.send(new TerminateInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }));
        recent.forget(id);
      } catch (e) {
        if (e instanceof NubisError && isGoneError(e) && !(e.details as { notYetVisible?: boolean }).notYetVisible) return;
        throw e;
      }
    },

    async reboot(id, signal) {
      await instanceAction('reboot', id, signal, () => client.send(new RebootInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }));
    },

    async start(id, signal) {
      await instanceAction('start', id, signal, () => client.send(new StartInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }));
    },

    async stop(id, signal) {
      await instanceAction('stop', id, signal, () => client.send(new StopInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }));
    },

    async createImage(id, name, signal, o = {}) {
      const res = await call(`createImage ${id}`, signal, () =>
        client.send(
          new CreateImageCommand({
            InstanceId: id,
            Name: name,
            NoReboot: o.noReboot ?? true,
            ...(o.tags ? { TagSpecifications: [{ ResourceType: 'image', Tags: tagList(o.tags) }] } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      if (!res.ImageId) throw new NubisError('CLOUD_INTERNAL', `ec2 createImage ${id}: no image id returned`);
      return res.ImageId;
    },

    async createSnapshot(volumeId, description, signal, tags) {
      const res = await call(`createSnapshot ${volumeId}`, signal, () =>
        client.send(
          new CreateSnapshotCommand({
            VolumeId: volumeId,
            Description: description,
            ...(tags ? { TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagList(tags) }] } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      if (!res.SnapshotId) throw new NubisError('CLOUD_INTERNAL', `ec2 createSnapshot ${volumeId}: no snapshot id returned`);
      return res.SnapshotId;
    },

    async createSecurityGroup(req, signal) {
      const res = await call(`createSecurityGroup ${req.name}`, signal, () =>
        client.send(
          new CreateSecurityGroupCommand({
            GroupName: req.name,
            Description: req.description,
            ...(req.vpcId ? { VpcId: req.vpcId } : {}),
            ...(req.tags ? { TagSpecifications: [{ ResourceType: 'security-group', Tags: tagList(req.tags) }] } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      const groupId = res.GroupId;
      if (!groupId) throw new NubisError('CLOUD_INTERNAL', `ec2 createSecurityGroup ${req.name}: no group id returned`);
      if (req.ingress?.length) {
        await call(`authorizeIngress ${groupId}`, signal, () =>
          client.send(
            new AuthorizeSecurityGroupIngressCommand({
              GroupId: groupId,
              IpPermissions: req.ingress!.map((r) => ({
                IpProtocol: r.protocol,
                FromPort: r.fromPort,
                ToPort: r.toPort,
                IpRanges: [{ CidrIp: r.cidr, ...(r.description ? { Description: r.description } : {}) }],
              })),
            }),
            { abortSignal: signal },
          ),
        );
      }
      return groupId;
    },

    async importKeyPair(name, publicKey, signal) {
      const res = await call(`importKeyPair ${name}`, signal, () =>
        client.send(new ImportKeyPairCommand({ KeyName: name, PublicKeyMaterial: Buffer.from(publicKey, 'utf8') }), { abortSignal: signal }),
      );
      const out: KeyPairInfo = { keyName: res.KeyName ?? name };
      if (res.KeyPairId) out.keyPairId = res.KeyPairId;
      if (res.KeyFingerprint) out.fingerprint = res.KeyFingerprint;
      return out;
    },

    async describeKeyPairs(signal, names) {
      const res = await call('describeKeyPairs', signal, () =>
        client.send(new DescribeKeyPairsCommand(names ? { KeyNames: names } : {}), { abortSignal: signal }),
      );
      return (res.KeyPairs ?? []).map((k) => {
        const out: KeyPairInfo = { keyName: k.KeyName ?? '' };
        if (k.KeyPairId) out.keyPairId = k.KeyPairId;
        if (k.KeyFingerprint) out.fingerprint = k.KeyFingerprint;
        return out;
      });
    },

    async discover(signal): Promise<Discovery> {
      const locations: Location[] = [];
      const geography = REGION_GEOGRAPHY[opts.region];
      const regions = await call('discover regions', signal, () => client.send(new DescribeRegionsCommand({}), { abortSignal: signal }));
      const known = (regions.Regions ?? []).some((r) => r.RegionName === opts.region);
      if (!known && (regions.Regions ?? []).length > 0) {
        throw new NubisError('CLOUD_BAD_REQUEST', `ec2 cloud ${ctx.cloud}: region ${opts.region} is not among the account's enabled regions`);
      }
      locations.push({ id: opts.region, region: opts.region, ...(geography ? { geography } : {}) });
      const zones = await call('discover zones', signal, () => client.send(new DescribeAvailabilityZonesCommand({}), { abortSignal: signal }));
      for (const z of zones.AvailabilityZones ?? []) {
        if (!z.ZoneName || (z.State && z.State !== 'available')) continue;
        locations.push({ id: z.ZoneName, region: z.RegionName ?? opts.region, zone: z.ZoneName, ...(geography ? { geography } : {}) });
      }

      const offers: HardwareOffer[] = [];
      let next: string | undefined;
      do {
        const page = await call('discover instance types', signal, () =>
          client.send(new DescribeInstanceTypesCommand({ MaxResults: 100, ...(next ? { NextToken: next } : {}) }), { abortSignal: signal }),
        );
        for (const t of page.InstanceTypes ?? []) {
          const cores = t.VCpuInfo?.DefaultVCpus;
          const memoryMiB = t.MemoryInfo?.SizeInMiB;
          if (!t.InstanceType || !cores || !memoryMiB) continue;
          const offer: HardwareOffer = { id: t.InstanceType, cores, memoryMiB };
          const disk = t.InstanceStorageInfo?.TotalSizeInGB;
          if (disk) offer.diskGiB = disk;
          const price = prices[t.InstanceType];
          if (price !== undefined) offer.pricePerHour = price;
          offers.push(offer);
        }
        next = page.NextToken || undefined;
      } while (next);

      const images: Image[] = [];
      const raw: Array<{ id: string; name: string; created: string; platformDetails?: string }> = [];
      // the account's own images (owner self) whatever their names; public owners by name pattern
      for (const owner of opts.imageOwners) {
      next = undefined;
      do {
        const page = await call('discover images', signal, () =>
          client.send(
            new DescribeImagesCommand({
              Owners: [owner],
              Filters: [
                { Name: 'state', Values: ['available'] },
                { Name: 'architecture', Values: [opts.architecture] },
                ...(owner === 'self' ? [] : [{ Name: 'name', Values: opts.imageNamePatterns }]),
              ],
              MaxResults: 1000,
              ...(next ? { NextToken: next } : {}),
            }),
            { abortSignal: signal },
          ),
        );
        for (const i of page.Images ?? []) {
          if (!i.ImageId || !i.Name) continue;
          raw.push({ id: i.ImageId, name: i.Name, created: i.CreationDate ?? '', ...(i.PlatformDetails ? { platformDetails: i.PlatformDetails } : {}) });
        }
        next = page.NextToken || undefined;
      } while (next);
      }
      raw.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
      for (const r of raw.slice(0, opts.maxImages)) {
        images.push({ id: r.id, name: r.name, ...parseImageOs(r.name, r.platformDetails), locations: [opts.region] });
      }
      return { locations, offers, images };
    },

    agent(node: CloudNode): AgentClient {
      return cloudAgentClient(node, secret, ca(), 'ec2');
    },

    async close() {
      client.destroy();
    },
  };
  return driver;
}
