/**
 * Blocks → runs of consecutive blocks: the extents of a delta, whose lengths are declared before
 * their data. Two callers, one merger: the return reads EBS's changed-block listing a page at a time
 * (planBlockRuns; the last run of a page is held back until the next page shows whether it goes
 * on), and the incremental offload has the changed block indices in hand (blockRuns). Runs are cut
 * at the disk's size: a snapshot's volume is whole GiB while the disk may be smaller. Pure: no
 * cloud, no I/O.
 */
import { invalidArgument } from '../../images/errors';
import { EBS_BLOCK_BYTES, ebsBlockCount } from './ebs-blocks';

export interface BlockRef {
  index: number;
}

export interface PlannedRun<T extends BlockRef> {
  /** Byte range of the disk the run covers (its last block cut at the virtual size). */
  offset: number;
  length: number;
  blocks: T[];
}

/**
 * Merges blocks, given in strictly ascending order, into runs of at most `maxRunBlocks`: `add`
 * answers the run a block closed (when it starts a new one), `finish` the last one.
 */
class RunMerger<T extends BlockRef> {
  private run: PlannedRun<T> | undefined;

  constructor(
    private readonly virtualSize: number,
    private readonly blockBytes: number,
    private readonly maxRunBlocks: number,
  ) {}

  add(block: T): PlannedRun<T> | undefined {
    const run = this.run;
    const last = run?.blocks[run.blocks.length - 1];
    if (run && last && last.index + 1 === block.index && run.blocks.length < this.maxRunBlocks) {
      run.blocks.push(block);
      return undefined;
    }
    this.run = { offset: block.index * this.blockBytes, length: 0, blocks: [block] };
    return run && this.close(run);
  }

  finish(): PlannedRun<T> | undefined {
    const run = this.run;
    this.run = undefined;
    return run && this.close(run);
  }

  private close(run: PlannedRun<T>): PlannedRun<T> {
    run.length = Math.min(run.blocks.length * this.blockBytes, this.virtualSize - run.offset);
    return run;
  }
}

export interface PlanBlockRunsOptions {
  virtualSize: number;
  blockBytes: number;
  /** Most blocks in one run (bounds the extent's length, not memory: data is read as it is written). */
  maxRunBlocks: number;
}

/**
 * Runs of consecutive blocks from ascending pages of blocks (EBS ListChangedBlocks). Blocks that
 * start at or past the virtual size are not part of any run (the caller decides what they mean);
 * indices must ascend strictly across pages (a RangeError otherwise: the listing is broken).
 */
export async function* planBlockRuns<T extends BlockRef>(
  pages: AsyncIterable<T[]> | Iterable<T[]>,
  opts: PlanBlockRunsOptions,
): AsyncGenerator<PlannedRun<T>> {
  const { virtualSize, blockBytes, maxRunBlocks } = opts;
  if (!Number.isSafeInteger(blockBytes) || blockBytes <= 0)
    throw new RangeError('blockBytes must be positive');
  if (!Number.isSafeInteger(maxRunBlocks) || maxRunBlocks <= 0)
    throw new RangeError('maxRunBlocks must be positive');
  if (!Number.isSafeInteger(virtualSize) || virtualSize < 0) throw new RangeError('virtualSize must be ≥ 0');
  const merger = new RunMerger<T>(virtualSize, blockBytes, maxRunBlocks);
  let prev = -1;
  for await (const page of pages) {
    for (const b of page) {
      if (!Number.isSafeInteger(b.index) || b.index <= prev) {
        throw new RangeError(`block ${b.index} does not come after block ${prev}: listings must ascend`);
      }
      prev = b.index;
      if (b.index * blockBytes >= virtualSize) continue;
      const closed = merger.add(b);
      if (closed) yield closed;
    }
  }
  const last = merger.finish();
  if (last) yield last;
}

/** Data runs with zero extents between them, covering [0, virtualSize): a full copy of a disk. */
export async function* withZeroGaps<T extends BlockRef>(
  runs: AsyncIterable<PlannedRun<T>>,
  virtualSize: number,
): AsyncGenerator<{ kind: 'zero'; offset: number; length: number } | { kind: 'data'; run: PlannedRun<T> }> {
  let at = 0;
  for await (const run of runs) {
    if (run.offset > at) yield { kind: 'zero', offset: at, length: run.offset - at };
    yield { kind: 'data', run };
    at = run.offset + run.length;
  }
  if (at < virtualSize) yield { kind: 'zero', offset: at, length: virtualSize - at };
}

/** A run of consecutive blocks as a byte range of the disk (the last block cut at the capacity). */
export interface BlockRun {
  firstBlock: number;
  blockCount: number;
  offset: number;
  length: number;
}

/**
 * Ascending block indices (`changedBlocks` of two manifests) as runs of consecutive blocks, each at
 * most `maxRunBytes` (default unlimited). An index out of order or past the disk is the caller's
 * mistake: an ImageError BG_IMAGE_INVALID_ARGUMENT.
 */
export function blockRuns(
  indices: Iterable<number>,
  opts: { capacity: number; blockBytes?: number; maxRunBytes?: number },
): BlockRun[] {
  const blockBytes = opts.blockBytes ?? EBS_BLOCK_BYTES;
  const count = ebsBlockCount(opts.capacity, blockBytes);
  const maxBlocks = Math.max(1, Math.floor((opts.maxRunBytes ?? Number.MAX_SAFE_INTEGER) / blockBytes));
  const merger = new RunMerger<BlockRef>(opts.capacity, blockBytes, maxBlocks);
  const runs: BlockRun[] = [];
  const keep = (run: PlannedRun<BlockRef> | undefined) => {
    const first = run?.blocks[0];
    if (run && first) {
      runs.push({
        firstBlock: first.index,
        blockCount: run.blocks.length,
        offset: run.offset,
        length: run.length,
      });
    }
  };
  let prev = -1;
  for (const i of indices) {
    if (!Number.isSafeInteger(i) || i <= prev || i >= count) {
      throw invalidArgument(
        `blockRuns: block ${i} is not after ${prev} and inside the disk's ${count} blocks`,
      );
    }
    prev = i;
    keep(merger.add({ index: i }));
  }
  keep(merger.finish());
  return runs;
}
