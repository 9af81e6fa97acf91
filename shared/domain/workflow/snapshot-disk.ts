/**
 * An EBS snapshot read as a disk of `capacity` bytes: the blocks ListSnapshotBlocks names are data,
 * the rest zeros; reads are GetSnapshotBlock (verified against EBS's checksum). The changed-block
 * return hashes the offloaded disk through it when the job's staged object is a delta (an
 * incremental upload, or the empty delta a window's image-cache job gets), which is no disk: the
 * job's base snapshot is that disk.
 */
import { EBS_BLOCK_BYTES } from '../../clouds/aws/ebs-blocks';
import type { AwsSnapshotBlocks, SnapshotBlockRef } from '../../clouds/aws/snapshot-blocks';
import type { MappedRange, RandomAccessDisk } from '../../images/random-access-disk';

export type SnapshotBlockSource = Pick<AwsSnapshotBlocks, 'snapshotBlocks' | 'readBlock'>;

export function snapshotDisk(
  snaps: SnapshotBlockSource,
  region: string,
  snapshotId: string,
  capacity: number,
): RandomAccessDisk {
  const B = EBS_BLOCK_BYTES;
  /**
   * Tokens of the blocks in [from, to) that the snapshot holds, from the listing page fetched last
   * (a block of that range without a token is zeros). A page covers from its first index up to its
   * last block, or on to the end when the listing ended.
   */
  let known = { from: 0, to: 0, tokens: new Map<number, string>() };
  const remember = (from: number, blocks: SnapshotBlockRef[], ended: boolean) => {
    known = {
      from,
      to: ended ? Number.MAX_SAFE_INTEGER : blocks.at(-1)!.index + 1,
      tokens: new Map(blocks.map((b) => [b.index, b.token])),
    };
  };
  const tokenOf = async (index: number): Promise<string | undefined> => {
    if (index < known.from || index >= known.to) {
      const pages = snaps.snapshotBlocks(region, snapshotId, index)[Symbol.asyncIterator]();
      try {
        let blocks: SnapshotBlockRef[] = [];
        let ended = false;
        while (blocks.length === 0 && !ended) {
          const next = await pages.next();
          if (next.done) ended = true;
          else blocks = next.value.blocks;
        }
        remember(index, blocks, ended);
      } finally {
        await pages.return?.(undefined);
      }
    }
    return known.tokens.get(index);
  };

  return {
    format: 'raw',
    capacity,
    async *map(offset = 0, length = capacity - offset): AsyncGenerator<MappedRange> {
      const end = Math.min(offset + length, capacity);
      if (offset >= end) return;
      let at = offset;
      let from = Math.floor(offset / B);
      for await (const p of snaps.snapshotBlocks(region, snapshotId, from)) {
        if (p.blocks.length === 0) continue;
        remember(from, p.blocks, false); // the reads of what this page yields find their tokens
        from = p.blocks.at(-1)!.index + 1;
        for (const b of p.blocks) {
          const lo = Math.max(b.index * B, offset);
          const hi = Math.min((b.index + 1) * B, end);
          if (lo >= end) break;
          if (hi <= lo) continue;
          if (lo > at) yield { offset: at, length: lo - at, zero: true };
          yield { offset: lo, length: hi - lo, zero: false };
          at = hi;
        }
        if (from * B >= end) break;
      }
      if (at < end) yield { offset: at, length: end - at, zero: true };
    },
    async read(offset, length) {
      const out = Buffer.alloc(length);
      for (let pos = offset; pos < offset + length;) {
        const index = Math.floor(pos / B);
        const blockEnd = Math.min((index + 1) * B, offset + length);
        const token = await tokenOf(index);
        if (token !== undefined) {
          const data = await snaps.readBlock(region, snapshotId, { index, token }, B);
          data.copy(out, pos - offset, pos - index * B, blockEnd - index * B);
        }
        pos = blockEnd;
      }
      return out;
    },
  };
}
