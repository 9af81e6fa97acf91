/**
 * The EBS direct APIs' view of a disk: 512 KiB blocks, the non-zero ones of a range read with their
 * SHA-256 (what PutSnapshotBlock wants; a snapshot starts zeroed), and block manifests (block index
 * → SHA-256) that say what a snapshot holds, so two disks can be compared block by block.
 */
import { createHash } from 'node:crypto';
import { ImageError, invalidArgument } from '../../images/errors';
import { isAllZero } from '../../images/extents';
import type { RandomAccessDisk } from '../../images/random-access-disk';
import { checkDiskRange } from '../../images/random-access-disk';
import { checkCount, type UploadRange } from '../../images/upload-plan';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The EBS direct APIs' fixed block size. */
export const EBS_BLOCK_BYTES = 512 * KiB;
/**
 * Disk bytes one EBS upload range (one PutBlocks Lambda) covers unless configured: 1 GiB is at most
 * 2048 PutSnapshotBlock calls, minutes at EBS's per-snapshot put rate, far inside Lambda's 15.
 */
export const EBS_DEFAULT_CHUNK_BYTES = 1024 * MiB;

export interface EbsBlock {
  index: number;
  data: Buffer;
  /** What PutSnapshotBlock's Checksum (ChecksumAlgorithm SHA256) wants. */
  sha256Base64: string;
}

/** The EBS volume size for a disk: whole GiB, rounded up (at least 1). */
export function ebsVolumeSizeGiB(capacity: number): number {
  checkCount(capacity, 'ebsVolumeSizeGiB capacity');
  return Math.max(1, Math.ceil(capacity / GiB));
}

/** Blocks needed to hold `capacity` bytes (the last one partial). */
export function ebsBlockCount(capacity: number, blockBytes = EBS_BLOCK_BYTES): number {
  checkCount(capacity, 'ebsBlockCount capacity');
  return Math.ceil(capacity / blockBytes);
}

export interface EbsBlockOptions {
  /** Block size (default 512 KiB, the only size EBS has; smaller values are for tests). */
  blockBytes?: number;
  /** Largest single read (default 4 MiB): contiguous data blocks are read together. */
  readBytes?: number;
}

function sha256Base64(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

/**
 * The non-zero blocks of one range of the disk, ascending. A block the format maps as zero is never
 * read; a read block that holds only zeros is skipped too (snapshots start zeroed). The range must
 * start on a block boundary and end on one or at the capacity (plan with
 * `planRanges(disk.capacity, chunk, blockBytes)`).
 */
export async function* ebsBlocks(
  disk: RandomAccessDisk,
  range: UploadRange,
  opts: EbsBlockOptions = {},
): AsyncGenerator<EbsBlock> {
  const blockBytes = opts.blockBytes ?? EBS_BLOCK_BYTES;
  const readBytes = opts.readBytes ?? 4 * MiB;
  checkCount(blockBytes, 'ebsBlocks blockBytes', 1);
  checkCount(readBytes, 'ebsBlocks readBytes', 1);
  checkDiskRange('ebsBlocks', disk.capacity, range.offset, range.length);
  const end = range.offset + range.length;
  if (range.offset % blockBytes !== 0 || (end % blockBytes !== 0 && end !== disk.capacity)) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `ebsBlocks: range ${range.offset}+${range.length} does not start and end on ${blockBytes}-byte blocks (or the disk's end); plan ranges with planRanges(capacity, chunk, ${blockBytes})`,
    );
  }
  const perRead = Math.max(1, Math.floor(readBytes / blockBytes));
  let groupFirst = -1;
  let groupCount = 0;

  async function* readGroup(): AsyncGenerator<EbsBlock> {
    if (groupCount === 0) return;
    const start = groupFirst * blockBytes;
    const buf = await disk.read(start, Math.min(groupCount * blockBytes, disk.capacity - start));
    for (let i = 0; i < groupCount; i++) {
      let data = buf.subarray(i * blockBytes, (i + 1) * blockBytes);
      if (isAllZero(data)) continue;
      if (data.length < blockBytes) {
        const padded = Buffer.alloc(blockBytes);
        data.copy(padded);
        data = padded;
      }
      yield { index: groupFirst + i, data, sha256Base64: sha256Base64(data) };
    }
    groupCount = 0;
  }

  let nextBlock = Math.floor(range.offset / blockBytes);
  if (range.length === 0) return;
  for await (const r of disk.map(range.offset, range.length)) {
    if (r.zero) continue;
    const first = Math.max(nextBlock, Math.floor(r.offset / blockBytes));
    const last = Math.floor((r.offset + r.length - 1) / blockBytes);
    for (let b = first; b <= last; b++) {
      if (groupCount > 0 && (groupFirst + groupCount !== b || groupCount === perRead)) yield* readGroup();
      if (groupCount === 0) groupFirst = b;
      groupCount++;
    }
    nextBlock = Math.max(nextBlock, last + 1);
  }
  yield* readGroup();
}

/** Block index → base64 SHA-256 of the non-zero blocks of a disk (absent: an all-zero block). JSON as is. */
export interface BlockManifest {
  version: 1;
  blockBytes: number;
  capacity: number;
  /** Decimal block index → base64 SHA-256 of the full (padded) block. */
  blocks: Record<string, string>;
}

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** A manifest of the blocks one or more ranges uploaded. */
export function blockManifest(
  capacity: number,
  blocks: Iterable<Pick<EbsBlock, 'index' | 'sha256Base64'>>,
  blockBytes = EBS_BLOCK_BYTES,
): BlockManifest {
  checkCount(capacity, 'blockManifest capacity');
  checkCount(blockBytes, 'blockManifest blockBytes', 1);
  const count = ebsBlockCount(capacity, blockBytes);
  const out: Record<string, string> = {};
  for (const b of blocks) {
    if (!Number.isSafeInteger(b.index) || b.index < 0 || b.index >= count) {
      throw invalidArgument(
        `blockManifest: block ${b.index} is outside a ${capacity}-byte disk of ${count} blocks`,
      );
    }
    if (!BASE64_SHA256.test(b.sha256Base64)) {
      throw invalidArgument(
        `blockManifest: block ${b.index} has checksum "${b.sha256Base64}", not a base64 SHA-256`,
      );
    }
    if (out[b.index] !== undefined && out[b.index] !== b.sha256Base64) {
      throw invalidArgument(`blockManifest: block ${b.index} is listed twice with different checksums`);
    }
    out[b.index] = b.sha256Base64;
  }
  return { version: 1, blockBytes, capacity, blocks: out };
}

/** Checks a manifest read back from JSON (S3, a Map state's results). */
export function parseBlockManifest(value: unknown): BlockManifest {
  const v = value as Partial<BlockManifest> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    v.version !== 1 ||
    typeof v.blocks !== 'object' ||
    v.blocks === null
  ) {
    throw invalidArgument(
      'parseBlockManifest: not a version 1 block manifest ({ version: 1, blockBytes, capacity, blocks })',
    );
  }
  return blockManifest(
    v.capacity as number,
    Object.entries(v.blocks).map(([index, sha]) => ({
      index: /^(0|[1-9][0-9]*)$/.test(index) ? Number(index) : Number.NaN,
      sha256Base64: String(sha),
    })),
    v.blockBytes as number,
  );
}

/** One manifest from the ranges' manifests (the Map state's results); ranges must not overlap. */
export function mergeBlockManifests(parts: BlockManifest[]): BlockManifest {
  const first = parts[0];
  if (!first) throw invalidArgument('mergeBlockManifests: no manifests');
  const blocks: Record<string, string> = {};
  for (const p of parts) {
    if (p.blockBytes !== first.blockBytes || p.capacity !== first.capacity) {
      throw invalidArgument(
        `mergeBlockManifests: manifests of ${first.capacity} bytes in ${first.blockBytes}-byte blocks and ${p.capacity} bytes in ${p.blockBytes}-byte blocks cannot be merged`,
      );
    }
    for (const [i, sha] of Object.entries(p.blocks)) {
      if (blocks[i] !== undefined)
        throw invalidArgument(`mergeBlockManifests: block ${i} is in two manifests`);
      blocks[i] = sha;
    }
  }
  return { version: 1, blockBytes: first.blockBytes, capacity: first.capacity, blocks };
}

/**
 * Indices (ascending) of the blocks whose content differs between two manifests of one disk: a
 * checksum that differs, or a block present in only one (the other holds zeros there), including
 * blocks past the smaller capacity of a grown or shrunk disk.
 */
export function changedBlocks(a: BlockManifest, b: BlockManifest): number[] {
  if (a.blockBytes !== b.blockBytes) {
    throw invalidArgument(
      `changedBlocks: ${a.blockBytes}-byte and ${b.blockBytes}-byte blocks cannot be compared`,
    );
  }
  const changed = new Set<number>();
  for (const [i, sha] of Object.entries(a.blocks)) if (b.blocks[i] !== sha) changed.add(Number(i));
  for (const [i, sha] of Object.entries(b.blocks)) if (a.blocks[i] !== sha) changed.add(Number(i));
  return [...changed].sort((x, y) => x - y);
}
