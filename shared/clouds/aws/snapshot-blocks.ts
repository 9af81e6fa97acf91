/**
 * The AWS adapter of the changed-block return: EC2 snapshots of a stopped instance's root volume
 * (CreateSnapshot, DescribeSnapshots) and the EBS direct APIs that read them block by block
 * (ListChangedBlocks, ListSnapshotBlocks, GetSnapshotBlock), through the real @aws-sdk/client-ec2 and
 * @aws-sdk/client-ebs (pointed at the simulator in the embedded deployment). Every SDK error leaves
 * this module as a CloudError (classifyCloudError): throttling and 5xx are retried by the workflow.
 */
import { createHash } from 'node:crypto';
import {
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  type EBSClient,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { Job } from '../../domain/job';
import { CloudError, classifyCloudError } from '../errors';

export interface AwsSnapshotBlocksOptions {
  ec2For(region: string): EC2Client;
  ebsFor(region: string): EBSClient;
}

/** One block of a snapshot as a listing names it: its index and the token GetSnapshotBlock needs. */
export interface SnapshotBlockRef {
  index: number;
  token: string;
}

/** One page of ListChangedBlocks or ListSnapshotBlocks. */
export interface SnapshotBlockPage {
  blocks: SnapshotBlockRef[];
  /** Size of the snapshot's volume in GiB, and of its blocks in bytes, as EBS reports them. */
  volumeSizeGiB: number;
  blockBytes: number;
}

export type SnapshotState = 'pending' | 'completed' | 'error' | 'gone';

/** The tag that names which return attempt a snapshot belongs to (a retried step finds its own). */
export const RETURN_ATTEMPT_TAG = 'burstgate:return';

function regionOf(job: Job): string {
  if (job.target.cloud !== 'aws')
    throw new CloudError('CloudRejected', `job ${job.jobId} does not target AWS`);
  return job.target.region;
}

const GONE_SNAPSHOT = new Set(['InvalidSnapshot.NotFound', 'ResourceNotFoundException']);

/** True when the error says the snapshot does not exist (EC2 or the EBS direct APIs). */
export function isSnapshotGone(err: unknown): boolean {
  return err instanceof CloudError && err.code !== undefined && GONE_SNAPSHOT.has(err.code);
}

export class AwsSnapshotBlocks {
  constructor(private readonly opts: AwsSnapshotBlocksOptions) {}

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyCloudError(err, what);
    }
  }

  /** The volume behind the instance's root device (from DescribeInstances' block device mappings). */
  async rootVolumeId(job: Job): Promise<string> {
    const id = job.cloud.instanceId;
    if (!id) throw new CloudError('CloudRejected', `job ${job.jobId} has no instance`);
    const out = await this.call('DescribeInstances', () =>
      this.opts.ec2For(regionOf(job)).send(new DescribeInstancesCommand({ InstanceIds: [id] })),
    );
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (!instance) throw new CloudError('CloudUnavailable', `instance ${id} is not visible yet`);
    const root = instance.RootDeviceName;
    const mapping = instance.BlockDeviceMappings?.find((m) => m.DeviceName === root);
    const volumeId = mapping?.Ebs?.VolumeId;
    if (!volumeId) {
      throw new CloudError(
        'CloudRejected',
        `instance ${id} has no EBS volume on its root device ${root ?? '(none)'}`,
        'NoRootVolume',
      );
    }
    return volumeId;
  }

  /**
   * Every return snapshot of the job that EC2 holds (tagged by createReturnSnapshot), whichever
   * attempt made it: a retried step finds its own, and one a crashed step never recorded is found too.
   */
  async returnSnapshotsOf(job: Job): Promise<Array<{ id: string; attempt: number; state: string }>> {
    const out = await this.call('DescribeSnapshots', () =>
      this.opts.ec2For(regionOf(job)).send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [
            { Name: 'tag:burstgate:job', Values: [job.jobId] },
            { Name: 'tag-key', Values: [RETURN_ATTEMPT_TAG] },
          ],
        }),
      ),
    );
    return (out.Snapshots ?? []).flatMap((s) =>
      s.SnapshotId
        ? [
            {
              id: s.SnapshotId,
              attempt: Number(s.Tags?.find((t) => t.Key === RETURN_ATTEMPT_TAG)?.Value),
              state: s.State ?? 'unknown',
            },
          ]
        : [],
    );
  }

  /** CreateSnapshot of the volume, tagged with the job and the return attempt. */
  async createReturnSnapshot(job: Job, volumeId: string, attempt: number): Promise<string> {
    const tags: Tag[] = [
      { Key: 'burstgate:managed', Value: 'true' },
      { Key: 'burstgate:job', Value: job.jobId },
      { Key: RETURN_ATTEMPT_TAG, Value: String(attempt) },
      { Key: 'Name', Value: `${job.vmName} return ${attempt}` },
    ];
    const out = await this.call('CreateSnapshot', () =>
      this.opts.ec2For(regionOf(job)).send(
        new CreateSnapshotCommand({
          VolumeId: volumeId,
          Description: `burstgate return ${attempt} of ${job.jobId}`,
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: tags }],
        }),
      ),
    );
    if (!out.SnapshotId) throw new CloudError('CloudRejected', 'CreateSnapshot returned no SnapshotId');
    return out.SnapshotId;
  }

  /** The snapshot's state; `gone` when EC2 does not know it. */
  async snapshotState(
    region: string,
    snapshotId: string,
  ): Promise<{ state: SnapshotState; progress?: string; message?: string }> {
    try {
      const out = await this.call('DescribeSnapshots', () =>
        this.opts.ec2For(region).send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })),
      );
      const s = out.Snapshots?.[0];
      if (!s) return { state: 'gone' };
      const state = s.State === 'completed' || s.State === 'error' ? s.State : 'pending';
      return {
        state,
        ...(s.Progress ? { progress: s.Progress } : {}),
        ...(s.StateMessage ? { message: s.StateMessage } : {}),
      };
    } catch (err) {
      if (isSnapshotGone(err)) return { state: 'gone' };
      throw err;
    }
  }

  /** Every page of ListChangedBlocks(first → second), from `startingBlockIndex` on. */
  async *changedBlocks(
    region: string,
    firstSnapshotId: string,
    secondSnapshotId: string,
    startingBlockIndex = 0,
  ): AsyncGenerator<SnapshotBlockPage> {
    let token: string | undefined;
    do {
      const next = token;
      const out = await this.call('ListChangedBlocks', () =>
        this.opts.ebsFor(region).send(
          new ListChangedBlocksCommand({
            FirstSnapshotId: firstSnapshotId,
            SecondSnapshotId: secondSnapshotId,
            MaxResults: 10_000,
            ...(next ? { NextToken: next } : { StartingBlockIndex: startingBlockIndex }),
          }),
        ),
      );
      const blocks: SnapshotBlockRef[] = [];
      for (const b of out.ChangedBlocks ?? []) {
        if (b.BlockIndex === undefined) continue;
        // The return snapshot descends from the base, so every changed block has a second token; a
        // block only the base holds would have to become zeros, which this reader does not model.
        if (!b.SecondBlockToken) {
          throw new CloudError(
            'ExportFailed',
            `ListChangedBlocks ${firstSnapshotId} → ${secondSnapshotId}: block ${b.BlockIndex} exists only in the first snapshot; the second does not descend from it`,
            'BlockOnlyInBase',
          );
        }
        blocks.push({ index: b.BlockIndex, token: b.SecondBlockToken });
      }
      yield {
        blocks,
        volumeSizeGiB: Number(out.VolumeSize ?? 0),
        blockBytes: out.BlockSize ?? 0,
      };
      token = out.NextToken;
    } while (token);
  }

  /** Every page of ListSnapshotBlocks (the blocks ever written to the snapshot's lineage). */
  async *snapshotBlocks(
    region: string,
    snapshotId: string,
    startingBlockIndex = 0,
  ): AsyncGenerator<SnapshotBlockPage> {
    let token: string | undefined;
    do {
      const next = token;
      const out = await this.call('ListSnapshotBlocks', () =>
        this.opts.ebsFor(region).send(
          new ListSnapshotBlocksCommand({
            SnapshotId: snapshotId,
            MaxResults: 10_000,
            ...(next ? { NextToken: next } : { StartingBlockIndex: startingBlockIndex }),
          }),
        ),
      );
      yield {
        blocks: (out.Blocks ?? []).flatMap((b) =>
          b.BlockIndex !== undefined && b.BlockToken ? [{ index: b.BlockIndex, token: b.BlockToken }] : [],
        ),
        volumeSizeGiB: Number(out.VolumeSize ?? 0),
        blockBytes: out.BlockSize ?? 0,
      };
      token = out.NextToken;
    } while (token);
  }

  /**
   * GetSnapshotBlock, verified: the block must be `blockBytes` long and its SHA-256 must be the
   * `x-amz-Checksum` EBS sent with it. A mismatch is an `ExportFailed` (code `ChecksumMismatch`): the
   * workflow does not retry it, the return fails and nothing is published.
   */
  async readBlock(
    region: string,
    snapshotId: string,
    block: SnapshotBlockRef,
    blockBytes: number,
  ): Promise<Buffer> {
    const what = `GetSnapshotBlock ${snapshotId} block ${block.index}`;
    const data = await this.call('GetSnapshotBlock', async () => {
      const out = await this.opts.ebsFor(region).send(
        new GetSnapshotBlockCommand({
          SnapshotId: snapshotId,
          BlockIndex: block.index,
          BlockToken: block.token,
        }),
      );
      if (!out.BlockData) throw new CloudError('CloudUnavailable', `${what}: no block data in the answer`);
      const bytes = Buffer.from(await out.BlockData.transformToByteArray());
      if (out.ChecksumAlgorithm !== undefined && out.ChecksumAlgorithm !== 'SHA256') {
        throw new CloudError(
          'ExportFailed',
          `${what}: checksum algorithm ${out.ChecksumAlgorithm}, expected SHA256`,
          'ChecksumMismatch',
        );
      }
      const actual = createHash('sha256').update(bytes).digest('base64');
      if (!out.Checksum || out.Checksum !== actual) {
        throw new CloudError(
          'ExportFailed',
          `${what}: the block's SHA-256 is ${actual} but EBS announced ${out.Checksum ?? 'none'}; the block was damaged in transit, nothing was published`,
          'ChecksumMismatch',
        );
      }
      return bytes;
    });
    if (data.length !== blockBytes) {
      throw new CloudError(
        'ExportFailed',
        `${what}: ${data.length} bytes, expected a block of ${blockBytes}`,
        'BlockLengthMismatch',
      );
    }
    return data;
  }
}
