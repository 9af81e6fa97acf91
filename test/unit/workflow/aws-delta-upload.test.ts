/**
 * Incremental uploads of the AWS direct path (shared/domain/workflow/aws-delta-upload.ts), on a
 * gateway over in-memory fakes: inspect checks a delta against the cached image and indexes it, and
 * PutBlocks applies it to a child of the cached snapshot, so the child holds the new disk.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PutSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { blockManifestKey } from '../../../shared/domain/aws-direct-manifest';
import { deltaIndexKey } from '../../../shared/domain/workflow/aws-delta-upload';
import {
  awsFinishSnapshot,
  awsPrepareSnapshot,
  awsPutBlocks,
  type PutBlocksResult,
} from '../../../shared/domain/workflow/aws-direct';
import { inspectImage } from '../../../shared/domain/workflow/inspect';
import { writeDelta, type DeltaExtentInput } from '../../../shared/images/delta-writer';
import { fakeSnapshots, type FakeSnapshots } from '../../helpers/fake-snapshots';
import { DIRECT, EBS_BLOCK, blocksDisk, cacheHolds, contentOf, manifestOf } from './ebs-fixtures';
import { collect } from '../../helpers/bytes';
import { MiB, failureOf, sha256, stagedJob, stepTest, type StepTest } from './fixtures';

let t: StepTest;
let snaps: FakeSnapshots;
beforeEach(() => {
  t = stepTest({ config: { ebsUploadChunkBytes: MiB } });
  snaps = fakeSnapshots(t.fake);
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

/** The cached disk: blocks 0, 2, 3 and 5 hold data. */
const BEFORE = () => blocksDisk(8, { 0: 1, 2: 2, 3: 4, 5: 3 });
/** The VM's disk now: 2 changed, 3 zeroed, 6 written; 0 and 5 as they were. */
const NOW = () => blocksDisk(8, { 0: 1, 2: 7, 5: 3, 6: 8 });

const block = (disk: Buffer, index: number) => disk.subarray(index * EBS_BLOCK, (index + 1) * EBS_BLOCK);

/** A delta from `before` to `now` with these extents (block indices), as the client writes one. */
function deltaOf(
  before: Buffer,
  now: Buffer,
  extents: Array<{ data: number } | { zero: number; blocks?: number }>,
): Promise<Buffer> {
  const inputs: DeltaExtentInput[] = extents.map((e) =>
    'data' in e
      ? { kind: 'data', offset: e.data * EBS_BLOCK, data: block(now, e.data) }
      : { kind: 'zero', offset: e.zero * EBS_BLOCK, length: (e.blocks ?? 1) * EBS_BLOCK },
  );
  return collect(
    writeDelta(
      {
        virtualSize: now.length,
        baseCapacity: before.length,
        baseSha256: sha256(before),
        resultSha256: sha256(now),
      },
      inputs,
    ),
  );
}

/** A delta job staged and inspected against the cache, its child snapshot started. */
async function preparedDeltaJob(delta: Buffer) {
  const job = await stagedJob(t, delta, { format: 'delta', target: DIRECT });
  await inspectImage(t.gw, job.jobId);
  snaps.describable().startable().acceptsBlocks().completable();
  const plan = await awsPrepareSnapshot(t.gw, job.jobId);
  return { job, plan };
}

async function putEveryRange(
  jobId: string,
  ranges: Array<{ index: number; offset: number; length: number }>,
) {
  const results: PutBlocksResult[] = [];
  for (const range of ranges) results.push(await awsPutBlocks(t.gw, jobId, range));
  return results;
}

describe('inspect of a delta', () => {
  it('records the delta against the cached image and stores its extent index for PutBlocks', async () => {
    // Prepare
    const before = BEFORE();
    const now = NOW();
    await cacheHolds(t, snaps, before);
    const delta = await deltaOf(before, now, [{ data: 2 }, { zero: 3 }, { data: 6 }]);
    const job = await stagedJob(t, delta, { format: 'delta', target: DIRECT });
    // Act
    await inspectImage(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.image).toMatchObject({
      diskSha256: sha256(now),
      diskCapacityBytes: now.length,
      partitionTable: 'mbr', // the cached image's: the delta does not carry block 0
      delta: {
        indexKey: deltaIndexKey(job.jobId),
        baseSha256: sha256(before),
        baseCapacity: before.length,
        extents: 3,
        dataBytes: 2 * EBS_BLOCK,
        zeroBytes: EBS_BLOCK,
      },
    });
    const index = JSON.parse(t.fake.bucket.get(deltaIndexKey(job.jobId))!.toString()) as {
      extents: Array<[number, number, number]>;
    };
    // [disk offset, length, where the data starts in the file (-1: zeros)]
    expect(
      index.extents.map(([offset, length, at]) => [offset / EBS_BLOCK, length / EBS_BLOCK, at >= 0]),
    ).toEqual([
      [2, 1, true],
      [3, 1, false],
      [6, 1, true],
    ]);
    const [, , at] = index.extents[0]!;
    expect(sha256(delta.subarray(at, at + EBS_BLOCK))).toBe(sha256(block(now, 2)));
  });

  it('rejects a delta made against other content than the cached image', async () => {
    // Prepare
    await cacheHolds(t, snaps, BEFORE());
    const delta = await deltaOf(blocksDisk(8, { 0: 1 }), NOW(), [{ data: 2 }]);
    const job = await stagedJob(t, delta, { format: 'delta', target: DIRECT });
    // Act
    const err = await failureOf(inspectImage(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('ImageRejected');
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      title: 'The delta does not fit the cached image',
      detail: expect.stringMatching(/it changed meanwhile: run the incremental offload again/),
    });
  });

  it('rejects a delta whose extent does not cover whole 512 KiB blocks', async () => {
    // Prepare
    const before = BEFORE();
    const now = NOW();
    await cacheHolds(t, snaps, before);
    const delta = await collect(
      writeDelta(
        {
          virtualSize: now.length,
          baseCapacity: before.length,
          baseSha256: sha256(before),
          resultSha256: sha256(now),
        },
        [{ kind: 'data', offset: 2 * EBS_BLOCK, data: now.subarray(2 * EBS_BLOCK, 2 * EBS_BLOCK + 4096) }],
      ),
    );
    const job = await stagedJob(t, delta, { format: 'delta', target: DIRECT });
    // Act
    const err = await failureOf(inspectImage(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('ImageRejected');
    expect((await t.gw.store.get(job.jobId)).error?.detail).toMatch(
      `the delta's extent at ${2 * EBS_BLOCK} (4096 bytes) does not cover whole ${EBS_BLOCK}-byte blocks`,
    );
  });
});

describe('PutBlocks of a delta', () => {
  it('puts the delta’s changed blocks onto the parent, zeroes what it zeroes, and skips what the parent holds', async () => {
    // Prepare: block 5 is carried although the parent holds it; block 4 is zeroed although the parent has none
    const before = BEFORE();
    const now = NOW();
    await cacheHolds(t, snaps, before);
    const delta = await deltaOf(before, now, [{ data: 2 }, { zero: 3, blocks: 2 }, { data: 5 }, { data: 6 }]);
    const { job, plan } = await preparedDeltaJob(delta);
    // Act
    const results = await putEveryRange(job.jobId, plan.ranges);
    // Assess
    expect(plan.outcome).toBe('incremental');
    expect(t.fake.ebs.inputsOf(PutSnapshotBlockCommand).map((i) => i.BlockIndex)).toEqual([2, 3, 6]);
    expect(results).toEqual([
      { index: 0, blocksPut: 0, blocksSkipped: 0, zeroBlocksPut: 0 },
      { index: 1, blocksPut: 1, blocksSkipped: 0, zeroBlocksPut: 1 },
      { index: 2, blocksPut: 0, blocksSkipped: 1, zeroBlocksPut: 0 },
      { index: 3, blocksPut: 1, blocksSkipped: 0, zeroBlocksPut: 0 },
    ]);
    expect(sha256(contentOf(snaps.get(plan.snapshotId), now.length))).toBe(sha256(now));
  });

  it('leaves a manifest of the whole new disk: the parent’s hashes where the delta is silent', async () => {
    // Prepare
    const before = BEFORE();
    const now = NOW();
    await cacheHolds(t, snaps, before);
    const { job, plan } = await preparedDeltaJob(
      await deltaOf(before, now, [{ data: 2 }, { zero: 3 }, { data: 6 }]),
    );
    const results = await putEveryRange(job.jobId, plan.ranges);
    // Act
    const finished = await awsFinishSnapshot(t.gw, job.jobId, results);
    // Assess
    expect(finished.changedBlocksCount).toBe(3);
    expect(JSON.parse(t.fake.bucket.get(blockManifestKey(job.jobId))!.toString())).toEqual(manifestOf(now));
    expect(t.fake.bucket.get(deltaIndexKey(job.jobId))).toBeUndefined(); // its work is done
  });

  it('pads a last block cut at the disk’s end with zeros', async () => {
    // Prepare: the disk grew by 4 KiB of data into a ninth, partial block
    const before = BEFORE();
    const now = blocksDisk(9, { 0: 1, 2: 2, 3: 4, 5: 3, 8: 6 }, 8 * EBS_BLOCK + 4096);
    await cacheHolds(t, snaps, before);
    const delta = await collect(
      writeDelta(
        {
          virtualSize: now.length,
          baseCapacity: before.length,
          baseSha256: sha256(before),
          resultSha256: sha256(now),
        },
        [{ kind: 'data', offset: 8 * EBS_BLOCK, data: now.subarray(8 * EBS_BLOCK) }],
      ),
    );
    const { job, plan } = await preparedDeltaJob(delta);
    // Act
    await putEveryRange(job.jobId, plan.ranges);
    // Assess
    const put = t.fake.ebs.inputsOf(PutSnapshotBlockCommand);
    expect(put.map((i) => i.BlockIndex)).toEqual([8]);
    const padded = Buffer.alloc(EBS_BLOCK);
    now.copy(padded, 0, 8 * EBS_BLOCK);
    expect(sha256(Buffer.from(put[0]!.BlockData as Uint8Array))).toBe(sha256(padded));
    expect(sha256(contentOf(snaps.get(plan.snapshotId), now.length))).toBe(sha256(now));
  });

  it('fails PrepareSnapshot with DeltaBaseGone when the cached snapshot was deleted after inspect', async () => {
    // Prepare
    const before = BEFORE();
    await cacheHolds(t, snaps, before);
    const job = await stagedJob(t, await deltaOf(before, NOW(), [{ data: 2 }]), {
      format: 'delta',
      target: DIRECT,
    });
    await inspectImage(t.gw, job.jobId);
    snaps.snapshots.delete('snap-cached');
    snaps.describable();
    // Act
    const err = await failureOf(awsPrepareSnapshot(t.gw, job.jobId));
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'DeltaBaseGone' });
    expect((await t.gw.store.get(job.jobId)).error?.detail).toBe(
      'the cached snapshot snap-cached is missing; upload the whole image',
    );
    expect(t.fake.ebs.calls).toEqual([]);
  });
});
