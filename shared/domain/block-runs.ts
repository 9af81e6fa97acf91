/**
 * Changed snapshot blocks → the data extents of a return delta. EBS lists blocks (512 KiB) a page
 * at a time, ascending; a delta declares each extent's length before its data, so neighbouring
 * blocks are merged into runs (at most `maxRunBlocks` each) and the last run of a page is held back
 * until the next page shows whether it continues. Runs are clipped to the disk's virtual size: the
 * snapshot's volume is whole GiB while the disk may be smaller. Pure: no cloud, no I/O.
 */

export interface BlockRef {
  index: number;
}

export interface PlannedRun<T extends BlockRef> {
  /** Byte range of the disk the run covers (its last block cut at the virtual size). */
  offset: number;
  length: number;
  blocks: T[];
}

export interface PlanBlockRunsOptions {
  virtualSize: number;
  blockBytes: number;
  /** Most blocks in one run (bounds the extent's length, not memory: data is read as it is written). */
  maxRunBlocks: number;
}

/**
 * Runs of consecutive blocks from ascending pages of blocks. Blocks that start at or past the virtual
 * size are not part of any run (the caller decides what they mean); indices must ascend strictly
 * across pages.
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
  let run: PlannedRun<T> | undefined;
  let prev = -1;
  const close = (r: PlannedRun<T>): PlannedRun<T> => {
    r.length = Math.min(r.blocks.length * blockBytes, virtualSize - r.offset);
    return r;
  };
  for await (const page of pages) {
    for (const b of page) {
      if (!Number.isSafeInteger(b.index) || b.index <= prev) {
        throw new RangeError(`block ${b.index} does not come after block ${prev}: listings must ascend`);
      }
      prev = b.index;
      const offset = b.index * blockBytes;
      if (offset >= virtualSize) continue;
      const last = run?.blocks[run.blocks.length - 1];
      if (run && last && last.index + 1 === b.index && run.blocks.length < maxRunBlocks) {
        run.blocks.push(b);
        continue;
      }
      if (run) yield close(run);
      run = { offset, length: 0, blocks: [b] };
    }
  }
  if (run) yield close(run);
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
