/**
 * The AWS direct offload (shared/domain/workflow/aws-direct.ts) on a gateway over in-memory fakes:
 * the plan PrepareSnapshot makes and the snapshot it starts, the blocks PutBlocks puts (and those it
 * does not), what FinishSnapshot seals and counts, CheckSnapshot's wait, RegisterImage's AMI, and
 * what a cancel leaves.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CompleteSnapshotCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DeregisterImageCommand, DescribeImagesCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { planRanges } from '../../../shared/images/upload-plan';
import { blockManifestKey, rangeManifestKey } from '../../../shared/domain/aws-direct-manifest';
import { cancelAndRemove } from '../../helpers/cancel';
import {
  awsCheckSnapshot,
  awsFinishSnapshot,
  awsPrepareSnapshot,
  awsPutBlocks,
  awsRegisterImage,
  ebsChunkBytes,
  type PutBlocksResult,
} from '../../../shared/domain/workflow/aws-direct';
import { MAX_UPLOAD_RANGES } from '../../../shared/domain/workflow/step-kit';
import { awsError } from '../../helpers/fake-deps';
import { fakeSnapshots, type FakeSnapshots } from '../../helpers/fake-snapshots';
import {
  EBS_BLOCK,
  blocksDisk,
  cacheHolds,
  contentOf,
  directJob,
  manifestOf,
  nonZeroBlocks,
} from './ebs-fixtures';
import { MiB, REGION, failureOf, sha256, stepTest, type StepTest } from './fixtures';

// Disks are compared by SHA-256: a deep equality of megabytes of Buffer takes seconds.

const GiB = 1024 * MiB;

let t: StepTest;
let snaps: FakeSnapshots;
beforeEach(() => {
  // 1 MiB ranges: a 4 MiB disk (8 blocks) is planned as 4 ranges of 2 blocks
  t = stepTest({ config: { ebsUploadChunkBytes: MiB } });
  snaps = fakeSnapshots(t.fake);
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

/** Blocks 0, 2 and 5 of 8 hold data. */
const DISK = () => blocksDisk(8, { 0: 1, 2: 2, 5: 3 });

/** Every PutBlocks item of the plan, in order, as the Map state runs them. */
async function putEveryRange(
  jobId: string,
  ranges: Array<{ index: number; offset: number; length: number }>,
) {
  const results: PutBlocksResult[] = [];
  for (const range of ranges) results.push(await awsPutBlocks(t.gw, jobId, range));
  return results;
}

const putIndices = () => t.fake.ebs.inputsOf(PutSnapshotBlockCommand).map((i) => i.BlockIndex);

describe('ebsChunkBytes', () => {
  it('keeps the configured chunk while the disk needs at most MAX_UPLOAD_RANGES ranges', () => {
    // Act + Assess
    expect(ebsChunkBytes(1024 * MiB, 100 * GiB)).toBe(1024 * MiB);
    expect(ebsChunkBytes(MiB, MAX_UPLOAD_RANGES * MiB)).toBe(MiB);
  });

  it('grows the chunk, in whole blocks, so that a large disk needs no more than MAX_UPLOAD_RANGES ranges', () => {
    // Prepare
    const capacity = 16 * 1024 * GiB + 12345;
    // Act
    const chunk = ebsChunkBytes(MiB, capacity);
    // Assess
    expect(chunk % EBS_BLOCK).toBe(0);
    expect(planRanges(capacity, chunk, EBS_BLOCK).length).toBeLessThanOrEqual(MAX_UPLOAD_RANGES);
    expect(Math.ceil(capacity / (chunk - EBS_BLOCK))).toBeGreaterThan(MAX_UPLOAD_RANGES); // the smallest such
  });
});

describe('awsPrepareSnapshot', () => {
  it('starts a new snapshot for a VM the cache does not hold, and plans ranges of the configured chunk', async () => {
    // Prepare
    const disk = DISK();
    const job = await directJob(t, disk);
    snaps.startable();
    // Act
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const snapshotId = [...snaps.snapshots.keys()][0]!;
    expect(plan).toEqual({
      upload: true,
      snapshotId,
      outcome: 'full',
      chunkBytes: MiB,
      ranges: [0, 1, 2, 3].map((index) => ({ index, offset: index * MiB, length: MiB })),
    });
    expect(t.fake.ebs.inputsOf(StartSnapshotCommand)).toEqual([
      expect.objectContaining({
        VolumeSize: 1,
        ClientToken: `${job.jobId}-offload`, // a retry after a lost answer gets the same snapshot
        Tags: expect.arrayContaining([{ Key: 'burstgate:job', Value: job.jobId }]),
      }),
    ]);
    expect(t.fake.ebs.inputsOf(StartSnapshotCommand)[0]).not.toHaveProperty('ParentSnapshotId');
    expect(after.state).toBe('importing');
    expect(after.activeStep?.name).toBe('snapshot-upload');
    expect(after.cloud).toMatchObject({
      imageCache: { outcome: 'full' },
      baseSnapshotId: snapshotId,
      snapshotIds: [snapshotId],
      uploadChunkBytes: MiB,
    });
    expect(after.resources.filter((r) => r.type === 'snapshot')).toEqual([
      expect.objectContaining({ id: snapshotId, location: REGION }),
    ]);
    expect(after.bytes.allocated).toBe(disk.length);
  });

  it('starts a child of the cached snapshot when the VM’s content changed', async () => {
    // Prepare
    const entry = await cacheHolds(t, snaps, blocksDisk(8, { 0: 1, 2: 9 }));
    const job = await directJob(t, DISK());
    snaps.describable().startable();
    // Act
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Assess
    expect(plan.outcome).toBe('incremental');
    expect(t.fake.ebs.inputsOf(StartSnapshotCommand)[0]).toMatchObject({ ParentSnapshotId: 'snap-cached' });
    expect((await t.gw.store.get(job.jobId)).cloud.imageCache).toEqual({
      outcome: 'incremental',
      snapshotId: 'snap-cached',
      manifestKey: entry.manifestKey,
      fromJobId: entry.jobId,
    });
  });

  it.each([
    ['deleted outside burstgate', (s: FakeSnapshots) => s.snapshots.delete('snap-cached')],
    ['in the error state', (s: FakeSnapshots) => void (s.get('snap-cached').state = 'error')],
    [
      'of a larger volume than the new disk needs',
      (s: FakeSnapshots) => void (s.get('snap-cached').volumeSizeGiB = 2),
    ],
  ])('starts a new snapshot, no child, when the cached one is %s', async (_, change) => {
    // Prepare
    await cacheHolds(t, snaps, blocksDisk(8, { 0: 1, 2: 9 }));
    change(snaps);
    const job = await directJob(t, DISK());
    snaps.describable().startable();
    // Act
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Assess
    expect(plan.outcome).toBe('full');
    expect(t.fake.ebs.inputsOf(StartSnapshotCommand)[0]).not.toHaveProperty('ParentSnapshotId');
  });

  it('reuses the cached snapshot and AMI of identical content: nothing is started or uploaded', async () => {
    // Prepare
    const disk = DISK();
    const entry = await cacheHolds(t, snaps, disk, { amiId: 'ami-cached' });
    const job = await directJob(t, disk);
    snaps.describable();
    t.fake.ec2.on(DescribeImagesCommand, () => ({
      Images: [{ ImageId: 'ami-cached', State: 'available' as const }],
    }));
    // Act
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    const registered = await awsRegisterImage(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(plan).toEqual({
      upload: false,
      snapshotId: 'snap-cached',
      ranges: [],
      chunkBytes: MiB,
      outcome: 'reused',
    });
    expect(registered).toEqual({ amiId: 'ami-cached' });
    expect(t.fake.ebs.calls).toEqual([]);
    expect(t.fake.ec2.inputsOf(RegisterImageCommand)).toEqual([]);
    // the cache owns them: a job's cleanup must never remove them
    expect(after.resources.filter((r) => r.type !== 's3-object')).toEqual([
      expect.objectContaining({ type: 'snapshot', id: 'snap-cached', retained: true, imageCache: true }),
      expect.objectContaining({ type: 'ami', id: 'ami-cached', retained: true, imageCache: true }),
    ]);
    expect(after.bytes).toMatchObject({ blocksUploaded: 0, blocksSkipped: entry.blocks, ebsBytesWritten: 0 });
    expect(after.steps.at(-1)).toMatchObject({
      name: 'snapshot-upload',
      outcome: 'succeeded',
      detail: expect.stringMatching(/snap-cached reused with AMI ami-cached; nothing uploaded/),
    });
  });

  it('never reuses on a hash a delta claimed: identical content by that claim makes a child of the cached snapshot', async () => {
    // Prepare: the entry's hash is the disk's, but a delta's trailer said so (the gateway did not measure it)
    const disk = DISK();
    await cacheHolds(t, snaps, disk, { amiId: 'ami-cached', measured: false });
    const job = await directJob(t, disk);
    snaps.describable().startable();
    // Act
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Assess: a child whose blocks are compared with the gateway's own manifest, not a reuse
    expect(plan.outcome).toBe('incremental');
    expect(plan.upload).toBe(true);
    expect(t.fake.ebs.inputsOf(StartSnapshotCommand)[0]).toMatchObject({ ParentSnapshotId: 'snap-cached' });
    expect((await t.gw.store.get(job.jobId)).cloud.imageCache).toMatchObject({ outcome: 'incremental' });
  });

  it('reuses the cached snapshot whose AMI is gone, and RegisterImage registers it again', async () => {
    // Prepare
    const disk = DISK();
    await cacheHolds(t, snaps, disk, { amiId: 'ami-deregistered' });
    const job = await directJob(t, disk);
    snaps.describable();
    t.fake.ec2
      .on(DescribeImagesCommand, () => {
        throw awsError('InvalidAMIID.NotFound', "The image id '[ami-deregistered]' does not exist");
      })
      .on(RegisterImageCommand, () => ({ ImageId: 'ami-new' }));
    // Act
    await awsPrepareSnapshot(t.gw, job.jobId);
    const registered = await awsRegisterImage(t.gw, job.jobId);
    // Assess
    expect(registered).toEqual({ amiId: 'ami-new' });
    expect(t.fake.ec2.inputsOf(RegisterImageCommand)[0]?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId).toBe(
      'snap-cached',
    );
  });

  it('returns the recorded snapshot on a retry without asking EBS again', async () => {
    // Prepare
    const job = await directJob(t, DISK());
    snaps.startable();
    const first = await awsPrepareSnapshot(t.gw, job.jobId);
    // Act
    const again = await awsPrepareSnapshot(t.gw, job.jobId);
    // Assess
    expect(again).toEqual(first);
    expect(t.fake.ebs.inputsOf(StartSnapshotCommand)).toHaveLength(1);
  });

  it('creates nothing for a cancelled job', async () => {
    // Prepare
    const job = await directJob(t, DISK(), (j) => void (j.state = 'cancelled'));
    // Act
    const err = await failureOf(awsPrepareSnapshot(t.gw, job.jobId));
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'JobCancelled' });
    expect(t.fake.ebs.calls).toEqual([]);
  });

  it('deletes the snapshot EBS started while a cancel ran, and the job stays cancelled', async () => {
    // Prepare: DELETE lands while StartSnapshot is in flight
    const job = await directJob(t, DISK());
    snaps.describable().deletable();
    t.fake.ec2.on(DescribeImagesCommand, () => ({ Images: [] }));
    let started: string | undefined;
    t.fake.ebs.on(StartSnapshotCommand, async () => {
      await cancelAndRemove(t.gw, job.jobId);
      started = snaps.add('snap-during-cancel', {
        state: 'pending',
        tags: { 'burstgate:job': job.jobId },
      }).id;
      return { SnapshotId: started, Status: 'pending' as const };
    });
    // Act
    const err = await failureOf(awsPrepareSnapshot(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.code).toBe('JobCancelled');
    expect(after.state).toBe('cancelled');
    expect(snaps.snapshots.has(started!)).toBe(false);
    expect(after.resources.filter((r) => !r.removedAt && r.type === 'snapshot')).toEqual([]);
  });

  it('fails a delta job whose base the cache no longer holds, and starts nothing', async () => {
    // Prepare: the delta was made against content the cache replaced since
    await cacheHolds(t, snaps, blocksDisk(8, { 0: 1, 2: 9 }));
    const job = await directJob(t, DISK(), (j) => {
      j.image.delta = {
        indexKey: 'staging/x/delta-index.json',
        baseSha256: 'f'.repeat(64),
        baseCapacity: 8 * EBS_BLOCK,
        extents: 1,
        dataBytes: EBS_BLOCK,
        zeroBytes: 0,
      };
    });
    snaps.describable();
    // Act
    const err = await failureOf(awsPrepareSnapshot(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'DeltaBaseGone' });
    expect(after.error?.detail).toMatch(/it changed meanwhile.*; upload the whole image$/);
    expect(t.fake.ebs.calls).toEqual([]);
  });
});

describe('awsPutBlocks', () => {
  it('puts the non-zero blocks of its range with their SHA-256, and none of the zero ones', async () => {
    // Prepare
    const disk = DISK();
    const job = await directJob(t, disk);
    snaps.startable().acceptsBlocks();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Act: range 1 covers blocks 2 and 3; range 3 blocks 6 and 7
    const withData = await awsPutBlocks(t.gw, job.jobId, plan.ranges[1]!);
    const empty = await awsPutBlocks(t.gw, job.jobId, plan.ranges[3]!);
    // Assess (the fake refuses a block whose Checksum is not its SHA-256)
    expect(withData).toEqual({ index: 1, blocksPut: 1, blocksSkipped: 0, zeroBlocksPut: 0 });
    expect(empty).toEqual({ index: 3, blocksPut: 0, blocksSkipped: 0, zeroBlocksPut: 0 });
    expect(putIndices()).toEqual([2]);
    expect(sha256(snaps.get(plan.snapshotId).blocks.get(2)!)).toBe(sha256(nonZeroBlocks(disk).get(2)!));
  });

  it('writes its range’s block hashes to S3 for FinishSnapshot, not into the Map result', async () => {
    // Prepare
    const disk = DISK();
    const job = await directJob(t, disk);
    snaps.startable().acceptsBlocks();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Act
    await awsPutBlocks(t.gw, job.jobId, plan.ranges[1]!);
    // Assess
    const part = JSON.parse(t.fake.bucket.get(rangeManifestKey(job.jobId, 1))!.toString()) as unknown;
    expect(part).toEqual({ ...manifestOf(disk), blocks: { 2: manifestOf(disk).blocks[2] } });
  });

  it('on a child puts only blocks whose SHA-256 differs from the parent’s, and zeroes those that became zero', async () => {
    // Prepare: block 0 and 5 unchanged, 2 changed, 3 zero now, 6 new
    const before = blocksDisk(8, { 0: 1, 2: 2, 3: 4, 5: 3 });
    const now = blocksDisk(8, { 0: 1, 2: 7, 5: 3, 6: 8 });
    await cacheHolds(t, snaps, before);
    const job = await directJob(t, now);
    snaps.describable().startable().acceptsBlocks();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Act
    const results = await putEveryRange(job.jobId, plan.ranges);
    // Assess
    expect(putIndices()).toEqual([2, 3, 6]);
    expect(
      sha256(Buffer.from(t.fake.ebs.inputsOf(PutSnapshotBlockCommand)[1]!.BlockData as Uint8Array)),
    ).toBe(sha256(Buffer.alloc(EBS_BLOCK)));
    expect(results).toEqual([
      { index: 0, blocksPut: 0, blocksSkipped: 1, zeroBlocksPut: 0 },
      { index: 1, blocksPut: 1, blocksSkipped: 0, zeroBlocksPut: 1 },
      { index: 2, blocksPut: 0, blocksSkipped: 1, zeroBlocksPut: 0 },
      { index: 3, blocksPut: 1, blocksSkipped: 0, zeroBlocksPut: 0 },
    ]);
    expect(sha256(contentOf(snaps.get(plan.snapshotId), now.length))).toBe(sha256(now));
  });

  it('on a child of a larger disk zeroes, in the last range, the parent’s blocks past the new end', async () => {
    // Prepare: 8 blocks before (block 7 holds data), 6 now (same GiB volume)
    const before = blocksDisk(8, { 0: 1, 2: 2, 7: 5 });
    const now = blocksDisk(6, { 0: 1, 2: 2 });
    await cacheHolds(t, snaps, before);
    const job = await directJob(t, now);
    snaps.describable().startable().acceptsBlocks();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    // Act
    const results = await putEveryRange(job.jobId, plan.ranges);
    // Assess
    expect(plan.ranges.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(results.at(-1)).toEqual({ index: 2, blocksPut: 0, blocksSkipped: 0, zeroBlocksPut: 1 });
    expect(putIndices()).toEqual([7]);
    expect(sha256(contentOf(snaps.get(plan.snapshotId), 8 * EBS_BLOCK))).toBe(
      sha256(Buffer.concat([now, Buffer.alloc(2 * EBS_BLOCK)])),
    );
  });

  it('puts nothing for a cancelled job', async () => {
    // Prepare
    const job = await directJob(t, DISK());
    snaps.startable();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    await t.gw.store.update(job.jobId, (j) => void (j.state = 'cancelling'));
    // Act
    const err = await failureOf(awsPutBlocks(t.gw, job.jobId, plan.ranges[0]!));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect(putIndices()).toEqual([]);
  });
});

describe('awsFinishSnapshot', () => {
  /** A full upload of DISK through PutBlocks, ready for FinishSnapshot. */
  async function uploaded() {
    const disk = DISK();
    const job = await directJob(t, disk);
    snaps.startable().acceptsBlocks().completable();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    const results = await putEveryRange(job.jobId, plan.ranges);
    return { disk, job, plan, results };
  }

  it('stores the merged manifest, completes the snapshot with the blocks written, and counts them', async () => {
    // Prepare
    const { disk, job, plan, results } = await uploaded();
    // Act
    const out = await awsFinishSnapshot(t.gw, job.jobId, [...results].reverse());
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const key = blockManifestKey(job.jobId);
    expect(out).toEqual({ changedBlocksCount: 3, blocks: 3, manifestKey: key });
    expect(JSON.parse(t.fake.bucket.get(key)!.toString())).toEqual(manifestOf(disk));
    expect(snaps.get(plan.snapshotId).changedBlocksCount).toBe(snaps.get(plan.snapshotId).written.size);
    expect(t.fake.bucket.keys().filter((k) => k.includes('/block-manifest/'))).toEqual([]); // parts deleted
    expect(after.cloud.blockManifestKey).toBe(key);
    expect(after.resources).toContainEqual(expect.objectContaining({ type: 's3-object', id: key }));
    expect(after.bytes).toMatchObject({
      blocksUploaded: 3,
      blocksSkipped: 0,
      ebsBytesWritten: 3 * EBS_BLOCK,
      imported: 3 * EBS_BLOCK,
    });
  });

  it('counts a child’s zeroed blocks as written, and its skipped ones apart', async () => {
    // Prepare
    await cacheHolds(t, snaps, blocksDisk(8, { 0: 1, 2: 2, 3: 4, 5: 3 }));
    const job = await directJob(t, blocksDisk(8, { 0: 1, 2: 7, 5: 3, 6: 8 }));
    snaps.describable().startable().acceptsBlocks().completable();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    const results = await putEveryRange(job.jobId, plan.ranges);
    // Act
    const out = await awsFinishSnapshot(t.gw, job.jobId, results);
    // Assess: EBS seals a child only when ChangedBlocksCount is every block put, zeros included
    expect(out.changedBlocksCount).toBe(3);
    expect(snaps.get(plan.snapshotId).changedBlocksCount).toBe(snaps.get(plan.snapshotId).written.size);
    expect((await t.gw.store.get(job.jobId)).bytes).toMatchObject({ blocksUploaded: 3, blocksSkipped: 2 });
  });

  it('a retry after the manifest was stored and EBS refuses a second CompleteSnapshot of a completed snapshot succeeds', async () => {
    // Prepare
    const { job, plan, results } = await uploaded();
    const first = await awsFinishSnapshot(t.gw, job.jobId, results);
    snaps.get(plan.snapshotId).state = 'completed';
    snaps.describable();
    t.fake.ebs.on(CompleteSnapshotCommand, () => {
      throw awsError('ValidationException', 'The snapshot is not in the pending state');
    });
    // Act
    const again = await awsFinishSnapshot(t.gw, job.jobId, results);
    // Assess
    expect(again).toEqual(first);
    expect((await t.gw.store.get(job.jobId)).error).toBeUndefined();
  });

  it('records EBS’s refusal of CompleteSnapshot when the snapshot is not completed', async () => {
    // Prepare
    const { job, results } = await uploaded();
    snaps.describable();
    t.fake.ebs.on(CompleteSnapshotCommand, () => {
      throw awsError('ValidationException', 'ChangedBlocksCount does not match');
    });
    // Act
    const err = await failureOf(awsFinishSnapshot(t.gw, job.jobId, results));
    // Assess
    expect(err.name).toBe('CloudRejected');
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      type: 'cloud-rejected',
      detail: 'CompleteSnapshot: ValidationException: ChangedBlocksCount does not match',
      step: 'snapshot-upload',
    });
  });

  it.each([
    ['one range missing', (r: PutBlocksResult[]) => r.filter((x) => x.index !== 2)],
    ['one range twice', (r: PutBlocksResult[]) => [...r, r[0]!]],
    ['no range', () => []],
  ])('refuses Map results that do not cover the plan (%s), and completes nothing', async (_, change) => {
    // Prepare
    const { job, results } = await uploaded();
    // Act
    const err = await failureOf(awsFinishSnapshot(t.gw, job.jobId, change(results)));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'IncompleteUpload' });
    expect(after.error?.detail).toMatch(/the plan has 4 ranges/);
    expect(t.fake.ebs.inputsOf(CompleteSnapshotCommand)).toEqual([]);
    expect(t.fake.bucket.get(blockManifestKey(job.jobId))).toBeUndefined();
  });
});

describe('awsCheckSnapshot', () => {
  async function finished() {
    const job = await directJob(t, DISK());
    snaps.startable().acceptsBlocks().completable().describable();
    const plan = await awsPrepareSnapshot(t.gw, job.jobId);
    await awsFinishSnapshot(t.gw, job.jobId, await putEveryRange(job.jobId, plan.ranges));
    return { job, snapshot: snaps.get(plan.snapshotId) };
  }

  it('waits while the snapshot is pending, then ends the upload step with what was put', async () => {
    // Prepare
    const { job, snapshot } = await finished();
    // Act
    const pending = await awsCheckSnapshot(t.gw, job.jobId);
    snapshot.state = 'completed';
    const completed = await awsCheckSnapshot(t.gw, job.jobId);
    // Assess
    expect(pending).toEqual({ done: false, state: 'pending' });
    expect(completed).toEqual({ done: true, state: 'completed' });
    expect((await t.gw.store.get(job.jobId)).steps.at(-1)).toMatchObject({
      name: 'snapshot-upload',
      outcome: 'succeeded',
      detail: `${snapshot.id}: 3 block(s) put (${3 * EBS_BLOCK} bytes), 0 skipped as unchanged; ${8 * EBS_BLOCK} bytes allocated in the source; full upload`,
    });
  });

  it.each([
    ['error', 'snap: the snapshot failed', /failed: snap: the snapshot failed$/],
    ['deleted', undefined, /no longer exists: it was deleted outside burstgate$/],
  ])('fails the step when the snapshot is %s, with EBS’s reason', async (what, message, detail) => {
    // Prepare
    const { job, snapshot } = await finished();
    if (what === 'error') Object.assign(snapshot, { state: 'error', message });
    else snaps.snapshots.delete(snapshot.id);
    // Act
    const err = await failureOf(awsCheckSnapshot(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('CloudRejected');
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      type: 'cloud-rejected',
      detail: expect.stringMatching(detail),
      step: 'snapshot-upload',
    });
  });

  it('fails with CloudTimedOut once the upload step has waited longer than maxImportWaitMs', async () => {
    // Prepare
    const { job, snapshot } = await finished();
    const limit = t.gw.config.maxImportWaitMs;
    // Act
    t.fake.clock.advance(limit);
    const within = await awsCheckSnapshot(t.gw, job.jobId);
    t.fake.clock.advance(1);
    const err = await failureOf(awsCheckSnapshot(t.gw, job.jobId));
    // Assess
    expect(within.done).toBe(false);
    expect(err.name).toBe('CloudTimedOut');
    expect((await t.gw.store.get(job.jobId)).error?.detail).toBe(
      `snapshot ${snapshot.id} was not completed within ${limit} ms (last: pending)`,
    );
  });
});

describe('awsRegisterImage', () => {
  async function sealed(firmware?: 'bios' | 'efi') {
    const job = await directJob(t, DISK(), (j) => {
      if (firmware) j.hardware = { vcpus: 2, memoryMiB: 2048, firmware, disks: [], nics: [] };
    });
    snaps.startable();
    await awsPrepareSnapshot(t.gw, job.jobId);
    return t.gw.store.get(job.jobId);
  }

  it.each([
    ['efi', 'uefi'],
    ['bios', 'legacy-bios'],
    [undefined, 'legacy-bios'],
  ] as const)(
    'registers an ENA HVM AMI from the snapshot, firmware %s booting %s',
    async (firmware, bootMode) => {
      // Prepare
      const job = await sealed(firmware);
      t.fake.ec2.on(RegisterImageCommand, () => ({ ImageId: 'ami-0new' }));
      // Act
      const out = await awsRegisterImage(t.gw, job.jobId);
      // Assess
      const after = await t.gw.store.get(job.jobId);
      expect(out).toEqual({ amiId: 'ami-0new' });
      expect(t.fake.ec2.inputsOf(RegisterImageCommand)).toEqual([
        expect.objectContaining({
          Name: `burstgate-${job.jobId}`,
          BootMode: bootMode,
          Architecture: 'x86_64',
          VirtualizationType: 'hvm',
          EnaSupport: true,
          RootDeviceName: '/dev/xvda',
          BlockDeviceMappings: [
            {
              DeviceName: '/dev/xvda',
              Ebs: {
                SnapshotId: job.cloud.baseSnapshotId,
                VolumeSize: 1,
                VolumeType: 'gp3',
                DeleteOnTermination: true,
              },
            },
          ],
        }),
      ]);
      expect(after.cloud.amiId).toBe('ami-0new');
      expect(after.resources).toContainEqual(
        expect.objectContaining({ type: 'ami', id: 'ami-0new', location: REGION }),
      );
      expect(after.steps.at(-1)).toMatchObject({ name: 'register-image', outcome: 'succeeded' });
    },
  );

  it('a retry whose first try registered the name takes that AMI', async () => {
    // Prepare: the first try's RegisterImage succeeded but its answer was lost
    const job = await sealed();
    t.fake.ec2
      .on(RegisterImageCommand, (input) => {
        throw awsError(
          'InvalidAMIName.Duplicate',
          `AMI name ${input.Name} is already in use by AMI ami-0first`,
        );
      })
      .on(DescribeImagesCommand, () => ({ Images: [{ ImageId: 'ami-0first' }] }));
    // Act
    const out = await awsRegisterImage(t.gw, job.jobId);
    // Assess
    expect(out).toEqual({ amiId: 'ami-0first' });
    expect(t.fake.ec2.inputsOf(DescribeImagesCommand)).toEqual([
      { Owners: ['self'], Filters: [{ Name: 'name', Values: [`burstgate-${job.jobId}`] }] },
    ]);
  });

  it('deregisters the AMI EC2 registered while a cancel ran, and the job stays cancelled', async () => {
    // Prepare
    const job = await sealed();
    snaps.describable().deletable();
    const images = new Set<string>();
    t.fake.ec2
      .on(RegisterImageCommand, async () => {
        await cancelAndRemove(t.gw, job.jobId);
        images.add('ami-0late');
        return { ImageId: 'ami-0late' };
      })
      .on(DescribeImagesCommand, () => ({ Images: [...images].map((ImageId) => ({ ImageId })) }))
      .on(DeregisterImageCommand, (input) => {
        images.delete(input.ImageId ?? '');
        return {};
      });
    // Act
    const err = await failureOf(awsRegisterImage(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.code).toBe('JobCancelled');
    expect(after.state).toBe('cancelled');
    expect(images.size).toBe(0);
    expect(after.resources.filter((r) => !r.removedAt && r.type !== 's3-object')).toEqual([]);
  });
});
