import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bufferSource, isImageError } from '../../../shared/images';
import { openQcow2Disk } from '../../../shared/images/qcow2';
import { pseudoRandom } from '../../helpers/images/fixtures';
import { qemuQcow2 } from '../../helpers/images/qcow2';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir('bg-qcow2-fuzz-');

/** Small limits keep every case tiny: a mutated size cannot make one case read a large disk. */
const LIMITS = { maxVirtualSize: 256 * 1024, l2CacheBytes: 4096 };

/** Opens the image and reads every mapped-data byte; returns the number of data bytes read. */
async function readEverything(file: Buffer): Promise<number> {
  const disk = await openQcow2Disk(bufferSource(file, 'fuzz.qcow2'), LIMITS);
  let data = 0;
  for await (const r of disk.map()) {
    if (r.zero) continue;
    data += (await disk.read(r.offset, r.length)).length;
  }
  return data;
}

type Mutation =
  { kind: 'flip'; edits: Array<{ at: number; value: number }> } | { kind: 'truncate'; at: number };

function mutate(base: Buffer, m: Mutation): Buffer {
  if (m.kind === 'truncate') return base.subarray(0, m.at % base.length);
  const b = Buffer.from(base);
  for (const e of m.edits) b[e.at % b.length] = e.value;
  return b;
}

const edit = fc.record({
  // half the edits land in the first 4 KiB: header, refcount and L1/L2 tables
  at: fc.oneof(fc.nat({ max: 4095 }), fc.nat({ max: 1 << 20 })),
  value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x80, 0x40, 0x01)),
});
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('flip' as const),
      edits: fc.array(edit, { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
);

describe('qcow2 reader under mutated input (property)', () => {
  const bases: Buffer[] = [];

  beforeAll(async () => {
    // Prepare: two tiny qemu-img images with 512-byte clusters (v3 compressed, v2 plain), data and holes
    const capacity = 64 * 1024;
    const patches = [
      { offset: 0, data: pseudoRandom(700, 1) },
      { offset: 5000, data: Buffer.alloc(3000, 'qcow2 ') },
      { offset: 40_000, data: pseudoRandom(1500, 2) },
      { offset: capacity - 600, data: Buffer.alloc(600, 'end ') },
    ];
    bases.push(
      (await qemuQcow2(tmp.dir, 'fuzz-v3c', capacity, patches, { clusterSize: 512, compress: true })).file,
    );
    bases.push(
      (await qemuQcow2(tmp.dir, 'fuzz-v2', capacity, patches, { compat: '0.10', clusterSize: 512 })).file,
    );
  });

  it('reads the unmutated bases', async () => {
    for (const b of bases) expect(await readEverything(b)).toBeGreaterThan(0);
  });

  it('every one of 10,000 mutated images either reads fully or fails with an ImageError', async () => {
    let read = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1 }), mutation, async (which, m) => {
        const file = mutate(bases[which]!, m);
        try {
          await readEverything(file);
          read++;
        } catch (err) {
          if (!isImageError(err)) throw err;
          refused++;
        }
      }),
      { numRuns: 10_000 },
    );
    // Both outcomes occur: the mutations reach the parser's checks and also leave readable images.
    expect(read).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
