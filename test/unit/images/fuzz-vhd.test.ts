import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { diskFromBuffer } from '../../../shared/images/extents';
import { buildFixedVhdFooter, parseVhdFooter, readFixedVhd, writeFixedVhd } from '../../../shared/images/vhd';
import { RUNS, mutations, mutate, imageErrorsOnly, chunks, drainDisk, fuzz } from '../../helpers/images/fuzz';

// footer fields: cookie, features, version, data offset, creator, sizes, geometry, type, checksum
const FOOTER_HOT = [0, 7, 8, 12, 16, 24, 28, 40, 47, 48, 55, 56, 58, 59, 60, 63, 64, 67, 84];

/** Rewrites the footer checksum so mutations reach the fields behind it. */
function fixChecksum(f: Buffer): Buffer {
  if (f.length < 512) return f;
  const t = f.subarray(f.length - 512);
  t.writeUInt32BE(0, 64);
  let sum = 0;
  for (const b of t) sum += b;
  t.writeUInt32BE(~sum >>> 0, 64);
  return f;
}

let vhd: Buffer;
beforeAll(async () => {
  const raw = Buffer.alloc(8192);
  raw.write('boot sector', 0);
  raw.fill(9, 4096, 4200);
  const parts: Buffer[] = [];
  for await (const c of writeFixedVhd(diskFromBuffer(raw))) parts.push(c);
  vhd = Buffer.concat(parts);
});

describe('fuzz: parseVhdFooter and readFixedVhd', () => {
  it(`${RUNS} cases: parseVhdFooter on mutated footers gives a footer or BG_VHD_BAD_FOOTER`, async () => {
    const seed = buildFixedVhdFooter(64 * 1024 * 1024);
    const arb = fc.record({
      ms: mutations(FOOTER_HOT.flatMap((h) => [h, h + 1])),
      fix: fc.boolean(),
    });
    await fuzz('fuzz-vhd-footer', arb, async ({ ms, fix }) => {
      const m = mutate(seed, ms);
      const buf = fix ? fixChecksum(m) : m;
      const r = await imageErrorsOnly(() => {
        const f = parseVhdFooter(buf);
        expect(Number.isSafeInteger(f.currentSize)).toBe(true);
      });
      expect(['ok', 'BG_VHD_BAD_FOOTER']).toContain(r);
      return r;
    });
  });

  it(`${RUNS} cases: readFixedVhd on mutated small fixed VHDs gives the disk or an ImageError`, async () => {
    const arb = fc.record({
      ms: mutations(FOOTER_HOT.map((h) => 8192 + h)),
      fix: fc.boolean(),
      chunk: fc.constantFrom(100, 512, 8704),
    });
    await fuzz('fuzz-vhd-fixed', arb, async ({ ms, fix, chunk }) => {
      const m = mutate(vhd, ms);
      const buf = fix ? fixChecksum(m) : m;
      return imageErrorsOnly(async () => {
        const disk = readFixedVhd(chunks(buf, chunk), buf.length);
        const n = await drainDisk(disk);
        expect(n).toBeLessThanOrEqual(disk.capacity);
      });
    });
  });
});
