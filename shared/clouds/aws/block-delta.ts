/**
 * An incremental upload (#5, `burstgate offload --incremental`): a local disk compared with the
 * block manifest of the snapshot the cloud already holds (512 KiB blocks → SHA-256), written as a
 * delta file (delta-writer.ts) that carries only the blocks that differ. Every extent covers whole blocks
 * (the disk's last block may be cut at the capacity), so whoever applies it to the snapshot never
 * needs the base's bytes: a data extent's blocks replace the snapshot's, a zero extent's blocks
 * become zeros. Two passes over the local disk, never a whole block table in memory beyond the
 * manifest itself: the first hashes the blocks (and the whole disk), the second reads the changed
 * ones into the delta.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeDelta, type DeltaExtentInput } from '../../images/delta-writer';
import { ImageError } from '../../images/errors';
import { zeros } from '../../images/extents';
import type { RandomAccessDisk } from '../../images/random-access-disk';
import { blockRuns } from './block-runs';
import { EBS_BLOCK_BYTES, ebsBlockCount, ebsBlocks, type BlockManifest } from './ebs-blocks';

/** Longest extent written (a run of changed blocks is cut here): bounds what a reader holds per extent. */
export const BLOCK_DELTA_MAX_RUN_BYTES = 8 * 1024 * 1024;
const ZERO_HASH_CHUNK = 4 * 1024 * 1024;

/** The snapshot the delta applies to, as the image cache describes it. */
export interface BlockDeltaBase {
  manifest: BlockManifest;
  /** SHA-256 (hex) of the base disk's logical content. */
  sha256: string;
  capacity: number;
}

export interface BlockDeltaSummary {
  /** SHA-256 (hex) of the local disk's logical content: the disk the delta rebuilds. */
  resultSha256: string;
  virtualSize: number;
  /** Blocks carried as data (new or changed content). */
  dataBlocks: number;
  /** Blocks the base holds that are zero now (carried as zero extents, no bytes). */
  zeroBlocks: number;
  /** Bytes of data in the delta (the last block cut at the capacity). */
  dataBytes: number;
  /** Non-zero blocks of the local disk. */
  localBlocks: number;
  /** True when nothing differs: the delta holds no extent. */
  identical: boolean;
}

export interface BlockDeltaProgress {
  phase: 'hash' | 'write';
  /** Disk bytes gone through in this phase, of `total`. */
  done: number;
  total: number;
}

/**
 * Compares `disk` with `base` and writes the delta to `out` (which is created or replaced; on an
 * error it may be left partial, the caller removes it). A disk smaller than the base, or a manifest
 * of other than 512 KiB blocks or of another capacity than the base's, is refused
 * (BG_DELTA_WRONG_BASE): such a base cannot carry the disk as a child snapshot.
 */
export async function writeBlockDelta(
  disk: RandomAccessDisk,
  base: BlockDeltaBase,
  out: string,
  onProgress?: (p: BlockDeltaProgress) => void,
): Promise<BlockDeltaSummary> {
  const capacity = disk.capacity;
  if (base.manifest.blockBytes !== EBS_BLOCK_BYTES) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `the base's block manifest has ${base.manifest.blockBytes}-byte blocks, not ${EBS_BLOCK_BYTES}`,
    );
  }
  if (base.manifest.capacity !== base.capacity) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `the base's block manifest describes ${base.manifest.capacity} bytes, the base ${base.capacity}`,
    );
  }
  if (capacity < base.capacity) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `the disk (${capacity} bytes) is smaller than the cached image it would be applied to (${base.capacity} bytes): ` +
        'a snapshot cannot shrink; upload the whole image',
    );
  }

  // Pass 1: the local blocks' hashes, and the whole disk's (zeros between the non-zero blocks).
  const whole = createHash('sha256');
  let hashedTo = 0;
  const hashZerosTo = (end: number) => {
    for (; hashedTo < end; hashedTo += Math.min(ZERO_HASH_CHUNK, end - hashedTo)) {
      whole.update(zeros(Math.min(ZERO_HASH_CHUNK, end - hashedTo)));
    }
  };
  const dataBlocks: number[] = [];
  const local = new Set<number>();
  for await (const block of ebsBlocks(disk, { index: 0, offset: 0, length: capacity })) {
    const at = block.index * EBS_BLOCK_BYTES;
    hashZerosTo(at);
    const length = Math.min(EBS_BLOCK_BYTES, capacity - at);
    whole.update(block.data.subarray(0, length));
    hashedTo = at + length;
    local.add(block.index);
    if (base.manifest.blocks[block.index] !== block.sha256Base64) dataBlocks.push(block.index);
    onProgress?.({ phase: 'hash', done: hashedTo, total: capacity });
  }
  hashZerosTo(capacity);
  const resultSha256 = whole.digest('hex');
  const zeroBlocks = Object.keys(base.manifest.blocks)
    .map(Number)
    .filter((i) => !local.has(i))
    .sort((a, b) => a - b);
  const count = ebsBlockCount(capacity);
  if (zeroBlocks.some((i) => i >= count)) {
    // cannot happen with capacity ≥ base capacity and a valid manifest; kept as a guard
    throw new ImageError('BG_DELTA_WRONG_BASE', 'the base has blocks past the end of the disk');
  }

  // Pass 2: the changed blocks as extents, ascending, data and zero runs interleaved.
  const runs = [
    ...blockRuns(dataBlocks, { capacity, maxRunBytes: BLOCK_DELTA_MAX_RUN_BYTES }).map((r) => ({
      ...r,
      zero: false,
    })),
    ...blockRuns(zeroBlocks, { capacity, maxRunBytes: Number.MAX_SAFE_INTEGER }).map((r) => ({
      ...r,
      zero: true,
    })),
  ].sort((a, b) => a.offset - b.offset);
  let dataBytes = 0;
  async function* extents(): AsyncGenerator<DeltaExtentInput> {
    for (const r of runs) {
      if (r.zero) {
        yield { kind: 'zero', offset: r.offset, length: r.length };
        continue;
      }
      dataBytes += r.length;
      yield {
        kind: 'data',
        offset: r.offset,
        length: r.length,
        data: (async function* () {
          for (let at = r.offset; at < r.offset + r.length; at += EBS_BLOCK_BYTES) {
            const length = Math.min(EBS_BLOCK_BYTES, r.offset + r.length - at);
            yield await disk.read(at, length);
          }
          onProgress?.({ phase: 'write', done: r.offset + r.length, total: capacity });
        })(),
      };
    }
  }
  await pipeline(
    Readable.from(
      writeDelta(
        { virtualSize: capacity, baseCapacity: base.capacity, baseSha256: base.sha256, resultSha256 },
        extents(),
      ),
    ),
    createWriteStream(out),
  );
  return {
    resultSha256,
    virtualSize: capacity,
    dataBlocks: dataBlocks.length,
    zeroBlocks: zeroBlocks.length,
    dataBytes,
    localBlocks: local.size,
    identical: runs.length === 0 && resultSha256 === base.sha256,
  };
}
