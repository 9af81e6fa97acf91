/**
 * The AWS direct offload (target.mode "direct"): the staged disk's 512 KiB blocks go straight into
 * an EBS snapshot through the EBS direct APIs, an AMI is registered from it, and the existing
 * LaunchInstance → CheckInstance → MarkRunning states run it. As in steps.ts, each step reads the
 * job, does one thing, and records what it created before it returns; every step is safe to retry.
 *
 * PrepareSnapshot (image cache lookup; StartSnapshot, with the cached snapshot as parent when the
 * content changed; the range plan) → PutBlocks × N (a Map state: the non-zero blocks of one range
 * whose SHA-256 differs from the parent's, read from the staged image by ranged GETs) →
 * FinishSnapshot (block manifest to S3, CompleteSnapshot) → CheckSnapshot until completed →
 * RegisterImage → LaunchInstance … An identical cached image skips straight to RegisterImage
 * (which keeps the cached AMI, or registers one again from the cached snapshot).
 *
 * Snapshot ids are not known before StartSnapshot: its ClientToken is derived from the job, so a
 * retried step gets the same snapshot, and every snapshot and AMI is tagged with the job id, so a
 * compensation finds one that a dead Lambda could not record (aws-image-cache.ts: sweep).
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { JobRef } from '../../clouds/aws/aws-snapshots';
import { CloudError } from '../../clouds/errors';
import { isImageError } from '../../images/errors';
import {
  EBS_BLOCK_BYTES,
  EBS_DEFAULT_CHUNK_BYTES,
  blockManifest,
  ebsBlocks,
  ebsVolumeSizeGiB,
  mergeBlockManifests,
  type BlockManifest,
} from '../../clouds/aws/ebs-blocks';
import { planRanges, type UploadRange } from '../../images/upload-plan';
import { blockManifestKey, rangeManifestKey, readManifest, writeManifest } from '../aws-direct-manifest';
import { deleteDeltaIndex, deltaBaseProblem, deltaRangeChanges, readDeltaIndex } from './aws-delta-upload';
import { removeJobResources } from '../cleanup';
import { beginStep, endStep, recordResource, updateJob, type Gateway } from '../gateway';
import { ownerOf, type AwsTarget, type Job } from '../job';
import type { ImageCacheEntry } from '../../store/image-cache';
import { openStagedDisk, stagedAllocatedBytes } from './staged-disk';
import {
  CANCELLED,
  MAX_UPLOAD_RANGES,
  askCloud,
  assertNotCancelled,
  failIfWaitedTooLong,
  failStep,
  rejected,
} from './step-kit';

/** PutSnapshotBlock calls one range keeps in flight (4 × 512 KiB of memory). */
const PUTS_IN_FLIGHT = 4;
/** The root device of the registered AMI (HVM Linux on Nitro: the console's default). */
export const ROOT_DEVICE_NAME = '/dev/xvda';
const ZERO_BLOCK = Buffer.alloc(EBS_BLOCK_BYTES);
const ZERO_BLOCK_SHA256 = createHash('sha256').update(ZERO_BLOCK).digest('base64');

function awsTargetOf(job: Job): AwsTarget {
  if (job.target.cloud !== 'aws')
    throw new CloudError('CloudRejected', `job ${job.jobId} does not target AWS`);
  return job.target;
}

export function jobRef(job: Job): JobRef {
  return { jobId: job.jobId, vmName: job.vmName, region: awsTargetOf(job).region };
}

function capacityOf(job: Job): number {
  const capacity = job.image.diskCapacityBytes;
  if (!capacity) throw new CloudError('CloudRejected', `job ${job.jobId} has no inspected disk capacity`);
  return capacity;
}

/** The chunk size the plan uses: the configured one, larger when the disk would need too many ranges. */
export function ebsChunkBytes(configured: number, capacity: number): number {
  const needed = Math.ceil(capacity / MAX_UPLOAD_RANGES / EBS_BLOCK_BYTES) * EBS_BLOCK_BYTES;
  return Math.max(configured, needed);
}

/** The StartSnapshot ClientToken of a job's offload (EBS allows 64 characters; job ids have 30). */
export const snapshotClientToken = (jobId: string): string => `${jobId}-offload`;
/** The AMI name of a job (unique per account and region, so RegisterImage is idempotent by name). */
export const amiName = (jobId: string): string => `burstgate-${jobId}`;

export interface EbsUploadPlan {
  /** False when the image cache holds identical content: nothing to upload, go register/launch. */
  upload: boolean;
  snapshotId: string;
  ranges: UploadRange[];
  chunkBytes: number;
  outcome: 'reused' | 'incremental' | 'full';
}

/**
 * Decides what the image cache gives this offload and starts the snapshot. Identical content
 * (same disk SHA-256 and capacity as the cached snapshot, which must still be completed) reuses the
 * cached snapshot and AMI: nothing is uploaded. Changed content starts a child of the cached
 * snapshot (ParentSnapshotId). Otherwise a new snapshot. The decision is recorded on the job before
 * StartSnapshot, so a retry starts with the same parameters and gets the same snapshot back.
 */
export async function awsPrepareSnapshot(gw: Gateway, jobId: string): Promise<EbsUploadPlan> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const target = awsTargetOf(job);
  const capacity = capacityOf(job);
  const chunkBytes = ebsChunkBytes(gw.config.ebsUploadChunkBytes ?? EBS_DEFAULT_CHUNK_BYTES, capacity);
  const ranges = planRanges(capacity, chunkBytes, EBS_BLOCK_BYTES);
  const snapshots = gw.awsSnapshotWriter;

  if (!job.cloud.imageCache) {
    const entry = await gw.imageCache.get(ownerOf(job), target.region, job.vmName);
    const cached = entry
      ? await askCloud(gw, jobId, () => snapshots.snapshotState(target.region, entry.snapshotId))
      : undefined;
    const usable = entry && cached?.state === 'completed' ? entry : undefined;
    const delta = job.image.delta;
    if (delta) {
      // A delta only makes sense on top of the snapshot it was made against (inspect checked the
      // entry; it may have been replaced, or its snapshot deleted, since).
      const problem =
        deltaBaseProblem(delta, entry, { vmName: job.vmName, region: target.region }) ??
        (usable ? undefined : `the cached snapshot ${entry!.snapshotId} is ${cached?.state ?? 'gone'}`);
      if (problem) {
        throw await failStep(
          gw,
          jobId,
          new CloudError('CloudRejected', `${problem}; upload the whole image`, 'DeltaBaseGone'),
        );
      }
    }
    // a delta's data is what it carries; an image's, what its format maps as allocated
    const allocated = delta ? delta.dataBytes : await stagedAllocatedBytes(gw, job);
    if (usable && identicalContent(usable, job, capacity)) {
      const amiAlive =
        usable.amiId !== undefined &&
        (await askCloud(gw, jobId, () => snapshots.imageExists(target.region, usable.amiId!)));
      job = await updateJob(gw, jobId, (j) => {
        assertNotCancelled(j);
        const now = gw.now();
        j.state = 'importing';
        beginStep(j, 'snapshot-upload', now);
        j.cloud.imageCache = { outcome: 'reused', snapshotId: usable.snapshotId, fromJobId: usable.jobId };
        j.cloud.baseSnapshotId = usable.snapshotId;
        j.cloud.snapshotIds = [usable.snapshotId];
        j.cloud.blockManifestKey = usable.manifestKey;
        j.cloud.uploadChunkBytes = chunkBytes;
        const owned = { location: target.region, retained: true, imageCache: true };
        recordResource(j, { type: 'snapshot', id: usable.snapshotId, ...owned }, now);
        if (amiAlive && usable.amiId) {
          j.cloud.amiId = usable.amiId;
          recordResource(j, { type: 'ami', id: usable.amiId, ...owned }, now);
        }
        j.bytes.allocated = allocated;
        j.bytes.blocksUploaded = 0;
        j.bytes.blocksSkipped = usable.blocks;
        j.bytes.ebsBytesWritten = 0;
        j.bytes.imported = 0;
        endStep(
          j,
          'succeeded',
          now,
          `identical content cached by ${usable.jobId}: snapshot ${usable.snapshotId} reused` +
            (amiAlive ? ` with AMI ${usable.amiId}` : ' (its AMI is gone: registered again)') +
            `; nothing uploaded`,
        );
      });
      return { upload: false, snapshotId: usable.snapshotId, ranges: [], chunkBytes, outcome: 'reused' };
    }
    // A child must be at least as large as its parent (EBS refuses a smaller VolumeSize).
    const parent =
      usable && cached?.volumeSizeGiB !== undefined && cached.volumeSizeGiB <= ebsVolumeSizeGiB(capacity)
        ? usable
        : undefined;
    job = await updateJob(gw, jobId, (j) => {
      assertNotCancelled(j);
      j.state = 'importing';
      beginStep(j, 'snapshot-upload', gw.now());
      j.cloud.imageCache = parent
        ? {
            outcome: 'incremental',
            snapshotId: parent.snapshotId,
            manifestKey: parent.manifestKey,
            fromJobId: parent.jobId,
          }
        : { outcome: 'full' };
      j.cloud.uploadChunkBytes = chunkBytes;
      j.bytes.allocated = allocated;
    });
  }
  const decided = job.cloud.imageCache!;
  if (decided.outcome === 'reused') {
    return {
      upload: false,
      snapshotId: job.cloud.baseSnapshotId!,
      ranges: [],
      chunkBytes,
      outcome: 'reused',
    };
  }
  let snapshotId = job.cloud.baseSnapshotId;
  if (!snapshotId) {
    const started = await askCloud(gw, jobId, () =>
      snapshots.startSnapshot(jobRef(job), {
        volumeSizeGiB: ebsVolumeSizeGiB(capacity),
        clientToken: snapshotClientToken(jobId),
        ...(decided.outcome === 'incremental' && decided.snapshotId
          ? { parentSnapshotId: decided.snapshotId }
          : {}),
      }),
    );
    const id = started.snapshotId;
    const recorded = await updateJob(gw, jobId, (j) => {
      recordResource(j, { type: 'snapshot', id, location: target.region }, gw.now());
      j.cloud.baseSnapshotId = id;
      j.cloud.snapshotIds = [id];
    });
    if (CANCELLED.has(recorded.state)) {
      // Cancelled while EBS started it: the cancel's removal may have run before it was recorded.
      await removeJobResources(gw, jobId, { types: ['snapshot'] });
      assertNotCancelled(recorded);
    }
    snapshotId = id;
  }
  return { upload: true, snapshotId, ranges, chunkBytes, outcome: decided.outcome };
}

export interface PutBlocksResult {
  index: number;
  /** Blocks of the new content put (they differ from the parent's, or there is no parent). */
  blocksPut: number;
  /** Non-zero blocks not put: the parent snapshot holds the same bytes. */
  blocksSkipped: number;
  /** Blocks the parent held that are zero now: put as zeros (a child starts as its parent's copy). */
  zeroBlocksPut: number;
}

/** Runs `work` over `items` with at most `limit` in flight; stops at the first failure. */
async function inParallel<T>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>) {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  for await (const item of items) {
    if (failure !== undefined) break;
    const p: Promise<void> = work(item)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
}

/**
 * One Map item: the blocks of one range of the disk, read from the staged image (ranged GETs; a
 * block the format maps as zero is never read). A zero block is never put, nor a block whose
 * SHA-256 equals the parent manifest's; a block the parent has that is zero now is put as zeros.
 * The range's part of the new block manifest goes to S3 (the Map result stays a few numbers, far
 * below Step Functions' 256 KiB, whatever the disk size). A retry puts the same blocks again.
 */
export async function awsPutBlocks(gw: Gateway, jobId: string, range: UploadRange): Promise<PutBlocksResult> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const region = awsTargetOf(job).region;
  const snapshotId = job.cloud.baseSnapshotId;
  if (!snapshotId) throw new CloudError('CloudRejected', `job ${jobId} has no snapshot to put blocks into`);
  const capacity = capacityOf(job);
  const parentKey =
    job.cloud.imageCache?.outcome === 'incremental' ? job.cloud.imageCache.manifestKey : undefined;
  const parent = parentKey ? await readManifest(gw, parentKey) : undefined;
  const firstBlock = range.offset / EBS_BLOCK_BYTES;
  const isLast = range.offset + range.length >= capacity;
  const endBlock = isLast
    ? Number.MAX_SAFE_INTEGER
    : Math.ceil((range.offset + range.length) / EBS_BLOCK_BYTES);

  const hashes: Array<{ index: number; sha256Base64: string }> = [];
  const counts: PutBlocksResult = { index: range.index, blocksPut: 0, blocksSkipped: 0, zeroBlocksPut: 0 };
  if (job.image.delta) {
    // an incremental upload: the delta's blocks on top of the parent (aws-delta-upload.ts)
    if (!parent) throw new CloudError('CloudRejected', `job ${jobId} has a delta but no parent snapshot`);
    const index = await readDeltaIndex(gw, job.image.delta.indexKey);
    const out = { hashes, skipped: 0 };
    await askCloud(gw, jobId, () =>
      inParallel(deltaRangeChanges(gw, job, index, parent, range, out), PUTS_IN_FLIGHT, async (change) => {
        if (change.kind === 'put') {
          await gw.awsSnapshotWriter.putBlock(region, snapshotId, change.block);
          counts.blocksPut++;
        } else {
          await gw.awsSnapshotWriter.putBlock(region, snapshotId, {
            index: change.index,
            data: ZERO_BLOCK,
            sha256Base64: ZERO_BLOCK_SHA256,
          });
          counts.zeroBlocksPut++;
        }
      }),
    );
    counts.blocksSkipped = out.skipped;
    await writeManifest(gw, rangeManifestKey(jobId, range.index), blockManifest(capacity, hashes));
    return counts;
  }
  const staged = await openStagedDisk(gw, job);
  try {
    await askCloud(gw, jobId, async () => {
      await inParallel(ebsBlocks(staged.disk, range), PUTS_IN_FLIGHT, async (block) => {
        hashes.push({ index: block.index, sha256Base64: block.sha256Base64 });
        if (parent?.blocks[block.index] === block.sha256Base64) {
          counts.blocksSkipped++;
          return;
        }
        await gw.awsSnapshotWriter.putBlock(region, snapshotId, block);
        counts.blocksPut++;
      });
      if (parent) {
        // Blocks the parent holds that are zero now (the last range also covers a shrunk disk's tail).
        const written = new Set(hashes.map((h) => h.index));
        const cleared = Object.keys(parent.blocks)
          .map(Number)
          .filter((i) => i >= firstBlock && i < endBlock && !written.has(i));
        await inParallel(
          (async function* () {
            yield* cleared;
          })(),
          PUTS_IN_FLIGHT,
          async (index) => {
            await gw.awsSnapshotWriter.putBlock(region, snapshotId, {
              index,
              data: ZERO_BLOCK,
              sha256Base64: ZERO_BLOCK_SHA256,
            });
            counts.zeroBlocksPut++;
          },
        );
      }
    });
  } catch (err) {
    if (isImageError(err)) throw await failStep(gw, jobId, rejected(`${err.code}: ${err.message}`));
    throw err;
  } finally {
    await staged.close();
  }
  await writeManifest(gw, rangeManifestKey(jobId, range.index), blockManifest(capacity, hashes));
  return counts;
}

/**
 * Merges the ranges' manifest parts into the snapshot's block manifest (recorded on the job, then
 * stored under manifests/), and completes the snapshot with the number of blocks written: EBS seals
 * it (CheckSnapshot polls). The upload's counters go on the job.
 */
export async function awsFinishSnapshot(
  gw: Gateway,
  jobId: string,
  results: PutBlocksResult[],
): Promise<{ changedBlocksCount: number; blocks: number; manifestKey: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const region = awsTargetOf(job).region;
  const snapshotId = job.cloud.baseSnapshotId;
  const chunkBytes = job.cloud.uploadChunkBytes; // PrepareSnapshot records both
  if (!snapshotId || !chunkBytes) {
    throw new CloudError('CloudRejected', `job ${jobId} has no snapshot or upload plan to complete`);
  }
  const capacity = capacityOf(job);
  const sorted = [...results].sort((a, b) => a.index - b.index);
  // One result per planned range, or the manifest would miss blocks the snapshot holds (and a later
  // child of it would keep them where the disk has zeros): a state machine bug, not sealed over.
  const planned = planRanges(capacity, chunkBytes, EBS_BLOCK_BYTES).length;
  if (sorted.length !== planned || sorted.some((r, i) => r.index !== i)) {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'CloudRejected',
        `FinishSnapshot got the results of range(s) [${sorted.map((r) => r.index).join(', ')}] but the plan has ` +
          `${planned} ranges (0 to ${planned - 1}); snapshot ${snapshotId} was not completed`,
        'IncompleteUpload',
      ),
    );
  }
  const manifestKey = blockManifestKey(jobId);
  // A retry after the manifest was stored finds the parts deleted: it reads the manifest instead.
  let manifest = job.cloud.blockManifestKey
    ? await readManifest(gw, manifestKey).catch((err: unknown) => {
        if ((err as Error).name === 'NoSuchKey') return undefined;
        throw err;
      })
    : undefined;
  if (!manifest) {
    const parts: BlockManifest[] = [];
    for (const r of sorted) parts.push(await readManifest(gw, rangeManifestKey(jobId, r.index)));
    manifest = mergeBlockManifests(parts); // one part per planned range: never none
    await updateJob(gw, jobId, (j) => {
      assertNotCancelled(j);
      recordResource(j, { type: 's3-object', id: manifestKey, location: gw.staging.bucket }, gw.now());
      j.cloud.blockManifestKey = manifestKey;
    });
    await writeManifest(gw, manifestKey, manifest);
  }
  for (const r of sorted) {
    await gw.s3
      .send(new DeleteObjectCommand({ Bucket: gw.staging.bucket, Key: rangeManifestKey(jobId, r.index) }))
      .catch((err: unknown) =>
        gw.logger.warn('could not delete a manifest part (the staging lifecycle rule will)', {
          error: err as Error,
        }),
      );
  }
  if (job.image.delta) {
    await deleteDeltaIndex(gw, job.image.delta.indexKey).catch((err: unknown) =>
      gw.logger.warn('could not delete the delta index (the staging lifecycle rule will)', {
        error: err as Error,
      }),
    );
  }
  const put = sorted.reduce((n, r) => n + r.blocksPut, 0);
  const zeroed = sorted.reduce((n, r) => n + r.zeroBlocksPut, 0);
  const skipped = sorted.reduce((n, r) => n + r.blocksSkipped, 0);
  const changedBlocksCount = put + zeroed;
  await askCloud(gw, jobId, async () => {
    try {
      await gw.awsSnapshotWriter.completeSnapshot(region, snapshotId, changedBlocksCount);
    } catch (err) {
      // A retry after EBS accepted the first CompleteSnapshot: the snapshot is sealing or sealed.
      const state = await gw.awsSnapshotWriter.snapshotState(region, snapshotId);
      if (state.state !== 'completed') throw err;
    }
  });
  await updateJob(gw, jobId, (j) => {
    j.bytes.blocksUploaded = changedBlocksCount;
    j.bytes.blocksSkipped = skipped;
    j.bytes.ebsBytesWritten = changedBlocksCount * EBS_BLOCK_BYTES;
    j.bytes.imported = changedBlocksCount * EBS_BLOCK_BYTES;
  });
  return { changedBlocksCount, blocks: Object.keys(manifest.blocks).length, manifestKey };
}

/** Is the snapshot sealed yet? An errored one fails the step with EBS's reason. */
export async function awsCheckSnapshot(
  gw: Gateway,
  jobId: string,
): Promise<{ done: boolean; state: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const region = awsTargetOf(job).region;
  const snapshotId = job.cloud.baseSnapshotId;
  if (!snapshotId) throw new CloudError('CloudRejected', `job ${jobId} has no snapshot to check`);
  const state = await askCloud(gw, jobId, () => gw.awsSnapshotWriter.snapshotState(region, snapshotId));
  if (state.state === 'completed') {
    await updateJob(gw, jobId, (j) => {
      if (j.activeStep?.name !== 'snapshot-upload') return false;
      const cache = j.cloud.imageCache;
      endStep(
        j,
        'succeeded',
        gw.now(),
        `${snapshotId}: ${j.bytes.blocksUploaded ?? 0} block(s) put (${j.bytes.ebsBytesWritten ?? 0} bytes), ` +
          `${j.bytes.blocksSkipped ?? 0} skipped as unchanged; ${j.bytes.allocated ?? 0} bytes allocated in the source` +
          (cache?.outcome === 'incremental' ? `; child of the cached ${cache.snapshotId}` : '; full upload'),
      );
    });
    return { done: true, state: state.state };
  }
  if (state.state === 'error' || state.state === 'missing') {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'CloudRejected',
        state.state === 'missing'
          ? `snapshot ${snapshotId} no longer exists: it was deleted outside burstgate`
          : `snapshot ${snapshotId} failed: ${state.message ?? 'EBS did not say why'}`,
        state.state,
      ),
    );
  }
  await failIfWaitedTooLong(
    gw,
    job,
    (limit) => `snapshot ${snapshotId} was not completed within ${limit} ms (last: ${state.state})`,
  );
  return { done: false, state: state.state };
}

/**
 * Registers the AMI from the snapshot: HVM, x86_64, ENA, the boot mode of the OVF's firmware, the
 * root volume the disk's size in whole GiB. A job that already has an AMI (the cache's, or a first
 * try's) keeps it; the name comes from the job, so a retry finds the AMI its first try registered.
 */
export async function awsRegisterImage(gw: Gateway, jobId: string): Promise<{ amiId: string }> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  if (job.cloud.amiId) return { amiId: job.cloud.amiId };
  const region = awsTargetOf(job).region;
  const snapshotId = job.cloud.baseSnapshotId;
  if (!snapshotId) throw new CloudError('CloudRejected', `job ${jobId} has no snapshot to register`);
  const capacity = capacityOf(job);
  job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    beginStep(j, 'register-image', gw.now());
  });
  const bootMode = job.hardware?.firmware === 'efi' ? 'uefi' : 'legacy-bios';
  const amiId = await askCloud(gw, jobId, () =>
    gw.awsSnapshotWriter.registerImage(jobRef(job), {
      name: amiName(jobId),
      snapshotId,
      bootMode,
      volumeSizeGiB: ebsVolumeSizeGiB(capacity),
      rootDeviceName: ROOT_DEVICE_NAME,
    }),
  );
  const recorded = await updateJob(gw, jobId, (j) => {
    recordResource(j, { type: 'ami', id: amiId, location: region }, gw.now());
    j.cloud.amiId = amiId;
    if (!CANCELLED.has(j.state))
      endStep(j, 'succeeded', gw.now(), `${amiId} (${bootMode}, ENA) from ${snapshotId}`);
  });
  if (CANCELLED.has(recorded.state)) {
    await removeJobResources(gw, jobId, { types: ['ami'] });
    assertNotCancelled(recorded);
  }
  return { amiId };
}

/**
 * Whether the job's disk is the cached one, so that its snapshot can be reused (aws-image-cache.ts):
 * a delta that changes nothing, or a full upload whose measured SHA-256 is the entry's measured one.
 */
function identicalContent(entry: ImageCacheEntry, job: Job, capacity: number): boolean {
  if (entry.capacityBytes !== capacity) return false;
  const delta = job.image.delta;
  if (delta) return delta.extents === 0;
  return entry.diskSha256Measured === true && entry.diskSha256 === job.image.diskSha256;
}
