/**
 * The changed-block return of an AWS direct-mode job (the instance was launched from an EBS snapshot
 * the gateway uploaded, `job.cloud.baseSnapshotId`). After StopInstance/CheckStopped (steps.ts):
 *
 * SnapshotForReturn (CreateSnapshot of the root volume, found through DescribeInstances; recorded on
 * the job, tagged with the job and the return attempt so a retried step finds it instead of making a
 * second) → CheckReturnSnapshot until completed (a Wait/Check loop in the state machine) →
 * PublishChangedBlocks (ListChangedBlocks base → return snapshot, GetSnapshotBlock of the changed
 * blocks only, each checked against its SHA-256, streamed as a delta into S3) → Cleanup. The delta
 * names the offloaded disk as its base and carries the result's SHA-256, hashed over that disk
 * overlaid with the changed blocks: the staged image, or for a job uploaded as a delta (an
 * incremental offload, a window's image-cache job: no disk in staging) the base snapshot itself.
 *
 * Fallback: when the base snapshot is gone (deleted outside burstgate) the return snapshot's written
 * blocks (ListSnapshotBlocks) are published as a base-less delta, a full copy, as the Azure return
 * does. Jobs of import mode never come here: the workflow exports them as an OVA.
 */
import { CloudError } from '../../clouds/errors';
import {
  isSnapshotGone,
  type SnapshotBlockPage,
  type SnapshotBlockRef,
} from '../../clouds/aws/snapshot-blocks';
import type { DeltaExtentInput } from '../../images/delta-writer';
import { EBS_BLOCK_BYTES } from '../../clouds/aws/ebs-blocks';
import { planBlockRuns, type PlannedRun } from '../../clouds/aws/block-runs';
import { publishDeltaArtifact, type PublishedDelta } from './delta-publish';
import { beginStep, endStep, recordResource, updateJob, type Gateway } from '../gateway';
import { isAwsDirect, type Job } from '../job';
import { snapshotDisk } from './snapshot-disk';
import { openStagedDisk } from './staged-disk';
import { CANCELLED, askCloud, assertNotCancelled, failIfWaitedTooLong, failStep } from './step-kit';

const GiB = 1024 * 1024 * 1024;
/** GetSnapshotBlock calls in flight (memory: this many 512 KiB blocks). */
export const BLOCK_READ_CONCURRENCY = 8;
/** Longest delta extent, in blocks (64 MiB); data is streamed, this only bounds one record. */
const MAX_RUN_BLOCKS = 128;

function regionOf(job: Job): string {
  if (job.target.cloud !== 'aws')
    throw new CloudError('CloudRejected', `job ${job.jobId} does not target AWS`);
  return job.target.region;
}

/**
 * The snapshot of the stopped instance's root volume that the return reads. One per return attempt:
 * a retried step finds the recorded id, or the snapshot it created before it could record it (by its
 * tags), and never creates a second one.
 */
export async function awsSnapshotForReturn(
  gw: Gateway,
  jobId: string,
): Promise<{ returnSnapshotId: string }> {
  const current = await gw.store.get(jobId);
  assertNotCancelled(current);
  const recorded = current.cloud.returnSnapshotId;
  if (recorded) return { returnSnapshotId: recorded };
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    if (j.activeStep?.name === 'stop') endStep(j, 'succeeded', gw.now(), `${j.cloud.instanceId} stopped`);
    beginStep(j, 'snapshot', gw.now());
  });
  const attempt = job.execution?.returnAttempts ?? 1;
  const snaps = gw.awsSnapshotReader;
  // A snapshot this attempt made before a retry, and any an earlier attempt never recorded (a crash
  // between CreateSnapshot and the record): the first is used, all are recorded so cleanup removes them.
  const existing = await askCloud(gw, jobId, () => snaps.returnSnapshotsOf(job));
  let id = existing.find((s) => s.attempt === attempt && s.state !== 'error')?.id;
  if (!id) {
    const volumeId = await askCloud(gw, jobId, () => snaps.rootVolumeId(job));
    id = await askCloud(gw, jobId, () => snaps.createReturnSnapshot(job, volumeId, attempt));
  }
  const snapshotId = id;
  const after = await updateJob(gw, jobId, (j) => {
    for (const s of existing)
      recordResource(j, { type: 'snapshot', id: s.id, location: regionOf(j) }, gw.now());
    recordResource(j, { type: 'snapshot', id: snapshotId, location: regionOf(j) }, gw.now());
    j.cloud.returnSnapshotId = snapshotId;
  });
  if (CANCELLED.has(after.state)) {
    // Cancelled while EC2 created it: the cancel's removal may have run before it was recorded.
    await gw
      .cloudFor(after.target)
      .remove({ type: 'snapshot', id: snapshotId, location: regionOf(after), createdAt: '' });
    assertNotCancelled(after);
  }
  return { returnSnapshotId: snapshotId };
}

/**
 * Records the job's return snapshots that no step recorded (a step that died between CreateSnapshot
 * and the record, then no retry): the cancel calls this before removing what the job created.
 */
export async function adoptReturnSnapshots(gw: Gateway, jobId: string): Promise<void> {
  const job = await gw.store.get(jobId);
  if (!isAwsDirect(job)) return;
  const found = await gw.awsSnapshotReader.returnSnapshotsOf(job);
  const untracked = found.filter((s) => !job.resources.some((r) => r.type === 'snapshot' && r.id === s.id));
  if (untracked.length === 0) return;
  await updateJob(gw, jobId, (j) => {
    for (const s of untracked)
      recordResource(j, { type: 'snapshot', id: s.id, location: regionOf(j) }, gw.now());
  });
}

/** Is the return snapshot completed yet? An errored or vanished one fails the step with EC2's reason. */
export async function awsCheckReturnSnapshot(
  gw: Gateway,
  jobId: string,
): Promise<{ done: boolean; state: string; progress?: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const id = job.cloud.returnSnapshotId;
  if (!id)
    throw await failStep(gw, jobId, new CloudError('ExportFailed', `job ${jobId} has no return snapshot`));
  const s = await askCloud(gw, jobId, () => gw.awsSnapshotReader.snapshotState(regionOf(job), id));
  if (s.state === 'error' || s.state === 'gone') {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'ExportFailed',
        s.state === 'gone'
          ? `the return snapshot ${id} was deleted outside burstgate`
          : `the return snapshot ${id} failed: ${s.message ?? 'error'}`,
        s.state,
      ),
    );
  }
  if (s.state === 'completed') {
    await updateJob(gw, jobId, (j) => {
      assertNotCancelled(j);
      if (j.activeStep?.name === 'snapshot') endStep(j, 'succeeded', gw.now(), id);
    });
    return { done: true, state: s.state };
  }
  await failIfWaitedTooLong(
    gw,
    job,
    (limit) =>
      `the return snapshot ${id} did not complete within ${limit} ms (last: ${s.progress ?? s.state})`,
  );
  return { done: false, state: s.state, ...(s.progress ? { progress: s.progress } : {}) };
}

function isAllZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * ListChangedBlocks whose base vanished after DescribeSnapshots saw it: a retryable error, so the
 * workflow's retry of the step finds the base gone and publishes a full copy instead.
 */
async function* baseGoneIsTransient(
  base: string,
  pages: AsyncIterable<SnapshotBlockPage>,
): AsyncGenerator<SnapshotBlockPage> {
  try {
    yield* pages;
  } catch (err) {
    if (!isSnapshotGone(err)) throw err;
    throw new CloudError(
      'CloudUnavailable',
      `the base snapshot ${base} disappeared during the return; retrying`,
      'BaseSnapshotGone',
      { cause: err },
    );
  }
}

/** The listing's pages as block arrays, checking EBS's block size on the way. */
async function* blocksOf(pages: AsyncIterable<SnapshotBlockPage>): AsyncGenerator<SnapshotBlockRef[]> {
  for await (const p of pages) {
    if (p.blockBytes !== 0 && p.blockBytes !== EBS_BLOCK_BYTES) {
      throw new CloudError(
        'ExportFailed',
        `EBS lists ${p.blockBytes}-byte blocks; expected ${EBS_BLOCK_BYTES}`,
      );
    }
    yield p.blocks;
  }
}

/**
 * The delta's extents from runs of blocks: each run's blocks read (GetSnapshotBlock) ahead of the
 * writer, at most `concurrency` at a time, and handed out in order (the last block cut at the run's
 * end). With `fullSize`, zero extents fill the gaps: a full copy of a disk of that size.
 */
export function runExtents(
  runs: AsyncIterable<PlannedRun<SnapshotBlockRef>>,
  read: (block: SnapshotBlockRef) => Promise<Buffer>,
  opts: { blockBytes: number; concurrency: number; fullSize?: number },
): AsyncGenerator<DeltaExtentInput> {
  const it = runs[Symbol.asyncIterator]();
  const queue: Array<{ run: PlannedRun<SnapshotBlockRef>; fetches: Array<Promise<Buffer> | undefined> }> = [];
  let inFlight = 0;
  let runsDone = false;
  const fill = async (): Promise<void> => {
    while (inFlight < opts.concurrency) {
      let target = queue.find((q) => q.fetches.length < q.run.blocks.length);
      if (!target) {
        if (runsDone) return;
        const next = await it.next();
        if (next.done) {
          runsDone = true;
          return;
        }
        target = { run: next.value, fetches: [] };
        queue.push(target);
      }
      const p = read(target.run.blocks[target.fetches.length]!);
      p.catch(() => undefined); // awaited in order below; an abandoned one must not be unhandled
      target.fetches.push(p);
      inFlight++;
    }
  };
  return (async function* () {
    let at = 0;
    for (;;) {
      await fill();
      const q = queue[0];
      if (!q) break;
      const { run } = q;
      if (opts.fullSize !== undefined && run.offset > at)
        yield { kind: 'zero', offset: at, length: run.offset - at };
      yield {
        kind: 'data',
        offset: run.offset,
        length: run.length,
        data: (async function* () {
          for (let i = 0; i < run.blocks.length; i++) {
            if (q.fetches[i] === undefined) await fill();
            const block = await q.fetches[i]!;
            q.fetches[i] = undefined;
            inFlight--;
            const blockOffset = run.offset + i * opts.blockBytes;
            const take = Math.min(opts.blockBytes, run.offset + run.length - blockOffset);
            yield take === block.length ? block : block.subarray(0, take);
            await fill();
          }
        })(),
      };
      at = run.offset + run.length;
      queue.shift();
    }
    if (opts.fullSize !== undefined && at < opts.fullSize)
      yield { kind: 'zero', offset: at, length: opts.fullSize - at };
  })();
}

/**
 * Publishes the return: the blocks that changed between the base snapshot and the return snapshot,
 * as a delta applying to the offloaded disk (or a full copy when the base is gone). The snapshot's
 * volume is whole GiB while the disk may be smaller: blocks past the disk's capacity are checked
 * first, and when the guest wrote data there the result grows to the volume's size (the delta format
 * allows a result larger than its base) instead of losing those bytes.
 */
export async function awsPublishChangedBlocks(gw: Gateway, jobId: string): Promise<PublishedDelta> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  job = await updateJob(gw, jobId, (j) => beginStep(j, 'publish', gw.now()));
  const region = regionOf(job);
  const snaps = gw.awsSnapshotReader;
  const returnSnapshotId = job.cloud.returnSnapshotId;
  const capacity = job.image.diskCapacityBytes;
  if (!returnSnapshotId)
    throw await failStep(
      gw,
      jobId,
      new CloudError('ExportFailed', `job ${jobId} has no return snapshot to publish`),
    );
  if (!capacity)
    throw await failStep(
      gw,
      jobId,
      new CloudError('ExportFailed', `job ${jobId} has no inspected disk capacity`),
    );
  const B = EBS_BLOCK_BYTES;

  // Is the base usable? Deleted outside burstgate (or never recorded): a full copy instead.
  const baseId = job.cloud.baseSnapshotId;
  let base: string | undefined;
  if (baseId) {
    const s = await askCloud(gw, jobId, () => snaps.snapshotState(region, baseId));
    if (s.state === 'completed') base = baseId;
    else
      gw.logger.warn('the base snapshot is not usable; returning the whole disk', {
        jobId,
        baseId,
        state: s.state,
      });
  }
  const listing = (from = 0) =>
    base
      ? baseGoneIsTransient(base, snaps.changedBlocks(region, base, returnSnapshotId, from))
      : snaps.snapshotBlocks(region, returnSnapshotId, from);

  const read = { bytes: 0 };
  const readBlock = async (b: SnapshotBlockRef) => {
    const data = await snaps.readBlock(region, returnSnapshotId, b, B);
    read.bytes += data.length;
    return data;
  };

  // Blocks at or past the disk's end (the boundary block included): data past the capacity grows the result.
  let virtualSize = capacity;
  const tailCheck = async () => {
    for await (const page of listing(Math.floor(capacity / B))) {
      for (const b of page.blocks) {
        const data = await readBlock(b);
        if (!isAllZero(data.subarray(Math.max(0, capacity - b.index * B)))) {
          virtualSize = Math.max(capacity, page.volumeSizeGiB * GiB);
          gw.logger.warn(
            'the guest wrote past the disk capacity; the returned disk grows to the volume size',
            {
              jobId,
              capacity,
              virtualSize,
              block: b.index,
            },
          );
          return;
        }
      }
    }
  };
  await askCloud(gw, jobId, tailCheck);

  // The delta applies to the offloaded disk. A delta upload's staged object is no disk: the job's
  // base snapshot is (the cached one it reused, or the child its blocks went into).
  const staged = !base
    ? undefined
    : job.image.format === 'delta'
      ? { disk: snapshotDisk(snaps, region, base, capacity), close: async () => undefined }
      : await openStagedDisk(gw, job);
  let changedBytes = 0;
  const counted = (async function* () {
    for await (const run of planBlockRuns(blocksOf(listing()), {
      virtualSize,
      blockBytes: B,
      maxRunBlocks: MAX_RUN_BLOCKS,
    })) {
      changedBytes += run.length;
      yield run;
    }
  })();
  try {
    // Cloud failures are recorded on the job by publishDeltaArtifact (askCloud), a damaged block included.
    return await publishDeltaArtifact(gw, job, {
      virtualSize,
      ...(staged ? { base: staged.disk } : {}),
      extents: runExtents(counted, readBlock, {
        blockBytes: B,
        concurrency: BLOCK_READ_CONCURRENCY,
        ...(base ? {} : { fullSize: virtualSize }),
      }),
      changedBytes: () => changedBytes,
      readBytes: () => read.bytes,
      source: 'EBS',
    });
  } finally {
    await staged?.close();
  }
}
