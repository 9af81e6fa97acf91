/**
 * The changed-block return of an AWS direct job (shared/domain/workflow/aws-return.ts, and the
 * delta it publishes through delta-publish.ts) on a gateway over in-memory fakes: one return
 * snapshot per attempt, the wait for it, the changed blocks published as a delta whose bytes rebuild
 * the guest's disk (read back with the delta reader), the full copy when the base is gone, and the
 * blocks it refuses.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { recordResource } from '../../../shared/domain/gateway';
import type { Job } from '../../../shared/domain/job';
import { cancelAndRemove } from '../../helpers/cancel';
import {
  awsCheckReturnSnapshot,
  awsPublishChangedBlocks,
  awsSnapshotForReturn,
  runExtents,
} from '../../../shared/domain/workflow/aws-return';
import { DeltaWriter, type DeltaExtentInput } from '../../../shared/images/delta-writer';
import { awsError } from '../../helpers/fake-deps';
import { fakeSnapshots, type FakeSnapshots } from '../../helpers/fake-snapshots';
import { collect } from '../../helpers/bytes';
import { EBS_BLOCK, applied, blocksDisk, directJob, nonZeroBlocks } from './ebs-fixtures';
import { REGION, failureOf, sha256, stepTest, type StepTest } from './fixtures';

let t: StepTest;
let snaps: FakeSnapshots;
beforeEach(() => {
  t = stepTest();
  snaps = fakeSnapshots(t.fake);
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

/** The offloaded disk: blocks 0, 2 and 5 hold data. */
const OFFLOADED = () => blocksDisk(8, { 0: 1, 2: 2, 5: 3 });
/** What the guest made of it: 2 rewritten, 5 overwritten with zeros, 6 written. */
const GUEST = () => blocksDisk(8, { 0: 1, 2: 7, 6: 8 });

/**
 * A direct job whose instance has just stopped (StopInstance, CheckStopped), as SnapshotForReturn
 * finds it: launched from `snap-base`, which holds the offloaded disk.
 */
async function stoppedJob(disk: Buffer, change: (j: Job) => void = () => undefined): Promise<Job> {
  const job = await directJob(t, disk, (j) => {
    const now = t.gw.now();
    j.state = 'returning';
    j.cloud = {
      baseSnapshotId: 'snap-base',
      snapshotIds: ['snap-base'],
      amiId: 'ami-direct',
      instanceId: 'i-direct',
    };
    for (const [type, id] of [
      ['snapshot', 'snap-base'],
      ['ami', 'ami-direct'],
      ['instance', 'i-direct'],
    ] as const)
      recordResource(j, { type, id, location: REGION }, now);
    j.execution = { returnAttempts: 1 };
    j.activeStep = { name: 'stop', startedAt: now.toISOString() };
    change(j);
  });
  snaps.add('snap-base', { blocks: nonZeroBlocks(disk) });
  return job;
}

/** The stopped instance's root volume. */
function rootVolumeIs(volumeId: string): void {
  t.fake.ec2.on(DescribeInstancesCommand, (input) => ({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: input.InstanceIds?.[0],
            RootDeviceName: '/dev/xvda',
            BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: volumeId } }],
          },
        ],
      },
    ],
  }));
}

/** A job at PublishChangedBlocks: its return snapshot (of the guest's disk) completed. */
async function snapshotted(offloaded: Buffer, guest: Buffer) {
  const job = await stoppedJob(offloaded, (j) => {
    j.cloud.returnSnapshotId = 'snap-return';
    recordResource(j, { type: 'snapshot', id: 'snap-return', location: REGION }, t.gw.now());
    j.activeStep = undefined;
  });
  const blocks = nonZeroBlocks(guest);
  // the guest overwrote block 5 with zeros: EBS keeps the written (zero) block
  for (const i of nonZeroBlocks(offloaded).keys()) if (!blocks.has(i)) blocks.set(i, Buffer.alloc(EBS_BLOCK));
  snaps.add('snap-return', { blocks, parentId: 'snap-base' });
  snaps.describable().readable();
  return job;
}

const returned = (key: string) => t.fake.bucket.get(key)!;

describe('awsSnapshotForReturn', () => {
  it('snapshots the root volume once, tagged with the job and the attempt, and records it', async () => {
    // Prepare
    const job = await stoppedJob(OFFLOADED());
    snaps.describable().creatable({ 'vol-root': nonZeroBlocks(GUEST()) });
    rootVolumeIs('vol-root');
    // Act
    const out = await awsSnapshotForReturn(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const created = t.fake.ec2.inputsOf(CreateSnapshotCommand);
    expect(created).toEqual([
      expect.objectContaining({
        VolumeId: 'vol-root',
        TagSpecifications: [
          {
            ResourceType: 'snapshot',
            Tags: expect.arrayContaining([
              { Key: 'burstgate:job', Value: job.jobId },
              { Key: 'burstgate:return', Value: '1' },
            ]),
          },
        ],
      }),
    ]);
    expect(after.cloud.returnSnapshotId).toBe(out.returnSnapshotId);
    expect(after.resources).toContainEqual(
      expect.objectContaining({ type: 'snapshot', id: out.returnSnapshotId, location: REGION }),
    );
    expect(after.steps.at(-1)).toMatchObject({ name: 'stop', outcome: 'succeeded' });
    expect(after.activeStep?.name).toBe('snapshot');
  });

  it('returns the recorded snapshot on a retry without asking EC2', async () => {
    // Prepare
    const job = await stoppedJob(OFFLOADED(), (j) => void (j.cloud.returnSnapshotId = 'snap-recorded'));
    // Act
    const out = await awsSnapshotForReturn(t.gw, job.jobId);
    // Assess
    expect(out).toEqual({ returnSnapshotId: 'snap-recorded' });
    expect(t.fake.ec2.calls).toEqual([]);
  });

  it('finds the snapshot its attempt made before a crash, and records an earlier attempt’s for cleanup', async () => {
    // Prepare: attempt 2; CreateSnapshot of this attempt succeeded but was never recorded, and so was attempt 1's
    const job = await stoppedJob(OFFLOADED(), (j) => void (j.execution = { returnAttempts: 2 }));
    snaps.add('snap-attempt-1', { tags: { 'burstgate:job': job.jobId, 'burstgate:return': '1' } });
    snaps.add('snap-attempt-2', {
      state: 'pending',
      tags: { 'burstgate:job': job.jobId, 'burstgate:return': '2' },
    });
    snaps.add('snap-other-job', { tags: { 'burstgate:job': 'another', 'burstgate:return': '2' } });
    snaps.describable();
    // Act
    const out = await awsSnapshotForReturn(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ returnSnapshotId: 'snap-attempt-2' });
    expect(t.fake.ec2.inputsOf(CreateSnapshotCommand)).toEqual([]);
    expect(after.resources.filter((r) => r.type === 'snapshot').map((r) => r.id)).toEqual([
      'snap-base',
      'snap-attempt-1',
      'snap-attempt-2',
    ]);
  });

  it('does not take an errored snapshot of its attempt: it makes another', async () => {
    // Prepare
    const job = await stoppedJob(OFFLOADED());
    snaps.add('snap-errored', {
      state: 'error',
      tags: { 'burstgate:job': job.jobId, 'burstgate:return': '1' },
    });
    snaps.describable().creatable({ 'vol-root': new Map() });
    rootVolumeIs('vol-root');
    // Act
    const out = await awsSnapshotForReturn(t.gw, job.jobId);
    // Assess
    expect(out.returnSnapshotId).not.toBe('snap-errored');
    expect(t.fake.ec2.inputsOf(CreateSnapshotCommand)).toHaveLength(1);
    // the errored one is recorded too, so the cleanup removes it
    expect((await t.gw.store.get(job.jobId)).resources.map((r) => r.id)).toContain('snap-errored');
  });

  it('deletes the snapshot EC2 made while a cancel ran, and the job stays cancelled', async () => {
    // Prepare: DELETE lands while CreateSnapshot is in flight
    const job = await stoppedJob(OFFLOADED());
    snaps.describable().deletable();
    rootVolumeIs('vol-root');
    t.fake.ec2
      .on(CreateSnapshotCommand, async () => {
        await cancelAndRemove(t.gw, job.jobId);
        snaps.add('snap-late', { state: 'pending' }); // its tags are not visible yet
        return { SnapshotId: 'snap-late' };
      })
      .on(DescribeImagesCommand, () => ({ Images: [] }))
      .on(TerminateInstancesCommand, () => ({}))
      .on(DeregisterImageCommand, () => ({}));
    // Act
    const err = await failureOf(awsSnapshotForReturn(t.gw, job.jobId));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect((await t.gw.store.get(job.jobId)).state).toBe('cancelled');
    expect(snaps.snapshots.has('snap-late')).toBe(false);
    expect(t.fake.ec2.inputsOf(DeleteSnapshotCommand).map((i) => i.SnapshotId)).toContain('snap-late');
  });
});

describe('awsCheckReturnSnapshot', () => {
  async function snapshotting(
    state: 'pending' | 'completed' | 'error',
    extra: { message?: string; progress?: string } = {},
  ) {
    const job = await stoppedJob(OFFLOADED(), (j) => {
      j.cloud.returnSnapshotId = 'snap-return';
      j.activeStep = { name: 'snapshot', startedAt: t.gw.now().toISOString() };
    });
    snaps.add('snap-return', { state, ...extra });
    snaps.describable();
    return job;
  }

  it('reports progress while pending, and ends the snapshot step once completed', async () => {
    // Prepare
    const job = await snapshotting('pending', { progress: '40%' });
    // Act
    const pending = await awsCheckReturnSnapshot(t.gw, job.jobId);
    snaps.get('snap-return').state = 'completed';
    const completed = await awsCheckReturnSnapshot(t.gw, job.jobId);
    // Assess
    expect(pending).toEqual({ done: false, state: 'pending', progress: '40%' });
    expect(completed).toEqual({ done: true, state: 'completed' });
    expect((await t.gw.store.get(job.jobId)).steps.at(-1)).toMatchObject({
      name: 'snapshot',
      outcome: 'succeeded',
      detail: 'snap-return',
    });
  });

  it.each([
    [
      'failed',
      () => Object.assign(snaps.get('snap-return'), { state: 'error', message: 'internal error' }),
      'the return snapshot snap-return failed: internal error',
    ],
    [
      'deleted',
      () => snaps.snapshots.delete('snap-return'),
      'the return snapshot snap-return was deleted outside burstgate',
    ],
  ])('fails the return with ExportFailed when the snapshot %s', async (_, change, detail) => {
    // Prepare
    const job = await snapshotting('pending');
    change();
    // Act
    const err = await failureOf(awsCheckReturnSnapshot(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('ExportFailed');
    expect((await t.gw.store.get(job.jobId)).error).toEqual({
      type: 'export-failed',
      title: 'The cloud could not export the VM',
      detail,
      step: 'snapshot',
    });
  });

  it('fails with CloudTimedOut once it has waited longer than maxImportWaitMs', async () => {
    // Prepare
    const job = await snapshotting('pending', { progress: '99%' });
    t.fake.clock.advance(t.gw.config.maxImportWaitMs + 1);
    // Act
    const err = await failureOf(awsCheckReturnSnapshot(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('CloudTimedOut');
    expect((await t.gw.store.get(job.jobId)).error?.detail).toBe(
      `the return snapshot snap-return did not complete within ${t.gw.config.maxImportWaitMs} ms (last: 99%)`,
    );
  });
});

describe('awsPublishChangedBlocks', () => {
  it('publishes the changed blocks as a delta that rebuilds the guest’s disk from the offloaded one', async () => {
    // Prepare
    const [offloaded, guest] = [OFFLOADED(), GUEST()];
    const job = await snapshotted(offloaded, guest);
    // Act
    const out = await awsPublishChangedBlocks(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const { disk, header } = await applied(returned(out.key), offloaded);
    expect(sha256(disk)).toBe(sha256(guest));
    expect(header).toMatchObject({ virtualSize: offloaded.length, baseSha256: sha256(offloaded) });
    // only the changed blocks were read: 2, 5 (now zeros) and 6
    expect(t.fake.ebs.inputsOf(GetSnapshotBlockCommand).map((i) => i.BlockIndex)).toEqual([2, 5, 6]);
    expect(out).toMatchObject({
      key: `returns/${job.jobId}/vm-01-1.bgdelta`,
      full: false,
      matchesOriginal: false,
      diskSha256: sha256(guest),
      changedBytes: 3 * EBS_BLOCK,
      readBytes: 3 * EBS_BLOCK,
    });
    expect(after.returned).toEqual({
      bucket: t.gw.staging.bucket,
      key: out.key,
      format: 'delta',
      sizeBytes: returned(out.key).length,
      sha256: sha256(returned(out.key)),
      diskSha256: sha256(guest),
      baseDiskSha256: sha256(offloaded),
      matchesOriginal: false,
    });
    expect(after.bytes).toMatchObject({ exported: 3 * EBS_BLOCK, changed: 3 * EBS_BLOCK });
    expect(after.resources).toContainEqual(
      expect.objectContaining({ type: 's3-object', id: out.key, retained: true }),
    );
    expect(after.steps.at(-1)).toMatchObject({
      name: 'publish',
      outcome: 'succeeded',
      detail: expect.stringMatching(
        /^delta: 1572864 bytes changed, 1572864 bytes read from EBS, \d+ bytes published; disk content changed/,
      ),
    });
  });

  it('reads the listing page by page', async () => {
    // Prepare
    const [offloaded, guest] = [OFFLOADED(), GUEST()];
    const job = await snapshotted(offloaded, guest);
    snaps.pageSize = 1;
    // Act
    const out = await awsPublishChangedBlocks(t.gw, job.jobId);
    // Assess
    expect(sha256((await applied(returned(out.key), offloaded)).disk)).toBe(sha256(guest));
    expect(t.fake.ebs.inputsOf(ListChangedBlocksCommand).length).toBeGreaterThan(3);
  });

  it('returns an untouched disk as an empty delta that matches the original', async () => {
    // Prepare
    const offloaded = OFFLOADED();
    const job = await snapshotted(offloaded, offloaded);
    // Act
    const out = await awsPublishChangedBlocks(t.gw, job.jobId);
    // Assess
    expect(out).toMatchObject({
      matchesOriginal: true,
      changedBytes: 0,
      readBytes: 0,
      diskSha256: sha256(offloaded),
    });
    expect(t.fake.ebs.inputsOf(GetSnapshotBlockCommand)).toEqual([]);
  });

  it('falls back to a full copy of the return snapshot when the base snapshot is gone', async () => {
    // Prepare
    const [offloaded, guest] = [OFFLOADED(), GUEST()];
    const job = await snapshotted(offloaded, guest);
    snaps.snapshots.delete('snap-base');
    // Act
    const out = await awsPublishChangedBlocks(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const { disk, header } = await applied(returned(out.key));
    expect(sha256(disk)).toBe(sha256(guest));
    expect(header.baseSha256).toBeUndefined(); // it applies to nothing: every byte is in it
    expect(out).toMatchObject({ full: true, diskSha256: sha256(guest), readBytes: 4 * EBS_BLOCK });
    expect(t.fake.ebs.inputsOf(ListChangedBlocksCommand)).toEqual([]);
    expect(t.fake.ebs.inputsOf(ListSnapshotBlocksCommand).length).toBeGreaterThan(0);
    expect(after.returned).not.toHaveProperty('baseDiskSha256');
    expect(after.steps.at(-1)?.detail).toMatch(/^full copy \(no base snapshot\)/);
  });

  describe('of a delta upload (an incremental offload, or a window’s image-cache job)', () => {
    /** The job's staged object is the (empty) delta it was offloaded with: no disk to hash the base from. */
    async function deltaSnapshotted(offloaded: Buffer, guest: Buffer): Promise<Job> {
      const job = await snapshotted(offloaded, guest);
      const writer = new DeltaWriter({
        virtualSize: offloaded.length,
        baseCapacity: offloaded.length,
        baseSha256: sha256(offloaded),
      });
      const delta = Buffer.concat([writer.header(), writer.finish(sha256(offloaded))]);
      t.fake.bucket.put(job.image.key, delta);
      return t.gw.store.update(job.jobId, (j) => {
        j.image.format = 'delta';
        j.image.sizeBytes = delta.length;
        j.image.disk = { offset: 0, size: delta.length, format: 'delta' };
        j.image.delta = {
          indexKey: `staging/${j.jobId}/delta-index.json`,
          baseSha256: sha256(offloaded),
          baseCapacity: offloaded.length,
          extents: 0,
          dataBytes: 0,
          zeroBytes: 0,
        };
      });
    }

    it('hashes the offloaded disk from the base snapshot and publishes the changed blocks', async () => {
      // Prepare
      const [offloaded, guest] = [OFFLOADED(), GUEST()];
      const job = await deltaSnapshotted(offloaded, guest);
      snaps.pageSize = 2;
      // Act
      const out = await awsPublishChangedBlocks(t.gw, job.jobId);
      // Assess
      const { disk, header } = await applied(returned(out.key), offloaded);
      expect(sha256(disk)).toBe(sha256(guest));
      expect(header).toMatchObject({ virtualSize: offloaded.length, baseSha256: sha256(offloaded) });
      expect(out).toMatchObject({
        full: false,
        matchesOriginal: false,
        diskSha256: sha256(guest),
        changedBytes: 3 * EBS_BLOCK,
        readBytes: 3 * EBS_BLOCK,
      });
      const reads = t.fake.ebs.inputsOf(GetSnapshotBlockCommand);
      const of = (id: string) => reads.filter((i) => i.SnapshotId === id).map((i) => i.BlockIndex);
      expect(of('snap-return')).toEqual([2, 5, 6]);
      // the base's blocks the delta does not replace, each once: 0 (2 and 5 are the return's)
      expect(of('snap-base')).toEqual([0]);
    });

    it('returns an untouched disk as an empty delta that matches the original', async () => {
      // Prepare
      const offloaded = OFFLOADED();
      const job = await deltaSnapshotted(offloaded, offloaded);
      // Act
      const out = await awsPublishChangedBlocks(t.gw, job.jobId);
      // Assess
      expect(out).toMatchObject({ full: false, matchesOriginal: true, changedBytes: 0, readBytes: 0 });
      expect(out.diskSha256).toBe(sha256(offloaded));
      expect((await t.gw.store.get(job.jobId)).returned).toMatchObject({
        baseDiskSha256: sha256(offloaded),
        matchesOriginal: true,
      });
    });

    it('falls back to a full copy when the base snapshot is gone, without opening the staged delta', async () => {
      // Prepare
      const [offloaded, guest] = [OFFLOADED(), GUEST()];
      const job = await deltaSnapshotted(offloaded, guest);
      snaps.snapshots.delete('snap-base');
      // Act
      const out = await awsPublishChangedBlocks(t.gw, job.jobId);
      // Assess
      expect(sha256((await applied(returned(out.key))).disk)).toBe(sha256(guest));
      expect(out).toMatchObject({ full: true, diskSha256: sha256(guest) });
    });
  });

  it('refuses a block whose checksum does not match its bytes, and publishes nothing', async () => {
    // Prepare
    const job = await snapshotted(OFFLOADED(), GUEST());
    snaps.damaged.add('snap-return/6');
    // Act
    const err = await failureOf(awsPublishChangedBlocks(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err).toMatchObject({ name: 'ExportFailed', code: 'ChecksumMismatch' });
    expect(after.error).toMatchObject({
      type: 'export-failed',
      detail: expect.stringMatching(
        /GetSnapshotBlock snap-return block 6: the block's SHA-256 is .* but EBS announced/,
      ),
      step: 'publish',
    });
    expect(after.returned).toBeUndefined();
    expect(t.fake.bucket.keys().filter((k) => k.startsWith('returns/'))).toEqual([]);
  });

  it('refuses a listing of blocks of another size than 512 KiB', async () => {
    // Prepare
    const job = await snapshotted(OFFLOADED(), GUEST());
    t.fake.ebs.on(ListChangedBlocksCommand, (input) => ({
      ChangedBlocks: (input.StartingBlockIndex ?? 0) <= 1 ? [{ BlockIndex: 1, SecondBlockToken: 'x' }] : [],
      VolumeSize: 1,
      BlockSize: 4096,
    }));
    // Act
    const err = await failureOf(awsPublishChangedBlocks(t.gw, job.jobId));
    // Assess
    expect(err.message).toBe('EBS lists 4096-byte blocks; expected 524288');
    expect(err.name).toBe('ExportFailed');
  });

  it('leaves a base that vanished during the listing to the workflow’s retry, recording nothing', async () => {
    // Prepare: DescribeSnapshots saw the base; ListChangedBlocks no longer finds it
    const job = await snapshotted(OFFLOADED(), GUEST());
    t.fake.ebs.on(ListChangedBlocksCommand, () => {
      throw awsError('ResourceNotFoundException', 'The snapshot snap-base does not exist', 404);
    });
    // Act
    const err = await failureOf(awsPublishChangedBlocks(t.gw, job.jobId));
    // Assess
    expect(err).toMatchObject({ name: 'CloudUnavailable', code: 'BaseSnapshotGone' });
    expect((await t.gw.store.get(job.jobId)).error).toBeUndefined();
  });

  it('deletes the delta it stored when a cancel ran meanwhile, and the job stays cancelled', async () => {
    // Prepare: DELETE lands while a block is read
    const job = await snapshotted(OFFLOADED(), GUEST());
    snaps.deletable();
    let cancelled = false;
    snaps.onBlockRead = async () => {
      if (cancelled) return;
      cancelled = true;
      await cancelAndRemove(t.gw, job.jobId);
    };
    t.fake.ec2
      .on(DescribeImagesCommand, () => ({ Images: [] }))
      .on(TerminateInstancesCommand, () => ({}))
      .on(DeregisterImageCommand, () => ({}));
    // Act
    const err = await failureOf(awsPublishChangedBlocks(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.code).toBe('JobCancelled');
    expect(after.state).toBe('cancelled');
    expect(after.returned).toBeUndefined();
    expect(t.fake.bucket.keys().filter((k) => k.startsWith('returns/'))).toEqual([]);
  });
});

describe('runExtents', () => {
  type Ref = { index: number; token: string };
  const B = 4;
  async function* runsOf(...runs: Array<{ offset: number; length: number; blocks: number[] }>) {
    for (const r of runs) yield { ...r, blocks: r.blocks.map((index) => ({ index, token: `t${index}` })) };
  }
  const blockOf = (b: Ref) => Buffer.alloc(B, b.index + 1);
  async function laidOut(extents: AsyncIterable<DeltaExtentInput>) {
    const out: Array<{ kind: string; offset: number; length: number; data?: string }> = [];
    for await (const e of extents) {
      if (e.kind === 'zero') out.push(e);
      else {
        const data = Buffer.isBuffer(e.data) ? e.data : await collect(e.data as AsyncIterable<Buffer>);
        out.push({ kind: 'data', offset: e.offset, length: data.length, data: data.toString('hex') });
      }
    }
    return out;
  }

  it('hands the blocks out in order, cutting the last at the run’s end, whatever order the reads finish in', async () => {
    // Prepare: later blocks answer first
    const read = async (b: Ref) => {
      await new Promise((r) => setTimeout(r, 10 - b.index));
      return blockOf(b);
    };
    // Act
    const out = await laidOut(
      runExtents(
        runsOf({ offset: 0, length: 8, blocks: [0, 1] }, { offset: 12, length: 6, blocks: [3, 4] }),
        read,
        {
          blockBytes: B,
          concurrency: 3,
        },
      ),
    );
    // Assess
    expect(out).toEqual([
      { kind: 'data', offset: 0, length: 8, data: '0101010102020202' },
      { kind: 'data', offset: 12, length: 6, data: '040404040505' },
    ]);
  });

  it('fills the gaps and the tail with zero extents for a full copy', async () => {
    // Act
    const out = await laidOut(
      runExtents(runsOf({ offset: 4, length: 4, blocks: [1] }), async (b) => blockOf(b), {
        blockBytes: B,
        concurrency: 2,
        fullSize: 16,
      }),
    );
    // Assess
    expect(out).toEqual([
      { kind: 'zero', offset: 0, length: 4 },
      { kind: 'data', offset: 4, length: 4, data: '02020202' },
      { kind: 'zero', offset: 8, length: 8 },
    ]);
  });

  it('keeps at most `concurrency` reads in flight', async () => {
    // Prepare
    let inFlight = 0;
    let most = 0;
    const read = async (b: Ref) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return blockOf(b);
    };
    const blocks = Array.from({ length: 20 }, (_, i) => i);
    // Act
    await laidOut(
      runExtents(
        runsOf(
          { offset: 0, length: 40, blocks: blocks.slice(0, 10) },
          { offset: 40, length: 40, blocks: blocks.slice(10) },
        ),
        read,
        {
          blockBytes: B,
          concurrency: 3,
        },
      ),
    );
    // Assess
    expect(most).toBe(3);
  });

  it('passes a failed read on to whoever consumes the extent', async () => {
    // Prepare
    const read = async (b: Ref) => {
      if (b.index === 1) throw new Error('block 1 is damaged');
      return blockOf(b);
    };
    // Act
    const err = await laidOut(
      runExtents(runsOf({ offset: 0, length: 8, blocks: [0, 1] }), read, { blockBytes: B, concurrency: 2 }),
    ).catch((e: Error) => e);
    // Assess
    expect(err).toMatchObject({ message: 'block 1 is damaged' });
  });
});
