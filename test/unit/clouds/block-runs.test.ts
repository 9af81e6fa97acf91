/**
 * Changed EBS blocks → delta extents: runs of neighbouring blocks (across listing pages), clipped to
 * the disk's capacity, bounded in length; and the reader that fills them in order with a bounded
 * number of block reads in flight.
 */
import { describe, expect, it } from 'vitest';
import { planBlockRuns, withZeroGaps, type PlannedRun } from '../../../shared/clouds/aws/block-runs';
import { runExtents } from '../../../shared/domain/workflow/aws-return';
import type { DeltaExtentInput } from '../../../shared/images/delta-writer';

const B = 512 * 1024;
const refs = (...indices: number[]) => indices.map((index) => ({ index, token: `t${index}` }));

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

const shape = (runs: Array<PlannedRun<{ index: number }>>) =>
  runs.map((r) => ({ offset: r.offset, length: r.length, blocks: r.blocks.map((b) => b.index) }));

describe('planBlockRuns', () => {
  it('merges neighbouring blocks into one run, also across pages', async () => {
    // Prepare
    const pages = [refs(0, 1, 2), refs(3, 7), refs(8, 10)];

    // Act
    const runs = await collect(
      planBlockRuns(pages, { virtualSize: 64 * B, blockBytes: B, maxRunBlocks: 100 }),
    );

    // Assess
    expect(shape(runs)).toEqual([
      { offset: 0, length: 4 * B, blocks: [0, 1, 2, 3] },
      { offset: 7 * B, length: 2 * B, blocks: [7, 8] },
      { offset: 10 * B, length: B, blocks: [10] },
    ]);
  });

  it('splits runs longer than maxRunBlocks', async () => {
    // Prepare
    const pages = [refs(0, 1, 2, 3, 4)];

    // Act
    const runs = await collect(planBlockRuns(pages, { virtualSize: 64 * B, blockBytes: B, maxRunBlocks: 2 }));

    // Assess
    expect(shape(runs).map((r) => r.blocks)).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('cuts the boundary block at the capacity and leaves out blocks past it', async () => {
    // Prepare: a disk of 3.25 blocks on a larger volume; the guest touched blocks 2, 3, 4 and 9
    const capacity = 3 * B + B / 4;
    const pages = [refs(2, 3, 4), refs(9)];

    // Act
    const runs = await collect(
      planBlockRuns(pages, { virtualSize: capacity, blockBytes: B, maxRunBlocks: 100 }),
    );

    // Assess
    expect(shape(runs)).toEqual([{ offset: 2 * B, length: B + B / 4, blocks: [2, 3] }]);
  });

  it('yields nothing for an unchanged disk', async () => {
    // Act
    const runs = await collect(
      planBlockRuns([[], []], { virtualSize: 8 * B, blockBytes: B, maxRunBlocks: 4 }),
    );

    // Assess
    expect(runs).toEqual([]);
  });

  it('refuses a listing that does not ascend', async () => {
    // Act / Assess
    await expect(
      collect(planBlockRuns([refs(4), refs(4)], { virtualSize: 8 * B, blockBytes: B, maxRunBlocks: 4 })),
    ).rejects.toThrow(/block 4 does not come after block 4/);
    await expect(
      collect(planBlockRuns([refs(3, 1)], { virtualSize: 8 * B, blockBytes: B, maxRunBlocks: 4 })),
    ).rejects.toThrow(/must ascend/);
  });

  it('fills the gaps with zero extents for a full copy', async () => {
    // Prepare
    const runs = planBlockRuns([refs(1, 2, 5)], { virtualSize: 6 * B + 100, blockBytes: B, maxRunBlocks: 8 });

    // Act
    const extents = await collect(withZeroGaps(runs, 6 * B + 100));

    // Assess
    expect(
      extents.map((e) =>
        e.kind === 'zero' ? ['zero', e.offset, e.length] : ['data', e.run.offset, e.run.length],
      ),
    ).toEqual([
      ['zero', 0, B],
      ['data', B, 2 * B],
      ['zero', 3 * B, 2 * B],
      ['data', 5 * B, B],
      ['zero', 6 * B, 100],
    ]);
  });
});

describe('runExtents', () => {
  /** Blocks whose first byte is their index; reads resolve in reverse order of asking, to shuffle completions. */
  function reader() {
    let inFlight = 0;
    let maxInFlight = 0;
    const read = async (b: { index: number }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 20 - (b.index % 10)));
      inFlight--;
      const block = Buffer.alloc(B);
      block[0] = b.index;
      block[B - 1] = 0xff;
      return block;
    };
    return { read, max: () => maxInFlight };
  }

  async function materialize(extents: AsyncIterable<DeltaExtentInput>) {
    const out: Array<{ kind: string; offset: number; length: number; firstBytes?: number[] }> = [];
    for await (const e of extents) {
      if (e.kind === 'zero') {
        out.push({ kind: 'zero', offset: e.offset, length: e.length });
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const c of e.data as AsyncIterable<Buffer>) chunks.push(c);
      const data = Buffer.concat(chunks);
      const firstBytes: number[] = [];
      for (let at = 0; at < data.length; at += B) firstBytes.push(data[at]!);
      out.push({ kind: 'data', offset: e.offset, length: data.length, firstBytes });
      expect(data.length).toBe((e as { length: number }).length);
    }
    return out;
  }

  it('hands every block out in order, cut at the run end, with a bounded number of reads in flight', async () => {
    // Prepare: 20 blocks in three runs, the last cut by the capacity
    const capacity = 19 * B + 1000;
    const runs = planBlockRuns(
      [refs(0, 1, 2, 3, 4, 5, 6, 7), refs(9, 10, 11), refs(12, 13, 14, 15, 16, 17, 18, 19)],
      {
        virtualSize: capacity,
        blockBytes: B,
        maxRunBlocks: 8,
      },
    );
    const r = reader();

    // Act
    const out = await materialize(runExtents(runs, r.read, { blockBytes: B, concurrency: 3 }));

    // Assess
    expect(out).toEqual([
      { kind: 'data', offset: 0, length: 8 * B, firstBytes: [0, 1, 2, 3, 4, 5, 6, 7] },
      { kind: 'data', offset: 9 * B, length: 8 * B, firstBytes: [9, 10, 11, 12, 13, 14, 15, 16] },
      { kind: 'data', offset: 17 * B, length: 2 * B + 1000, firstBytes: [17, 18, 19] },
    ]);
    expect(r.max()).toBeLessThanOrEqual(3);
    expect(r.max()).toBeGreaterThan(1);
  });

  it('adds zero extents around the data for a full copy', async () => {
    // Prepare
    const runs = planBlockRuns([refs(2)], { virtualSize: 4 * B, blockBytes: B, maxRunBlocks: 8 });

    // Act
    const out = await materialize(
      runExtents(runs, reader().read, { blockBytes: B, concurrency: 4, fullSize: 4 * B }),
    );

    // Assess
    expect(out).toEqual([
      { kind: 'zero', offset: 0, length: 2 * B },
      { kind: 'data', offset: 2 * B, length: B, firstBytes: [2] },
      { kind: 'zero', offset: 3 * B, length: B },
    ]);
  });

  it('passes a failed read on to the writer', async () => {
    // Prepare
    const runs = planBlockRuns([refs(0, 1, 2)], { virtualSize: 4 * B, blockBytes: B, maxRunBlocks: 8 });
    const read = async (b: { index: number }) => {
      if (b.index === 1) throw new Error('damaged block 1');
      return Buffer.alloc(B);
    };

    // Act / Assess
    await expect(materialize(runExtents(runs, read, { blockBytes: B, concurrency: 4 }))).rejects.toThrow(
      'damaged block 1',
    );
  });
});
