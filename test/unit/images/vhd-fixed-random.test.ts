import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../../shared/images/errors';
import { diskFromBuffer, hashDisk, streamFrom } from '../../../shared/images/extents';
import { bufferSource, fileSource } from '../../../shared/images/source';
import { openFixedVhd, parseVhdFooter, vhdGeometry, writeFixedVhd } from '../../../shared/images/vhd';
import {
  collect,
  join,
  pseudoRandom,
  qemuOk,
  rawDisk,
  sha256,
  writeSparseRaw,
  writeStreamToFile,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const MiB = 1024 * 1024;
const tmp = useTmpDir();

describe('fixed VHD, roundToMiB (Azure)', () => {
  it.each([3 * MiB + 1000, 5 * MiB - 512, 2 * MiB])(
    '%i bytes → a whole-MiB disk that qemu-img reads at that size, zero-padded',
    async (capacity) => {
      // Prepare
      const patches = [
        { offset: 0, data: pseudoRandom(5000, 1) },
        { offset: capacity - 300, data: pseudoRandom(300, 2) },
      ];
      const buf = rawDisk(capacity, patches);
      const rounded = Math.ceil(capacity / MiB) * MiB;
      const padded = join(tmp.dir, `padded-${capacity}.raw`);
      await writeSparseRaw(padded, rounded, patches);
      const vhd = join(tmp.dir, `azure-${capacity}.vhd`);
      // Act
      await writeStreamToFile(writeFixedVhd(diskFromBuffer(buf), { roundToMiB: true }), vhd);
      // Assess
      const bytes = await readFile(vhd);
      expect(bytes.length).toBe(rounded + 512);
      const footer = parseVhdFooter(bytes.subarray(rounded));
      expect(footer.currentSize % MiB).toBe(0);
      expect(footer).toMatchObject({
        currentSize: rounded,
        originalSize: rounded,
        creatorApp: 'win ',
        diskType: 'fixed',
      });
      expect(footer.geometry).toEqual(vhdGeometry(rounded / 512));
      const info = JSON.parse(await qemuOk('info', '-f', 'vpc', '--output=json', vhd)) as {
        'virtual-size': number;
      };
      expect(info['virtual-size']).toBe(rounded);
      expect(await qemuOk('compare', '-f', 'raw', '-F', 'vpc', padded, vhd)).toContain(
        'Images are identical',
      );
    },
  );
});

describe('openFixedVhd', () => {
  it('reads qemu-img fixed VHDs and ours: hash, random reads, map', async () => {
    // Prepare
    const capacity = 6 * MiB;
    const patches = [
      { offset: 512 * 1024, data: pseudoRandom(70_000, 3) },
      { offset: 5 * MiB, data: pseudoRandom(4096, 4) },
    ];
    const raw = join(tmp.dir, 'f.raw');
    await writeSparseRaw(raw, capacity, patches);
    const expected = rawDisk(capacity, patches);
    const qemuVhd = join(tmp.dir, 'f-qemu.vhd');
    await qemuOk('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, qemuVhd);
    const ours = await collect(writeFixedVhd(diskFromBuffer(expected)));
    for (const src of [await fileSource(qemuVhd), bufferSource(ours, 'ours.vhd')]) {
      try {
        // Act
        const disk = await openFixedVhd(src, {});
        const h = await hashDisk(streamFrom(disk));
        const ranges = [];
        for await (const r of disk.map()) ranges.push(r);
        // Assess
        expect(disk.format).toBe('vhd-fixed');
        expect(disk.capacity).toBe(capacity);
        expect(h.sha256).toBe(sha256(expected));
        expect(h.dataBytes).toBeLessThan(capacity / 4);
        expect(ranges).toEqual([{ offset: 0, length: capacity, zero: false }]);
        expect(
          (await disk.read(5 * MiB - 10, 100)).equals(expected.subarray(5 * MiB - 10, 5 * MiB + 90)),
        ).toBe(true);
        await expect(disk.read(capacity - 10, 20)).rejects.toSatisfy((e: unknown) =>
          isImageError(e, 'BG_IMAGE_INVALID_ARGUMENT'),
        );
      } finally {
        await src.close();
      }
    }
  });

  it('refuses a dynamic footer, a size mismatch and a cut file with typed errors', async () => {
    const buf = Buffer.alloc(MiB);
    const ours = await collect(writeFixedVhd(diskFromBuffer(buf)));
    const dyn = join(tmp.dir, 'dyn.vhd');
    await writeFile(join(tmp.dir, 'z.raw'), buf);
    await qemuOk(
      'convert',
      '-f',
      'raw',
      '-O',
      'vpc',
      '-o',
      'subformat=dynamic,force_size=on',
      join(tmp.dir, 'z.raw'),
      dyn,
    );
    const cases: [Buffer, string][] = [
      [await readFile(dyn), 'BG_VHD_NOT_FIXED'],
      [Buffer.concat([Buffer.alloc(512), ours]), 'BG_VHD_SIZE_MISMATCH'],
      [ours.subarray(0, ours.length - 512), 'BG_VHD_BAD_FOOTER'],
      [ours.subarray(0, 100), 'BG_VHD_BAD_FOOTER'],
    ];
    for (const [img, code] of cases) {
      await expect(openFixedVhd(bufferSource(img), {})).rejects.toSatisfy((e: unknown) =>
        isImageError(e, code as never),
      );
    }
  });
});
