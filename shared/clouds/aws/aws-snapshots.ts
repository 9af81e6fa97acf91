/**
 * The AWS direct path's adapter: EBS snapshots written block by block through the EBS direct APIs
 * (@aws-sdk/client-ebs) and AMIs registered from them (@aws-sdk/client-ec2). Every SDK error leaves
 * as a CloudError (classifyCloudError): throttling and 5xx are what the workflow retries.
 */
import {
  CompleteSnapshotCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  type EBSClient,
} from '@aws-sdk/client-ebs';
import {
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  RegisterImageCommand,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { EbsBlock } from './ebs-blocks';
import { EBS_BLOCK_BYTES } from './ebs-blocks';
import { CloudError, classifyCloudError } from '../errors';

export interface AwsSnapshotsOptions {
  ec2For(region: string): EC2Client;
  ebsFor(region: string): EBSClient;
}

/** The job a resource belongs to, for tags (and so a compensation finds what it could not record). */
export interface JobRef {
  jobId: string;
  vmName: string;
  region: string;
}

const JOB_TAG = 'burstgate:job';
const tagsFor = (job: JobRef): Tag[] => [
  { Key: 'burstgate:managed', Value: 'true' },
  { Key: JOB_TAG, Value: job.jobId },
  { Key: 'Name', Value: job.vmName },
];

export interface StartedSnapshot {
  snapshotId: string;
  status: string;
}

export interface SnapshotState {
  /** `pending`, `completed`, `error`, or `missing` when EC2 does not know the id. */
  state: string;
  message?: string;
  volumeSizeGiB?: number;
}

/** Minutes a pending snapshot may see no PutSnapshotBlock before EBS errors it (EBS allows 10–4320). */
export const SNAPSHOT_IDLE_TIMEOUT_MINUTES = 240;

export class AwsSnapshots {
  constructor(private readonly opts: AwsSnapshotsOptions) {}

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyCloudError(err, what);
    }
  }

  /**
   * StartSnapshot. `clientToken` is derived from the job: a retry (same parameters) gets the same
   * snapshot back instead of a second one.
   */
  async startSnapshot(
    job: JobRef,
    opts: { volumeSizeGiB: number; clientToken: string; parentSnapshotId?: string },
  ): Promise<StartedSnapshot> {
    const out = await this.call('StartSnapshot', () =>
      this.opts.ebsFor(job.region).send(
        new StartSnapshotCommand({
          VolumeSize: opts.volumeSizeGiB,
          ClientToken: opts.clientToken,
          Description: `burstgate ${job.jobId} ${job.vmName}`.slice(0, 255),
          Timeout: SNAPSHOT_IDLE_TIMEOUT_MINUTES,
          Tags: tagsFor(job),
          ...(opts.parentSnapshotId ? { ParentSnapshotId: opts.parentSnapshotId } : {}),
        }),
      ),
    );
    if (!out.SnapshotId) throw new CloudError('CloudRejected', 'StartSnapshot returned no SnapshotId');
    return { snapshotId: out.SnapshotId, status: out.Status ?? 'pending' };
  }

  /** PutSnapshotBlock of one full 512 KiB block with its base64 SHA-256 (EBS verifies it). */
  async putBlock(
    region: string,
    snapshotId: string,
    block: Pick<EbsBlock, 'index' | 'data' | 'sha256Base64'>,
  ) {
    if (block.data.length !== EBS_BLOCK_BYTES) {
      throw new CloudError(
        'CloudRejected',
        `block ${block.index} holds ${block.data.length} bytes; EBS takes exactly ${EBS_BLOCK_BYTES}`,
      );
    }
    await this.call('PutSnapshotBlock', () =>
      this.opts.ebsFor(region).send(
        new PutSnapshotBlockCommand({
          SnapshotId: snapshotId,
          BlockIndex: block.index,
          BlockData: block.data,
          DataLength: EBS_BLOCK_BYTES,
          Checksum: block.sha256Base64,
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    );
  }

  /** CompleteSnapshot: EBS seals it (pending → completed, or error when the count is wrong). */
  async completeSnapshot(region: string, snapshotId: string, changedBlocksCount: number): Promise<string> {
    const out = await this.call('CompleteSnapshot', () =>
      this.opts
        .ebsFor(region)
        .send(
          new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: changedBlocksCount }),
        ),
    );
    return out.Status ?? 'pending';
  }

  /** The snapshot's state as EC2 shows it; `missing` when it does not exist (any more). */
  async snapshotState(region: string, snapshotId: string): Promise<SnapshotState> {
    try {
      const out = await this.opts
        .ec2For(region)
        .send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
      const s = out.Snapshots?.[0];
      if (!s) return { state: 'missing' };
      return {
        state: s.State ?? 'unknown',
        ...(s.StateMessage ? { message: s.StateMessage } : {}),
        ...(s.VolumeSize !== undefined ? { volumeSizeGiB: s.VolumeSize } : {}),
      };
    } catch (err) {
      const e = classifyCloudError(err, 'DescribeSnapshots');
      if (e.code === 'InvalidSnapshot.NotFound') return { state: 'missing' };
      throw e;
    }
  }

  /** Is this AMI still registered? */
  async imageExists(region: string, imageId: string): Promise<boolean> {
    try {
      const out = await this.opts.ec2For(region).send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      return (out.Images ?? []).some((i) => i.ImageId === imageId && i.State !== 'deregistered');
    } catch (err) {
      const e = classifyCloudError(err, 'DescribeImages');
      if (e.code === 'InvalidAMIID.NotFound' || e.code === 'InvalidAMIID.Unavailable') return false;
      throw e;
    }
  }

  /**
   * RegisterImage of an EBS-backed HVM x86_64 AMI with ENA from `snapshotId` as its root device. The
   * name is unique per account and region: a retry that finds its name taken takes the AMI that has
   * it (the first try's) instead of failing.
   */
  async registerImage(
    job: JobRef,
    opts: {
      name: string;
      snapshotId: string;
      bootMode: 'legacy-bios' | 'uefi';
      volumeSizeGiB: number;
      rootDeviceName: string;
    },
  ): Promise<string> {
    const ec2 = this.opts.ec2For(job.region);
    try {
      const out = await ec2.send(
        new RegisterImageCommand({
          Name: opts.name,
          Description: `burstgate ${job.jobId} ${job.vmName}`.slice(0, 255),
          Architecture: 'x86_64',
          VirtualizationType: 'hvm',
          EnaSupport: true,
          BootMode: opts.bootMode,
          RootDeviceName: opts.rootDeviceName,
          BlockDeviceMappings: [
            {
              DeviceName: opts.rootDeviceName,
              Ebs: {
                SnapshotId: opts.snapshotId,
                VolumeSize: opts.volumeSizeGiB,
                VolumeType: 'gp3',
                DeleteOnTermination: true,
              },
            },
          ],
          TagSpecifications: [{ ResourceType: 'image', Tags: tagsFor(job) }],
        }),
      );
      if (!out.ImageId) throw new CloudError('CloudRejected', 'RegisterImage returned no ImageId');
      return out.ImageId;
    } catch (err) {
      const e = classifyCloudError(err, 'RegisterImage');
      if (e.code !== 'InvalidAMIName.Duplicate') throw e;
      const existing = await this.imageNamed(job.region, opts.name);
      if (!existing) throw e;
      return existing;
    }
  }

  async imageNamed(region: string, name: string): Promise<string | undefined> {
    const out = await this.call('DescribeImages', () =>
      this.opts
        .ec2For(region)
        .send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] })),
    );
    return out.Images?.[0]?.ImageId;
  }

  /**
   * Snapshots and AMIs tagged with the job's id: what a step created but could not record (the
   * Lambda died between the cloud's answer and the job write), for the compensation to remove.
   */
  async taggedWith(region: string, jobId: string): Promise<{ snapshots: string[]; images: string[] }> {
    const filter = [{ Name: `tag:${JOB_TAG}`, Values: [jobId] }];
    const ec2 = this.opts.ec2For(region);
    const [snaps, images] = await Promise.all([
      this.call('DescribeSnapshots', () =>
        ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: filter })),
      ),
      this.call('DescribeImages', () =>
        ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: filter })),
      ),
    ]);
    return {
      snapshots: (snaps.Snapshots ?? []).flatMap((s) => (s.SnapshotId ? [s.SnapshotId] : [])),
      images: (images.Images ?? []).flatMap((i) => (i.ImageId ? [i.ImageId] : [])),
    };
  }
}
