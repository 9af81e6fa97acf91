/**
 * What the AWS direct and changed-block return tests share: disks made of 512 KiB blocks, a direct
 * job as inspect leaves it, the image cache holding a VM's earlier upload, and the disk a snapshot
 * or a published delta holds, rebuilt to compare with the disk it should be.
 */
import { createHash } from 'node:crypto';
import type { BlockManifest } from '../../../shared/clouds/aws/ebs-blocks';
import type { Job } from '../../../shared/domain/job';
import { blockManifestKey } from '../../../shared/domain/aws-direct-manifest';
import { inspectImage } from '../../../shared/domain/workflow/inspect';
import { applyDelta } from '../../../shared/images/delta-apply';
import { readDelta } from '../../../shared/images/delta-reader';
import type { DeltaHeader } from '../../../shared/images/delta-format';
import { diskToRaw } from '../../../shared/images/extents';
import { openRandomAccess } from '../../../shared/images/random-access';
import { bufferSource } from '../../../shared/images/source';
import type { ImageCacheEntry } from '../../../shared/store/image-cache';
import { EBS_BLOCK, type FakeSnapshot, type FakeSnapshots } from '../../helpers/fake-snapshots';
import { collect, pseudoRandom } from '../../helpers/images/fixtures';
import { AWS, MiB, REGION, sha256, stagedJob, type StepTest } from './fixtures';

export { EBS_BLOCK };
export const DIRECT = { ...AWS, mode: 'direct' as const };

const sha256Base64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

/**
 * A raw disk of `count` 512 KiB blocks: each block named in `seeds` filled with pseudo-random bytes
 * of that seed, the others zero; an MBR in the first sector (block 0 is never zero), so inspect
 * accepts it for an EC2 boot disk.
 */
const seeded = new Map<number, Buffer>();
/** A block of pseudo-random bytes, made once per seed (making one takes milliseconds). */
const seededBlock = (seed: number): Buffer => {
  let block = seeded.get(seed);
  if (!block) seeded.set(seed, (block = pseudoRandom(EBS_BLOCK, seed)));
  return block;
};

export function blocksDisk(
  count: number,
  seeds: Record<number, number>,
  capacity = count * EBS_BLOCK,
): Buffer {
  const disk = Buffer.alloc(capacity);
  for (const [index, seed] of Object.entries(seeds)) {
    const at = Number(index) * EBS_BLOCK;
    seededBlock(seed).copy(disk, at, 0, Math.min(EBS_BLOCK, capacity - at));
  }
  disk.fill(0, 446, 512);
  disk[446 + 4] = 0x83;
  disk.writeUInt32LE(1, 446 + 8);
  disk.writeUInt32LE(1023, 446 + 12); // the same MBR whatever the capacity (at least 512 KiB)
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

/** The non-zero blocks of a disk, each a full 512 KiB (the last one zero-padded). */
export function nonZeroBlocks(disk: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = 0; at < disk.length; at += EBS_BLOCK) {
    const block = Buffer.alloc(EBS_BLOCK);
    disk.copy(block, 0, at, Math.min(at + EBS_BLOCK, disk.length));
    if (block.some((b) => b !== 0)) out.set(at / EBS_BLOCK, block);
  }
  return out;
}

/** The block manifest of a disk, computed here (not with the code under test). */
export function manifestOf(disk: Buffer): BlockManifest {
  const blocks: Record<string, string> = {};
  for (const [i, data] of nonZeroBlocks(disk)) blocks[i] = sha256Base64(data);
  return { version: 1, blockBytes: EBS_BLOCK, capacity: disk.length, blocks };
}

/** What a snapshot holds as a disk of `capacity` bytes (zeros where it holds no block). */
export function contentOf(snapshot: FakeSnapshot, capacity: number): Buffer {
  const disk = Buffer.alloc(Math.ceil(capacity / EBS_BLOCK) * EBS_BLOCK);
  for (const [i, data] of snapshot.blocks) if (i * EBS_BLOCK < disk.length) data.copy(disk, i * EBS_BLOCK);
  return disk.subarray(0, capacity);
}

/** A direct-mode job whose raw disk is staged and inspected, as PrepareSnapshot finds it. */
export async function directJob(t: StepTest, disk: Buffer, change?: (job: Job) => void): Promise<Job> {
  const staged = await stagedJob(t, disk, { format: 'raw', target: DIRECT });
  await inspectImage(t.gw, staged.jobId);
  if (!change) return t.gw.store.get(staged.jobId);
  return t.gw.store.update(staged.jobId, change);
}

/**
 * The image cache holding an earlier upload of the VM: the entry, its manifest in the bucket, and
 * its snapshot in the fake EBS (completed, holding `disk`'s blocks).
 */
export async function cacheHolds(
  t: StepTest,
  snaps: FakeSnapshots,
  disk: Buffer,
  opts: {
    snapshotId?: string;
    amiId?: string;
    volumeSizeGiB?: number;
    vmName?: string;
    /** The entry's hash was measured by the gateway (default), or claimed by a delta. */
    measured?: boolean;
  } = {},
): Promise<ImageCacheEntry> {
  const snapshotId = opts.snapshotId ?? 'snap-cached';
  const jobId = 'job-that-uploaded-it';
  const manifest = manifestOf(disk);
  const manifestKey = blockManifestKey(jobId);
  t.fake.bucket.put(manifestKey, Buffer.from(JSON.stringify(manifest)));
  snaps.add(snapshotId, { volumeSizeGiB: opts.volumeSizeGiB ?? 1, blocks: nonZeroBlocks(disk) });
  const entry: ImageCacheEntry = {
    vmName: opts.vmName ?? 'vm-01',
    region: REGION,
    snapshotId,
    ...(opts.amiId ? { amiId: opts.amiId } : {}),
    manifestKey,
    diskSha256: sha256(disk),
    diskSha256Measured: opts.measured ?? true,
    capacityBytes: disk.length,
    blocks: Object.keys(manifest.blocks).length,
    jobId,
    partitionTable: 'mbr',
    updatedAt: t.gw.now().toISOString(),
  };
  await t.gw.imageCache.replace(entry, undefined);
  return entry;
}

/** A published delta read back and applied to `base` (absent: a disk of zeros of its base size). */
export async function applied(delta: Buffer, base?: Buffer): Promise<{ disk: Buffer; header: DeltaHeader }> {
  const reader = await readDelta(
    (async function* () {
      yield delta;
    })(),
  );
  const header = reader.header;
  const baseDisk = base ?? Buffer.alloc(header.baseCapacity ?? header.virtualSize);
  const opened = await openRandomAccess(bufferSource(baseDisk), { format: 'raw' });
  const disk = await collect(diskToRaw(applyDelta(opened, reader)));
  return { disk, header };
}

export { MiB };
