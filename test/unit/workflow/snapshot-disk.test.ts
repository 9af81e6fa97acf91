/**
 * An EBS snapshot read as a disk (shared/domain/workflow/snapshot-disk.ts) over an in-memory block
 * table: the map names the listed blocks as data and the rest as zeros, cut at the disk's capacity;
 * reads of any range (across blocks, in zero blocks, without a map first) give the disk's bytes;
 * small listing pages.
 */
import { describe, expect, it } from 'vitest';
import type { SnapshotBlockPage, SnapshotBlockRef } from '../../../shared/clouds/aws/snapshot-blocks';
import { snapshotDisk, type SnapshotBlockSource } from '../../../shared/domain/workflow/snapshot-disk';
import type { MappedRange } from '../../../shared/images/random-access-disk';

const B = 512 * 1024;

/** A snapshot holding these blocks (index → fill byte), listed `pageSize` blocks a page. */
function source(blocks: Record<number, number>, pageSize: number) {
  const listings: number[] = [];
  const reads: number[] = [];
  const indices = Object.keys(blocks)
    .map(Number)
    .sort((a, b) => a - b);
  const snaps: SnapshotBlockSource = {
    async *snapshotBlocks(_region: string, _id: string, from = 0): AsyncGenerator<SnapshotBlockPage> {
      listings.push(from);
      const after = indices.filter((i) => i >= from);
      for (let i = 0; i === 0 || i < after.length; i += pageSize) {
        yield {
          blocks: after.slice(i, i + pageSize).map((index) => ({ index, token: `t${index}` })),
          volumeSizeGiB: 1,
          blockBytes: B,
        };
      }
    },
    async readBlock(_region: string, _id: string, block: SnapshotBlockRef) {
      expect(block.token).toBe(`t${block.index}`);
      reads.push(block.index);
      return Buffer.alloc(B, blocks[block.index]!);
    },
  };
  return { snaps, listings, reads };
}

/** The disk the table stands for, `capacity` bytes. */
function expected(blocks: Record<number, number>, capacity: number): Buffer {
  const out = Buffer.alloc(capacity);
  for (const [i, fill] of Object.entries(blocks)) {
    out.fill(fill, Number(i) * B, Math.min((Number(i) + 1) * B, capacity));
  }
  return out;
}

async function mapOf(ranges: AsyncIterable<MappedRange>): Promise<MappedRange[]> {
  const out: MappedRange[] = [];
  for await (const r of ranges) out.push(r);
  return out;
}

describe('snapshotDisk', () => {
  const BLOCKS = { 0: 1, 1: 2, 4: 3, 7: 4 };
  /** Ends inside block 7: the snapshot's volume is larger than the disk. */
  const CAPACITY = 7 * B + 1000;

  it('maps the listed blocks as data and the rest as zeros, up to the capacity', async () => {
    // Prepare
    const { snaps } = source(BLOCKS, 2);
    const disk = snapshotDisk(snaps, 'us-east-1', 'snap-1', CAPACITY);

    // Act
    const whole = await mapOf(disk.map());
    const middle = await mapOf(disk.map(B + 10, 3 * B));

    // Assess
    expect(disk.capacity).toBe(CAPACITY);
    expect(whole).toEqual([
      { offset: 0, length: B, zero: false },
      { offset: B, length: B, zero: false },
      { offset: 2 * B, length: 2 * B, zero: true },
      { offset: 4 * B, length: B, zero: false },
      { offset: 5 * B, length: 2 * B, zero: true },
      { offset: 7 * B, length: 1000, zero: false },
    ]);
    expect(middle).toEqual([
      { offset: B + 10, length: B - 10, zero: false },
      { offset: 2 * B, length: 2 * B, zero: true },
      { offset: 4 * B, length: 10, zero: false },
    ]);
  });

  it('reads any range, across blocks and zeros, with or without a map before', async () => {
    // Prepare
    const { snaps, reads } = source(BLOCKS, 1);
    const disk = snapshotDisk(snaps, 'us-east-1', 'snap-1', CAPACITY);
    const want = expected(BLOCKS, CAPACITY);

    // Act
    const across = await disk.read(B - 100, 4 * B);
    const zeros = await disk.read(5 * B, B);
    const tail = await disk.read(7 * B, 1000);
    const readsWithoutMap = [...reads];
    const mapped: Buffer[] = [];
    for await (const r of disk.map())
      mapped.push(r.zero ? Buffer.alloc(r.length) : await disk.read(r.offset, r.length));

    // Assess
    expect(across.equals(want.subarray(B - 100, 5 * B - 100))).toBe(true);
    expect(zeros.equals(Buffer.alloc(B))).toBe(true);
    expect(tail.equals(want.subarray(7 * B))).toBe(true);
    expect(readsWithoutMap).toEqual([0, 1, 4, 7]);
    expect(Buffer.concat(mapped).equals(want)).toBe(true);
  });

  it('reads an empty snapshot as zeros without a GetSnapshotBlock', async () => {
    // Prepare
    const { snaps, reads } = source({}, 10);
    const disk = snapshotDisk(snaps, 'us-east-1', 'snap-empty', 3 * B);

    // Act
    const map = await mapOf(disk.map());
    const bytes = await disk.read(0, 3 * B);

    // Assess
    expect(map).toEqual([{ offset: 0, length: 3 * B, zero: true }]);
    expect(bytes.equals(Buffer.alloc(3 * B))).toBe(true);
    expect(reads).toEqual([]);
  });
});
