import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { diskFromBuffer } from '../../../shared/images/extents';
import { VmdkStreamReader } from '../../../shared/images/vmdk-stream-reader';
import { writeStreamOptimizedVmdk } from '../../../shared/images/vmdk-stream-writer';
import { RUNS, mutations, mutate, imageErrorsOnly, chunks, drainDisk, fuzz } from '../../helpers/images/fuzz';

// header: magic, version, flags, capacity, grain size, descriptor offset/size, GTEs, gdOffset,
// overhead, compression; then the first marker (lba, size, type) at the first grain
const HOT = [0, 4, 8, 10, 12, 16, 20, 28, 36, 44, 48, 56, 64, 73, 77];

let seed: Buffer;
let markerAt: number[] = [];
beforeAll(async () => {
  // 192 KiB disk: one data grain, one zero grain, one short data grain
  const raw = Buffer.alloc(3 * 64 * 1024);
  raw.write('grain zero', 0);
  raw.fill(3, 2 * 64 * 1024, 2 * 64 * 1024 + 999);
  const parts: Buffer[] = [];
  for await (const c of writeStreamOptimizedVmdk(diskFromBuffer(raw), { compressionLevel: 1 })) parts.push(c);
  seed = Buffer.concat(parts);
  // sector-aligned positions after the descriptor (markers and grains start on sectors)
  markerAt = [];
  for (let off = 512; off < seed.length; off += 512) markerAt.push(off, off + 8, off + 12);
});

describe('fuzz: VmdkStreamReader on mutated small streamOptimized VMDKs', () => {
  it(`${RUNS} cases: the disk or an ImageError, never another error, a hang or a blow-up`, async () => {
    const arb = fc.record({
      ms: fc.oneof(mutations(HOT), fc.constant(null)),
      hot: fc.nat(),
      v: fc.nat(255),
      chunk: fc.constantFrom(100, 512, 65536),
    });
    await fuzz('fuzz-vmdk-stream', arb, async ({ ms, hot, v, chunk }) => {
      let buf: Buffer;
      if (ms === null) {
        // a byte in a marker/grain header position
        buf = Buffer.from(seed);
        const at = markerAt[hot % markerAt.length]!;
        buf[at] = v;
      } else buf = mutate(seed, ms);
      return imageErrorsOnly(async () => {
        const disk = await new VmdkStreamReader({ maxCapacityBytes: 1 << 30, concurrency: 2 }).read(
          chunks(buf, chunk),
        );
        const n = await drainDisk(disk);
        expect(n).toBeLessThanOrEqual(disk.capacity);
      });
    });
  });
});
