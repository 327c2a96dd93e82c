/**
 * The ec2 driver's snapshot calls: CreateImage of the instance (EBS snapshots of its volumes
 * are made by EC2 with the image, tagged like it), DescribeImages until `available`,
 * DeregisterImage plus DeleteSnapshot of every snapshot behind the image.
 *
 * Contract:
 * - `snapshot` sends one CreateImage (NoReboot). Without `volumes`, the instance's non-root
 *   devices are left out (BlockDeviceMapping NoDevice, from DescribeInstances).
 * - `snapshotStatus`: pending → pending, available → ready, failed/error/invalid → error,
 *   deregistered/disabled → gone. EC2 is eventually consistent: for `visibilityGraceMs` after
 *   the snapshot was made, InvalidAMIID.NotFound means "not yet visible" (pending); after it, gone.
 * - `deleteSnapshot` deregisters the image, then deletes its snapshots: those the image lists
 *   and those whose description EC2 wrote for it ("Created by CreateImage(…) for ami-…"), found
 *   with DescribeSnapshots (paginated), so a delete interrupted after the deregister still
 *   finds them. NotFound is done, except inside the visibility window for an image this driver
 *   has not seen yet (retryable CLOUD_NOT_FOUND, details.notYetVisible).
 * - `readSnapshot` is CLOUD_UNSUPPORTED: the bytes of an EBS snapshot are only readable through
 *   the EBS direct APIs (ListSnapshotBlocks/GetSnapshotBlock, @aws-sdk/client-ebs), which this
 *   build does not include.
 */
import {
  CreateImageCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand,
  type BlockDeviceMapping, type EC2Client, type Image, type Tag,
} from '@aws-sdk/client-ec2';
import { NubisError } from '../../errors/index.js';
import type { Driver, SnapshotOp, SnapshotStatus } from '../driver.js';

export interface Ec2SnapshotDeps {
  client: EC2Client;
  /** The driver's call wrapper: abort check and error classification. */
  call<T>(what: string, signal: AbortSignal, run: () => Promise<T>): Promise<T>;
  now(): number;
  visibilityGraceMs: number;
}

const tagList = (tags: Record<string, string>): Tag[] => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
const isCode = (e: unknown, code: string): boolean => e instanceof NubisError && (e.details as { providerCode?: string } | undefined)?.providerCode === code;

/** EC2 image state → snapshot status. */
export function ec2ImageStatus(state: string | undefined): SnapshotStatus {
  switch (state) {
    case 'available':
      return 'ready';
    case 'failed':
    case 'error':
    case 'invalid':
      return 'error';
    case 'deregistered':
    case 'disabled':
      return 'gone';
    default:
      return 'pending';
  }
}

export function ec2SnapshotCalls(deps: Ec2SnapshotDeps): Pick<Driver, SnapshotOp> {
  const { client, call } = deps;
  const send = <T>(what: string, signal: AbortSignal, run: (s: AbortSignal) => Promise<T>): Promise<T> => call(what, signal, () => run(signal));
  /** Images this driver has seen described or deregistered: NotFound for them is gone, not "not yet visible". */
  const seen = new Set<string>();
  const young = (id: string, createdAt: number): boolean => !seen.has(id) && deps.now() - createdAt < deps.visibilityGraceMs;

  /** The image, or undefined when EC2 does not know it (NotFound or an empty answer). */
  async function image(id: string, signal: AbortSignal): Promise<Image | undefined> {
    try {
      const res = await send(`describeImage ${id}`, signal, (s) => client.send(new DescribeImagesCommand({ ImageIds: [id] }), { abortSignal: s }));
      const img = res.Images?.find((i) => i.ImageId === id);
      if (img) seen.add(id);
      return img;
    } catch (e) {
      if (isCode(e, 'InvalidAMIID.NotFound') || isCode(e, 'InvalidAMIID.Unavailable') || isCode(e, 'InvalidAMIID.Malformed')) return undefined;
      throw e;
    }
  }

  async function snapshotsMadeFor(id: string, signal: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined;
    do {
      const res = await send(`describeSnapshots for ${id}`, signal, (s) =>
        client.send(
          new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'description', Values: [`Created by CreateImage(*) for ${id}*`] }], MaxResults: 500, ...(next ? { NextToken: next } : {}) }),
          { abortSignal: s },
        ),
      );
      for (const sn of res.Snapshots ?? []) if (sn.SnapshotId) out.push(sn.SnapshotId);
      next = res.NextToken;
    } while (next);
    return out;
  }

  return {
    async snapshot(id, req, signal) {
      let mappings: BlockDeviceMapping[] = [];
      if (!req.volumes) {
        const res = await send(`describeInstance ${id}`, signal, (s) => client.send(new DescribeInstancesCommand({ InstanceIds: [id] }), { abortSignal: s }));
        const inst = res.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
        mappings = (inst?.BlockDeviceMappings ?? [])
          .filter((m) => m.DeviceName && m.DeviceName !== inst?.RootDeviceName)
          .map((m) => ({ DeviceName: m.DeviceName!, NoDevice: '' }));
      }
      const tags = tagList(req.tags);
      const res = await send(`createImage ${id}`, signal, (s) =>
        client.send(
          new CreateImageCommand({
            InstanceId: id,
            Name: req.name,
            NoReboot: true,
            ...(mappings.length ? { BlockDeviceMappings: mappings } : {}),
            ...(tags.length ? { TagSpecifications: [{ ResourceType: 'image', Tags: tags }, { ResourceType: 'snapshot', Tags: tags }] } : {}),
          }),
          { abortSignal: s },
        ),
      );
      if (!res.ImageId) throw new NubisError('CLOUD_INTERNAL', `ec2 createImage ${id}: no image id returned`);
      return { id: res.ImageId, kind: 'image', createdAt: deps.now() };
    },

    async snapshotStatus(ref, signal) {
      const img = await image(ref.id, signal);
      if (!img) return young(ref.id, ref.createdAt) ? 'pending' : 'gone';
      return ec2ImageStatus(img.State);
    },

    // eslint-disable-next-line @typescript-eslint/require-await -- the contract's signature is async
    async readSnapshot(ref) {
      throw new NubisError('CLOUD_UNSUPPORTED', `ec2: the bytes of image ${ref.id} can only be read through the EBS direct APIs (ListSnapshotBlocks/GetSnapshotBlock), which this build does not include; keep ec2 snapshots in the cloud, or back up through the agent (a handler dump or listed directories)`);
    },

    async deleteSnapshot(ref, signal) {
      const img = await image(ref.id, signal);
      if (!img && young(ref.id, ref.createdAt)) {
        throw new NubisError('CLOUD_NOT_FOUND', `ec2 image ${ref.id} is not visible yet; its delete is retried`, { retryable: true, details: { notYetVisible: true } });
      }
      const fromImage = (img?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s): s is string => !!s);
      if (img && ec2ImageStatus(img.State) !== 'gone') {
        try {
          await send(`deregisterImage ${ref.id}`, signal, (s) => client.send(new DeregisterImageCommand({ ImageId: ref.id }), { abortSignal: s }));
        } catch (e) {
          if (!isCode(e, 'InvalidAMIID.NotFound') && !isCode(e, 'InvalidAMIID.Unavailable')) throw e;
        }
      }
      seen.add(ref.id);
      const ids = new Set([...fromImage, ...(await snapshotsMadeFor(ref.id, signal))]);
      for (const sid of ids) {
        try {
          await send(`deleteSnapshot ${sid}`, signal, (s) => client.send(new DeleteSnapshotCommand({ SnapshotId: sid }), { abortSignal: s }));
        } catch (e) {
          if (!isCode(e, 'InvalidSnapshot.NotFound')) throw e;
        }
      }
    },
  };
}
